#include "store/store.h"

#include <nlohmann/json.hpp>

#include "store/migrations.h"
#include "store/payload_log.h"
#include "store/sql.h"

namespace orch {
namespace {

constexpr int kBusyTimeoutMs = 5000;

const char* kTaskColumns =
    "t.id, t.project_id, p.name, t.external_id, t.parent_id, t.source, t.source_id, t.title, "
    "t.body, t.labels, t.status, t.status_reason, t.attempts, t.created_at, t.updated_at, "
    "t.pr_number, t.route, t.branch, t.agent_session, t.run_id, t.read_only, t.lease_owner, "
    "t.lease_until";

using sql::BindOpt;
using sql::OptInt;
using sql::OptText;
using sql::RedactedUrl;

Task ReadTask(sql::Statement& q) {
  Task t;
  t.id = q.getColumn(0).getInt64();
  t.project_id = q.getColumn(1).getInt64();
  t.project = q.getColumn(2).getString();
  t.external_id = OptText(q.getColumn(3));
  t.parent_id = OptInt(q.getColumn(4));
  Result<TaskSource> source = ParseTaskSource(q.getColumn(5).getString());
  t.source = source.ok() ? *source : TaskSource::kCli;  // CHECK constraint keeps this valid
  t.source_id = OptText(q.getColumn(6));
  t.title = q.getColumn(7).getString();
  t.body = q.getColumn(8).getString();
  nlohmann::json labels = nlohmann::json::parse(q.getColumn(9).getString(), nullptr, false);
  if (labels.is_array()) {
    for (const auto& l : labels) {
      if (l.is_string()) t.labels.push_back(l.get<std::string>());
    }
  }
  Result<TaskStatus> status = ParseTaskStatus(q.getColumn(10).getString());
  t.status = status.ok() ? *status : TaskStatus::kNew;  // CHECK constraint keeps this valid
  t.status_reason = q.getColumn(11).getString();
  t.attempts = q.getColumn(12).getInt();
  t.created_at = q.getColumn(13).getInt64();
  t.pr_number = OptInt(q.getColumn(15));
  t.updated_at = q.getColumn(14).getInt64();
  t.route = OptText(q.getColumn(16));
  t.branch = q.getColumn(17).isNull() ? "" : q.getColumn(17).getString();
  t.agent_session = q.getColumn(18).isNull() ? "" : q.getColumn(18).getString();
  t.run_id = OptInt(q.getColumn(19));
  t.read_only = q.getColumn(20).getInt() != 0;
  t.lease_owner = q.getColumn(21).getString();
  t.lease_until = OptInt(q.getColumn(22));
  return t;
}

Project ReadProject(sql::Statement& q) {
  Project p;
  p.id = q.getColumn(0).getInt64();
  p.name = q.getColumn(1).getString();
  p.repo = OptText(q.getColumn(2));
  p.path = q.getColumn(3).getString();
  p.remote_url = q.getColumn(4).getString();
  p.kind = q.getColumn(5).getString() == "clone" ? ProjectKind::kClone : ProjectKind::kLocal;
  p.created_at = q.getColumn(6).getInt64();
  return p;
}

bool IsConstraint(const std::exception& e) {
  auto* se = dynamic_cast<const sql::Exception*>(&e);
  return se != nullptr && se->kind() == sql::ErrorKind::kConstraint;
}

}  // namespace

const char* ProjectKindName(ProjectKind k) { return k == ProjectKind::kClone ? "clone" : "local"; }

Status Store::Error(const std::exception& e, const char* what) const {
  auto* se = dynamic_cast<const sql::Exception*>(&e);
  sql::ErrorKind kind = se ? se->kind() : sql::ErrorKind::kOther;
  std::string where = path_ + ": " + what;
  if (kind == sql::ErrorKind::kCorrupt) {
    return Status::Corruption(where, std::string("not a usable orch database (") + e.what() + ")");
  }
  if (kind == sql::ErrorKind::kBusy || kind == sql::ErrorKind::kConnection) {
    return Status::Unavailable(where, e.what());
  }
  return Status::IOError(where, e.what());
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& where, const Clock& clock) {
  bool postgres = sql::IsPostgresUrl(where);
  std::unique_ptr<sql::Connection> db;
  try {
    db = postgres ? sql::OpenPostgres(where) : sql::OpenSqlite(where, kBusyTimeoutMs);
  } catch (const std::exception& e) {
    return Status::IOError(postgres ? RedactedUrl(where) : where,
                           std::string("cannot open database: ") + e.what());
  }
  std::string name = postgres ? RedactedUrl(where) : where;
  std::unique_ptr<Store> store(new Store(name, clock, std::move(db)));
  if (!postgres) {
    try {
      // The first statement that reads the file is where a non-database shows itself.
      store->db_->exec("PRAGMA journal_mode = WAL");
      store->db_->exec("PRAGMA foreign_keys = ON");
      // In WAL mode NORMAL keeps every committed transaction through a crash or kill -9 of
      // orch; only a power loss or OS crash can roll back the last few commits.
      store->db_->exec("PRAGMA synchronous = NORMAL");
    } catch (const std::exception& e) {
      return store->Error(e, "opening");
    }
  }
  ORCH_RETURN_IF_ERROR(store->Migrate());
  if (!postgres && where != ":memory:" && !where.empty()) {
    store->payloads_ = std::make_unique<PayloadLog>(PayloadLog::DirFor(where));
  }
  return store;
}

bool Store::postgres() const { return db_->dialect() == sql::Dialect::kPostgres; }

Result<int> Store::SchemaVersion() { return AppliedVersion(*db_); }

Status Store::Migrate() {
  Status s = ApplyMigrations(*db_, MigrationsFor(*db_), clock_.NowUnix());
  return s.Prefixed(path_);
}

Result<Project> Store::AddProject(const Project& project) {
  try {
    sql::Statement ins(*db_,
                       "INSERT INTO projects(name, repo, path, remote_url, kind, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)");
    ins.bind(1, project.name);
    BindOpt(ins, 2, project.repo);
    ins.bind(3, project.path);
    ins.bind(4, project.remote_url);
    ins.bind(5, ProjectKindName(project.kind));
    ins.bind(6, static_cast<int64_t>(clock_.NowUnix()));
    ins.exec();
  } catch (const std::exception& e) {
    if (IsConstraint(e)) {
      return Status::Conflict("project \"" + project.name + "\"", "already registered");
    }
    return Error(e, "adding project");
  }
  return FindProject(project.name);
}

Result<std::vector<Project>> Store::ListProjects() {
  try {
    sql::Statement q(*db_,
                     "SELECT id, name, repo, path, remote_url, kind, created_at "
                     "FROM projects ORDER BY name");
    std::vector<Project> out;
    while (q.executeStep()) out.push_back(ReadProject(q));
    return out;
  } catch (const std::exception& e) {
    return Error(e, "listing projects");
  }
}

Result<Project> Store::FindProject(const std::string& name_or_id) {
  try {
    sql::Statement q(*db_,
                     "SELECT id, name, repo, path, remote_url, kind, created_at FROM projects "
                     "WHERE name = ?1 OR CAST(id AS TEXT) = ?1 ORDER BY name = ?1 DESC LIMIT 1");
    q.bind(1, name_or_id);
    if (q.executeStep()) return ReadProject(q);
  } catch (const std::exception& e) {
    return Error(e, "finding project");
  }
  return Status::NotFound("project \"" + name_or_id + "\"",
                          "not registered (see `orch project list`)");
}

Status Store::RemoveProject(int64_t id) {
  try {
    sql::Statement del(*db_, "DELETE FROM projects WHERE id = ?");
    del.bind(1, static_cast<int64_t>(id));
    if (del.exec() == 0) return Status::NotFound("project " + std::to_string(id));
  } catch (const std::exception& e) {
    return Error(e, "removing project");
  }
  return Status::OK();
}

int64_t Store::InsertTask(const NewTask& t, const Cause& cause) {
  int64_t now = clock_.NowUnix();
  sql::Statement ins(
      *db_,
      "INSERT INTO tasks(project_id, external_id, parent_id, source, source_id, title, body, "
      "labels, status, created_at, updated_at, run_id, read_only, branch) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  ins.bind(1, static_cast<int64_t>(t.project_id));
  BindOpt(ins, 2, t.external_id);
  BindOpt(ins, 3, t.parent_id);
  ins.bind(4, TaskSourceName(t.source));
  BindOpt(ins, 5, t.source_id);
  ins.bind(6, t.title);
  ins.bind(7, t.body);
  ins.bind(8, nlohmann::json(t.labels).dump());
  ins.bind(9, TaskStatusName(t.status));
  ins.bind(10, now);
  ins.bind(11, now);
  BindOpt(ins, 12, t.run_id);
  ins.bind(13, t.read_only ? 1 : 0);
  BindOpt(ins, 14, t.branch.empty() ? std::nullopt : std::optional<std::string>(t.branch));
  ins.executeStep();
  int64_t id = ins.getColumn(0).getInt64();
  ins.reset();
  sql::Statement ev(*db_,
                    "INSERT INTO events(project_id, task_id, kind, to_status, actor, reason, "
                    "created_at) VALUES (?, ?, 'created', ?, ?, ?, ?)");
  ev.bind(1, static_cast<int64_t>(t.project_id));
  ev.bind(2, id);
  ev.bind(3, TaskStatusName(t.status));
  ev.bind(4, cause.actor);
  ev.bind(5, cause.reason);
  ev.bind(6, now);
  ev.exec();
  return id;
}

Result<Task> Store::AddTask(const NewTask& t, const Cause& cause) {
  int64_t id = 0;
  try {
    sql::Transaction txn(*db_);
    id = InsertTask(t, cause);
    txn.commit();
  } catch (const std::exception& e) {
    if (IsConstraint(e)) {
      return Status::Conflict("task " + t.external_id.value_or("?"),
                              std::string("cannot be added: ") + e.what());
    }
    return Error(e, "adding task");
  }
  return GetTask(id);
}

Result<Task> Store::GetTask(int64_t id) {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kTaskColumns +
                               " FROM tasks t JOIN projects p ON p.id = t.project_id "
                               "WHERE t.id = ?");
    q.bind(1, static_cast<int64_t>(id));
    if (q.executeStep()) return ReadTask(q);
  } catch (const std::exception& e) {
    return Error(e, "reading task");
  }
  return Status::NotFound("task " + std::to_string(id), "no such task");
}

