#include "dashboard/task_actions.h"

#include <fstream>

#include "agents/runner.h"
#include "runs/runs.h"

namespace orch {

Result<std::string> RetryTask(Store& store, int64_t id, int max_attempts,
                              const std::string& actor) {
  Result<Task> t = store.GetTask(id);
  if (!t.ok()) return t.status();
  std::string name = "task " + std::to_string(id);
  if (t->status != TaskStatus::kNeedsReview && t->status != TaskStatus::kBlocked &&
      t->status != TaskStatus::kInProgress) {
    return Status::InvalidArgument(name, std::string("is ") + TaskStatusName(t->status) +
                                             "; only needs_review, blocked or in_progress tasks "
                                             "can be retried");
  }
  ORCH_RETURN_IF_ERROR(CheckStepTaskRestartable(store, *t));
  if (t->attempts >= max_attempts) {
    return Status::InvalidArgument(name, "has used " + std::to_string(t->attempts) + " of " +
                                             std::to_string(max_attempts) +
                                             " attempts; unblock resets them");
  }
  ORCH_RETURN_IF_ERROR(
      store.Transition(id, t->status, TaskStatus::kNew, {actor, "retry requested"}));
  return name + " is new again (attempt " + std::to_string(t->attempts + 1) + " of " +
         std::to_string(max_attempts) + " next)";
}

Result<std::string> UnblockTask(Store& store, int64_t id, const std::string& actor) {
  Result<Task> t = store.GetTask(id);
  if (!t.ok()) return t.status();
  std::string name = "task " + std::to_string(id);
  if (t->status != TaskStatus::kBlocked && t->status != TaskStatus::kNeedsReview) {
    return Status::InvalidArgument(
        name, std::string("is ") + TaskStatusName(t->status) + ", not blocked or needs_review");
  }
  ORCH_RETURN_IF_ERROR(CheckStepTaskRestartable(store, *t));
  ORCH_RETURN_IF_ERROR(store.Transition(id, t->status, TaskStatus::kNew, {actor, "unblocked"},
                                        AttemptEffect::kReset));
  return name + " unblocked: new, with a fresh attempt count";
}

Result<std::string> KillTask(Store& store, Tmux& tmux, int64_t id, const std::string& actor) {
  Result<std::vector<Attempt>> runs = store.ListAttempts(id);
  if (!runs.ok()) return runs.status();
  if (runs->empty() || runs->back().finished_at) {
    return Status::NotFound("task " + std::to_string(id), "has no running agent");
  }
  const Attempt& run = runs->back();
  // The marker tells the daemon a person stopped it: needs_review, not another attempt.
  std::ofstream(run.run_dir + "/" + kKilledMarker) << actor << "\n";
  ORCH_RETURN_IF_ERROR(tmux.KillSession(run.tmux_session));
  return "killed " + run.tmux_session + "; the task goes to needs_review";
}

}  // namespace orch
