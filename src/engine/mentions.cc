#include "engine/mentions.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/attempt_outcome.h"
#include "agents/questions.h"
#include "engine/follow_ups.h"

namespace orch {
namespace {

constexpr size_t kMaxContextComments = 10;
constexpr size_t kMaxCommentText = 1000;
constexpr size_t kMaxIssueText = 4000;

std::string Cut(const std::string& text, size_t max) {
  return text.size() <= max ? text : text.substr(0, max) + "\n[... cut]";
}

std::string KvKey(const std::string& repo) { return "sync.comments." + repo; }

}  // namespace

bool MentionsLogin(const std::string& text, const std::string& login) {
  if (login.empty()) return false;
  auto word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '[' ||
           c == ']';
  };
  for (size_t at = text.find('@'); at != std::string::npos; at = text.find('@', at + 1)) {
    if (at > 0 && word(text[at - 1])) continue;  // an e-mail address, not a mention
    std::string name = text.substr(at + 1, login.size());
    size_t end = at + 1 + login.size();
    if (SameLogin(name, login) && (end >= text.size() || !word(text[end]))) return true;
  }
  return false;
}

Mention MentionOfComment(const Comment& c, Thread thread) {
  Mention m;
  m.source_id = "comment " + std::to_string(c.id);
  m.kind = CommentKind::kIssue;
  m.comment_id = c.id;
  m.number = c.issue_number;
  m.thread = thread;
  m.author = c.user;
  m.body = c.body;
  m.html_url = c.html_url;
  return m;
}

Mention MentionOfReviewComment(const ReviewComment& c, const std::string& head) {
  Mention m;
  // The key a review's follow-up for the same comment has (reviews.h): never both.
  m.source_id = "review comment " + std::to_string(c.id);
  m.kind = CommentKind::kReview;
  m.comment_id = c.id;
  m.number = c.pr_number;
  m.thread = Thread::kPullRequest;
  m.pr_head = head;
  m.author = c.user;
  m.body = c.body;
  m.html_url = c.html_url;
  m.path = c.path;
  m.line = c.line;
  m.diff_hunk = c.diff_hunk;
  return m;
}

Mention MentionOfReview(int64_t pr, const std::string& head, const Review& review) {
  Mention m;
  m.source_id = "review " + std::to_string(review.id);
  m.number = pr;
  m.thread = Thread::kPullRequest;
  m.pr_head = head;
  m.author = review.user;
  m.body = review.body;
  return m;
}

// What a mention becomes (see the header's table).
struct MentionHandler::Target {
  enum class Kind { kIgnore, kNewTask, kFollowUp };
  Kind kind = Kind::kIgnore;
  std::string reason = "";                                // kIgnore: why
  std::optional<Task> parent = std::nullopt;              // kFollowUp
  std::optional<std::string> external_id = std::nullopt;  // a new task tied to the issue
  std::string branch = "";                                // a new task on another PR's branch
  std::optional<int64_t> pr = std::nullopt;               // and that PR
  std::string where = "";                                 // "issue #5", "pull request #7"
};

Result<std::string> MentionHandler::Apply(const Project& project, const Mention& m) {
  if (bot_login_.empty()) return std::string("ignored: orch's own login is not known yet");
  if (SameLogin(m.author.login, bot_login_)) return std::string("ignored: orch's own comment");
  Result<std::optional<std::string>> answered = Answer(project, m);
  if (!answered.ok()) return answered.status();
  if (*answered) return **answered;
  if (!MentionsLogin(m.body, bot_login_)) {
    return "ignored: " + m.source_id + " does not mention @" + bot_login_;
  }
  Result<std::vector<Task>> seen =
      store_.ListTasks({.project_id = project.id, .source_id = m.source_id});
  if (!seen.ok()) return seen.status();
  if (!seen->empty()) {
    return "task " + std::to_string(seen->front().id) + " exists for " + m.source_id;
  }
  Result<TrustVerdict> trust = trust_.Check(*project.repo, m.author);
  if (!trust.ok()) return trust.status();
  if (!trust->trusted) {
    spdlog::info("mentions: {} #{}: {} by {} starts nothing: {}", project.name, m.number,
                 m.source_id, m.author.login, trust->reason);
    return "ignored: untrusted: " + trust->reason;
  }
  Result<Target> target = Resolve(project, m);
  if (!target.ok()) return target.status();
  if (target->kind == Target::Kind::kIgnore) {
    spdlog::info("mentions: {} #{}: {} starts nothing: {}", project.name, m.number, m.source_id,
                 target->reason);
    return "ignored: " + target->reason;
  }
  return Create(project, m, *target);
}

