// Store: orch's source of truth. By default one SQLite file in WAL mode ($ORCH_HOME/orch.db);
// with `store.url: postgres://...`, a PostgreSQL database that several orch hosts share. The
// statements are written once (sql.h); the schema has a migration list for each engine.
//
// Holds projects, tasks, task runs, webhook deliveries, jobs, events and a key-value table
// (schema in migrations.cc). Task status changes go through Transition() only: a
// compare-and-set on the expected status, checked against the state machine in task.h, written
// in one transaction with the event that explains it. Two writers cannot both win.
//
// Thread safety: one Store is used by one thread at a time. Other threads and processes
// open their own; SQLite's locking (busy timeout 5 s), or PostgreSQL's transaction lock for
// orch's writes (sql_postgres.cc), orders their writes.
#ifndef ORCH_STORE_STORE_H_
#define ORCH_STORE_STORE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/run_types.h"
#include "store/task.h"

namespace orch::sql {
class Connection;
}

namespace orch {

class PayloadLog;

enum class ProjectKind { kLocal, kClone };  // a checkout registered in place, or orch's clone

struct Project {
  int64_t id = 0;
  std::string name = "";  // owner/repo when known, else the directory's name
  std::optional<std::string> repo = std::nullopt;  // GitHub owner/name
  std::string path = "";                           // the checkout, or the bare clone orch made
  std::string remote_url = "";
  ProjectKind kind = ProjectKind::kLocal;
  int64_t created_at = 0;
};

struct NewTask {
  int64_t project_id = 0;
  std::optional<std::string> external_id = std::nullopt;
  std::optional<int64_t> parent_id = std::nullopt;
  TaskSource source = TaskSource::kCli;
  std::optional<std::string> source_id = std::nullopt;
  std::string title = "";
  std::string body = "";
  std::vector<std::string> labels = {};
  TaskStatus status = TaskStatus::kNew;          // children of a delegation may start blocked
  std::optional<int64_t> run_id = std::nullopt;  // a run's step (runs.h)
  bool read_only = false;
  std::string branch = "";  // empty: chosen at the first run (BranchName)
};

struct TaskFilter {
  std::optional<TaskStatus> status = std::nullopt;
  std::optional<int64_t> project_id = std::nullopt;
  std::optional<int64_t> parent_id = std::nullopt;
  std::optional<std::string> external_id = std::nullopt;
  std::optional<std::string> source_id = std::nullopt;
  std::optional<int64_t> pr_number = std::nullopt;
  std::optional<std::string> source_id_prefix = std::nullopt;  // e.g. "nightly@" for a job's
  std::optional<std::string> lease_owner = std::nullopt;       // "" for tasks leased to none
};

// A host of a fleet sharing one store (the `hosts` table), as its last heartbeat left it.
struct HostRecord {
  std::string id;
  int64_t started_at = 0;
  int64_t heartbeat_at = 0;
  std::string version = "";
  int running = 0;       // agents it runs
  int max_parallel = 0;  // its engine.max_parallel
  int leases = 0;        // tasks in progress leased to it
};

// A scheduled job's state (the `jobs` table; jobs.h). The job itself lives in the config.
struct JobState {
  std::string id;
  int64_t first_seen_at = 0;
  std::optional<int64_t> last_slot_at = std::nullopt;  // scheduled time last dealt with
  std::optional<int64_t> last_run_at = std::nullopt;   // when it last ran
  std::string last_result = "";
  std::optional<int> last_exit_code = std::nullopt;
  std::string last_output = "";
  std::optional<int64_t> last_task_id = std::nullopt;
  std::optional<bool> enabled = std::nullopt;  // override of the config's `enabled`
};

struct Event {
  int64_t id = 0;
  std::optional<int64_t> task_id;
  std::string kind;  // "created", "transition", ...
  std::string from_status;
  std::string to_status;
  std::string actor;
  std::string reason;
  int64_t created_at = 0;
};

// One attempt of an agent at a task (task_runs).
struct Attempt {
  int64_t id = 0;
  int64_t task_id = 0;
  int attempt = 0;
  std::string agent;
  std::string model;
  std::vector<std::string> command;  // argv as started
  std::string tmux_session;
  std::string run_dir;
  std::string worktree;
  std::string host;  // the host it runs on (Store::SetHost); empty on one machine
  int64_t started_at = 0;
  // Set once finished:
  std::optional<int64_t> finished_at;
  std::optional<int> exit_code;
  std::string outcome;      // the contract's status, or "failed"
  std::string error_class;  // AgentErrorName, empty when the run worked
  std::string summary;      // the agent's summary, or the error
  std::string agent_session;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
};

enum class AttemptEffect { kKeep, kReset, kCount };  // what a transition does to `attempts`

// A work tree in a project's pool (table worktree_pool, agents/worktree_pool.h).
enum class PoolState { kParking, kReady, kLending };
struct PooledWorktree {
  std::string slot;  // where it lives in the pool: worktrees/<project>/.pool/<n>
  int64_t project_id = 0;
  PoolState state = PoolState::kReady;
  // kParking: the done task's work tree it is made from; kLending: the task's path it goes to.
  std::string other_path = "";
  std::optional<int64_t> task_id = std::nullopt;  // kLending: the task it goes to
  std::string head = "";                          // kReady: the commit its files hold
  int64_t updated_at = 0;
};
const char* PoolStateName(PoolState state);

// A webhook delivery as the receiver accepted it (signature already verified).
struct NewDelivery {
  std::string delivery_id;  // X-GitHub-Delivery
  std::string event_type;   // X-GitHub-Event
  std::string action;
  std::string repo;  // owner/name
  std::string payload;
  std::string payload_hash = "";  // hex SHA-256 of payload; computed by the store when empty
};

struct Delivery {
  int64_t id = 0;
  std::string delivery_id;
  std::string event_type;
  std::string action;
  std::string payload_hash;  // hex SHA-256 of the payload
  std::string repo;
  std::string payload;
  std::optional<int64_t> processed_at;     // set once applied successfully
  std::string error;                       // the last failure, if any
  int retry_count = 0;                     // failed applications so far
  std::optional<int64_t> next_attempt_at;  // NULL and not processed: failed for good
  int64_t created_at = 0;
  std::string result;  // what applying it did, or why it was ignored
  // Why `payload` could not be read from the payload log (empty when it was): the delivery
  // then fails when applied, with this error.
  std::string payload_error;

