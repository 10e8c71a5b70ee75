// LockedGitHubClient: a GitHubClient shared by threads, one call at a time (the engine's
// thread and the dispatcher's workers share the daemon's one client). Thread-safe.
#ifndef ORCH_GITHUB_GITHUB_LOCKED_H_
#define ORCH_GITHUB_GITHUB_LOCKED_H_

#include <mutex>

#include "github/github.h"

namespace orch {

class LockedGitHubClient : public GitHubClient {
 public:
  explicit LockedGitHubClient(GitHubClient& inner) : inner_(inner) {}

#define ORCH_LOCKED(call)                 \
  std::lock_guard<std::mutex> lock_(mu_); \
  return inner_.call
  Result<GitHubUser> AuthenticatedUser() override { ORCH_LOCKED(AuthenticatedUser()); }
  Result<IssueListing> ListIssues(const std::string& r, const IssueQuery& q) override {
    ORCH_LOCKED(ListIssues(r, q));
  }
  Result<Issue> GetIssue(const std::string& r, int64_t n) override { ORCH_LOCKED(GetIssue(r, n)); }
  Result<std::vector<IssueEvent>> ListIssueEvents(const std::string& r, int64_t n) override {
    ORCH_LOCKED(ListIssueEvents(r, n));
  }
  Status AddLabels(const std::string& r, int64_t n, const std::vector<std::string>& l) override {
    ORCH_LOCKED(AddLabels(r, n, l));
  }
  Status RemoveLabel(const std::string& r, int64_t n, const std::string& l) override {
    ORCH_LOCKED(RemoveLabel(r, n, l));
  }
  Status EnsureLabel(const std::string& r, const std::string& n, const std::string& c,
                     const std::string& d) override {
    ORCH_LOCKED(EnsureLabel(r, n, c, d));
  }
  Result<Comment> CreateComment(const std::string& r, int64_t n, const std::string& b) override {
    ORCH_LOCKED(CreateComment(r, n, b));
  }
  Result<std::vector<Comment>> ListComments(const std::string& r, int64_t n) override {
    ORCH_LOCKED(ListComments(r, n));
  }
  Result<CommentListing<Comment>> ListRepoComments(const std::string& r,
                                                   const CommentQuery& q) override {
    ORCH_LOCKED(ListRepoComments(r, q));
  }
  Result<CommentListing<ReviewComment>> ListRepoReviewComments(const std::string& r,
                                                               const CommentQuery& q) override {
    ORCH_LOCKED(ListRepoReviewComments(r, q));
  }
  Status AddReaction(const std::string& r, CommentKind k, int64_t id,
                     const std::string& c) override {
    ORCH_LOCKED(AddReaction(r, k, id, c));
  }
  Result<PullRequest> CreatePullRequest(const std::string& r, const NewPullRequest& p) override {
    ORCH_LOCKED(CreatePullRequest(r, p));
  }
  Result<PullRequest> GetPullRequest(const std::string& r, int64_t n) override {
    ORCH_LOCKED(GetPullRequest(r, n));
  }
  Result<std::vector<PullRequest>> ListPullRequests(const std::string& r, const std::string& b,
                                                    const std::string& s) override {
    ORCH_LOCKED(ListPullRequests(r, b, s));
  }
  Result<std::vector<Review>> ListReviews(const std::string& r, int64_t p) override {
    ORCH_LOCKED(ListReviews(r, p));
  }
  Result<std::vector<ReviewComment>> ListReviewComments(const std::string& r, int64_t p,
                                                        int64_t id) override {
    ORCH_LOCKED(ListReviewComments(r, p, id));
  }
  Result<std::string> CollaboratorPermission(const std::string& r, const std::string& l) override {
    ORCH_LOCKED(CollaboratorPermission(r, l));
  }
  Result<std::vector<CheckRun>> ListCheckRuns(const std::string& r,
                                              const std::string& ref) override {
    ORCH_LOCKED(ListCheckRuns(r, ref));
  }
  Result<std::vector<CheckAnnotation>> ListCheckAnnotations(const std::string& r,
                                                            int64_t id) override {
    ORCH_LOCKED(ListCheckAnnotations(r, id));
  }
  Result<std::string> GetJobLog(const std::string& r, int64_t id) override {
    ORCH_LOCKED(GetJobLog(r, id));
  }
  Result<std::vector<RepoHook>> ListRepoHooks(const std::string& r) override {
    ORCH_LOCKED(ListRepoHooks(r));
  }
  Result<std::vector<HookDelivery>> ListHookDeliveries(const std::string& r, int64_t id,
                                                       int n) override {
    ORCH_LOCKED(ListHookDeliveries(r, id, n));
  }
#undef ORCH_LOCKED

 private:
  GitHubClient& inner_;
  std::mutex mu_;
};

}  // namespace orch

#endif  // ORCH_GITHUB_GITHUB_LOCKED_H_
