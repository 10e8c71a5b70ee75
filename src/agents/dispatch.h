// Dispatcher: the engine's agent steps. Routes new tasks, starts routed ones within
// engine.max_parallel, notices runs that ended, and turns each into a task status: commits what
// the agent left, pushes the branch, opens (or reuses) the pull request, comments on the issue,
// creates delegated child tasks, or retries with failover to the next agent.
//
// Slow work (LLM routing, git fetch and push, GitHub calls) runs on worker threads; each job
// returns a closure that Step() applies on the engine's thread, so every store write still
// happens on one thread (DESIGN: one writer). The wake callback starts the next tick as soon
// as a job finishes or an agent exits.
//
// Crash safety: a task moves to in_progress before its run row is written, and the run row is
// written before its session starts. After a restart, Adopt() finds live sessions (their
// runs go on), runs whose session vanished (failed, retried), and in_progress tasks with no
// run (sent back to routed).
//
// Thread safety: Step(), Adopt() and RunNow() on the engine's thread only.
#ifndef ORCH_AGENTS_DISPATCH_H_
#define ORCH_AGENTS_DISPATCH_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "engine/breaker.h"
#include "base/clock.h"
#include "config/config.h"
#include "github/github.h"
#include "agents/router.h"
#include "agents/runner.h"
#include "store/store.h"

namespace orch {

// The wait before retrying after a transient agent error (rate limit, model unavailable,
// timeout, an unclassified failure such as an API 5xx): exponential backoff with full jitter,
// uniform in [0, min(cap, base * 2^(attempt-1))] seconds, so agents that fail together do not
// all come back at once (workflow.retry_base_delay and retry_max_delay).
int64_t RetryDelay(int attempt, int64_t base, int64_t cap, std::mt19937_64& rng);
bool IsTransient(AgentError e);
// The store key holding when task `id` may start its next attempt (unix seconds).
std::string RetryKey(int64_t task_id);

struct DispatchReport {
  int routed = 0;
  int started = 0;
  int finished = 0;
};

class Dispatcher {
 public:
  // `github` may be null (no PRs or comments then: the task ends needs_review with the branch
  // pushed). `github` must be safe to call from worker threads (LockedGitHubClient).
  // `breakers` (may be null) are told each run's outcome and keep open agents out of failover.
  Dispatcher(SqliteStore& store, const Config& config, const Clock& clock, Router& router,
             Runner& runner, GitHubClient* github, std::function<void()> wake,
             Breakers* breakers = nullptr, int workers = 3);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  Status Adopt();
  // Removes the work trees of done tasks, and logs work trees under orch's base that no task
  // owns (orphans: left by hand or by an older orch), at most once a
  // minute. Returns the orphans' paths.
  Result<std::vector<std::string>> SweepWorktrees();
  // Deletes runs/<task>/ of tasks done at least engine.run_log_retention_days ago, and of
  // tasks that no longer exist once the directory is that old (at most once an hour from
  // Step). Returns how many it deleted.
  Result<int> PruneRunLogs();
  Result<DispatchReport> Step();
  // Waits until no job is in flight, then applies their results (tests and shutdown).
  void Drain();
  // Called with each run directory once its session runs (the RunWatcher watches it).
  std::function<void(const std::string&)> on_run_started;
  // Restricts routing and starting to one task (`orch task run ID` in the foreground).
  void set_only(int64_t task_id) { only_ = task_id; }

 private:
  using Apply = std::function<void()>;
  using Job = std::function<Apply()>;
  void Submit(int64_t task_id, Job job);
  void ApplyFinished(DispatchReport* report);
  Status RouteNew(DispatchReport* report);
  Status StartRouted(DispatchReport* report);
  Status ReapExited(DispatchReport* report);
  // What a failed attempt does: retry (another agent when there is one) or needs_review.
  // After a transient agent error (`error`) the retry waits: RetryDelay's full jitter.
  Status FailAttempt(const Task& task, const std::string& agent, const std::string& model,
                     const std::string& why, AgentError error);
  std::string NextAgent(const std::string& failed) const;
  Result<Project> ProjectOf(const Task& task);

  SqliteStore& store_;
  const Config& config_;
  const Clock& clock_;
  Router& router_;
  Runner& runner_;
  GitHubClient* github_;
  std::function<void()> wake_;

  std::optional<int64_t> only_;
  std::set<int64_t> busy_;  // tasks with a job in flight (engine thread only)
  Breakers* breakers_;
  std::mt19937_64 rng_{std::random_device{}()};    // retry jitter
  std::map<std::string, int64_t> cooldown_until_;  // "agent:model" after a rate limit
  std::map<int64_t, int64_t> next_tmux_check_;     // run id -> unix seconds
  int64_t next_sweep_ = 0;
  int64_t next_log_prune_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Apply> done_;
  int in_flight_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace orch

#endif  // ORCH_AGENTS_DISPATCH_H_
