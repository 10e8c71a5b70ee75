#include "engine/task_actions.h"

#include <fstream>

#include "agents/runner.h"
#include "agents/tmux.h"
#include "runs/runs.h"

namespace orch {
namespace {

std::string Name(int64_t id) { return "task " + std::to_string(id); }

// InvalidArgument unless `t` may be unblocked; Conflict for a step its run has moved on from.
Status CheckUnblockable(Store& store, const Task& t) {
  if (t.status != TaskStatus::kBlocked && t.status != TaskStatus::kNeedsReview) {
    return Status::InvalidArgument(Name(t.id), std::string("is ") + TaskStatusName(t.status) +
                                                   ", not blocked or needs_review");
  }
  return CheckStepTaskRestartable(store, t);
}

Status Unblock(Store& store, const Task& t, const std::string& actor) {
  return store.Transition(t.id, t.status, TaskStatus::kNew, {actor, "unblocked"},
                          AttemptEffect::kReset);
}

}  // namespace

Result<std::string> RetryTask(Store& store, int64_t id, int max_attempts, const std::string& actor,
                              std::string_view unblock) {
  Result<Task> t = store.GetTask(id);
  if (!t.ok()) return t.status();
  if (t->status != TaskStatus::kNeedsReview && t->status != TaskStatus::kBlocked &&
      t->status != TaskStatus::kInProgress) {
    return Status::InvalidArgument(Name(id), std::string("is ") + TaskStatusName(t->status) +
                                                 "; only needs_review, blocked or in_progress "
                                                 "tasks can be retried");
  }
  ORCH_RETURN_IF_ERROR(CheckStepTaskRestartable(store, *t));
  if (t->attempts >= max_attempts) {
    return Status::InvalidArgument(Name(id), "has used " + std::to_string(t->attempts) + " of " +
                                                 std::to_string(max_attempts) + " attempts; " +
                                                 std::string(unblock) + " resets them");
  }
  ORCH_RETURN_IF_ERROR(
      store.Transition(id, t->status, TaskStatus::kNew, {actor, "retry requested"}));
  return Name(id) + " is new again (attempt " + std::to_string(t->attempts + 1) + " of " +
         std::to_string(max_attempts) + " next)";
}

Result<std::string> UnblockTask(Store& store, int64_t id, const std::string& actor) {
  Result<Task> t = store.GetTask(id);
  if (!t.ok()) return t.status();
  ORCH_RETURN_IF_ERROR(CheckUnblockable(store, *t));
  ORCH_RETURN_IF_ERROR(Unblock(store, *t, actor));
  return Name(id) + " unblocked: new, with a fresh attempt count";
}

Result<UnblockAllReport> UnblockAll(Store& store, std::optional<int64_t> project_id,
                                    const std::string& actor) {
  UnblockAllReport report;
  for (TaskStatus s : {TaskStatus::kBlocked, TaskStatus::kNeedsReview}) {
    Result<std::vector<Task>> some = store.ListTasks({.status = s, .project_id = project_id});
    if (!some.ok()) return some.status();
    for (const Task& t : *some) {
      Status done = CheckUnblockable(store, t);
      // A Conflict from the move itself: the daemon moved it meanwhile.
      if (done.ok()) done = Unblock(store, t, actor);
      if (done.IsConflict()) {
        report.skipped.push_back(done.message());
        continue;
      }
      ORCH_RETURN_IF_ERROR(done);
      ++report.moved;
    }
  }
  return report;
}

Result<std::string> KillTask(Store& store, Tmux& tmux, int64_t id, const std::string& actor) {
  Result<std::vector<Attempt>> runs = store.ListAttempts(id);
  if (!runs.ok()) return runs.status();
  if (runs->empty() || runs->back().finished_at) {
    return Status::NotFound(Name(id), "has no running agent");
  }
  const Attempt& run = runs->back();
  // The marker tells the daemon a person stopped it: needs_review, not another attempt.
  std::ofstream(run.run_dir + "/" + kKilledMarker) << actor << "\n";
  ORCH_RETURN_IF_ERROR(tmux.KillSession(run.tmux_session));
  return "killed " + run.tmux_session + "; the task goes to needs_review";
}

}  // namespace orch
