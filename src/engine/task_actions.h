// Task actions: what a person may do to a task, one set of rules for every way they ask
// (`orch task retry|unblock|kill`, the chat's /retry and /unblock, the dashboard's buttons).
//
//   retry    a needs_review, blocked or in_progress task back to new for another attempt,
//            counted: refused once its attempts reached the project's workflow.max_attempts
//   unblock  a blocked or needs_review task back to new with its attempt count reset to 0
//   kill     the running attempt marked as stopped by a person (kKilledMarker in its run
//            directory: the daemon then gives the task needs_review, not another attempt) and
//            its tmux session killed
//
// Neither retry nor unblock moves an agent step's task once its run has moved on from it
// (runs.h's CheckStepTaskRestartable). Each action returns what happened, in a sentence, or
// fails: InvalidArgument when the task's status does not allow it (the message names the
// rule), Conflict when its run's step or a concurrent change stands in the way, NotFound for
// an unknown task or, for kill, no running agent. Every move is a store Transition by `actor`,
// so the task's log says who asked.
//
// Thread safety: the store's (one thread at a time on one connection).
#ifndef ORCH_ENGINE_TASK_ACTIONS_H_
#define ORCH_ENGINE_TASK_ACTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace orch {

class Tmux;

// `max_attempts` is the task's project's workflow.max_attempts; `unblock` names unblock as the
// caller offers it (`orch task unblock`, /unblock), in the refusal once they are used up.
Result<std::string> RetryTask(Store& store, int64_t id, int max_attempts, const std::string& actor,
                              std::string_view unblock = "unblock");
Result<std::string> UnblockTask(Store& store, int64_t id, const std::string& actor);
Result<std::string> KillTask(Store& store, Tmux& tmux, int64_t id, const std::string& actor);

struct UnblockAllReport {
  int moved = 0;
  std::vector<std::string> skipped = {};  // why each task left alone was (a step, a race)
};
// Unblocks every blocked and needs_review task (of project `project_id` when given), skipping
// those the rules keep where they are. Fails only when the store does.
Result<UnblockAllReport> UnblockAll(Store& store, std::optional<int64_t> project_id,
                                    const std::string& actor);

}  // namespace orch

#endif  // ORCH_ENGINE_TASK_ACTIONS_H_
