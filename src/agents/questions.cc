#include "agents/questions.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "agents/prompt.h"

namespace orch {
namespace {

using json = nlohmann::json;

std::string QuestionsKey(int64_t task_id) { return "question." + std::to_string(task_id); }

std::string ThreadKey(int64_t project_id, int64_t thread) {
  return "question.thread." + std::to_string(project_id) + "." + std::to_string(thread);
}

json ToJson(const Question& q) {
  return {{"question", q.question},     {"attempt", q.attempt}, {"thread", q.thread},
          {"comment_id", q.comment_id}, {"answer", q.answer},   {"answered_by", q.answered_by},
          {"answer_url", q.answer_url}};
}

Question FromJson(const json& j) {
  Question q;
  q.question = j.value("question", "");
  q.attempt = j.value("attempt", 0);
  q.thread = j.value("thread", int64_t{0});
  q.comment_id = j.value("comment_id", int64_t{0});
  q.answer = j.value("answer", "");
  q.answered_by = j.value("answered_by", "");
  q.answer_url = j.value("answer_url", "");
  return q;
}

Status SaveQuestions(Store& store, int64_t task_id, const std::vector<Question>& qs) {
  json all = json::array();
  for (const Question& q : qs) all.push_back(ToJson(q));
  return store.SetKv(QuestionsKey(task_id), all.dump());
}

std::string OneLine(const std::string& text, size_t max) {
  std::string s = text.substr(0, text.find('\n'));
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

}  // namespace

Result<AskTarget> AskTargetOf(Store& store, const Task& task, int64_t mention_thread,
                              const std::string& mention_author) {
  if (mention_thread != 0) return AskTarget{mention_thread, mention_author};
  if (std::optional<int64_t> issue = IssueNumber(task)) return AskTarget{*issue, ""};
  if (task.pr_number) return AskTarget{*task.pr_number, ""};
  if (task.parent_id) {
    Result<Task> parent = store.GetTask(*task.parent_id);
    if (!parent.ok()) return parent.status();
    if (parent->pr_number) return AskTarget{*parent->pr_number, ""};
    if (std::optional<int64_t> issue = IssueNumber(*parent)) return AskTarget{*issue, ""};
  }
  return AskTarget{};
}

Result<std::vector<Question>> LoadQuestions(Store& store, int64_t task_id) {
  Result<std::optional<std::string>> saved = store.GetKv(QuestionsKey(task_id));
  if (!saved.ok()) return saved.status();
  std::vector<Question> out;
  if (!*saved) return out;
  json all = json::parse(**saved, nullptr, false);
  if (!all.is_array()) return out;
  for (const json& j : all) {
    if (j.is_object()) out.push_back(FromJson(j));
  }
  return out;
}

Status RecordQuestion(Store& store, const Task& task, const Question& q, const std::string& actor,
                      TaskStatus to) {
  Result<std::vector<Question>> qs = LoadQuestions(store, task.id);
  if (!qs.ok()) return qs.status();
  qs->push_back(q);
  ORCH_RETURN_IF_ERROR(SaveQuestions(store, task.id, *qs));
  std::string where = q.thread != 0 ? "asked on #" + std::to_string(q.thread)
                      : to == TaskStatus::kBlocked
                          ? "asked of the run's orchestrator"
                          : "answer with `orch task answer " + std::to_string(task.id) + " TEXT`";
  if (q.thread != 0) {
    ORCH_RETURN_IF_ERROR(
        store.SetKv(ThreadKey(task.project_id, q.thread), std::to_string(task.id)));
  }
  return store.Transition(
      task.id, TaskStatus::kInProgress, to,
      {actor, "waiting for input: " + OneLine(q.question, 200) + " (" + where + ")"});
}

Result<std::optional<Waiting>> WaitingOn(Store& store, int64_t project_id, int64_t thread) {
  Result<std::optional<std::string>> id = store.GetKv(ThreadKey(project_id, thread));
  if (!id.ok()) return id.status();
  if (!*id || (*id)->empty()) return std::optional<Waiting>();
  Result<Task> task = store.GetTask(std::atoll((*id)->c_str()));
  if (!task.ok())
    return task.status().IsNotFound() ? Result<std::optional<Waiting>>(std::nullopt)
                                      : Result<std::optional<Waiting>>(task.status());
  if (task->status != TaskStatus::kNeedsReview && task->status != TaskStatus::kBlocked) {
    return std::optional<Waiting>();
  }
  Result<std::vector<Question>> qs = LoadQuestions(store, task->id);
  if (!qs.ok()) return qs.status();
  if (qs->empty() || qs->back().answered() || qs->back().thread != thread) {
    return std::optional<Waiting>();
  }
  return std::optional<Waiting>(Waiting{*task, qs->back()});
}

Status RecordAnswer(Store& store, const Task& task, const std::string& answer,
                    const std::string& by, const std::string& url) {
  Result<std::vector<Question>> qs = LoadQuestions(store, task.id);
  if (!qs.ok()) return qs.status();
  if (qs->empty() || qs->back().answered()) {
    return Status::Conflict("task " + std::to_string(task.id), "asked nothing to answer");
  }
  Question& q = qs->back();
  // A redelivered reply finds its answer kept and only moves the task.
  q.answer = answer;
  q.answered_by = by;
  q.answer_url = url;
  ORCH_RETURN_IF_ERROR(SaveQuestions(store, task.id, *qs));
  std::string actor = by.rfind("cli:", 0) == 0 ? by
                      : by == "orchestrator"   ? std::string("engine")
                                               : "github:" + by;
  TaskStatus from =
      task.status == TaskStatus::kBlocked ? TaskStatus::kBlocked : TaskStatus::kNeedsReview;
  ORCH_RETURN_IF_ERROR(store.Transition(
      task.id, from, TaskStatus::kRouted,
      {actor, "answered: " + OneLine(answer, 200) + "; resuming the agent with the answer"}));
  if (q.thread != 0) ORCH_RETURN_IF_ERROR(store.SetKv(ThreadKey(task.project_id, q.thread), ""));
  return Status::OK();
}

Status MarkAsked(Store& store, const Task& task, int64_t thread, int64_t comment_id) {
  Result<std::vector<Question>> qs = LoadQuestions(store, task.id);
  if (!qs.ok()) return qs.status();
  if (qs->empty() || qs->back().answered()) return Status::OK();
  qs->back().thread = thread;
  qs->back().comment_id = comment_id;
  ORCH_RETURN_IF_ERROR(SaveQuestions(store, task.id, *qs));
  return store.SetKv(ThreadKey(task.project_id, thread), std::to_string(task.id));
}

std::string AnswersForPrompt(const std::vector<Question>& questions) {
  std::string out;
  for (const Question& q : questions) {
    if (!q.answered()) continue;
    std::string who = q.answered_by.rfind("cli:", 0) == 0 ? q.answered_by.substr(4) : q.answered_by;
    out += "\nYou asked (attempt " + std::to_string(q.attempt) + "): " + DefuseMarkers(q.question) +
           "\nThe answer, from @" + who +
           (q.thread                ? " on GitHub"
            : who == "orchestrator" ? " (the run's orchestrator, from the run's context)"
                                    : " through orch") +
           ":\n" + FenceUntrusted(q.answer);
  }
  if (!out.empty()) out += "Go on from where you stopped, with the answer.\n";
  return out;
}

}  // namespace orch
