// Questions: an agent stops to ask a person (contract status needs_input), a person answers,
// and the same agent session goes on with the answer.
//
//   the attempt ends with needs_input  -> orch asks the question on the task's thread (the
//                                         mention's thread, else the issue, else the parent's
//                                         pull request), addressed to its author; the task
//                                         goes to needs_review, its reason "waiting for
//                                         input: ...", and the question is recorded
//   a trusted person replies there     -> the answer is recorded (engine/mentions.h reads
//   (or `orch task answer ID TEXT`)       every comment), the task goes back to routed with its
//                                         route and session kept, and the next attempt's prompt
//                                         carries each question with its answer, fenced as
//                                         untrusted
// needs_review is the honest status: nothing happens until a person acts (an answer, or `orch
// task retry|unblock`, which resume the session without one). The question and the answer
// are in the task's events (the transitions' reasons) as well as in the store's kv table:
// `question.<task id>` holds the task's questions (JSON), `question.thread.<project>.<n>` the
// task waiting for an answer on thread n.
//
// Thread safety: plain functions over the store (which serializes its own use).
#ifndef ORCH_AGENTS_QUESTIONS_H_
#define ORCH_AGENTS_QUESTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace orch {

struct Question {
  std::string question = "";
  int attempt = 0;          // the attempt that asked
  int64_t thread = 0;       // the issue or pull request it was asked on; 0: not on GitHub
  int64_t comment_id = 0;   // orch's comment asking it
  std::string answer = "";  // empty until answered
  std::string answered_by = "";
  std::string answer_url = "";
  bool answered() const { return !answered_by.empty(); }
};

// Where a task's questions are asked: a thread and the login addressed (empty: the issue's
// author, read from GitHub when asking).
struct AskTarget {
  int64_t thread = 0;  // 0: the task has no thread on GitHub
  std::string author = "";
};

// The mention's thread and author when a mention made the task (`mention_thread`, non-zero),
// else the task's issue, else its parent's pull request.
Result<AskTarget> AskTargetOf(Store& store, const Task& task, int64_t mention_thread,
                              const std::string& mention_author);

// Every question the task asked, oldest first.
Result<std::vector<Question>> LoadQuestions(Store& store, int64_t task_id);

// Records `q` (asked by `task`'s attempt) and, when it was asked on GitHub, that the task
// waits for an answer on its thread; then moves the task from in_progress to `to` saying so:
// needs_review, or blocked for a run's step, whose question goes to the run's orchestrator
// first (runs/run_engine.h) and whose run must not read it as failed.
Status RecordQuestion(Store& store, const Task& task, const Question& q, const std::string& actor,
                      TaskStatus to = TaskStatus::kNeedsReview);

// The task's open question was asked on GitHub after all (a run's step whose orchestrator
// could not answer): comment `comment_id` on `thread` now waits for the answer.
Status MarkAsked(Store& store, const Task& task, int64_t thread, int64_t comment_id);

// The task waiting for an answer on thread `thread` of project `project_id`, if any (and
// still in needs_review, or blocked as a run's step), with its open question.
struct Waiting {
  Task task;
  Question question;
};
Result<std::optional<Waiting>> WaitingOn(Store& store, int64_t project_id, int64_t thread);

// Records `answer` by `by` (a GitHub login, "cli:<user>", or "orchestrator") to the task's
// open question and moves it from needs_review or blocked to routed (its route and agent
// session kept), so the next attempt resumes with the answer. Conflict when the task has no
// open question or has moved on.
Status RecordAnswer(Store& store, const Task& task, const std::string& answer,
                    const std::string& by, const std::string& url);

// The task a run's orchestrator answers a step's question in: source id "answer <step task>
// <question number>" (runs/run_engine.h).
inline std::string AnswerTaskKey(int64_t step_task, size_t question) {
  return "answer " + std::to_string(step_task) + " " + std::to_string(question);
}
inline bool IsAnswerTask(const Task& t) {
  return t.run_id && t.source_id && t.source_id->rfind("answer ", 0) == 0;
}

// The prompt's part for answered questions: each question, and its answer fenced as untrusted
// ("The answer, from @login ..."). Empty when none is answered.
std::string AnswersForPrompt(const std::vector<Question>& questions);

}  // namespace orch

#endif  // ORCH_AGENTS_QUESTIONS_H_
