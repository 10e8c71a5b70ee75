#include "store/task.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace orch {
namespace {

using S = TaskStatus;

struct Edge {
  TaskStatus from;
  std::vector<TaskStatus> to;
};

// The legal moves. Anything not listed is refused by the store.
const Edge kTransitions[] = {
    {S::kNew, {S::kRouted, S::kInProgress, S::kBlocked, S::kNeedsReview, S::kDone}},
    // Routed back to new: re-route (label changed, router retry).
    {S::kRouted, {S::kNew, S::kInProgress, S::kBlocked, S::kNeedsReview, S::kDone}},
    // In progress back to new or routed: a failed attempt that may be retried.
    {S::kInProgress, {S::kNew, S::kRouted, S::kInReview, S::kDone, S::kBlocked, S::kNeedsReview}},
    // In review back to in progress: a follow-up on the same PR.
    {S::kInReview, {S::kInProgress, S::kDone, S::kBlocked, S::kNeedsReview}},
    // Done back to new: the issue was reopened.
    {S::kDone, {S::kNew}},
    {S::kBlocked, {S::kNew, S::kRouted, S::kInReview, S::kNeedsReview, S::kDone}},
    // Needs review to routed: an answer to the agent's question (agents/questions.h) resumes
    // the same agent with its route.
    {S::kNeedsReview, {S::kNew, S::kRouted, S::kDone}},
};

const std::pair<TaskStatus, const char*> kStatusNames[] = {{S::kNew, "new"},
                                                           {S::kRouted, "routed"},
                                                           {S::kInProgress, "in_progress"},
                                                           {S::kInReview, "in_review"},
                                                           {S::kDone, "done"},
                                                           {S::kBlocked, "blocked"},
                                                           {S::kNeedsReview, "needs_review"}};

const std::pair<TaskSource, const char*> kSourceNames[] = {{TaskSource::kCli, "cli"},
                                                           {TaskSource::kGithub, "github"},
                                                           {TaskSource::kMention, "mention"},
                                                           {TaskSource::kReview, "review"},
                                                           {TaskSource::kJob, "job"}};

template <typename E, size_t N>
Result<E> ParseName(const std::pair<E, const char*> (&names)[N], std::string_view name,
                    const char* what) {
  std::string valid;
  for (const auto& [value, n] : names) {
    if (name == n) return value;
    valid += valid.empty() ? n : std::string(", ") + n;
  }
  return Status::InvalidArgument(std::string("unknown ") + what + " \"" + std::string(name) + "\"",
                                 "expected one of " + valid);
}

}  // namespace

const char* TaskStatusName(TaskStatus s) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == s) return name;
  }
  return "?";
}

Result<TaskStatus> ParseTaskStatus(std::string_view name) {
  return ParseName(kStatusNames, name, "status");
}

const char* TaskSourceName(TaskSource s) {
  for (const auto& [value, name] : kSourceNames) {
    if (value == s) return name;
  }
  return "?";
}

Result<TaskSource> ParseTaskSource(std::string_view name) {
  return ParseName(kSourceNames, name, "source");
}

bool IsLegalTransition(TaskStatus from, TaskStatus to) {
  for (const Edge& e : kTransitions) {
    if (e.from == from) return std::find(e.to.begin(), e.to.end(), to) != e.to.end();
  }
  return false;
}

std::optional<int64_t> IssueNumber(const Task& t) {
  if (!t.external_id || t.external_id->empty()) return std::nullopt;
  for (char c : *t.external_id) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return std::atoll(t.external_id->c_str());
}

}  // namespace orch
