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
  std::map<int64_t, Status> fail_events;      // issue -> how every request for its events fails
  std::vector<RepoHook> hooks;                // the repository's webhooks
  std::vector<HookDelivery> hook_deliveries;  // GitHub's record of each hook's, newest first
  std::optional<Status> hooks_error;          // how listing the webhooks fails
  std::vector<std::string> comments;          // bodies, in order
  std::vector<NewPullRequest> opened;         // pull requests opened, in order (number 100 + i)

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
  Result<std::vector<Comment>> ListComments(const std::string&, int64_t) override {
    return std::vector<Comment>{};
  }
  Result<PullRequest> CreatePullRequest(const std::string&, const NewPullRequest& pr) override {
    if (Status s = Called("create pull request " + pr.head); !s.ok()) return s;
    opened.push_back(pr);
    return PullRequestOf(opened.size() - 1);
  }
  Result<PullRequest> GetPullRequest(const std::string&, int64_t) override {
    return Status::Internal("not faked");
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
    auto it = permissions.find(login);
    return it == permissions.end() ? std::string("none") : it->second;
  }
  Result<std::vector<CheckRun>> ListCheckRuns(const std::string&, const std::string&) override {
    return std::vector<CheckRun>{};
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
