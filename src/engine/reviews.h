// ReviewHandler: pull request reviews become follow-up tasks on the same branch and PR.
//
//   CHANGES_REQUESTED by a trusted reviewer (workflow.auto_create_followup_on_changes)
//       -> one follow-up per review comment of that review (the per-review comments endpoint,
//          so comments drafted before submission count), or one for the review body when it
//          has text and no inline comments; each carries the file and line, the diff hunk
//          (cut past 2,000 characters), the comment, the review body, the PR and its branch,
//          and the reviewer; parent_id is the PR's task and source_id the comment ("review
//          comment 123") or the review ("review 45"). The issue gets one comment listing them.
//          After workflow.max_review_cycles such reviews the task goes to needs_review.
//   APPROVED, and every reviewer's latest verdict is an approval -> the task waits in review,
//       its reason "approved ...; waiting for it to be merged"; the merge makes it done. With
//       workflow.auto_close_task_on_approval the approval itself makes it done (no merge).
//   COMMENTED, its body mentioning orch -> the mention handler (mentions.h)
//   anything else -> recorded.
//
// A review may come before the task knows its PR's number (the attempt that opened it is
// applied a moment later): it is matched by the PR's branch instead, and a review of an orch/
// branch no task owns fails so that its delivery is retried, never dropped.
//
// The same review seen twice (a redelivery, a webhook then a poll) does nothing the second
// time: each review is marked handled in the store, and follow-ups are keyed by comment id.
// Sync() looks at every in_review task's PR on each sync, so nothing depends on webhooks:
// merged -> done, closed -> needs_review, and reviews not handled yet are handled.
//
// A flow's pull request (runs/run_engine.h) is owned by the flow's first agent step, its coder:
// a review requesting changes makes follow-ups that resume the coder's session on the flow's
// branch, pushing to the same PR; the sync follows it until it is closed.
//
// The dispatcher runs follow-ups with the parent's agent, on the parent's branch and worktree,
// resuming the parent's agent session, one at a time, pushing to the same PR.
// Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_REVIEWS_H_
#define ORCH_ENGINE_REVIEWS_H_

#include <string>

#include "base/status.h"
#include "config/config_set.h"
#include "engine/follow_ups.h"
#include "github/github.h"
#include "github/trust.h"
#include "store/store.h"

namespace orch {

class MentionHandler;
class CiHandler;

class ReviewHandler {
 public:
  // The workflow.* rules (follow-ups, review cycles, approval) are each project's own.
  ReviewHandler(Store& store, GitHubClient& github, TrustPolicy& trust, ConfigSet configs)
      : store_(store), github_(github), trust_(trust), configs_(std::move(configs)) {}

  // orch's own login: its own reviews are ignored.
  void set_bot_login(const std::string& login) { bot_login_ = login; }
  // Where a review that only comments and mentions orch goes (mentions.h); without one it is
  // recorded.
  void set_mentions(MentionHandler* mentions) { mentions_ = mentions; }
  // Sync() hands each open in_review PR it has read to `ci` for its checks (ci.h).
  void set_ci(CiHandler* ci) { ci_ = ci; }

  // Handles review `review` of pull request `pr` in `project`; says what it did. Fails only
  // when the store or GitHub did (the caller retries).
  // `head` is the PR's branch, when known: a task not tied to the PR yet is found by it, and an
  // orch/ branch no task owns fails with Unavailable (retried: it may be a race).
  Result<std::string> Apply(const Project& project, int64_t pr, const Review& review,
                            const std::string& head = "");
  // Checks the PRs of `project`'s in_review tasks. Returns how many reviews it handled.
  Result<int> Sync(const Project& project);

 private:
  Result<std::string> ChangesRequested(const Project& project, const Task& parent, int64_t pr,
                                       const Review& review);
  Result<std::string> Approved(const Project& project, const Task& parent, int64_t pr,
                               const Review& review);
  std::string HandledKey(const Project& project, int64_t review_id) const;
  // Set once a flow's pull request is seen closed: the sync stops looking at it.
  std::string ClosedKey(const Project& project, int64_t pr) const;
  // The tasks whose pull requests the sync looks at: in_review ones, and the step task that
  // owns a flow's open pull request.
  Result<std::vector<Task>> Watched(const Project& project);

  Store& store_;
  GitHubClient& github_;
  TrustPolicy& trust_;
  ConfigSet configs_;
  std::string bot_login_;
  MentionHandler* mentions_ = nullptr;
  CiHandler* ci_ = nullptr;
};

}  // namespace orch

#endif  // ORCH_ENGINE_REVIEWS_H_
