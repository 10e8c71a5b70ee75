// RunEngine's answers to its steps' questions (run_engine.h, AnswerStep).
#include <spdlog/spdlog.h>

#include <cctype>

#include "runs/run_engine.h"

namespace orch {
namespace {

// The answer an orchestrator's attempt gave: its contract's summary (a run task's row keeps
// the whole contract as text; the summary comes first).
std::string AnswerOf(const Attempt& a) {
  std::string answer = a.summary.substr(0, a.summary.find("\n\n### "));
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) {
    answer.pop_back();
  }
  return answer;
}

}  // namespace

Status RunEngine::AnswerStep(const RunRecord& run, const Task& step, const Rows& rows) {
  Result<std::vector<Question>> qs = LoadQuestions(store_, step.id);
  if (!qs.ok()) return qs.status();
  // Nothing asked, answered already, or asked on GitHub already: nothing to do here.
  if (qs->empty() || qs->back().answered() || qs->back().thread != 0) return Status::OK();
  std::string key = AnswerTaskKey(step.id, qs->size());
  Result<std::vector<Task>> made =
      store_.ListTasks({.project_id = step.project_id, .source_id = key});
  if (!made.ok()) return made.status();
  if (made->empty()) return StartAnswer(run, step, qs->back(), key, rows);
  const Task& answerer = made->front();
  if (answerer.status == TaskStatus::kNeedsReview) return EscalateQuestion(run, step, qs->back());
  if (answerer.status != TaskStatus::kDone) return Status::OK();  // still at it
  Result<std::vector<Attempt>> attempts = store_.ListAttempts(answerer.id);
  if (!attempts.ok()) return attempts.status();
  if (attempts->empty()) return Status::OK();
  Status answered = RecordAnswer(store_, step, AnswerOf(attempts->back()), "orchestrator", "");
  if (answered.ok()) {
    spdlog::info("runs: run {}: the orchestrator (task {}) answered task {}'s question", run.id,
                 answerer.id, step.id);
  }
  return answered.IsConflict() ? Status::OK() : answered;
}

Status RunEngine::StartAnswer(const RunRecord& run, const Task& step, const Question& q,
                              const std::string& key, const Rows& rows) {
  std::shared_ptr<const Config> config = ConfigOf(run);
  AgentChoice choice = ChooseAgent(config->runs.orchestrator_agent, "runs.orchestrator_agent",
                                   *config, agent_check_);
  std::string step_id = "?";
  std::vector<RunStepRecord> steps;
  for (const auto& [id, row] : rows) {
    if (row.task_id == step.id) step_id = id;
    steps.push_back(row);
  }
  NewTask t{.project_id = step.project_id,
            .source_id = key,
            .title = std::string(RunKindName(run.kind)) + " run " + std::to_string(run.id) +
                     ": answer " + step_id + "'s question",
            .body = AnswerPrompt(run, step_id, q.question, steps, config->runs.total_output_budget),
            .labels = {"agent:" + choice.agent},
            .run_id = run.id,
            .read_only = true};
  Result<Task> made = store_.AddTask(t, {"engine", "step " + step_id + " asked a question"});
  if (!made.ok()) return made.status();
  spdlog::info("runs: run {}: step {} asks; the orchestrator ({}) answers in task {}", run.id,
               step_id, choice.agent, made->id);
  return Status::OK();
}

Status RunEngine::EscalateQuestion(const RunRecord& run, const Task& step, const Question& q) {
  const std::string fallback =
      "waiting for input: the run's orchestrator could not answer; "
      "answer with `orch task answer " +
      std::to_string(step.id) + " TEXT`";
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  if (!project.ok()) return project.status();
  int64_t issue = run.issue ? std::atoll(run.issue->c_str()) : 0;
  if (issue == 0 || !publisher_ || !publisher_->OnGitHub(*project)) {
    if (step.status_reason == fallback) return Status::OK();
    return store_.SetTaskStatusReason(step.id, fallback);
  }
  if (!escalating_.insert(step.id).second) return Status::OK();  // being asked
  std::string text = "**orch**: a step of " + std::string(RunKindName(run.kind)) + " run " +
                     std::to_string(run.id) +
                     " needs an answer its orchestrator could not give:\n\n> " + q.question +
                     "\n\nReply on this thread: the step resumes its session with "
                     "your answer.\n";
  work_.Submit([this, project = *project, issue, text, step]() -> WorkQueue::Apply {
    Result<Comment> asked = publisher_->Ask(project, issue, "", text);
    return [this, asked, issue, step] {
      escalating_.erase(step.id);
      Status s = asked.ok() ? MarkAsked(store_, step, issue, asked->id) : asked.status();
      if (s.ok()) {
        s = store_.SetTaskStatusReason(
            step.id, "waiting for input: the run's orchestrator could not answer; asked on #" +
                         std::to_string(issue));
      }
      if (!s.ok()) spdlog::warn("runs: asking task {}'s question: {}", step.id, s.message());
    };
  });
  return Status::OK();
}

}  // namespace orch
