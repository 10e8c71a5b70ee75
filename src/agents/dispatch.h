// Dispatcher: the engine's agent steps. Routes new tasks, starts routed ones within
// engine.max_parallel, notices attempts that ended, and turns each into a task status: in
// review with its pull request, done, delegated child tasks, needs_review, or another attempt
// (retry.h: with failover to the next agent).
//
// The dispatcher decides; the slow work goes to a WorkQueue (base/work_queue.h): LLM routing,
// starting the agent's work tree and tmux session, reading its output and publishing it
// (attempt_outcome.h, publisher.h). Each job's result is applied by Step() on the engine's
// thread, so every store write still happens on one thread (DESIGN: one writer). A task with a
// job in flight is left alone until its result is applied.
//
// Crash safety: a task moves to in_progress before its run row is written, and the run row is
// written before its session starts. After a restart, Adopt() finds live sessions (their
// runs go on), runs whose session vanished (failed, retried), and in_progress tasks with no
// run (sent back to routed).
//
// Thread safety: Step(), Adopt() and Drain() on the engine's thread only.
#ifndef ORCH_AGENTS_DISPATCH_H_
#define ORCH_AGENTS_DISPATCH_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "agents/attempt_end.h"
#include "agents/attempt_outcome.h"
#include "agents/housekeeping.h"
#include "agents/publisher.h"
#include "agents/retry.h"
#include "agents/router.h"
#include "agents/runner.h"
#include "base/clock.h"
#include "base/file_system.h"
#include "base/work_queue.h"
#include "config/config_set.h"
#include "engine/breaker.h"
#include "store/store.h"

namespace orch {

struct DispatchReport {
  int routed = 0;
  int started = 0;
  int finished = 0;
};

// What the dispatcher works with; every member outlives it. `breakers` may be null; the others
// may not.
struct DispatchParts {
  Store& store;
  ConfigSet configs;  // engine.* from the global one; the rest per task's project
  const Clock& clock;
  Router& router;
  Runner& runner;
  Publisher& publisher;
  WorkQueue& work;
  FileSystem& files;
  Breakers* breakers = nullptr;  // told each attempt's outcome; open ones are skipped
  // Whether an agent's CLI can be started (failover skips those that cannot).
  std::function<bool(const std::string&)> installed = {};
};

class Dispatcher {
 public:
  explicit Dispatcher(DispatchParts parts);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  Status Adopt();
  Result<DispatchReport> Step();
  // Waits until no job is in flight, then applies their results (tests and shutdown).
  void Drain();
  // Called with each run directory once its session runs (the RunWatcher watches it).
  std::function<void(const std::string&)> on_run_started;
  // Restricts routing and starting to one task (`orch task run ID` in the foreground).
  void set_only(int64_t task_id) { only_ = task_id; }
  // Whether Step routes new tasks (in a fleet, the leader alone routes; every host starts
  // routed tasks, up to its own engine.max_parallel, and reaps its own).
  void set_routing(bool on) { routing_ = on; }
  Housekeeping& housekeeping() { return housekeeping_; }

 private:
  // Runs `job` on the queue with `task_id` marked busy until its result is applied.
  void Submit(int64_t task_id, WorkQueue::Job job);
  bool Skip(int64_t task_id) const { return busy_.count(task_id) || (only_ && *only_ != task_id); }
  Result<Project> ProjectOf(const Task& task);

  Status RouteNew(DispatchReport* report);
  void ApplyRoute(const Task& task, const Result<Route>& route, DispatchReport* report);
  Status StartRouted(DispatchReport* report);
  // Starts `task` unless it must wait (backoff, busy branch). True when it started.
  Result<bool> StartOne(const Task& task, std::set<std::string>& busy_worktrees);
  // The route `task` starts with: its own, or another agent's when its breaker is open.
  // nullopt: wait (or routed again, when it has no route).
  Result<std::optional<Route>> StartingRoute(const Task& task, bool* switched);
  Result<AttemptPlan> PlanAttempt(const Task& task, const Project& project, const Route& route,
                                  bool switched);
  void Launch(const AttemptPlan& plan, const Attempt& run);

  Status ReapExited(DispatchReport* report);
  // Whether `run` has ended, looking at its pane only every few seconds. nullopt: running.
  std::optional<AttemptCheck> Ended(const Attempt& run, int64_t now);

  Store& store_;
  ConfigSet configs_;
  const Config& config_;  // the daemon-wide sections (engine.*)
  const Clock& clock_;
  Router& router_;
  Runner& runner_;
  Publisher& publisher_;
  WorkQueue& work_;
  FileSystem& files_;
  Breakers* breakers_;
  RetryPolicy retry_;
  AttemptEnd end_;
  Housekeeping housekeeping_;

  std::optional<int64_t> only_;
  bool routing_ = true;
  std::set<int64_t> busy_;                      // tasks with a job in flight
  std::map<int64_t, int64_t> next_tmux_check_;  // run id -> unix seconds
};

}  // namespace orch

#endif  // ORCH_AGENTS_DISPATCH_H_