Result<std::vector<Task>> Store::ListTasks(const TaskFilter& f) {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kTaskColumns +
                               " FROM tasks t JOIN projects p ON p.id = t.project_id "
                               "WHERE (?1 IS NULL OR t.status = ?1) "
                               "AND (?2 IS NULL OR t.project_id = ?2) "
                               "AND (?3 IS NULL OR t.parent_id = ?3) "
                               "AND (?4 IS NULL OR t.external_id = ?4) "
                               "AND (?5 IS NULL OR t.source_id = ?5) "
                               "AND (?6 IS NULL OR t.pr_number = ?6) "
                               "AND (?7 IS NULL OR "
                               "substr(t.source_id, 1, length(CAST(?7 AS TEXT))) = ?7) "
                               "AND (?8 IS NULL OR t.lease_owner = ?8) "
                               "ORDER BY t.id");
    if (f.status) {
      q.bind(1, TaskStatusName(*f.status));
    } else {
      q.bind(1);
    }
    BindOpt(q, 2, f.project_id);
    BindOpt(q, 3, f.parent_id);
    BindOpt(q, 4, f.external_id);
    BindOpt(q, 5, f.source_id);
    BindOpt(q, 6, f.pr_number);
    BindOpt(q, 7, f.source_id_prefix);
    BindOpt(q, 8, f.lease_owner);
    std::vector<Task> out;
    while (q.executeStep()) out.push_back(ReadTask(q));
    return out;
  } catch (const std::exception& e) {
    return Error(e, "listing tasks");
  }
}

