// Task actions as the dashboard offers them, with the rules of `orch task retry`, `unblock`
// and `kill`: a retry moves a needs_review, blocked or in_progress task to new within
// workflow.max_attempts; an unblock moves a blocked or needs_review task to new with its attempt
// count reset; neither moves a run's step task that its run has moved on from
// (CheckStepTaskRestartable); a kill marks the running attempt as stopped by a person (the
// daemon then gives the task needs_review) and kills its tmux session.
//
// Each returns what happened, in a sentence, or fails: InvalidArgument when the task's state
// does not allow it, Conflict when its step or a concurrent change stands in the way, NotFound
// for an unknown task or no running agent. Thread safety: the store's (one thread at a time).
#ifndef ORCH_DASHBOARD_TASK_ACTIONS_H_
#define ORCH_DASHBOARD_TASK_ACTIONS_H_

#include <string>

#include "agents/tmux.h"
#include "base/status.h"
#include "store/store.h"

namespace orch {

Result<std::string> RetryTask(Store& store, int64_t id, int max_attempts,
                              const std::string& actor);
Result<std::string> UnblockTask(Store& store, int64_t id, const std::string& actor);
Result<std::string> KillTask(Store& store, Tmux& tmux, int64_t id, const std::string& actor);

}  // namespace orch

#endif  // ORCH_DASHBOARD_TASK_ACTIONS_H_
