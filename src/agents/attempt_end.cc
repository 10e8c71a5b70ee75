#include "agents/attempt_end.h"

#include <spdlog/spdlog.h>

namespace orch {
namespace {

// Store writes after the fact are logged, not returned: the next tick sees the state as it is.
void LogIfError(const Status& s) {
  if (!s.ok()) spdlog::error("dispatch: {}", s.message());
}

std::string ContractReason(const AgentContract& c) {
  return std::string(ContractStatusName(c.status)) + ": " +
         (!c.question.empty() ? c.question
          : c.reason.empty()  ? c.summary
                              : c.reason);
}

}  // namespace

AttemptEnd::AttemptEnd(Store& store, Runner& runner, RetryPolicy& retry, Breakers* breakers)
    : store_(store), runner_(runner), retry_(retry), breakers_(breakers) {}

void AttemptEnd::TellBreakers(const AttemptOutcome& out) {
  if (!breakers_ || out.killed) return;
  // The backend's own outcome: an answer that parsed, or an agent error (a session that
  // vanished included). A failed push or PR is not the agent's doing.
  if (!out.result.ok()) {
    breakers_->Failed(out.run.agent);
  } else if (out.result.contract) {
    breakers_->Succeeded(out.run.agent);
  }
}

void AttemptEnd::Apply(const Task& task, const AttemptOutcome& out) {
  if (out.never_started) {
    Attempt run = out.run;
    run.outcome = "not started";
    run.summary = "orch stopped before the agent started";
    LogIfError(store_.FinishAttempt(run));
    LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kRouted,
                                 {"engine",
                                  "the agent had not started when orch stopped; "
                                  "starting it again"}));
    return;
  }
  Attempt run = FinishedRow(task, out);
  LogIfError(store_.FinishAttempt(run));
  TellBreakers(out);
  const std::string& session = out.result.session_id;
  if (!session.empty()) LogIfError(store_.SetTaskAgentSession(task.id, session));
  spdlog::info("dispatch: task {} attempt {} by {}: {}", task.id, run.attempt, run.agent,
               out.failure.empty() ? run.outcome : out.failure);
  if (!out.failure.empty() && !out.result.ok() && session.empty()) {
    // The CLI did not even report a session: if it was asked to resume one, that one is
    // gone; the next attempt starts afresh.
    LogIfError(store_.SetTaskAgentSession(task.id, ""));
  }
  if (out.killed) {
    LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                                 {"cli", "the agent was killed (orch task kill)"},
                                 AttemptEffect::kCount));
    return;
  }
  if (!out.failure.empty()) {
    LogIfError(retry_.Fail(task, run.agent, run.model, out.failure, out.result.error));
    return;
  }
  if (task.run_id) return EndStepTask(task, run, *out.result.contract);
  if (!out.unresolved.empty()) return EndUnresolved(task, out);
  EndByContract(task, run, out);
}

void AttemptEnd::EndStepTask(const Task& task, const Attempt& run, const AgentContract& c) {
  if (!c.delegations.empty()) {
    spdlog::info("dispatch: task {} is a step of run {}: its delegations are not made", task.id,
                 *task.run_id);
  }
  if (c.status == ContractStatus::kInProgress) {
    LogIfError(retry_.Fail(task, run.agent, run.model,
                           "the agent stopped before finishing: " + c.summary, AgentError::kNone));
  } else if (c.status == ContractStatus::kNeedsInput && !IsAnswerTask(task)) {
    // The run's orchestrator answers first (runs/run_engine.h); the step waits, blocked.
    LogIfError(RecordQuestion(store_, task,
                              Question{.question = c.question, .attempt = run.attempt},
                              "agent:" + run.agent, TaskStatus::kBlocked));
  } else if (c.status == ContractStatus::kDone) {
    LogIfError(
        store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kDone,
                          {"engine", "step of run " + std::to_string(*task.run_id) + " done"}));
  } else {
    LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                                 {"agent:" + run.agent, ContractReason(c)}));
  }
}