Result<MentionHandler::Target> MentionHandler::Resolve(const Project& project, const Mention& m) {
  Thread thread = m.thread;
  if (thread == Thread::kUnknown) {
    // A listed comment does not say whether it is on a pull request: a PR a task has is one,
    // else GitHub says.
    Result<std::vector<Task>> owning =
        store_.ListTasks({.project_id = project.id, .pr_number = m.number});
    if (!owning.ok()) return owning.status();
    if (owning->empty()) {
      Result<Issue> issue = github_.GetIssue(*project.repo, m.number);
      if (!issue.ok()) return issue.status();
      thread = issue->is_pull_request ? Thread::kPullRequest : Thread::kIssue;
    } else {
      thread = Thread::kPullRequest;
    }
  }
  if (thread == Thread::kPullRequest) return OnPullRequest(project, m);
  Target t;
  t.where = "issue #" + std::to_string(m.number);
  Result<std::vector<Task>> tasks =
      store_.ListTasks({.project_id = project.id, .external_id = std::to_string(m.number)});
  if (!tasks.ok()) return tasks.status();
  if (tasks->empty()) {
    t.kind = Target::Kind::kNewTask;
    t.external_id = std::to_string(m.number);
  } else if (tasks->front().status == TaskStatus::kDone) {
    t.kind = Target::Kind::kNewTask;  // the issue's own task is over: new work, its own PR
  } else {
    t.kind = Target::Kind::kFollowUp;
    t.parent = tasks->front();
  }
  return t;
}

Result<MentionHandler::Target> MentionHandler::OnPullRequest(const Project& project,
                                                             const Mention& m) {
  Target t;
  t.where = "pull request #" + std::to_string(m.number);
  std::optional<PullRequest> pr;
  std::string head = m.pr_head;
  Result<std::optional<Task>> owner = PullRequestOwner(store_, project, m.number, head);
  if (owner.ok() && !*owner && head.empty()) {
    Result<PullRequest> got = github_.GetPullRequest(*project.repo, m.number);
    if (!got.ok()) return got.status();
    pr = *got;
    head = pr->head_ref;
    owner = PullRequestOwner(store_, project, m.number, head);
  }
  if (!owner.ok()) return owner.status();
  if (*owner) {
    if ((*owner)->status == TaskStatus::kDone) {
      // Done with its PR still open: a flow's PR (its step is done), or one approved with
      // workflow.auto_close_task_on_approval. A merged or closed one is finished.
      if (!pr) {
        Result<PullRequest> got = github_.GetPullRequest(*project.repo, m.number);
        if (!got.ok()) return got.status();
        pr = *got;
      }
      if (pr->state != "open") {
        t.reason = t.where + " is " + (pr->merged ? "merged" : pr->state);
        return t;
      }
    }
    t.kind = Target::Kind::kFollowUp;
    t.parent = **owner;
    return t;
  }
  if (MayBeOurs(head)) {
    return Status::Unavailable(t.where, "no task has its branch " + head + " yet; retrying");
  }
  if (!configs_.For(project)->workflow.mentions_on_foreign_prs) {
    t.reason = t.where + " is not one of orch's (workflow.mentions_on_foreign_prs is off)";
    return t;
  }
  if (!pr) {
    Result<PullRequest> got = github_.GetPullRequest(*project.repo, m.number);
    if (!got.ok()) return got.status();
    pr = *got;
  }
  if (pr->state != "open") {
    t.reason = t.where + " is " + pr->state;
  } else if (!pr->head_repo.empty() && pr->head_repo != *project.repo) {
    t.reason = t.where + " comes from the fork " + pr->head_repo + ", which orch cannot push to";
  } else {
    t.kind = Target::Kind::kNewTask;
    t.branch = pr->head_ref;
    t.pr = m.number;
  }
  return t;
}

std::string MentionHandler::Context(const Project& project, const Mention& m, std::string* title) {
  std::ostringstream c;
  Result<Issue> issue = github_.GetIssue(*project.repo, m.number);
  if (issue.ok()) {
    *title = issue->title;
    c << (issue->is_pull_request ? "Pull request #" : "Issue #") << m.number << ": " << issue->title
      << "\n\n"
      << Cut(issue->body, kMaxIssueText) << "\n";
  } else {
    spdlog::warn("mentions: reading #{} for context: {}", m.number, issue.status().message());
  }
  Result<std::vector<Comment>> thread = github_.ListComments(*project.repo, m.number);
  if (!thread.ok()) {
    spdlog::warn("mentions: reading #{}'s comments: {}", m.number, thread.status().message());
    return c.str();
  }
  std::vector<Comment> others;
  for (const Comment& x : *thread) {
    if (x.id != m.comment_id || m.kind != CommentKind::kIssue) others.push_back(x);
  }
  size_t from = others.size() > kMaxContextComments ? others.size() - kMaxContextComments : 0;
  if (from < others.size()) c << "\nComments before it, oldest first:\n";
  for (size_t i = from; i < others.size(); ++i) {
    c << "\n@" << others[i].user.login << ":\n" << Cut(others[i].body, kMaxCommentText) << "\n";
  }
  return c.str();
}

