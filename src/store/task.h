// Task: one unit of work (an issue, a mention, a review comment, a job) and its state machine.
//
// A task's status moves only along the edges of kTransitions (task.cc); the store applies a move
// with a compare-and-set and records an event for it. Values only; thread-safe.
#ifndef ORCH_STORE_TASK_H_
#define ORCH_STORE_TASK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace orch {

enum class TaskStatus {
  kNew,
  kRouted,
  kInProgress,
  kInReview,
  kDone,
  kBlocked,      // waiting on a dependency (children, a missing worktree), nothing else
  kNeedsReview,  // a person must look: attempts used up, failure, rejection, timeout
};

inline constexpr TaskStatus kAllTaskStatuses[] = {
    TaskStatus::kNew,  TaskStatus::kRouted,  TaskStatus::kInProgress, TaskStatus::kInReview,
    TaskStatus::kDone, TaskStatus::kBlocked, TaskStatus::kNeedsReview};

// "new", "routed", "in_progress", "in_review", "done", "blocked", "needs_review".
const char* TaskStatusName(TaskStatus s);
// Fails with InvalidArgument listing the valid names.
Result<TaskStatus> ParseTaskStatus(std::string_view name);

// True when the state machine allows `from` -> `to`. A move to the same status is not a move.
bool IsLegalTransition(TaskStatus from, TaskStatus to);

// Where a task came from.
enum class TaskSource { kCli, kGithub, kMention, kReview, kJob };
const char* TaskSourceName(TaskSource s);
Result<TaskSource> ParseTaskSource(std::string_view name);

struct Task {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string project;                     // the project's name (owner/repo), joined in by reads
  std::optional<std::string> external_id;  // e.g. the issue number; unique per project
  std::optional<int64_t> parent_id;
  TaskSource source = TaskSource::kCli;
  std::optional<std::string> source_id;  // e.g. the comment id behind a mention
  std::string title;
  std::string body;
  std::vector<std::string> labels;
  TaskStatus status = TaskStatus::kNew;
  std::string status_reason;
  int attempts = 0;
  int64_t created_at = 0;  // unix seconds
  int64_t updated_at = 0;
  std::optional<int64_t> pr_number;  // the pull request carrying its work, once opened
  std::optional<std::string> route;  // the router's choice as JSON (router.h), once routed
  std::string branch;                // orch/<issue>-<slug>, fixed at the first run
  std::string agent_session;         // the agent's session/thread id, to resume
  std::optional<int64_t> run_id;     // a step of this orchestrated run (runs.h): publishes nothing
  bool read_only = false;            // the agent runs in its CLI's read-only mode
  // In progress on a host of a fleet (Store::SetHost): the host running its agent, and until
  // when (unix seconds) unless that host's heartbeat renews it. Empty and nullopt otherwise.
  std::string lease_owner;
  std::optional<int64_t> lease_until;
};

// The GitHub issue number of a task made from an issue (its external id when that is all
// digits); nullopt for tasks from the CLI, mentions, reviews and jobs.
std::optional<int64_t> IssueNumber(const Task& t);

// True for a follow-up: a task made from a review's request for changes, or from an @mention
// on its parent's pull request or issue (keyed by the comment: a source id). It works on its
// parent's branch and PR, resuming the parent's agent session. A child an agent delegated is
// not one, whatever its source.
inline bool IsFollowUp(const Task& t) {
  if (!t.parent_id) return false;
  return t.source == TaskSource::kReview ||
         (t.source == TaskSource::kMention && t.source_id.has_value());
}

// A conflict follow-up's source id (engine/ci.h): "conflict <base branch> <base sha> <head
// sha>", one per pair of commits; and the base branch it brings in, for a task that is one.
inline std::string ConflictKey(const std::string& base, const std::string& base_sha,
                               const std::string& head_sha) {
  return "conflict " + base + " " + base_sha + " " + head_sha;
}
inline std::optional<std::string> ConflictBase(const Task& t) {
  if (t.source != TaskSource::kReview || !t.source_id || t.source_id->rfind("conflict ", 0) != 0) {
    return std::nullopt;
  }
  std::string rest = t.source_id->substr(9);
  return rest.substr(0, rest.find(' '));
}

// Who or what caused a change, and why: recorded on the change's event row.
struct Cause {
  std::string actor;   // e.g. "cli:alice", "engine", "github:bob"
  std::string reason;  // free text for people
};

}  // namespace orch

#endif  // ORCH_STORE_TASK_H_
