// JobScheduler: runs the configured `jobs` (config.yml and $ORCH_HOME/jobs.yml) when their
// cron schedules say, as one step of the engine's tick (Engine::Tick calls Step()).
//
// A `task` job creates a task in its project (every registered project when it names none):
// source `job`, source_id "<job id>@<scheduled time, UTC>", labels plus `agent:<name>` when the
// job names an agent. A unique index on (project, source_id) for job tasks means a double tick
// or a crash between creating the task and recording the run cannot create it twice.
// A `command` job runs its argv (never a shell) in its dir, with its timeout, through the
// ProcessRunner on the scheduler's WorkQueue (base/work_queue.h, kCommandWorkers at once); a
// later Step() records the exit code and the tail of the output.
//
// Decisions:
//   - Catch-up: scheduled times missed while orch was down are caught up only within the last
//     24 hours (kCatchUpWindow), and all of them together run once, as the latest missed time.
//     A job first seen now does not catch up on times before it was seen.
//   - Overlap: a task job whose previous task is still active (not done or needs_review), or a
//     command job whose previous run is still running, skips the time; the skip is logged and
//     recorded as the job's last result.
//   - Disabled jobs (config `enabled: false`, or `orch job disable`) let their times pass, so
//     enabling one later does not run it at once for what it missed.
//   - Times are local (cron.h has the DST rules).
// State (last time dealt with, last run, last result, the enable override) lives in the store's
// `jobs` table; the YAML is never written by the scheduler.
//
// Thread safety: one thread calls Step() and RunNow() (the engine's); commands run on the
// queue's workers and their results are applied by Step() on that thread.
#ifndef ORCH_ENGINE_JOBS_H_
#define ORCH_ENGINE_JOBS_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "base/subprocess.h"
#include "base/work_queue.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

constexpr int64_t kCatchUpWindow = 24 * 3600;
constexpr size_t kJobOutputTail = 4000;  // bytes of a command's output kept in the store

// The config's `enabled`, unless `orch job enable|disable` overrode it.
bool JobEnabled(const JobConfig& job, const std::optional<JobState>& state);

// The scheduled time the job runs for next as seen at `now`: at or before `now` when it is due
// (the latest missed time within the catch-up window); nullopt when disabled or never.
std::optional<int64_t> NextJobRun(const JobConfig& job, const std::optional<JobState>& state,
                                  int64_t now);

struct JobReport {
  int started = 0;   // task jobs that created tasks, command jobs started (not failures)
  int skipped = 0;   // overlapping runs
  int finished = 0;  // command runs collected
};

class JobScheduler {
 public:
  static constexpr int kCommandWorkers = 4;  // command jobs running at once

  // `home_dir`: where a command job runs when it has no dir and no local project.
  JobScheduler(Store& store, std::vector<JobConfig> jobs, const Clock& clock, ProcessRunner& runner,
               std::string home_dir);
  ~JobScheduler() = default;  // waits for commands still running (the queue's)
  JobScheduler(const JobScheduler&) = delete;
  JobScheduler& operator=(const JobScheduler&) = delete;

  // Records finished commands, then runs every enabled job that is due. A job that fails (its
  // project is not registered, ...) records the failure as its result and the others still
  // run; store errors are returned after all jobs were tried.
  Result<JobReport> Step();

  // Runs job `id` now, whatever its schedule and enabled state; a command job runs in the
  // foreground (this call waits). The overlap guard applies unless `force`. Returns the result
  // recorded ("created task 4", "exit 0", "skipped: ..."). NotFound for an unknown id.
  Result<std::string> RunNow(const std::string& id, bool force = false);

  // Waits for every command Step() started and records how each ended.
  Status WaitForCommands();

  // Asked at the start of every Step() for a new list of jobs; nullopt keeps the current one
  // (the daemon re-reads config.yml and jobs.yml when they change, so `orch job add` needs no
  // restart).
  using Loader = std::function<std::optional<std::vector<JobConfig>>()>;
  void set_loader(Loader loader) { loader_ = std::move(loader); }

 private:
  // Runs `job` for scheduled time `slot` (nullopt: by hand) and records it in `state`.
  Result<std::string> Run(const JobConfig& job, JobState& state, std::optional<int64_t> slot,
                          bool force, bool wait);
  Result<std::string> RunTask(const JobConfig& job, JobState& state, const std::string& when,
                              bool force);
  ProcessOptions CommandOptions(const JobConfig& job);
  // Turns a command's outcome into the job's result, exit code and output tail.
  static std::string Record(const Result<ProcessResult>& r, Seconds timeout, JobState& state);
  // Records how command job `id` ended (on the engine's thread, from the queue's closure).
  void RecordFinished(const std::string& id, const Result<ProcessResult>& r, Seconds timeout);
  Result<JobState> LoadState(const std::string& id);

  Store& store_;
  std::vector<JobConfig> jobs_;
  const Clock& clock_;
  ProcessRunner& runner_;
  std::string home_dir_;
  std::set<std::string> running_;  // command jobs started and not yet recorded
  int finished_ = 0;               // recorded since the last Step()
  Status record_error_;            // the first store error while recording, for Step()
  Loader loader_;
  WorkQueue work_{kCommandWorkers};  // last: stopped (waiting for commands) before the rest goes
};

}  // namespace orch

#endif  // ORCH_ENGINE_JOBS_H_