Result<std::string> MentionHandler::Create(const Project& project, const Mention& m,
                                           const Target& target) {
  NewTask t{.project_id = project.id, .source = TaskSource::kMention, .source_id = m.source_id};
  std::ostringstream body;
  body << "@" << m.author.login << " mentioned orch on " << target.where
       << (m.html_url.empty() ? "" : " (" + m.html_url + ")")
       << ". What they wrote is the request:\n\n"
       << m.body << "\n\n";
  if (!m.path.empty()) {
    body << "File: " << m.path << (m.line ? ", line " + std::to_string(*m.line) : "") << "\n";
    if (!m.diff_hunk.empty()) {
      body << "Diff hunk:\n```diff\n" << Cut(m.diff_hunk, kMaxDiffHunk) << "\n```\n";
    }
    body << "\n";
  }
  if (target.parent) {
    const Task& parent = *target.parent;
    t.parent_id = parent.id;
    t.branch = parent.branch;  // empty until the parent's first run: the follow-up waits
    t.title = "Mention on #" + std::to_string(m.number) + ": " + FirstLine(m.body, 60);
    body << "This continues task " << parent.id << " (" << parent.title << ")"
         << (parent.pr_number ? ", pull request #" + std::to_string(*parent.pr_number) : "")
         << ": work on its branch; orch pushes to the same pull request.\n\n";
  } else if (target.pr) {
    t.branch = target.branch;
    t.title = "Mention on #" + std::to_string(m.number) + ": " + FirstLine(m.body, 60);
    body << "Work on the pull request's branch `" << target.branch
         << "`; orch pushes to the same pull request.\n\n";
  } else {
    t.external_id = target.external_id;
  }
  std::string issue_title;
  std::string context = Context(project, m, &issue_title);
  if (t.title.empty()) {
    // A task of its own is named after the issue, as its pull request will be.
    t.title = issue_title.empty() ? "Mention on #" + std::to_string(m.number) : issue_title;
  }
  if (!context.empty()) body << "The thread, for context:\n\n" << context;
  t.body = body.str();
  // Where to answer, written first: a task never exists without it.
  ORCH_RETURN_IF_ERROR(
      SaveMentionReply(store_, project.id, m.source_id,
                       {.thread = m.number, .author = m.author.login, .url = m.html_url}));
  Result<Task> made =
      store_.AddTask(t, {"github:" + m.author.login, "mentioned on " + target.where});
  if (made.status().IsConflict()) return std::string("task already exists");
  if (!made.ok()) return made.status();
  if (target.pr) ORCH_RETURN_IF_ERROR(store_.SetTaskPullRequest(made->id, *target.pr));
  if (m.comment_id != 0) {
    Status eyes = github_.AddReaction(*project.repo, m.kind, m.comment_id, "eyes");
    if (!eyes.ok()) spdlog::warn("mentions: reacting to {}: {}", m.source_id, eyes.message());
  }
  std::string what = target.parent ? "created follow-up task " + std::to_string(made->id) +
                                         " of task " + std::to_string(target.parent->id)
                                   : "created task " + std::to_string(made->id);
  spdlog::info("mentions: {} #{}: {} by {}: {}", project.name, m.number, m.source_id,
               m.author.login, what);
  return what;
}

Result<std::optional<std::string>> MentionHandler::Answer(const Project& project,
                                                          const Mention& m) {
  using Out = std::optional<std::string>;
  if (m.kind != CommentKind::kIssue || m.comment_id == 0) return Out();
  Result<std::optional<Waiting>> waiting = WaitingOn(store_, project.id, m.number);
  if (!waiting.ok()) return waiting.status();
  // Only a reply after orch's question answers it.
  if (!*waiting || m.comment_id <= (*waiting)->question.comment_id) return Out();
  const Task& task = (*waiting)->task;
  Result<TrustVerdict> trust = trust_.Check(*project.repo, m.author);
  if (!trust.ok()) return trust.status();
  if (!trust->trusted) {
    spdlog::info("questions: {} #{}: {} by {} answers nothing: {}", project.name, m.number,
                 m.source_id, m.author.login, trust->reason);
    return Out("ignored: untrusted answer to task " + std::to_string(task.id) +
               "'s question: " + trust->reason);
  }
  Status recorded = RecordAnswer(store_, task, m.body, m.author.login, m.html_url);
  if (recorded.IsConflict()) return Out();  // moved on meanwhile: read as a comment
  ORCH_RETURN_IF_ERROR(recorded);
  Status reacted = github_.AddReaction(*project.repo, m.kind, m.comment_id, "eyes");
  if (!reacted.ok()) spdlog::warn("questions: reacting: {}", reacted.message());
  spdlog::info("questions: {} #{}: {} answered task {}'s question; resuming it", project.name,
               m.number, m.author.login, task.id);
  return Out("answered task " + std::to_string(task.id) + "'s question; resuming its agent");
}

