// Orchestrated runs and their steps: the `runs` and `run_steps` tables (migration 5).
#include <nlohmann/json.hpp>

#include "store/sql.h"
#include "store/store.h"

namespace orch {
namespace {

using sql::BindOpt;
using sql::OptInt;
using sql::OptText;

constexpr char kRunColumns[] =
    "id, kind, status, project_id, source_task_id, issue, flow_name, input, report, "
    "orchestrated_at, created_at, updated_at, finished_at, definition";
constexpr char kStepColumns[] =
    "run_id, step_id, kind, agent, status, task_id, output, attempt, started_at, finished_at, "
    "cycle";

constexpr const char* kKinds[] = {"debug", "plan", "flow"};
constexpr const char* kStatuses[] = {"running", "completed", "failed", "cancelled"};
constexpr const char* kStepStates[] = {"pending", "running", "completed", "failed", "skipped"};

template <typename E, size_t N>
E Parse(const std::string& s, const char* const (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return static_cast<E>(0);  // the CHECK constraints keep other values out
}

RunRecord ReadRunRecord(sql::Statement& q) {
  RunRecord r;
  r.id = q.getColumn(0).getInt64();
  r.kind = Parse<RunKind>(q.getColumn(1).getString(), kKinds);
  r.status = Parse<RunStatus>(q.getColumn(2).getString(), kStatuses);
  r.project_id = q.getColumn(3).getInt64();
  r.source_task_id = OptInt(q.getColumn(4));
  r.issue = OptText(q.getColumn(5));
  r.flow_name = q.getColumn(6).getString();
  r.input = q.getColumn(7).getString();
  r.report = q.getColumn(8).getString();
  r.orchestrated_at = OptInt(q.getColumn(9));
  r.created_at = q.getColumn(10).getInt64();
  r.updated_at = q.getColumn(11).getInt64();
  r.finished_at = OptInt(q.getColumn(12));
  r.definition = q.getColumn(13).getString();
  return r;
}

RunStepRecord ReadStep(sql::Statement& q) {
  RunStepRecord s;
  s.run_id = q.getColumn(0).getInt64();
  s.step_id = q.getColumn(1).getString();
  s.kind = q.getColumn(2).getString() == "code" ? StepKind::kCode : StepKind::kAgent;
  s.agent = q.getColumn(3).getString();
  s.status = Parse<StepState>(q.getColumn(4).getString(), kStepStates);
  s.task_id = OptInt(q.getColumn(5));
  s.output = q.getColumn(6).getString();
  s.attempt = q.getColumn(7).getInt();
  s.started_at = OptInt(q.getColumn(8));
  s.finished_at = OptInt(q.getColumn(9));
  s.cycle = q.getColumn(10).getInt();
  return s;
}

void InsertStep(sql::Connection& db, int64_t run_id, const RunStepRecord& s) {
  sql::Statement step(db,
                      "INSERT INTO run_steps(run_id, step_id, kind, agent, status, task_id) "
                      "VALUES (?, ?, ?, ?, ?, ?)");
  step.bind(1, run_id);
  step.bind(2, s.step_id);
  step.bind(3, s.kind == StepKind::kCode ? "code" : "agent");
  step.bind(4, s.agent);
  step.bind(5, StepStateName(s.status));
  BindOpt(step, 6, s.task_id);
  step.exec();
}

}  // namespace

const char* RunKindName(RunKind k) { return kKinds[static_cast<int>(k)]; }
const char* RunStatusName(RunStatus s) { return kStatuses[static_cast<int>(s)]; }

Result<RunRecord> Store::CreateRun(const RunRecord& run, const std::vector<RunStepRecord>& steps) {
  if (!nlohmann::json::accept(run.input)) {
    return Status::InvalidArgument("run input", "is not JSON");
  }
  if (!nlohmann::json::accept(run.definition)) {
    return Status::InvalidArgument("run definition", "is not JSON");
  }
  int64_t id = 0;
  try {
    sql::Transaction txn(*db_);
    int64_t now = clock_.NowUnix();
    sql::Statement ins(*db_,
                       "INSERT INTO runs(kind, status, project_id, source_task_id, issue, "
                       "flow_name, input, created_at, updated_at, definition) "
                       "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    ins.bind(1, RunKindName(run.kind));
    ins.bind(2, run.project_id);
    BindOpt(ins, 3, run.source_task_id);
    BindOpt(ins, 4, run.issue);
    ins.bind(5, run.flow_name);
    ins.bind(6, run.input);
    ins.bind(7, now);
    ins.bind(8, now);
    ins.bind(9, run.definition);
    ins.executeStep();
    id = ins.getColumn(0).getInt64();
    ins.reset();
    for (const RunStepRecord& s : steps) InsertStep(*db_, id, s);
    txn.commit();
  } catch (const sql::Exception& e) {
    if (e.kind() == sql::ErrorKind::kConstraint) {
      return Status::InvalidArgument("creating a run", e.what());
    }
    return Error(e, "creating a run");
  } catch (const std::exception& e) {
    return Error(e, "creating a run");
  }
  return GetRun(id);
}

Result<RunRecord> Store::GetRun(int64_t id) {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
    q.bind(1, id);
    if (q.executeStep()) return ReadRunRecord(q);
  } catch (const std::exception& e) {
    return Error(e, "reading a run");
  }
  return Status::NotFound("run " + std::to_string(id), "no such run");
}

Result<std::vector<RunRecord>> Store::ListRunRecords(std::optional<int64_t> project_id,
                                                     std::optional<RunStatus> status) {
  std::vector<RunRecord> out;
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kRunColumns +
                               " FROM runs WHERE (?1 IS NULL OR project_id = ?1) "
                               "AND (?2 IS NULL OR status = ?2) ORDER BY id DESC");
    BindOpt(q, 1, project_id);
    BindOpt(q, 2, status ? std::optional<std::string>(RunStatusName(*status)) : std::nullopt);
    while (q.executeStep()) out.push_back(ReadRunRecord(q));
  } catch (const std::exception& e) {
    return Error(e, "listing runs");
  }
  return out;
}