Status Store::SetTaskPullRequest(int64_t id, int64_t pr_number) {
  try {
    sql::Statement upd(*db_, "UPDATE tasks SET pr_number = ?, updated_at = ? WHERE id = ?");
    upd.bind(1, static_cast<int64_t>(pr_number));
    upd.bind(2, static_cast<int64_t>(clock_.NowUnix()));
    upd.bind(3, static_cast<int64_t>(id));
    if (upd.exec() == 0) return Status::NotFound("task " + std::to_string(id), "no such task");
  } catch (const std::exception& e) {
    return Error(e, "recording the task's pull request");
  }
  return Status::OK();
}

Result<std::vector<Event>> Store::TaskEvents(int64_t task_id) {
  return ReadEvents("WHERE task_id = ? ORDER BY id", task_id, -1);
}

Result<std::vector<Event>> Store::EventsAfter(int64_t id, int limit) {
  return ReadEvents("WHERE id > ? ORDER BY id LIMIT ?", id, limit);
}

Result<std::vector<Event>> Store::ReadEvents(const char* where, int64_t key, int limit) {
  try {
    sql::Statement q(*db_, std::string("SELECT id, task_id, kind, from_status, to_status, "
                                       "actor, reason, created_at FROM events ") +
                               where);
    q.bind(1, static_cast<int64_t>(key));
    if (limit >= 0) q.bind(2, limit);
    std::vector<Event> out;
    while (q.executeStep()) {
      Event e;
      e.id = q.getColumn(0).getInt64();
      e.task_id = OptInt(q.getColumn(1));
      e.kind = q.getColumn(2).getString();
      e.from_status = q.getColumn(3).getString();
      e.to_status = q.getColumn(4).getString();
      e.actor = q.getColumn(5).getString();
      e.reason = q.getColumn(6).getString();
      e.created_at = q.getColumn(7).getInt64();
      out.push_back(std::move(e));
    }
    return out;
  } catch (const std::exception& e) {
    return Error(e, "reading events");
  }
}