bool MentionHandler::AwaitsAnswer(const Project& project, int64_t thread) {
  Result<std::optional<Waiting>> waiting = WaitingOn(store_, project.id, thread);
  return !waiting.ok() || waiting->has_value();  // a failed read: Apply tries, and retries
}

template <typename T, typename List, typename ToMention>
Result<int> MentionHandler::SyncListing(const Project& project, nlohmann::json* state, List list,
                                        ToMention to_mention) {
  CommentQuery q{.since = state->value("since", ""), .etag = state->value("etag", "")};
  Result<CommentListing<T>> listing = list(q);
  if (!listing.ok()) return listing.status();
  if (listing->not_modified) return 0;
  std::string newest = q.since;
  int applied = 0;
  Status failed;
  for (const T& c : listing->comments) {
    bool answer = false;
    if constexpr (std::is_same_v<T, Comment>) answer = AwaitsAnswer(project, c.issue_number);
    if (!SameLogin(c.user.login, bot_login_) && (answer || MentionsLogin(c.body, bot_login_))) {
      Mention m = to_mention(c);
      Result<std::string> did = Apply(project, m);
      if (!did.ok() && !did.status().IsNotFound()) {
        failed = did.status();  // retried from this comment on at the next sync
        break;
      }
      spdlog::info("sync: {}: {}: {}", *project.repo, m.source_id,
                   did.ok() ? *did : did.status().message());
      ++applied;
    }
    newest = std::max(newest, c.updated_at);  // ISO-8601 UTC sorts as text
  }
  // A new cursor means a new URL, so its ETag is the one to keep only when the cursor stayed.
  (*state)["etag"] = newest == q.since && failed.ok() ? listing->etag : "";
  (*state)["since"] = newest;
  if (!failed.ok()) return failed;
  return applied;
}

Result<int> MentionHandler::Sync(const Project& project) {
  if (!project.repo || bot_login_.empty()) return 0;
  const std::string& repo = *project.repo;
  Result<std::optional<std::string>> saved = store_.GetKv(KvKey(repo));
  if (!saved.ok()) return saved.status();
  nlohmann::json state = nlohmann::json::parse(saved->value_or(""), nullptr, false);
  if (!state.is_object() || !state.contains("issue") || !state.contains("review")) {
    // The first look at this repository's comments starts at the issues' cursor, which the
    // sync of issues just moved (in GitHub's clock, not this machine's): mentions older than
    // orch start nothing. Without one the repository had no issue or pull request, so no
    // comment either, and listing them all costs nothing.
    Result<std::optional<std::string>> issues = store_.GetKv("sync." + repo);
    if (!issues.ok()) return issues.status();
    nlohmann::json cursor = nlohmann::json::parse(issues->value_or(""), nullptr, false);
    std::string since = cursor.is_object() ? cursor.value("since", "") : "";
    state = {{"issue", {{"since", since}, {"etag", ""}}},
             {"review", {{"since", since}, {"etag", ""}}}};
    spdlog::info("mentions: {}: reading comments from {} on", repo, since);
  }
  Result<int> issue_comments = SyncListing<Comment>(
      project, &state["issue"],
      [&](const CommentQuery& q) { return github_.ListRepoComments(repo, q); },
      [](const Comment& c) { return MentionOfComment(c, Thread::kUnknown); });
  Result<int> review_comments =
      issue_comments.ok()
          ? SyncListing<ReviewComment>(
                project, &state["review"],
                [&](const CommentQuery& q) { return github_.ListRepoReviewComments(repo, q); },
                [](const ReviewComment& c) { return MentionOfReviewComment(c, ""); })
          : Result<int>(0);
  ORCH_RETURN_IF_ERROR(store_.SetKv(KvKey(repo), state.dump()));
  if (!issue_comments.ok()) return issue_comments.status();
  if (!review_comments.ok()) return review_comments.status();
  return *issue_comments + *review_comments;
}

}  // namespace orch
