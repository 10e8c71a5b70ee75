// Housekeeping: the disk and tmux behind the agents, kept tidy on the engine's tick. Work trees
// of done tasks are released once no task will work in them any more and no attempt using them
// is unfinished (a follow-up of an approved parent keeps its tree): pooled for the next task or
// removed (worktree_pool.h), the pool trimmed to its size, and work trees no task owns are
// reported (at most once a minute); the run logs (runs/<task>/) of tasks done
// engine.run_log_retention_days ago are deleted (at most once an hour); a finished agent's tmux
// session is removed engine.keep_finished_sessions after its attempt was applied (unless a
// newer attempt runs in it). A task with a job in flight is never touched.
//
// Thread safety: the engine's thread only.
#ifndef ORCH_AGENTS_HOUSEKEEPING_H_
#define ORCH_AGENTS_HOUSEKEEPING_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agents/runner.h"
#include "agents/worktree_pool.h"
#include "base/clock.h"
#include "base/file_system.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

class Housekeeping {
 public:
  Housekeeping(Store& store, const Config& config, const Clock& clock, Runner& runner,
               FileSystem& files);

  // Sweeps and prunes when each is due. `busy(task_id)`: the task has a job in flight.
  Status Step(const std::function<bool(int64_t)>& busy);
  // The attempt that ran in tmux session `session` has been applied: the session goes
  // engine.keep_finished_sessions from now (so people can still look at it until then).
  void SessionFinished(const std::string& session);
  // The work tree pool the sweep releases done tasks' trees into.
  WorktreePool& pool() { return pool_; }
  // Releases the work trees of done tasks into the pool, trims it, and logs work trees under orch's
  // base that no task owns (orphans: left by hand or by an older orch). Returns the orphans' paths.
  Result<std::vector<std::string>> SweepWorktrees(const std::function<bool(int64_t)>& busy);
  // Deletes runs/<task>/ of tasks done at least engine.run_log_retention_days ago, and of
  // tasks that no longer exist once the directory is that old. Returns how many it deleted.
  Result<int> PruneRunLogs(const std::function<bool(int64_t)>& busy);

 private:
  Status SweepProject(const Project& p, const std::function<bool(int64_t)>& busy,
                      std::vector<std::string>* orphans);
  // Kills the finished sessions whose time is up.
  Status RemoveFinishedSessions();

  Store& store_;
  const Config& config_;
  const Clock& clock_;
  Runner& runner_;
  FileSystem& files_;
  WorktreePool pool_;
  int64_t next_sweep_ = 0;
  int64_t next_prune_ = 0;
  std::map<std::string, int64_t> sessions_due_;  // finished session -> unix seconds to remove it
};

}  // namespace orch

#endif  // ORCH_AGENTS_HOUSEKEEPING_H_