// A conflict follow-up whose agent left conflicts: it and its parent wait for a person.
void AttemptEnd::EndUnresolved(const Task& task, const AttemptOutcome& out) {
  std::string files;
  for (const std::string& f : out.unresolved) files += (files.empty() ? "" : ", ") + f;
  Cause why{"engine", "unresolved conflicts with the base branch in: " + files};
  LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview, why));
  if (task.parent_id) {
    LogIfError(
        store_.Transition(*task.parent_id, TaskStatus::kInReview, TaskStatus::kNeedsReview, why));
  }
}

void AttemptEnd::Delegate(const Task& task, const Attempt& run, const AgentContract& c) {
  for (const Delegation& d : c.delegations) {
    NewTask child{.project_id = task.project_id,
                  .parent_id = task.id,
                  .source = task.source,
                  .title = d.title,
                  .body = d.body,
                  .labels = d.labels};
    Result<Task> made = store_.AddTask(
        child, {"agent:" + run.agent, "delegated by task " + std::to_string(task.id)});
    if (!made.ok()) spdlog::error("dispatch: delegation: {}", made.status().message());
  }
  LogIfError(store_.Transition(
      task.id, TaskStatus::kInProgress, TaskStatus::kBlocked,
      {"engine", "waiting on " + std::to_string(c.delegations.size()) + " delegated task(s)"}));
}

void AttemptEnd::EndByContract(const Task& task, const Attempt& run, const AttemptOutcome& out) {
  const AgentContract& c = *out.result.contract;
  bool follow_up = IsFollowUp(task);
  if (follow_up && !out.result.session_id.empty()) {
    LogIfError(store_.SetTaskAgentSession(*task.parent_id, out.result.session_id));
  }
  if (follow_up && c.status == ContractStatus::kDone && c.delegations.empty()) {
    // Its work went to the parent's PR; the parent stays in review.
    LogIfError(store_.Transition(
        task.id, TaskStatus::kInProgress, TaskStatus::kDone,
        {"engine", out.pr ? "pushed to pull request #" + std::to_string(out.pr->number)
                          : std::string("the agent is done; nothing to change")}));
    return;
  }
  if (out.pr && !follow_up) LogIfError(store_.SetTaskPullRequest(task.id, out.pr->number));
  if (!c.delegations.empty()) return Delegate(task, run, c);
  switch (c.status) {
    case ContractStatus::kDone:
      if (out.pr) {
        LogIfError(store_.Transition(
            task.id, TaskStatus::kInProgress, TaskStatus::kInReview,
            {"engine", "pull request #" + std::to_string(out.pr->number) + " is open"}));
      } else if (out.commits > 0) {
        // Pushed, but nowhere to open a PR (no GitHub): a person takes it from here.
        LogIfError(store_.Transition(
            task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
            {"engine", "branch " + BranchName(task) + " pushed; no GitHub to open a PR"}));
      } else {
        LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kDone,
                                     {"engine", "the agent is done; nothing to change"}));
        Result<Project> project = store_.FindProject(std::to_string(task.project_id));
        if (project.ok()) {
          LogIfError(runner_.RemoveWorktree(*project, run.worktree, BranchName(task)));
        }
      }
      break;
    case ContractStatus::kInProgress:
      // Worked, not finished: another attempt resumes the same session.
      LogIfError(retry_.Fail(task, run.agent, run.model,
                             "the agent stopped before finishing: " + c.summary,
                             AgentError::kNone));
      break;
    case ContractStatus::kNeedsInput:
      // Asked on GitHub by the worker (AskQuestion); waits for an answer (questions.h).
      LogIfError(RecordQuestion(
          store_, task,
          out.asked.value_or(Question{.question = c.question, .attempt = run.attempt}),
          "agent:" + run.agent));
      break;
    case ContractStatus::kBlocked:
    case ContractStatus::kNeedsReview:
      LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                                   {"agent:" + run.agent, ContractReason(c)}));
      break;
  }
}

}  // namespace orch
