#include "engine/reviews.h"

#include <spdlog/spdlog.h>

#include <map>
#include <sstream>

#include "base/secret_scan.h"
#include "engine/ci.h"
#include "engine/mentions.h"

namespace orch {
namespace {

std::string FollowUpBody(const Task& parent, int64_t pr, const Review& review,
                         const ReviewComment* c) {
  std::ostringstream b;
  b << "A review of pull request #" << pr << " (branch `" << parent.branch << "`) by @"
    << review.user.login << " requested changes. Address this on the same branch; orch pushes "
    << "to the same pull request.\n\n";
  if (c) {
    b << "File: " << c->path;
    if (c->line) b << ", line " << *c->line;
    b << "\n\n";
    if (!c->diff_hunk.empty()) {
      std::string hunk = c->diff_hunk;
      if (hunk.size() > kMaxDiffHunk) hunk = hunk.substr(0, kMaxDiffHunk) + "\n[... diff hunk cut]";
      b << "Diff hunk:\n```diff\n" << hunk << "\n```\n\n";
    }
    b << "Reviewer's comment:\n" << c->body << "\n\n";
  }
  if (!review.body.empty()) b << "The review says:\n" << review.body << "\n\n";
  b << "Parent task: " << parent.id << " (" << parent.title << ")\n";
  return b.str();
}

// A follow-up task to make for a review, keyed by what it came from.
struct FollowUp {
  std::string source_id;
  std::string title;
  std::string body;
};

// One follow-up per comment, or one for a review that is only a body.
std::vector<FollowUp> FollowUpsFor(const Task& parent, int64_t pr, const Review& review,
                                   const std::vector<ReviewComment>& comments) {
  std::vector<FollowUp> items;
  for (const ReviewComment& c : comments) {
    std::string where = c.path + (c.line ? ":" + std::to_string(*c.line) : "");
    items.push_back(
        {"review comment " + std::to_string(c.id),
         "Review of #" + std::to_string(pr) + " at " + where + ": " + FirstLine(c.body, 60),
         FollowUpBody(parent, pr, review, &c)});
  }
  if (items.empty() && !review.body.empty()) {
    items.push_back({"review " + std::to_string(review.id),
                     "Review of #" + std::to_string(pr) + ": " + FirstLine(review.body, 60),
                     FollowUpBody(parent, pr, review, nullptr)});
  }
  return items;
}

// Adds the follow-ups not made before (by source id) as tasks on the parent's branch; returns
// those it added.
Result<std::vector<Task>> AddFollowUps(Store& store, const Project& project, const Task& parent,
                                       const Review& review, const std::vector<FollowUp>& items) {
  std::vector<Task> made;
  for (const FollowUp& item : items) {
    Result<std::vector<Task>> existing =
        store.ListTasks({.project_id = project.id, .source_id = item.source_id});
    if (!existing.ok()) return existing.status();
    if (!existing->empty()) continue;  // seen before: no duplicate
    NewTask t{.project_id = project.id,
              .parent_id = parent.id,
              .source = TaskSource::kReview,
              .source_id = item.source_id,
              .title = item.title,
              .body = item.body};
    Result<Task> task =
        store.AddTask(t, {"github:" + review.user.login, "review requested changes"});
    if (!task.ok()) return task.status();
    // Follow-ups work on the parent's branch (and so in its worktree, on its PR).
    ORCH_RETURN_IF_ERROR(store.SetTaskBranch(task->id, parent.branch));
    made.push_back(*task);
  }
  return made;
}

// The comment on the parent's issue that lists the follow-ups `made`.
std::string FollowUpsComment(const Task& parent, int64_t pr, const Review& review,
                             const std::vector<Task>& made) {
  std::ostringstream c;
  c << "**orch**: @" << review.user.login << " requested changes on #" << pr << ". " << made.size()
    << " follow-up task(s), run on branch `" << parent.branch << "`:\n\n";
  for (const Task& t : made) c << "- task " << t.id << ": " << t.title << "\n";
  return c.str();
}

}  // namespace

std::string ReviewHandler::HandledKey(const Project& project, int64_t review_id) const {
  return "review.handled." + std::to_string(project.id) + "." + std::to_string(review_id);
}

Result<std::string> ReviewHandler::Apply(const Project& project, int64_t pr, const Review& review,
                                         const std::string& head) {
  if (!bot_login_.empty() && SameLogin(review.user.login, bot_login_)) {
    return std::string("ignored: orch's own review");
  }
  // A review that only comments, and mentions orch, is a request like a comment's, on any PR
  // the mention rules allow.
  bool mention = mentions_ && review.state == "COMMENTED" && MentionsLogin(review.body, bot_login_);
  std::optional<Task> parent;
  if (!mention) {
    Result<std::optional<Task>> owner = PullRequestOwner(store_, project, pr, head);
    if (!owner.ok()) return owner.status();
    if (!*owner && MayBeOurs(head)) {
      return Status::Unavailable("pull request #" + std::to_string(pr),
                                 "no task has its branch " + head + " yet; retrying");
    }
    if (!*owner) return "ignored: no task for pull request #" + std::to_string(pr);
    parent = **owner;
  }
  std::string key = HandledKey(project, review.id);
  Result<std::optional<std::string>> handled = store_.GetKv(key);
  if (!handled.ok()) return handled.status();
  if (*handled) return "review " + std::to_string(review.id) + " already handled: " + **handled;
  Result<std::string> did = std::string("review recorded (" + review.state + ")");
  if (mention) {
    did = mentions_->Apply(project, MentionOfReview(pr, head, review));
  } else if (review.state == "CHANGES_REQUESTED" || review.state == "APPROVED") {
    // Only trusted reviewers start follow-ups or finish a task.
    Result<TrustVerdict> trust = trust_.Check(*project.repo, review.user);
    if (!trust.ok()) return trust.status();
    if (!trust->trusted) {
      did = "ignored: untrusted: " + trust->reason;
    } else if (review.state == "CHANGES_REQUESTED") {
      did = ChangesRequested(project, *parent, pr, review);
    } else {
      did = Approved(project, *parent, pr, review);
    }
  }
  if (!did.ok()) return did.status();
  ORCH_RETURN_IF_ERROR(store_.SetKv(key, *did));
  return did;
}

Result<std::string> ReviewHandler::ChangesRequested(const Project& project, const Task& parent,
                                                    int64_t pr, const Review& review) {
  if (!configs_.For(project)->workflow.auto_create_followup_on_changes) {
    return std::string(
        "changes requested; follow-ups are off "
        "(workflow.auto_create_followup_on_changes)");
  }
  // The cap on review cycles: one more request for changes than allowed means a person looks.
  std::string cycles_key = "review.cycles." + std::to_string(parent.id);
  Result<std::optional<std::string>> cycles = store_.GetKv(cycles_key);
  if (!cycles.ok()) return cycles.status();
  int done = *cycles ? std::atoi((*cycles)->c_str()) : 0;
  if (done >= configs_.For(project)->workflow.max_review_cycles) {
    if (parent.status == TaskStatus::kInReview) {
      ORCH_RETURN_IF_ERROR(store_.Transition(
          parent.id, TaskStatus::kInReview, TaskStatus::kNeedsReview,
          {"github:" + review.user.login, "changes requested again after " + std::to_string(done) +
                                              " review cycle(s) (workflow.max_review_cycles)"}));
    }
    return "review cycle cap reached: task " + std::to_string(parent.id) + " needs review";
  }
  Result<std::vector<ReviewComment>> comments =
      github_.ListReviewComments(*project.repo, pr, review.id);
  if (!comments.ok()) return comments.status();

  std::vector<FollowUp> items = FollowUpsFor(parent, pr, review, *comments);
  if (items.empty()) return std::string("changes requested with no comments: nothing to do");
  Result<std::vector<Task>> made = AddFollowUps(store_, project, parent, review, items);
  if (!made.ok()) return made.status();
  ORCH_RETURN_IF_ERROR(store_.SetKv(cycles_key, std::to_string(done + 1)));
  if (made->empty()) return std::string("follow-ups exist already");
  if (parent.status == TaskStatus::kInReview) {
    // An earlier "approved; waiting for it to be merged" no longer holds.
    ORCH_RETURN_IF_ERROR(store_.SetTaskStatusReason(
        parent.id, "changes requested by " + review.user.login + " on pull request #" +
                       std::to_string(pr) + "; follow-ups on its branch"));
  }

  // One comment on the issue listing them.
  if (std::optional<int64_t> issue = IssueNumber(parent)) {
    Result<Comment> posted = github_.CreateComment(
        *project.repo, *issue, RedactSecrets(FollowUpsComment(parent, pr, review, *made)));
    if (!posted.ok()) {
      spdlog::warn("github: commenting on #{}: {}", *parent.external_id, posted.status().message());
    }
  }
  std::string ids;
  for (const Task& t : *made) ids += (ids.empty() ? "" : ", ") + std::to_string(t.id);
  spdlog::info("reviews: {} #{}: {} follow-up(s) for task {}: {}", project.name, pr, made->size(),
               parent.id, ids);
  return "created follow-up task(s) " + ids;
}

Result<std::string> ReviewHandler::Approved(const Project& project, const Task& parent, int64_t pr,
                                            const Review& review) {
  if (parent.status == TaskStatus::kInProgress) {
    // Tied by its branch (OwnerOf): the attempt that opened the PR is still being applied.
    return Status::Unavailable(
        "pull request #" + std::to_string(pr),
        "task " + std::to_string(parent.id) + "'s attempt is still being applied; retrying");
  }
  Result<std::vector<Review>> reviews = github_.ListReviews(*project.repo, pr);
  if (!reviews.ok()) return reviews.status();
  // Each trusted reviewer's latest verdict (comments do not change a verdict; an untrusted
  // reviewer's request for changes holds nothing up, as their approval finishes nothing).
  std::map<std::string, std::string> verdict;
  for (const Review& r : *reviews) {
    if (r.state != "APPROVED" && r.state != "CHANGES_REQUESTED") continue;
    Result<TrustVerdict> trust = trust_.Check(*project.repo, r.user);
    if (!trust.ok()) return trust.status();
    if (trust->trusted) verdict[r.user.login] = r.state;
  }
  for (const auto& [who, state] : verdict) {
    if (state != "APPROVED") return "approved, but " + who + " still requests changes";
  }
  if (parent.status != TaskStatus::kInReview) {
    return std::string("approved; task is ") + TaskStatusName(parent.status);
  }
  if (!configs_.For(project)->workflow.auto_close_task_on_approval) {
    // Done on merge (the default): the task waits in review and says so.
    ORCH_RETURN_IF_ERROR(store_.SetTaskStatusReason(
        parent.id, "pull request #" + std::to_string(pr) + " approved by " + review.user.login +
                       "; waiting for it to be merged"));
    return "approved: task " + std::to_string(parent.id) + " waits for the merge";
  }
  ORCH_RETURN_IF_ERROR(
      store_.Transition(parent.id, TaskStatus::kInReview, TaskStatus::kDone,
                        {"github:" + review.user.login,
                         "pull request #" + std::to_string(pr) + " approved (not merged)"}));
  return "approved: task " + std::to_string(parent.id) + " done";
}

std::string ReviewHandler::ClosedKey(const Project& project, int64_t pr) const {
  return "review.closed." + std::to_string(project.id) + "." + std::to_string(pr);
}

Result<std::vector<Task>> ReviewHandler::Watched(const Project& project) {
  Result<std::vector<Task>> tasks = store_.ListTasks({.project_id = project.id});
  if (!tasks.ok()) return tasks.status();
  std::vector<Task> out;
  for (const Task& t : *tasks) {
    if (!t.pr_number || IsFollowUp(t)) continue;
    if (t.status == TaskStatus::kInReview) {
      out.push_back(t);
    } else if (t.run_id && t.status == TaskStatus::kDone) {
      // A flow's pull request, until it is seen closed.
      Result<std::optional<std::string>> closed = store_.GetKv(ClosedKey(project, *t.pr_number));
      if (!closed.ok()) return closed.status();
      if (!*closed) out.push_back(t);
    }
  }
  return out;
}

Result<int> ReviewHandler::Sync(const Project& project) {
  if (!project.repo) return 0;
  Result<std::vector<Task>> tasks = Watched(project);
  if (!tasks.ok()) return tasks.status();
  int handled = 0;
  for (const Task& t : *tasks) {
    Result<PullRequest> pr = github_.GetPullRequest(*project.repo, *t.pr_number);
    if (!pr.ok()) return pr.status();
    if (pr->state == "closed" && t.run_id) {
      ORCH_RETURN_IF_ERROR(
          store_.SetKv(ClosedKey(project, pr->number), pr->merged ? "merged" : "closed"));
      continue;
    }
    if (pr->state == "closed") {
      TaskStatus to = pr->merged ? TaskStatus::kDone : TaskStatus::kNeedsReview;
      Status s =
          store_.Transition(t.id, TaskStatus::kInReview, to,
                            {"sync", std::string("pull request #") + std::to_string(pr->number) +
                                         (pr->merged ? " merged" : " closed without merging")});
      if (!s.ok() && !s.IsConflict()) return s;
      continue;
    }
    Result<std::vector<Review>> reviews = github_.ListReviews(*project.repo, *t.pr_number);
    if (!reviews.ok()) return reviews.status();
    for (const Review& r : *reviews) {
      Result<std::optional<std::string>> seen = store_.GetKv(HandledKey(project, r.id));
      if (!seen.ok()) return seen.status();
      if (*seen) continue;
      Result<std::string> did = Apply(project, *t.pr_number, r);
      if (!did.ok()) return did.status();
      spdlog::info("sync: {} #{}: review {}: {}", project.name, *t.pr_number, r.id, *did);
      ++handled;
    }
    if (ci_ && t.status == TaskStatus::kInReview) {
      Result<int> checked = ci_->SyncPull(project, *pr);
      if (!checked.ok()) return checked.status();
      handled += *checked;
    }
  }
  return handled;
}

}  // namespace orch
