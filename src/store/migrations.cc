#include "store/migrations.h"

#include <string>

#include "store/sql.h"

namespace orch {

// Written once for both engines (BIGINT is an INTEGER to SQLite).
const char kHostsAndLeases[] = R"sql(
-- Several orch hosts may share one PostgreSQL store. Each has a row here, renewed by its
-- heartbeat every tick: what `orch status` lists.
CREATE TABLE hosts (
  id TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  running BIGINT NOT NULL DEFAULT 0,
  max_parallel BIGINT NOT NULL DEFAULT 0
);
-- Named leases: 'leader' is held by the one host that runs what must run once (the sync, jobs,
-- the inbox, notifications, runs' decisions) and taken over once it is not renewed in time.
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until_at BIGINT NOT NULL
);
-- A task in progress is leased to the host running its agent, until lease_until (unix
-- seconds), renewed by that host's heartbeat. Empty owner and NULL: not leased (one host).
ALTER TABLE tasks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN lease_until BIGINT;
CREATE INDEX tasks_by_lease ON tasks(lease_owner, status);
-- The host an attempt runs on: each host adopts, checks and reaps its own.
ALTER TABLE task_runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
)sql";

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "tables of record", R"sql(
CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL CONSTRAINT projects_name_unique UNIQUE,
  repo TEXT,
  path TEXT NOT NULL,
  remote_url TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL CONSTRAINT projects_kind_valid CHECK (kind IN ('local', 'clone')),
  created_at INTEGER NOT NULL
);

CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  external_id TEXT,
  parent_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
  source TEXT NOT NULL
    CONSTRAINT tasks_source_valid CHECK (source IN ('cli', 'github', 'mention', 'review', 'job')),
  source_id TEXT,
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  labels TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'new'
    CONSTRAINT tasks_status_valid CHECK (status IN
      ('new', 'routed', 'in_progress', 'in_review', 'done', 'blocked', 'needs_review')),
  status_reason TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0 CONSTRAINT tasks_attempts_valid CHECK (attempts >= 0),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CONSTRAINT tasks_external_unique UNIQUE (project_id, external_id)
);
CREATE INDEX tasks_by_status ON tasks(status);
CREATE INDEX tasks_by_parent ON tasks(parent_id);

CREATE TABLE task_runs (
  id INTEGER PRIMARY KEY,
  task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  agent TEXT NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  command TEXT NOT NULL DEFAULT '[]',
  exit_code INTEGER,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  outcome TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  CONSTRAINT task_runs_attempt_unique UNIQUE (task_id, attempt)
);

CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  action TEXT NOT NULL DEFAULT '',
  payload_hash TEXT NOT NULL,
  repo TEXT NOT NULL DEFAULT '',
  payload BLOB NOT NULL,
  processed_at INTEGER,
  error TEXT,
  retry_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_delivery ON webhook_deliveries(delivery_id);
CREATE INDEX webhook_deliveries_by_hash ON webhook_deliveries(payload_hash);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(processed_at, next_attempt_at);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE,
  last_run_at INTEGER,
  last_task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL
);
-- NULL project means every project; COALESCE keeps two such jobs from sharing a name.
CREATE UNIQUE INDEX jobs_name_unique ON jobs(name, COALESCE(project_id, 0));

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE,
  task_id INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  from_status TEXT NOT NULL DEFAULT '',
  to_status TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX events_by_task ON events(task_id, id);