Result<std::vector<RunStepRecord>> Store::ListRunSteps(int64_t run_id) {
  std::vector<RunStepRecord> out;
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kStepColumns +
                               " FROM run_steps WHERE run_id = ? ORDER BY rowid");
    q.bind(1, run_id);
    while (q.executeStep()) out.push_back(ReadStep(q));
  } catch (const std::exception& e) {
    return Error(e, "listing a run's steps");
  }
  return out;
}

Status Store::UpdateRunStep(const RunStepRecord& s) { return UpdateRunSteps({s}); }

Status Store::UpdateRunSteps(const std::vector<RunStepRecord>& steps) {
  try {
    sql::Transaction txn(*db_);
    for (const RunStepRecord& s : steps) {
      sql::Statement upd(*db_,
                         "UPDATE run_steps SET status = ?, task_id = ?, output = ?, "
                         "attempt = ?, started_at = ?, finished_at = ?, cycle = ?, agent = ? "
                         "WHERE run_id = ? AND step_id = ?");
      upd.bind(1, StepStateName(s.status));
      BindOpt(upd, 2, s.task_id);
      upd.bind(3, s.output);
      upd.bind(4, s.attempt);
      BindOpt(upd, 5, s.started_at);
      BindOpt(upd, 6, s.finished_at);
      upd.bind(7, s.cycle);
      upd.bind(8, s.agent);
      upd.bind(9, s.run_id);
      upd.bind(10, s.step_id);
      if (upd.exec() == 0) {
        return Status::NotFound("run " + std::to_string(s.run_id) + " step " + s.step_id,
                                "no such step");  // the transaction rolls back
      }
      sql::Statement touch(*db_, "UPDATE runs SET updated_at = ? WHERE id = ?");
      touch.bind(1, clock_.NowUnix());
      touch.bind(2, s.run_id);
      touch.exec();
    }
    txn.commit();
  } catch (const std::exception& e) {
    return Error(e, "updating run steps");
  }
  return Status::OK();
}

Result<Task> Store::StartAgentStep(int64_t run_id, const std::string& step_id, const NewTask& task,
                                   const Cause& cause) {
  int64_t id = 0;
  try {
    sql::Transaction txn(*db_);
    id = InsertTask(task, cause);
    int64_t now = clock_.NowUnix();
    sql::Statement upd(*db_,
                       "UPDATE run_steps SET status = 'running', task_id = ?, output = '', "
                       "attempt = attempt + 1, started_at = ?, finished_at = NULL "
                       "WHERE run_id = ? AND step_id = ? AND status = 'pending'");
    upd.bind(1, id);
    upd.bind(2, now);
    upd.bind(3, run_id);
    upd.bind(4, step_id);
    if (upd.exec() == 0) {
      return Status::Conflict("run " + std::to_string(run_id) + " step " + step_id,
                              "is not pending");  // the task is rolled back with it
    }
    txn.commit();
  } catch (const std::exception& e) {
    return Error(e, "starting a run step");
  }
  return GetTask(id);
}

Status Store::FinishRunRecord(int64_t id, RunStatus status, const std::string& report) {
  if (status == RunStatus::kRunning) {
    return Status::InvalidArgument("finishing run " + std::to_string(id), "running is not an end");
  }
  try {
    int64_t now = clock_.NowUnix();
    sql::Statement upd(*db_,
                       "UPDATE runs SET status = ?, report = ?, finished_at = ?, updated_at = ? "
                       "WHERE id = ? AND status = 'running'");
    upd.bind(1, RunStatusName(status));
    upd.bind(2, report);
    upd.bind(3, now);
    upd.bind(4, now);
    upd.bind(5, id);
    if (upd.exec() == 1) return Status::OK();
  } catch (const std::exception& e) {
    return Error(e, "finishing a run");
  }
  Result<RunRecord> run = GetRun(id);
  if (!run.ok()) return run.status();
  return Status::Conflict("run " + std::to_string(id),
                          std::string("has ended already: ") + RunStatusName(run->status));
}

Result<bool> Store::ClaimOrchestration(int64_t run_id, const RunStepRecord& step) {
  try {
    sql::Transaction txn(*db_);
    sql::Statement upd(*db_,
                       "UPDATE runs SET orchestrated_at = ?, updated_at = ? "
                       "WHERE id = ? AND orchestrated_at IS NULL AND status = 'running'");
    int64_t now = clock_.NowUnix();
    upd.bind(1, now);
    upd.bind(2, now);
    upd.bind(3, run_id);
    if (upd.exec() != 1) return false;
    InsertStep(*db_, run_id, step);
    txn.commit();
    return true;
  } catch (const std::exception& e) {
    return Error(e, "claiming a run's orchestration");
  }
}

}  // namespace orch
