// FakeGitHub: a GitHubClient in memory for unit tests. Tests set what GitHub "knows" (the
// identity, permissions, issues and their events) and assert on `calls`, the methods called in
// order. `fail_next` makes the next call fail with the given Status.
#ifndef ORCH_TESTING_FAKE_GITHUB_H_
#define ORCH_TESTING_FAKE_GITHUB_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "github/github.h"

namespace orch::test {

class FakeGitHub : public GitHubClient {
 public:
  GitHubUser me{"orch-bot", "User"};
  std::map<std::string, std::string> permissions;  // login -> role
  std::vector<Issue> issues;
  std::map<int64_t, std::vector<IssueEvent>> events;
  std::string etag = "W/\"1\"";  // the listing's current ETag
  std::vector<std::string> calls;
  std::optional<Status> fail_next;
  std::map<int64_t, Status> fail_events;          // issue -> how every request for its events fails
  std::map<std::string, Status> fail_permission;  // login -> how its permission check fails
  std::vector<RepoHook> hooks;                    // the repository's webhooks
  std::vector<HookDelivery> hook_deliveries;      // GitHub's record of each hook's, newest first
  std::optional<Status> hooks_error;              // how listing the webhooks fails
  std::vector<std::string> comments;              // bodies, in order
  std::vector<Comment> repo_comments;             // what the repository-wide listing returns
  std::vector<ReviewComment> repo_review_comments;
  std::vector<std::string> reactions;    // "<issue|review> <comment id> <content>", in order
  std::vector<NewPullRequest> opened;    // pull requests opened, in order (number 100 + i)
  std::map<int64_t, PullRequest> pulls;  // what GetPullRequest finds
  std::vector<CheckRun> check_runs;      // ListCheckRuns: those whose sha or branch is asked
  std::map<int64_t, std::vector<CheckAnnotation>> annotations;  // by check run id
  std::map<int64_t, std::string> job_logs;                      // by job (= check run) id
  std::map<int64_t, std::vector<Comment>> threads;              // what ListComments finds, by issue