CREATE TABLE kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql"},
      {2, "webhook receipts and delivery results", R"sql(
-- One row per repeated arrival of a delivery (a duplicate, or a redelivery that requeued it);
-- a first arrival is counted by its own webhook_deliveries row. For `orch webhook stats`;
-- pruned after a week. No index on time: rows are few and appended in time order.
CREATE TABLE webhook_receipts (
  id INTEGER PRIMARY KEY,
  delivery_row INTEGER REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  outcome TEXT NOT NULL
    CONSTRAINT webhook_receipts_outcome_valid CHECK (outcome IN ('stored', 'duplicate', 'requeued')),
  received_at INTEGER NOT NULL
);
-- What applying the delivery did ("created task 4", "ignored: untrusted actor eve ...").
ALTER TABLE webhook_deliveries ADD COLUMN result TEXT NOT NULL DEFAULT '';
-- Where the payload lives in the payload log beside the database (payload_log.h); the payload
-- column then holds an empty BLOB. NULL segment: the payload is inline (":memory:" stores).
ALTER TABLE webhook_deliveries ADD COLUMN payload_segment INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN payload_offset INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN payload_length INTEGER;
-- The pull request a task's work went into, so PR events find their task.
ALTER TABLE tasks ADD COLUMN pr_number INTEGER;
CREATE INDEX tasks_by_pr ON tasks(project_id, pr_number);
)sql"},
      {3, "routes, branches and agent runs", R"sql(
-- The router's choice as JSON {agent, model, complexity, reason, profile, selected_skills};
-- NULL until routed. Follow-ups and retries read the agent from here.
ALTER TABLE tasks ADD COLUMN route TEXT;
-- The task's branch (orch/<issue>-<slug>), fixed at its first run so retries continue it.
ALTER TABLE tasks ADD COLUMN branch TEXT;
-- The agent's own session or thread id, so a retry or follow-up resumes the conversation.
ALTER TABLE tasks ADD COLUMN agent_session TEXT;
-- Where a run lives: its tmux session, its directory under $ORCH_HOME/runs (prompt, log,
-- exit file) and its worktree.
ALTER TABLE task_runs ADD COLUMN tmux_session TEXT NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN run_dir TEXT NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN worktree TEXT NOT NULL DEFAULT '';
-- What the agent said (its summary) or why the run failed (AgentErrorName), once finished.
ALTER TABLE task_runs ADD COLUMN error_class TEXT NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN agent_session TEXT NOT NULL DEFAULT '';
CREATE INDEX task_runs_running ON task_runs(finished_at);
)sql"},
      {4, "scheduled job state", R"sql(
-- One row per job id (project_id stays NULL: ids are unique across config.yml and jobs.yml,
-- and a job's project comes from its config). last_run_at: when it last ran.
-- The scheduled time last dealt with (run, skipped as overlapping, or passed while disabled).
ALTER TABLE jobs ADD COLUMN last_slot_at INTEGER;
-- "created task 4", "exit 0", "skipped: task 4 is still in_progress", ...
ALTER TABLE jobs ADD COLUMN last_result TEXT NOT NULL DEFAULT '';
-- A command job's last exit code and the tail of its output.
ALTER TABLE jobs ADD COLUMN last_exit_code INTEGER;
ALTER TABLE jobs ADD COLUMN last_output TEXT NOT NULL DEFAULT '';
-- NULL: as the config says; 0 or 1: `orch job disable` / `orch job enable`.
ALTER TABLE jobs ADD COLUMN enabled INTEGER;
-- When the scheduler first saw the job: a new job does not catch up on times before it.
ALTER TABLE jobs ADD COLUMN first_seen_at INTEGER NOT NULL DEFAULT 0;
-- A job's task for one scheduled time in one project exists once, however often it is tried.
CREATE UNIQUE INDEX tasks_job_run_unique ON tasks(project_id, source_id) WHERE source = 'job';
)sql"},
      {5, "orchestrated runs", R"sql(
-- A run: several agents on one problem (debug), a plan across repositories, or a flow (a DAG
-- of steps). orchestrated_at is the once-only guard: set by the one caller that starts the
-- orchestrator, whatever restarts or double triggers happen.
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CONSTRAINT runs_kind_valid CHECK (kind IN ('debug', 'plan', 'flow')),
  status TEXT NOT NULL DEFAULT 'running'
    CONSTRAINT runs_status_valid
    CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  source_task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
  issue TEXT,
  flow_name TEXT NOT NULL DEFAULT '',
  input TEXT NOT NULL DEFAULT '{}' CONSTRAINT runs_input_json CHECK (json_valid(input)),
  report TEXT NOT NULL DEFAULT '',
  orchestrated_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX runs_by_project ON runs(project_id, status);
-- A run's steps: one per agent session of a debug run, per repository of a plan, per step of
-- a flow. output is kept whole.
CREATE TABLE run_steps (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  kind TEXT NOT NULL CONSTRAINT run_steps_kind_valid CHECK (kind IN ('agent', 'code')),
  agent TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'pending'
    CONSTRAINT run_steps_status_valid
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped')),
  task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
  output TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0 CONSTRAINT run_steps_attempt_valid CHECK (attempt >= 0),
  started_at INTEGER,
  finished_at INTEGER,
  CONSTRAINT run_steps_unique UNIQUE (run_id, step_id)
);
)sql"},
      {6, "webhook dedup by an integer hash prefix", R"sql(
-- The first 8 bytes of the body's SHA-256 as a signed 64-bit integer (the first 16 hex digits
-- of payload_hash, big-endian, two's complement). Duplicate bodies are looked up through an
-- index on it, then confirmed on the full payload_hash, so a shared prefix never merges two
-- different bodies. Its index entries are a sixth the size of the TEXT hash's, so its inserts
-- at random positions split and dirty fewer pages.
ALTER TABLE webhook_deliveries ADD COLUMN payload_hash_prefix INTEGER NOT NULL DEFAULT 0
  CONSTRAINT webhook_deliveries_hash_prefix_integer
  CHECK (typeof(payload_hash_prefix) = 'integer');
-- Existing rows, from their hex hash: each digit is instr(...) - 1. The first is taken as
-- signed ((d + 8) % 16 - 8), so the sum stays in range as an INTEGER (an overflow would make it
-- REAL, which the CHECK above refuses, failing the migration).
UPDATE webhook_deliveries SET payload_hash_prefix =
  (((instr('0123456789abcdef', substr(lower(payload_hash), 1, 1)) - 1) + 8) % 16 - 8)
    * 1152921504606846976
  + (instr('0123456789abcdef', substr(lower(payload_hash), 2, 1)) - 1) * 72057594037927936
  + (instr('0123456789abcdef', substr(lower(payload_hash), 3, 1)) - 1) * 4503599627370496
  + (instr('0123456789abcdef', substr(lower(payload_hash), 4, 1)) - 1) * 281474976710656
  + (instr('0123456789abcdef', substr(lower(payload_hash), 5, 1)) - 1) * 17592186044416
  + (instr('0123456789abcdef', substr(lower(payload_hash), 6, 1)) - 1) * 1099511627776
  + (instr('0123456789abcdef', substr(lower(payload_hash), 7, 1)) - 1) * 68719476736
  + (instr('0123456789abcdef', substr(lower(payload_hash), 8, 1)) - 1) * 4294967296
  + (instr('0123456789abcdef', substr(lower(payload_hash), 9, 1)) - 1) * 268435456
  + (instr('0123456789abcdef', substr(lower(payload_hash), 10, 1)) - 1) * 16777216
  + (instr('0123456789abcdef', substr(lower(payload_hash), 11, 1)) - 1) * 1048576
  + (instr('0123456789abcdef', substr(lower(payload_hash), 12, 1)) - 1) * 65536
  + (instr('0123456789abcdef', substr(lower(payload_hash), 13, 1)) - 1) * 4096
  + (instr('0123456789abcdef', substr(lower(payload_hash), 14, 1)) - 1) * 256
  + (instr('0123456789abcdef', substr(lower(payload_hash), 15, 1)) - 1) * 16
  + (instr('0123456789abcdef', substr(lower(payload_hash), 16, 1)) - 1);
CREATE INDEX webhook_deliveries_by_hash_prefix ON webhook_deliveries(payload_hash_prefix);
DROP INDEX webhook_deliveries_by_hash;
)sql"},
      {7, "run step tasks", R"sql(
-- An agent step of a run is a task (so it is routed, retried, streamed and adopted like any
-- other), marked with its run. Such a task publishes nothing: no push, no pull request, no
-- comment; its output goes to its step. read_only asks the agent's CLI for its read-only mode
-- (plan sessions, reviewers).
ALTER TABLE tasks ADD COLUMN run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0
  CONSTRAINT tasks_read_only_bool CHECK (read_only IN (0, 1));
CREATE INDEX tasks_by_run ON tasks(run_id) WHERE run_id IS NOT NULL;
-- The run's steps as they were when it started (JSON, runs.h), so a restart resumes the same
-- graph even if the flow's file changed meanwhile.
ALTER TABLE runs ADD COLUMN definition TEXT NOT NULL DEFAULT '{}'
  CONSTRAINT runs_definition_json CHECK (json_valid(definition));
-- How many times a review sent this step back (flows' review loops).
ALTER TABLE run_steps ADD COLUMN cycle INTEGER NOT NULL DEFAULT 0
  CONSTRAINT run_steps_cycle_valid CHECK (cycle >= 0);
)sql"},
      {8, "webhook dedup keys in memory", R"sql(
-- The inbox finds earlier rows with a delivery's id or body through keys it keeps in memory
-- (store_inbox.cc), read from this table. The two indexes on those random keys were most of the
-- cost of storing a delivery: each insert dirtied a leaf page of each at a random place, and
-- every dirty page is a frame in the WAL and a page copied again at checkpoint.
DROP INDEX webhook_deliveries_by_delivery;
DROP INDEX webhook_deliveries_by_hash_prefix;
-- Counts deleted deliveries, so a process holding the keys knows to read them again: rows are
-- only ever added with ids above the newest, except after the newest was deleted.
CREATE TABLE webhook_inbox_state (
  id INTEGER PRIMARY KEY CONSTRAINT webhook_inbox_state_one_row CHECK (id = 1),
  deletions INTEGER NOT NULL
);
INSERT INTO webhook_inbox_state(id, deletions) VALUES (1, 0);
CREATE TRIGGER webhook_deliveries_count_deletions AFTER DELETE ON webhook_deliveries
BEGIN
  UPDATE webhook_inbox_state SET deletions = deletions + 1 WHERE id = 1;
END;
)sql"},
      {9, "work tree pool", R"sql(
-- Work trees of done tasks kept for reuse (agents/worktree_pool.h), one row per place in a
-- project's pool. 'parking': being reset and moved in from other_path (a done task's tree);
-- 'ready': reset, its files at commit head; 'lending': being moved to other_path and switched
-- for task_id. A restart finds a 'parking' or 'lending' row half done and discards its tree
-- (unless the task's attempt runs in it: then the lending is finished).
CREATE TABLE worktree_pool (
  slot TEXT PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  state TEXT NOT NULL
    CONSTRAINT worktree_pool_state_valid CHECK (state IN ('parking', 'ready', 'lending')),
  other_path TEXT NOT NULL DEFAULT '',
  task_id INTEGER,
  head TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL
);
CREATE INDEX worktree_pool_by_project ON worktree_pool(project_id, state);
)sql"},
      {10, "hosts and leases", kHostsAndLeases},
  };
  return kMigrations;
}