  bool failed() const { return !processed_at && !next_attempt_at; }
};

struct DeliveryFilter {
  bool failed_only = false;
  int limit = 50;  // newest first
};

// What the receiver saw and the engine did, over a window (`orch webhook stats`).
struct WebhookStats {
  int64_t received = 0;    // requests with a good signature, duplicates included
  int64_t duplicates = 0;  // of those, already applied or already waiting
  int64_t applied = 0;
  int64_t failed = 0;   // gave up after kMaxDeliveryAttempts
  int64_t pending = 0;  // waiting for the engine, first try or retry
  std::vector<std::pair<std::string, int64_t>> received_by_event;  // "issues.labeled" -> n
};

enum class InboxOutcome {
  kStored,     // new: queued for the engine
  kDuplicate,  // already applied, or already waiting to be: nothing to do
  kRequeued,   // a redelivery of one that failed: queued again, due now
};

const char* InboxOutcomeName(InboxOutcome o);

constexpr int kMaxDeliveryAttempts = 5;
// The wait after the `failures`-th failed application: 5 s, 10 s, 20 s, ... capped at 5 min.
std::chrono::seconds DeliveryRetryDelay(int failures);

// An orchestrated run (the `runs` table): several agents on one problem, a plan across
// repositories, or a flow. Its steps are RunStepRecords.
enum class RunKind { kDebug, kPlan, kFlow };
enum class RunStatus { kRunning, kCompleted, kFailed, kCancelled };
const char* RunKindName(RunKind k);
const char* RunStatusName(RunStatus s);

struct RunRecord {
  int64_t id = 0;
  RunKind kind = RunKind::kDebug;
  RunStatus status = RunStatus::kRunning;
  int64_t project_id = 0;
  std::optional<int64_t> source_task_id = std::nullopt;
  std::optional<std::string> issue = std::nullopt;
  std::string flow_name = "";
  std::string input = "{}";  // JSON
  std::string report = "";
  std::optional<int64_t> orchestrated_at = std::nullopt;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> finished_at = std::nullopt;
  std::string definition = "{}";  // its steps as started (JSON, runs.h)
};

struct RunStepRecord {
  int64_t run_id = 0;
  std::string step_id;
  StepKind kind = StepKind::kAgent;
  std::string agent = "";
  StepState status = StepState::kPending;
  std::optional<int64_t> task_id = std::nullopt;
  std::string output = "";
  int attempt = 0;
  std::optional<int64_t> started_at = std::nullopt;
  std::optional<int64_t> finished_at = std::nullopt;
  int cycle = 0;  // times a review loop sent it back
};

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens or creates the database at `where` (a SQLite file, or a postgres:// URL) and brings
  // its schema up to date. Fails with Corruption when the file is not an orch database, IOError
  // when it cannot be opened, and Conflict when it was written by a newer orch. ":memory:" works
  // for tests.
  static Result<std::unique_ptr<Store>> Open(const std::string& where, const Clock& clock);

  // The file, or the URL without its password.
  const std::string& path() const { return path_; }
  // Whether the database is PostgreSQL's (shared by hosts) rather than a SQLite file.
  bool postgres() const;
  // The highest applied migration.
  Result<int> SchemaVersion();
  // Applies pending migrations; applying them again changes nothing.
  Status Migrate();

  // Conflict when a project of that name exists.
  Result<Project> AddProject(const Project& project);
  Result<std::vector<Project>> ListProjects();
  // By name or numeric id. NotFound names what was asked for.
  Result<Project> FindProject(const std::string& name_or_id);
  // Deletes the project and, by cascade, its tasks and their events.
  Status RemoveProject(int64_t id);

  // Inserts a task and its "created" event. Conflict when (project, external_id) exists.
  Result<Task> AddTask(const NewTask& task, const Cause& cause);
  Result<Task> GetTask(int64_t id);
  Result<std::vector<Task>> ListTasks(const TaskFilter& filter);
  Result<std::vector<Event>> TaskEvents(int64_t task_id);
  // Events of every task with id > `id`, oldest first, at most `limit`: the
  // feed the notifier reads from its cursor. MaxEventId is 0 for an empty table.
  Result<std::vector<Event>> EventsAfter(int64_t id, int limit);
  Result<int64_t> MaxEventId();
  // Links task `id` to the pull request that carries its work. NotFound without such a task.
  Status SetTaskPullRequest(int64_t id, int64_t pr_number);

  // The route, branch and agent session of task `id` (each only when given).
  Status SetTaskRoute(int64_t id, const std::string& route_json);
  Status SetTaskBranch(int64_t id, const std::string& branch);
  Status SetTaskAgentSession(int64_t id, const std::string& session);
  // Says more about a task's status without changing it ("approved; waiting for the merge").
  Status SetTaskStatusReason(int64_t id, const std::string& reason);

  // A task's attempts (table task_runs). StartAttempt inserts one numbered the task's attempts
  // so far + 1 and returns it; FinishAttempt records how it ended (once: Conflict when already
  // finished).
  Result<Attempt> StartAttempt(const Attempt& attempt);
  Status FinishAttempt(const Attempt& attempt);
  Result<std::vector<Attempt>> ListAttempts(int64_t task_id);
  // Attempts not finished yet, oldest first: this host's only, when SetHost named one.
  Result<std::vector<Attempt>> UnfinishedAttempts();

  // Orchestrated runs (store_orch_runs.cc). CreateRun inserts the run and its steps in one
  // transaction (InvalidArgument for input that is not JSON or a step id used twice).
  Result<RunRecord> CreateRun(const RunRecord& run, const std::vector<RunStepRecord>& steps);
  Result<RunRecord> GetRun(int64_t id);
  // Newest first; all projects when `project_id` is not given, every status when `status`
  // is not.
  Result<std::vector<RunRecord>> ListRunRecords(std::optional<int64_t> project_id,
                                                std::optional<RunStatus> status = std::nullopt);
  Result<std::vector<RunStepRecord>> ListRunSteps(int64_t run_id);
  // Writes a step's status, agent, task, output, attempt, cycle and times. NotFound without such a
  // step. UpdateRunSteps writes several in one transaction (all or none).
  Status UpdateRunStep(const RunStepRecord& step);
  Status UpdateRunSteps(const std::vector<RunStepRecord>& steps);
  // Starts a pending agent step: adds its task and marks the step running with it (attempt + 1)
  // in one transaction, so a crash leaves neither a task without its step nor the reverse.
  // Conflict when the step is not pending (started already).
  Result<Task> StartAgentStep(int64_t run_id, const std::string& step_id, const NewTask& task,
                              const Cause& cause);
  // Ends a running run with its report. Conflict when it has ended already.
  Status FinishRunRecord(int64_t id, RunStatus status, const std::string& report);
  // The once-only guard of a run's orchestrator: true for the one caller that sets
  // orchestrated_at, false for every later one (a second trigger, a restart).
  // The same transaction adds `step` (the orchestrator's, pending) to the run.
  Result<bool> ClaimOrchestration(int64_t run_id, const RunStepRecord& step);

  // Moves task `id` from `from` to `to` if it is still in `from`, and records the event.
  // InvalidArgument when the state machine forbids the move; Conflict when the task is no
  // longer in `from` (someone else moved it first); NotFound when there is no such task.
  Status Transition(int64_t id, TaskStatus from, TaskStatus to, const Cause& cause,
                    AttemptEffect attempts = AttemptEffect::kKeep);

  // The webhook inbox (store_inbox.cc). A delivery is recognised by its delivery id; one without
  // an id, by its payload's SHA-256 within its event type. StoreDelivery returns only once the
  // payload (fdatasync of its log segment) and the row (a synchronous=FULL commit, this
  // transaction only) are on stable storage, so a 2xx sent after it is never for a delivery
  // that a crash, an OS crash or a power loss could lose.
  Result<InboxOutcome> StoreDelivery(const NewDelivery& delivery);
  // The same for many deliveries in one transaction (the receiver's group commit): one outcome
  // per delivery, in order; on failure none of them is stored.
  Result<std::vector<InboxOutcome>> StoreDeliveries(const std::vector<NewDelivery>& deliveries);
  // Reads the inbox's dedup keys into memory now (StoreDeliveries does on its first batch), so
  // the first delivery after a start does not wait for them.
  Status LoadInboxKeys();
  // The inbox's payload log (payload_log.h); null for ":memory:". For tests and the benchmark.
  const PayloadLog* payload_log() const { return payloads_.get(); }
  // How many inbox commits were made synchronous=FULL (tests and the benchmark read it).
  uint64_t durable_commits() const { return durable_commits_.load(std::memory_order_relaxed); }
  // Deliveries due now, oldest first, at most `limit`.
  Result<std::vector<Delivery>> DueDeliveries(int limit);
  // `result` says what applying it did (shown by `orch webhook deliveries`).
  Status MarkDeliveryApplied(int64_t id, const std::string& result = "");
  // Counts a failed application and schedules the next one after DeliveryRetryDelay; after
  // kMaxDeliveryAttempts failures the delivery stays failed, visible with its error.
  Status MarkDeliveryFailed(int64_t id, const std::string& error);
  Result<Delivery> GetDelivery(int64_t id);
  Result<std::vector<Delivery>> ListDeliveries(const DeliveryFilter& filter);
  // Queues delivery `id` to be applied again now, as a first attempt, whatever its state
  // (`orch webhook redeliver`); applying is idempotent, so an applied one may be replayed.
  // NotFound when there is no such delivery, or when its payload was pruned.
  Status RequeueDelivery(int64_t id);
  // Counts over receipts and deliveries created at or after `since` (unix seconds).
  Result<WebhookStats> GetWebhookStats(int64_t since);
  // Unix seconds of the newest receipt, if any (for /health).
  Result<std::optional<int64_t>> LastWebhookAt();
  // Unix seconds of the newest delivery or redelivery received for `repo` (owner/name, any
  // case), if any: whether webhooks still arrive for it (delivery_watch.h).
  Result<std::optional<int64_t>> LastDeliveryFor(const std::string& repo);
  // Deletes receipts older than `before`; deliveries stay. Also deletes payload log segments
  // last written before `before` that hold no payload of a delivery still to be applied (or
  // failed), or created or applied at or after `before`: replaying such an old delivery then
  // fails with NotFound.
  Status PruneWebhookReceipts(int64_t before);
  // Deletes deliveries applied before `before` (failed and waiting ones stay), so the inbox
  // does not grow for ever. A redelivery of a pruned one is applied again, which intake's
  // idempotence makes harmless.
  Status PruneAppliedDeliveries(int64_t before);

  // WAL checkpoints. By default a commit that leaves the WAL over 1,000 pages copies it back
  // into the database (and syncs) before returning; the receiver turns that off on its
  // connection (pages = 0) so no request waits for a sync, and checkpoints from another thread.
  Status SetWalAutoCheckpoint(int pages);
  // A passive checkpoint: copies what it can without blocking writers.
  Status Checkpoint();

  // Scheduled jobs' state (store_jobs.cc), by job id. SaveJobState inserts or replaces.
  Result<std::vector<JobState>> ListJobStates();
  Result<std::optional<JobState>> GetJobState(const std::string& id);
  Status SaveJobState(const JobState& state);
  Status DeleteJobState(const std::string& id);

  Result<std::optional<std::string>> GetKv(const std::string& key);
  Status SetKv(const std::string& key, const std::string& value);

  // Hosts and leases (store_hosts.cc), for several orch hosts sharing one PostgreSQL store.
  // SetHost names this connection's host: StartAttempt records it on each attempt,
  // UnfinishedAttempts lists only its attempts, and a task this connection moves to
  // in_progress is leased to it for `lease_ttl` (renewed by Heartbeat; moving it out of
  // in_progress ends the lease). Without a host (one machine) nothing is leased and every
  // attempt is this one's.
  void SetHost(const std::string& id, std::chrono::seconds lease_ttl);
  const std::string& host() const { return host_; }
  // Records this host's heartbeat (inserting its row at the first) and renews its tasks'
  // leases, in one transaction.
  Status Heartbeat(const std::string& version, int running, int max_parallel);
  Result<std::vector<HostRecord>> ListHosts();
  // Takes or renews lease `name` for this host until now + lease_ttl; true when this host holds
  // it afterwards, false while another's has not run out.
  Result<bool> HoldLease(const std::string& name);
  // The holder of lease `name` and until when; nullopt when none ever held it.
  Result<std::optional<std::pair<std::string, int64_t>>> LeaseHolder(const std::string& name);
  // Tasks in progress whose lease has run out: their host stopped renewing it.
  Result<std::vector<Task>> ExpiredLeases();

  // The work tree pool (store_pool.cc), every project's, by project and slot. SavePooledWorktree
  // inserts or replaces the row of its slot (updated_at: now); deleting a missing one is OK.
  Result<std::vector<PooledWorktree>> ListPooledWorktrees();
  Status SavePooledWorktree(const PooledWorktree& row);
  Status DeletePooledWorktree(const std::string& slot);
  // Marks the ready tree of `project_id` parked last (nearest the base, likely) as lent to
  // `task_id` for `target`, and returns it (the compare-and-set of a lending); nullopt when none is
  // ready.
  Result<std::optional<PooledWorktree>> LendPooledWorktree(int64_t project_id, int64_t task_id,
                                                           const std::string& target);

 private:
  // Inserts a task and its 'created' event; the caller holds a transaction. Throws.
  int64_t InsertTask(const NewTask& task, const Cause& cause);
  Store(std::string path, const Clock& clock, std::unique_ptr<sql::Connection> db);
  Status SetTaskColumn(int64_t id, const char* column, const std::string& value);
  // Events matching `where` (a WHERE clause with `key` as ?1 and, when limit >= 0, ?2).
  Result<std::vector<Event>> ReadEvents(const char* where, int64_t key, int limit);
  // Deletes the payload log segments PruneWebhookReceipts promises to.
  Status PrunePayloads(int64_t before);
  // Turns a database exception into a Status naming the database.
  Status Error(const std::exception& e, const char* what) const;

  std::string path_;
  const Clock& clock_;
  std::string host_;  // SetHost; empty: one machine, no leases
  std::chrono::seconds lease_ttl_{60};
  std::unique_ptr<sql::Connection> db_;
  // The payloads of new deliveries (payload_log.h); null for ":memory:", which keeps them inline.
  std::unique_ptr<PayloadLog> payloads_;
  std::atomic<uint64_t> durable_commits_{0};
  // The inbox's statements, prepared once: the receiver's group commit runs them thousands of
  // times a second.
  struct InboxStatements;
  std::unique_ptr<InboxStatements> inbox_;
};

const char* ProjectKindName(ProjectKind k);

}  // namespace orch

#endif  // ORCH_STORE_STORE_H_