  Result<GitHubUser> AuthenticatedUser() override {
    if (Status s = Called("user"); !s.ok()) return s;
    return me;
  }
  Result<IssueListing> ListIssues(const std::string& repo, const IssueQuery& q) override {
    if (Status s = Called("issues " + repo + " since=" + q.since + " etag=" + q.etag); !s.ok()) {
      return s;
    }
    IssueListing out;
    out.etag = etag;
    if (q.etag == etag) {
      out.not_modified = true;
      return out;
    }
    for (const Issue& i : issues) {
      if (i.updated_at >= q.since) out.issues.push_back(i);
    }
    return out;
  }
  Result<Issue> GetIssue(const std::string&, int64_t n) override {
    for (const Issue& i : issues) {
      if (i.number == n) return i;
    }
    return Status::NotFound("issue");
  }
  Result<std::vector<IssueEvent>> ListIssueEvents(const std::string&, int64_t n) override {
    if (Status s = Called("events " + std::to_string(n)); !s.ok()) return s;
    if (auto it = fail_events.find(n); it != fail_events.end()) return it->second;
    return events[n];
  }
  Status AddLabels(const std::string&, int64_t, const std::vector<std::string>&) override {
    return Called("add labels");
  }
  Status RemoveLabel(const std::string&, int64_t, const std::string&) override {
    return Called("remove label");
  }
  Status EnsureLabel(const std::string&, const std::string&, const std::string&,
                     const std::string&) override {
    return Called("ensure label");
  }
  Result<Comment> CreateComment(const std::string&, int64_t, const std::string& body) override {
    if (Status s = Called("comment"); !s.ok()) return s;
    comments.push_back(body);
    return Comment{1, body, me, ""};
  }
  Result<std::vector<Comment>> ListComments(const std::string&, int64_t n) override {
    return threads[n];
  }
  Result<CommentListing<Comment>> ListRepoComments(const std::string&,
                                                   const CommentQuery& q) override {
    if (Status s = Called("repo comments since=" + q.since + " etag=" + q.etag); !s.ok()) {
      return s;
    }
    CommentListing<Comment> out;
    for (const Comment& c : repo_comments) {
      if (c.updated_at >= q.since) out.comments.push_back(c);
    }
    out.etag = ListingEtag(out.comments);
    out.not_modified = q.etag == out.etag;
    if (out.not_modified) out.comments.clear();
    return out;
  }
  Result<CommentListing<ReviewComment>> ListRepoReviewComments(const std::string&,
                                                               const CommentQuery& q) override {
    if (Status s = Called("repo review comments since=" + q.since + " etag=" + q.etag); !s.ok()) {
      return s;
    }
    CommentListing<ReviewComment> out;
    for (const ReviewComment& c : repo_review_comments) {
      if (c.updated_at >= q.since) out.comments.push_back(c);
    }
    out.etag = ListingEtag(out.comments);
    out.not_modified = q.etag == out.etag;
    if (out.not_modified) out.comments.clear();
    return out;
  }
  Status AddReaction(const std::string&, CommentKind kind, int64_t id,
                     const std::string& content) override {
    if (Status s = Called("reaction"); !s.ok()) return s;
    reactions.push_back(std::string(kind == CommentKind::kIssue ? "issue " : "review ") +
                        std::to_string(id) + " " + content);
    return Status::OK();
  }
  Result<PullRequest> CreatePullRequest(const std::string&, const NewPullRequest& pr) override {
    if (Status s = Called("create pull request " + pr.head); !s.ok()) return s;
    opened.push_back(pr);
    return PullRequestOf(opened.size() - 1);
  }
  Result<PullRequest> GetPullRequest(const std::string&, int64_t n) override {
    if (Status s = Called("pull request " + std::to_string(n)); !s.ok()) return s;
    auto it = pulls.find(n);
    if (it == pulls.end()) return Status::NotFound("pull request " + std::to_string(n));
    return it->second;
  }
  Result<std::vector<PullRequest>> ListPullRequests(const std::string&, const std::string& head,
                                                    const std::string&) override {
    if (Status s = Called("list pull requests " + head); !s.ok()) return s;
    std::vector<PullRequest> open;
    for (size_t i = 0; i < opened.size(); ++i) {
      if (opened[i].head == head) open.push_back(PullRequestOf(i));
    }
    return open;
  }
  Result<std::vector<Review>> ListReviews(const std::string&, int64_t) override {
    return std::vector<Review>{};
  }
  Result<std::vector<ReviewComment>> ListReviewComments(const std::string&, int64_t,
                                                        int64_t) override {
    return std::vector<ReviewComment>{};
  }
  Result<std::string> CollaboratorPermission(const std::string&,
                                             const std::string& login) override {
    if (Status s = Called("permission " + login); !s.ok()) return s;
    if (auto it = fail_permission.find(login); it != fail_permission.end()) return it->second;
    auto it = permissions.find(login);
    return it == permissions.end() ? std::string("none") : it->second;
  }
  Result<std::vector<CheckRun>> ListCheckRuns(const std::string&, const std::string& ref) override {
    if (Status s = Called("check runs " + ref); !s.ok()) return s;
    std::vector<CheckRun> out;
    for (const CheckRun& c : check_runs) {
      if (c.head_sha == ref || c.head_branch == ref) out.push_back(c);
    }
    return out;
  }
  Result<std::vector<CheckAnnotation>> ListCheckAnnotations(const std::string&,
                                                            int64_t id) override {
    return annotations[id];
  }
  Result<std::string> GetJobLog(const std::string&, int64_t id) override {
    auto it = job_logs.find(id);
    if (it == job_logs.end()) return Status::NotFound("job " + std::to_string(id));
    return it->second;
  }
  Result<std::vector<RepoHook>> ListRepoHooks(const std::string&) override {
    if (Status s = Called("hooks"); !s.ok()) return s;
    if (hooks_error) return *hooks_error;
    return hooks;
  }
  Result<std::vector<HookDelivery>> ListHookDeliveries(const std::string&, int64_t id,
                                                       int per_page) override {
    if (Status s = Called("hook deliveries " + std::to_string(id)); !s.ok()) return s;
    std::vector<HookDelivery> out = hook_deliveries;
    if (out.size() > static_cast<size_t>(per_page)) out.resize(static_cast<size_t>(per_page));
    return out;
  }

  int Count(const std::string& prefix) const {
    int n = 0;
    for (const auto& c : calls) n += c.rfind(prefix, 0) == 0;
    return n;
  }

 private:
  // A listing's ETag changes with what it holds, as GitHub's does.
  template <typename T>
  static std::string ListingEtag(const std::vector<T>& items) {
    std::string tag = "W/\"" + std::to_string(items.size());
    for (const T& c : items) tag += "-" + std::to_string(c.id) + "@" + c.updated_at;
    return tag + "\"";
  }
  PullRequest PullRequestOf(size_t i) const {
    PullRequest pr;
    pr.number = 100 + static_cast<int64_t>(i);
    pr.title = opened[i].title;
    pr.state = "open";
    pr.head_ref = opened[i].head;
    pr.base_ref = opened[i].base;
    return pr;
  }
  Status Called(const std::string& what) {
    calls.push_back(what);
    if (fail_next) {
      Status s = *fail_next;
      fail_next.reset();
      return s;
    }
    return Status::OK();
  }
};

}  // namespace orch::test

#endif  // ORCH_TESTING_FAKE_GITHUB_H_