Result<int64_t> Store::MaxEventId() {
  try {
    sql::Statement q(*db_, "SELECT COALESCE(MAX(id), 0) FROM events");
    q.executeStep();
    return static_cast<int64_t>(q.getColumn(0).getInt64());
  } catch (const std::exception& e) {
    return Error(e, "reading events");
  }
}

Status Store::Transition(int64_t id, TaskStatus from, TaskStatus to, const Cause& cause,
                         AttemptEffect attempts) {
  std::string task = "task " + std::to_string(id);
  if (!IsLegalTransition(from, to)) {
    return Status::InvalidArgument(task, std::string("cannot move from ") + TaskStatusName(from) +
                                             " to " + TaskStatusName(to));
  }
  try {
    sql::Transaction txn(*db_);
    int64_t now = clock_.NowUnix();
    sql::Statement upd(*db_,
                       "UPDATE tasks SET status = ?1, status_reason = ?2, updated_at = ?3, "
                       "attempts = CASE ?4 WHEN 'reset' THEN 0 WHEN 'count' THEN attempts + 1 "
                       "ELSE attempts END, lease_owner = ?7, lease_until = ?8 "
                       "WHERE id = ?5 AND status = ?6");
    upd.bind(1, TaskStatusName(to));
    upd.bind(2, cause.reason);
    upd.bind(3, now);
    upd.bind(4, attempts == AttemptEffect::kReset   ? "reset"
                : attempts == AttemptEffect::kCount ? "count"
                                                    : "keep");
    upd.bind(5, static_cast<int64_t>(id));
    upd.bind(6, TaskStatusName(from));
    // In progress on a host of a fleet: leased to it (SetHost); any other status: to none.
    bool leased = to == TaskStatus::kInProgress && !host_.empty();
    upd.bind(7, leased ? host_ : std::string());
    BindOpt(upd, 8, leased ? std::optional<int64_t>(now + lease_ttl_.count()) : std::nullopt);
    if (upd.exec() == 0) {
      sql::Statement q(*db_, "SELECT status FROM tasks WHERE id = ?");
      q.bind(1, static_cast<int64_t>(id));
      if (!q.executeStep()) return Status::NotFound(task, "no such task");
      return Status::Conflict(task, "is " + q.getColumn(0).getString() + ", not " +
                                        TaskStatusName(from) + " (changed by someone else)");
    }
    sql::Statement ev(*db_,
                      "INSERT INTO events(project_id, task_id, kind, from_status, to_status, "
                      "actor, reason, created_at) SELECT project_id, id, 'transition', ?, ?, "
                      "?, ?, ? FROM tasks WHERE id = ?");
    ev.bind(1, TaskStatusName(from));
    ev.bind(2, TaskStatusName(to));
    ev.bind(3, cause.actor);
    ev.bind(4, cause.reason);
    ev.bind(5, now);
    ev.bind(6, static_cast<int64_t>(id));
    ev.exec();
    txn.commit();
  } catch (const std::exception& e) {
    return Error(e, "changing task status");
  }
  return Status::OK();
}

