#include "engine/intake.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_fields.h"
#include "engine/ci.h"
#include "engine/reviews.h"
#include "github/github_rest.h"

namespace orch {
namespace {

using Json = nlohmann::json;

constexpr auto Str = JsonString;
constexpr auto Obj = JsonObject;

GitHubUser UserOf(const Json& j) { return {Str(j, "login"), Str(j, "type")}; }

std::vector<std::string> LabelNames(const Json& issue) {
  std::vector<std::string> out;
  auto it = issue.find("labels");
  if (it == issue.end() || !it->is_array()) return out;
  for (const Json& l : *it) out.push_back(l.is_string() ? l.get<std::string>() : Str(l, "name"));
  return out;
}

IntakeDecision Ignore(const std::string& why) {
  IntakeDecision d;
  d.reason = why;
  return d;
}

IntakeDecision FromIssueEvent(const Json& p, const IntakeRules& rules) {
  const Json& issue = Obj(p, "issue");
  std::string action = Str(p, "action");
  IntakeDecision d;
  d.external_id = std::to_string(issue.value("number", int64_t{0}));
  d.title = Str(issue, "title");
  d.body = Str(issue, "body");
  d.labels = LabelNames(issue);
  if (action == "labeled" &&
      (Str(Obj(p, "label"), "name") == kDebugLabel || Str(Obj(p, "label"), "name") == kPlanLabel)) {
    if (Str(issue, "state") == "closed") return Ignore("the issue is closed");
    d.action = IntakeAction::kStartRun;
    d.run_kind = Str(Obj(p, "label"), "name") == kDebugLabel ? "debug" : "plan";
    d.reason = "labelled " + Str(Obj(p, "label"), "name");
    return d;
  }
  if (action == "labeled" || action == "opened") {
    std::string label = Str(Obj(p, "label"), "name");
    bool triggered = action == "labeled"
                         ? IsTriggerLabel(label, rules)
                         : std::any_of(d.labels.begin(), d.labels.end(),
                                       [&](const auto& l) { return IsTriggerLabel(l, rules); });
    if (!triggered) return Ignore("no trigger label (" + action + ")");
    if (Str(issue, "state") == "closed") return Ignore("the issue is closed");
    d.action = IntakeAction::kCreateTask;
    d.reason = action == "labeled" ? "labelled " + label : "opened with a trigger label";
  } else if (action == "closed") {
    d.action = IntakeAction::kCloseTask;
    d.reason = "issue closed";
  } else if (action == "reopened") {
    d.action = IntakeAction::kReopenTask;
    d.reason = "issue reopened";
  } else {
    return Ignore("issues." + action + " is not used");
  }
  return d;
}

IntakeDecision FromComment(const Json& p, const IntakeRules& rules) {
  if (Str(p, "action") != "created")
    return Ignore("issue_comment." + Str(p, "action") + " is not used");
  const Json& comment = Obj(p, "comment");
  const Json& issue = Obj(p, "issue");
  Comment c{comment.value("id", int64_t{0}), Str(comment, "body"), UserOf(Obj(comment, "user")),
            Str(comment, "html_url")};
  c.issue_number = issue.value("number", int64_t{0});
  // On a pull request's conversation the issue carries a `pull_request` object.
  bool on_pr = issue.contains("pull_request") && !issue["pull_request"].is_null();
  IntakeDecision d;
  d.action = IntakeAction::kMention;
  // Without a mention it may still answer an agent's question (agents/questions.h): the
  // mention handler, which can look, decides.
  d.reason = MentionsLogin(c.body, rules.bot_login) ? "mentioned in a comment"
                                                    : "a comment (an answer, if one is awaited)";
  d.mention = MentionOfComment(c, on_pr ? Thread::kPullRequest : Thread::kIssue);
  return d;
}

IntakeDecision FromReviewComment(const Json& p, const IntakeRules& rules) {
  if (Str(p, "action") != "created")
    return Ignore("pull_request_review_comment." + Str(p, "action") + " is not used");
  const Json& comment = Obj(p, "comment");
  const Json& pr = Obj(p, "pull_request");
  if (!MentionsLogin(Str(comment, "body"), rules.bot_login))
    return Ignore("the review comment does not mention @" + rules.bot_login);
  ReviewComment c{
      comment.value("id", int64_t{0}), Str(comment, "path"), std::nullopt,
      Str(comment, "diff_hunk"),       Str(comment, "body"), UserOf(Obj(comment, "user"))};
  if (comment.contains("line") && comment["line"].is_number()) c.line = comment["line"];
  c.pr_number = pr.value("number", int64_t{0});
  c.html_url = Str(comment, "html_url");
  IntakeDecision d;
  d.action = IntakeAction::kMention;
  d.reason = "mentioned in a review comment";
  d.mention = MentionOfReviewComment(c, Str(Obj(pr, "head"), "ref"));
  d.mention.pr_head_repo = Str(Obj(Obj(pr, "head"), "repo"), "full_name");
  return d;
}

IntakeDecision FromPullRequest(const Json& p) {
  const Json& pr = Obj(p, "pull_request");
  if (Str(p, "action") != "closed")
    return Ignore("pull_request." + Str(p, "action") + " is not used");
  IntakeDecision d;
  d.pr_number = pr.value("number", int64_t{0});
  bool merged = pr.value("merged", false);
  d.action = merged ? IntakeAction::kPrMerged : IntakeAction::kPrClosed;
  d.reason = merged ? "pull request merged" : "pull request closed without merging";
  return d;
}

IntakeDecision FromReview(const Json& p) {
  const Json& review = Obj(p, "review");
  if (Str(p, "action") != "submitted") {
    return Ignore("pull_request_review." + Str(p, "action") + " is not used");
  }
  IntakeDecision d;
  d.action = IntakeAction::kReview;
  d.pr_number = Obj(p, "pull_request").value("number", int64_t{0});
  d.pr_branch = Str(Obj(Obj(p, "pull_request"), "head"), "ref");
  d.review.id = review.value("id", int64_t{0});
  // Webhooks say "changes_requested", REST says "CHANGES_REQUESTED": one spelling from here on.
  d.review.state = Str(review, "state");
  std::transform(d.review.state.begin(), d.review.state.end(), d.review.state.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  d.review.body = Str(review, "body");
  d.review.user = UserOf(Obj(review, "user"));
  d.reason = "review " + d.review.state;
  return d;
}

// check_run, check_suite and workflow_run: only completed ones matter.
IntakeDecision FromChecks(const std::string& event_type, const Json& p) {
  if (Str(p, "action") != "completed") {
    return Ignore(event_type + "." + Str(p, "action") + " is not used");
  }
  IntakeDecision d;
  if (event_type == "check_run") {
    d.action = IntakeAction::kCheck;
    d.check = ParseCheckRun(Obj(p, "check_run"));
    d.reason = "check " + d.check.name + " " + d.check.conclusion;
    return d;
  }
  const Json& what = Obj(p, event_type.c_str());  // "check_suite" or "workflow_run"
  d.action = IntakeAction::kCommitChecks;
  d.head_sha = Str(what, "head_sha");
  d.reason = event_type + " " + Str(what, "conclusion");
  return d;
}

}  // namespace

bool IsTriggerLabel(const std::string& label, const IntakeRules& rules) {
  if (label.rfind("agent:", 0) == 0 && label.size() > 6) return true;
  return std::find(rules.trigger_labels.begin(), rules.trigger_labels.end(), label) !=
         rules.trigger_labels.end();
}

IntakeDecision DecideEvent(const std::string& event_type, const Json& p, const IntakeRules& rules) {
  GitHubUser sender = UserOf(Obj(p, "sender"));
  std::string repo = Str(Obj(p, "repository"), "full_name");
  IntakeDecision d;
  bool checks =
      event_type == "check_run" || event_type == "check_suite" || event_type == "workflow_run";
  if (checks) {
    // Their sender is whoever pushed the commit: orch itself, for its own pull requests.
    d = FromChecks(event_type, p);
  } else if (!rules.bot_login.empty() && SameLogin(sender.login, rules.bot_login)) {
    d = Ignore("orch's own event (" + sender.login + ")");
  } else if (event_type == "issues") {
    d = FromIssueEvent(p, rules);
  } else if (event_type == "issue_comment") {
    d = FromComment(p, rules);
  } else if (event_type == "pull_request") {
    d = FromPullRequest(p);
  } else if (event_type == "pull_request_review") {
    d = FromReview(p);
  } else if (event_type == "pull_request_review_comment") {
    d = FromReviewComment(p, rules);
  } else if (event_type == "ping") {
    d = Ignore("ping: the webhook is set up");
  } else {
    d = Ignore(event_type + " events are not used");
  }
  d.repo = repo;
  d.actor = sender;
  return d;
}

IntakeDecision DecideIssue(const std::string& repo, const Issue& issue,
                           const std::optional<GitHubUser>& labeler, const IntakeRules& rules) {
  IntakeDecision d;
  d.repo = repo;
  d.external_id = std::to_string(issue.number);
  if (issue.is_pull_request) return Ignore("a pull request");
  if (issue.state == "closed") {
    d.action = IntakeAction::kCloseTask;
    d.reason = "issue closed (seen by sync)";
    return d;
  }
  bool triggered = std::any_of(issue.labels.begin(), issue.labels.end(),
                               [&](const auto& l) { return IsTriggerLabel(l, rules); });
  if (!triggered) return Ignore("no trigger label");
  d.action = IntakeAction::kCreateTask;
  d.reason = "has a trigger label (seen by sync)";
  d.actor = labeler.value_or(issue.user);
  d.title = issue.title;
  d.body = issue.body;
  d.labels = issue.labels;
  return d;
}

Result<std::string> Intake::Apply(const Project& project, const IntakeDecision& d) {
  switch (d.action) {
    case IntakeAction::kIgnore:
      return "ignored: " + d.reason;
    case IntakeAction::kCreateTask:
      return CreateTask(project, d);
    case IntakeAction::kCloseTask:
    case IntakeAction::kReopenTask:
      return CloseOrReopen(project, d);
    case IntakeAction::kPrMerged:
    case IntakeAction::kPrClosed:
      return PullRequestClosed(project, d);
    case IntakeAction::kReview:
      if (!reviews_) return "review recorded (" + d.review.state + ")";
      return reviews_->Apply(project, d.pr_number, d.review, d.pr_branch);
    case IntakeAction::kMention:
      if (!mentions_) return std::string("ignored: mentions are not handled here");
      return mentions_->Apply(project, d.mention);
    case IntakeAction::kCheck:
      if (!ci_) return std::string("ignored: checks are not followed here");
      return ci_->ApplyCheck(project, d.check);
    case IntakeAction::kCommitChecks:
      if (!ci_) return std::string("ignored: checks are not followed here");
      return ci_->ApplyCommit(project, d.head_sha);
    case IntakeAction::kStartRun: {
      if (!start_run_) return std::string("ignored: runs are not driven here");
      Result<TrustVerdict> trust = trust_.Check(d.repo.empty() ? *project.repo : d.repo, d.actor);
      if (!trust.ok()) return trust.status();
      if (!trust->trusted) return "ignored: untrusted: " + trust->reason;
      return start_run_(project, d);
    }
  }
  return Status::Internal("intake", "unknown action");
}

Result<std::string> Intake::CreateTask(const Project& project, const IntakeDecision& d) {
  Result<std::vector<Task>> found =
      store_.ListTasks({.project_id = project.id, .external_id = d.external_id});
  if (!found.ok()) return found.status();
  // One issue, one task, whatever made it (a label or a mention).
  if (!found->empty()) return "task " + std::to_string(found->front().id) + " already exists";
  Result<TrustVerdict> trust = trust_.Check(d.repo.empty() ? *project.repo : d.repo, d.actor);
  if (!trust.ok()) return trust.status();
  if (!trust->trusted) {
    spdlog::info("intake: {} #{}: not starting work: {}", project.name, d.external_id,
                 trust->reason);
    return "ignored: untrusted: " + trust->reason;
  }
  NewTask t;
  t.project_id = project.id;
  t.external_id = d.external_id;
  t.source = d.source;
  t.source_id = d.source_id;
  t.title = d.title;
  t.body = d.body;
  t.labels = d.labels;
  Result<Task> made =
      store_.AddTask(t, {"github:" + d.actor.login, d.reason + "; " + trust->reason});
  if (made.status().IsConflict()) return std::string("task already exists");
  if (!made.ok()) return made.status();
  spdlog::info("intake: {} #{}: created task {} ({})", project.name, d.external_id, made->id,
               d.reason);
  return "created task " + std::to_string(made->id);
}

Result<std::string> Intake::CloseOrReopen(const Project& project, const IntakeDecision& d) {
  Result<std::vector<Task>> found =
      store_.ListTasks({.project_id = project.id, .external_id = d.external_id});
  if (!found.ok()) return found.status();
  if (found->empty()) return "ignored: no task for #" + d.external_id;
  const Task& task = found->front();
  Cause cause{"github:" + d.actor.login, d.reason};
  if (d.action == IntakeAction::kCloseTask) {
    if (task.status == TaskStatus::kDone)
      return "task " + std::to_string(task.id) + " already done";
    Status s = store_.Transition(task.id, task.status, TaskStatus::kDone, cause);
    if (!s.ok() && !s.IsConflict()) return s;
    return "task " + std::to_string(task.id) + " done (issue closed)";
  }
  if (task.status != TaskStatus::kDone) return "task " + std::to_string(task.id) + " still open";
  Result<TrustVerdict> trust = trust_.Check(*project.repo, d.actor);
  if (!trust.ok()) return trust.status();
  if (!trust->trusted) return "ignored: untrusted: " + trust->reason;
  Status s =
      store_.Transition(task.id, TaskStatus::kDone, TaskStatus::kNew, cause, AttemptEffect::kReset);
  if (!s.ok() && !s.IsConflict()) return s;
  return "task " + std::to_string(task.id) + " back to new (issue reopened)";
}

Result<std::string> Intake::PullRequestClosed(const Project& project, const IntakeDecision& d) {
  Result<std::vector<Task>> found =
      store_.ListTasks({.project_id = project.id, .pr_number = d.pr_number});
  if (!found.ok()) return found.status();
  if (found->empty()) return "ignored: no task for pull request #" + std::to_string(d.pr_number);
  std::string out;
  TaskStatus to =
      d.action == IntakeAction::kPrMerged ? TaskStatus::kDone : TaskStatus::kNeedsReview;
  for (const Task& t : *found) {
    if (t.status == to || t.status == TaskStatus::kDone) continue;
    if (!IsLegalTransition(t.status, to)) continue;
    Status s = store_.Transition(t.id, t.status, to, {"github:" + d.actor.login, d.reason});
    if (!s.ok() && !s.IsConflict()) return s;
    out += (out.empty() ? "task " : ", task ") + std::to_string(t.id) + " " + TaskStatusName(to);
  }
  return out.empty() ? "nothing to change" : out;
}

}  // namespace orch