const std::vector<Migration>& MigrationsFor(sql::Connection& db) {
  return db.dialect() == sql::Dialect::kPostgres ? PostgresMigrations() : Migrations();
}

namespace {

void EnsureMigrationsTable(sql::Connection& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
}

int ReadVersion(sql::Connection& db) {
  sql::Statement q(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  q.executeStep();
  return q.getColumn(0).getInt();
}

}  // namespace

Result<int> AppliedVersion(sql::Connection& db) {
  try {
    if (!db.tableExists("schema_migrations")) return 0;
    return ReadVersion(db);
  } catch (const std::exception& e) {
    return Status::IOError("reading schema version", e.what());
  }
}

Status ApplyMigrations(sql::Connection& db, const std::vector<Migration>& migrations,
                       int64_t now_unix) {
  int newest = migrations.empty() ? 0 : migrations.back().version;
  try {
    EnsureMigrationsTable(db);
    for (const Migration& m : migrations) {
      // A writing transaction takes the write lock first (sql.h), so the version read inside is
      // final.
      sql::Transaction txn(db);
      int applied = ReadVersion(db);
      if (applied > newest) {
        return Status::Conflict("database schema version " + std::to_string(applied) +
                                    " is newer than this orch knows (" + std::to_string(newest) +
                                    ")",
                                "upgrade orch or use another ORCH_HOME");
      }
      if (m.version <= applied) continue;
      db.exec(m.sql);
      sql::Statement ins(db,
                         "INSERT INTO schema_migrations(version, name, applied_at) "
                         "VALUES (?, ?, ?)");
      ins.bind(1, m.version);
      ins.bind(2, m.name);
      ins.bind(3, static_cast<int64_t>(now_unix));
      ins.exec();
      txn.commit();
    }
  } catch (const std::exception& e) {
    return Status::IOError("applying migrations", e.what());
  }
  return Status::OK();
}

}  // namespace orch