Status Store::SetWalAutoCheckpoint(int pages) {
  if (postgres()) return Status::OK();  // PostgreSQL checkpoints on its own
  try {
    db_->exec("PRAGMA wal_autocheckpoint = " + std::to_string(pages));
  } catch (const std::exception& e) {
    return Error(e, "setting wal_autocheckpoint");
  }
  return Status::OK();
}

Status Store::Checkpoint() {
  if (postgres()) return Status::OK();
  try {
    db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch (const std::exception& e) {
    return Error(e, "checkpointing the WAL");
  }
  return Status::OK();
}

Result<std::optional<std::string>> Store::GetKv(const std::string& key) {
  try {
    sql::Statement q(*db_, "SELECT value FROM kv WHERE key = ?");
    q.bind(1, key);
    if (q.executeStep()) return std::optional<std::string>(q.getColumn(0).getString());
    return std::optional<std::string>();
  } catch (const std::exception& e) {
    return Error(e, "reading kv");
  }
}

Status Store::SetKv(const std::string& key, const std::string& value) {
  try {
    sql::Statement q(*db_,
                     "INSERT INTO kv(key, value, updated_at) VALUES (?, ?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                     "updated_at = excluded.updated_at");
    q.bind(1, key);
    q.bind(2, value);
    q.bind(3, static_cast<int64_t>(clock_.NowUnix()));
    q.exec();
  } catch (const std::exception& e) {
    return Error(e, "writing kv");
  }
  return Status::OK();
}

}  // namespace orch

namespace orch {
namespace {

const char* kRunColumns =
    "id, task_id, attempt, agent, model, command, tmux_session, run_dir, worktree, started_at, "
    "finished_at, exit_code, outcome, error_class, summary, agent_session, input_tokens, "
    "output_tokens, cost_usd, host";

Attempt ReadRun(sql::Statement& q) {
  Attempt r;
  r.id = q.getColumn(0).getInt64();
  r.task_id = q.getColumn(1).getInt64();
  r.attempt = q.getColumn(2).getInt();
  r.agent = q.getColumn(3).getString();
  r.model = q.getColumn(4).getString();
  nlohmann::json argv = nlohmann::json::parse(q.getColumn(5).getString(), nullptr, false);
  if (argv.is_array()) {
    for (const auto& a : argv) {
      if (a.is_string()) r.command.push_back(a.get<std::string>());
    }
  }
  r.tmux_session = q.getColumn(6).getString();
  r.run_dir = q.getColumn(7).getString();
  r.worktree = q.getColumn(8).getString();
  r.started_at = q.getColumn(9).getInt64();
  r.finished_at = OptInt(q.getColumn(10));
  if (!q.getColumn(11).isNull()) r.exit_code = q.getColumn(11).getInt();
  r.outcome = q.getColumn(12).isNull() ? "" : q.getColumn(12).getString();
  r.error_class = q.getColumn(13).getString();
  r.summary = q.getColumn(14).getString();
  r.agent_session = q.getColumn(15).getString();
  r.input_tokens = q.getColumn(16).getInt64();
  r.output_tokens = q.getColumn(17).getInt64();
  r.cost_usd = q.getColumn(18).getDouble();
  r.host = q.getColumn(19).getString();
  return r;
}

}  // namespace

Status Store::SetTaskRoute(int64_t id, const std::string& route_json) {
  return SetTaskColumn(id, "route", route_json);
}
Status Store::SetTaskBranch(int64_t id, const std::string& branch) {
  return SetTaskColumn(id, "branch", branch);
}
Status Store::SetTaskAgentSession(int64_t id, const std::string& session) {
  return SetTaskColumn(id, "agent_session", session);
}

Status Store::SetTaskStatusReason(int64_t id, const std::string& reason) {
  return SetTaskColumn(id, "status_reason", reason);
}

Status Store::SetTaskColumn(int64_t id, const char* column, const std::string& value) {
  try {
    sql::Statement upd(
        *db_, std::string("UPDATE tasks SET ") + column + " = ?, updated_at = ? WHERE id = ?");
    upd.bind(1, value);
    upd.bind(2, static_cast<int64_t>(clock_.NowUnix()));
    upd.bind(3, static_cast<int64_t>(id));
    if (upd.exec() == 0) return Status::NotFound("task " + std::to_string(id), "no such task");
  } catch (const std::exception& e) {
    return Error(e, "updating the task");
  }
  return Status::OK();
}

Result<Attempt> Store::StartAttempt(const Attempt& run) {
  int64_t id = 0;
  try {
    sql::Transaction txn(*db_);
    sql::Statement ins(
        *db_,
        "INSERT INTO task_runs(task_id, attempt, agent, model, command, tmux_session, run_dir, "
        "worktree, started_at, host) VALUES (?1, (SELECT COUNT(*) + 1 FROM task_runs WHERE "
        "task_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id");
    ins.bind(1, static_cast<int64_t>(run.task_id));
    ins.bind(2, run.agent);
    ins.bind(3, run.model);
    ins.bind(4, nlohmann::json(run.command).dump());
    ins.bind(5, run.tmux_session);
    ins.bind(6, run.run_dir);
    ins.bind(7, run.worktree);
    ins.bind(8, static_cast<int64_t>(clock_.NowUnix()));
    ins.bind(9, host_);
    ins.executeStep();
    id = ins.getColumn(0).getInt64();
    ins.reset();
    txn.commit();
    sql::Statement q(*db_, std::string("SELECT ") + kRunColumns + " FROM task_runs WHERE id = ?");
    q.bind(1, id);
    if (q.executeStep()) return ReadRun(q);
  } catch (const std::exception& e) {
    return Error(e, "recording a run");
  }
  return Status::Internal("task run " + std::to_string(id), "vanished after insert");
}

Status Store::FinishAttempt(const Attempt& run) {
  try {
    sql::Statement upd(
        *db_,
        "UPDATE task_runs SET finished_at = ?, exit_code = ?, outcome = ?, error_class = ?, "
        "summary = ?, agent_session = ?, input_tokens = ?, output_tokens = ?, cost_usd = ? "
        "WHERE id = ? AND finished_at IS NULL");
    upd.bind(1, static_cast<int64_t>(run.finished_at.value_or(clock_.NowUnix())));
    BindOpt(upd, 2, run.exit_code);
    upd.bind(3, run.outcome);
    upd.bind(4, run.error_class);
    upd.bind(5, run.summary);
    upd.bind(6, run.agent_session);
    upd.bind(7, static_cast<int64_t>(run.input_tokens));
    upd.bind(8, static_cast<int64_t>(run.output_tokens));
    upd.bind(9, run.cost_usd);
    upd.bind(10, static_cast<int64_t>(run.id));
    if (upd.exec() == 0) {
      return Status::Conflict("task run " + std::to_string(run.id),
                              "already finished, or no such run");
    }
  } catch (const std::exception& e) {
    return Error(e, "finishing a run");
  }
  return Status::OK();
}

Result<std::vector<Attempt>> Store::ListAttempts(int64_t task_id) {
  std::vector<Attempt> out;
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kRunColumns +
                               " FROM task_runs WHERE task_id = ? ORDER BY attempt");
    q.bind(1, static_cast<int64_t>(task_id));
    while (q.executeStep()) out.push_back(ReadRun(q));
  } catch (const std::exception& e) {
    return Error(e, "listing runs");
  }
  return out;
}

Result<std::vector<Attempt>> Store::UnfinishedAttempts() {
  std::vector<Attempt> out;
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kRunColumns +
                               " FROM task_runs WHERE finished_at IS NULL AND (?1 = '' OR "
                               "host = ?1) ORDER BY id");
    q.bind(1, host_);
    while (q.executeStep()) out.push_back(ReadRun(q));
  } catch (const std::exception& e) {
    return Error(e, "listing unfinished runs");
  }
  return out;
}

}  // namespace orch
