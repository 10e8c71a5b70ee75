// RestGitHubClient: GitHubClient over GitHub's REST API (cpp-httplib with OpenSSL).
//
// github.api_url is the base ("https://api.github.com", or "https://ghe.example.com/api/v3"
// for GitHub Enterprise, or the simulator's http://127.0.0.1:PORT in tests). Listings follow
// `Link: <...>; rel="next"`. Rate-limit headers are read on every response; a primary limit
// (remaining 0), a secondary limit (403/429 saying so) or `retry-after` becomes Unavailable with
// the wait. The token travels only in the Authorization header and never reaches a log line.
//
// Thread safety: one thread at a time.
#ifndef ORCH_GITHUB_GITHUB_REST_H_
#define ORCH_GITHUB_GITHUB_REST_H_

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "github/github.h"
#include "github/github_auth.h"
#include "github/http_session.h"

namespace orch {

// A check run as REST and the check_run webhook write it (the same object in both).
CheckRun ParseCheckRun(const nlohmann::json& j);

class RestGitHubClient : public GitHubClient {
 public:
  RestGitHubClient(std::unique_ptr<HttpSession> session, std::unique_ptr<TokenSource> tokens,
                   const Clock& clock);
  ~RestGitHubClient() override;

  // Builds the client for `config`: its session and the first configured credentials.
  static Result<std::unique_ptr<RestGitHubClient>> Make(const GitHubConfig& config,
                                                        const EnvLookup& env, ProcessRunner& runner,
                                                        const Clock& clock);
  const TokenSource& tokens() const { return *tokens_; }
  TokenSource& mutable_tokens() { return *tokens_; }

  Result<GitHubUser> AuthenticatedUser() override;
  Result<IssueListing> ListIssues(const std::string& repo, const IssueQuery& query) override;
  Result<Issue> GetIssue(const std::string& repo, int64_t number) override;
  Result<std::vector<IssueEvent>> ListIssueEvents(const std::string& repo, int64_t number) override;
  Status AddLabels(const std::string& repo, int64_t number,
                   const std::vector<std::string>& labels) override;
  Status RemoveLabel(const std::string& repo, int64_t number, const std::string& label) override;
  Status EnsureLabel(const std::string& repo, const std::string& name, const std::string& color,
                     const std::string& description) override;
  Result<Comment> CreateComment(const std::string& repo, int64_t number,
                                const std::string& body) override;
  Result<std::vector<Comment>> ListComments(const std::string& repo, int64_t number) override;
  Result<CommentListing<Comment>> ListRepoComments(const std::string& repo,
                                                   const CommentQuery& q) override;
  Result<CommentListing<ReviewComment>> ListRepoReviewComments(const std::string& repo,
                                                               const CommentQuery& q) override;
  Status AddReaction(const std::string& repo, CommentKind kind, int64_t comment_id,
                     const std::string& content) override;
  Result<PullRequest> CreatePullRequest(const std::string& repo, const NewPullRequest& pr) override;
  Result<PullRequest> GetPullRequest(const std::string& repo, int64_t number) override;
  Result<std::vector<PullRequest>> ListPullRequests(const std::string& repo,
                                                    const std::string& branch,
                                                    const std::string& state) override;
  Result<std::vector<Review>> ListReviews(const std::string& repo, int64_t pr) override;
  Result<std::vector<ReviewComment>> ListReviewComments(const std::string& repo, int64_t pr,
                                                        int64_t review_id) override;
  Result<std::string> CollaboratorPermission(const std::string& repo,
                                             const std::string& login) override;
  Result<std::vector<CheckAnnotation>> ListCheckAnnotations(const std::string& repo,
                                                            int64_t check_run_id) override;
  Result<std::string> GetJobLog(const std::string& repo, int64_t job_id) override;
  Result<std::vector<CheckRun>> ListCheckRuns(const std::string& repo,
                                              const std::string& ref) override;
  Result<std::vector<RepoHook>> ListRepoHooks(const std::string& repo) override;
  Result<std::vector<HookDelivery>> ListHookDeliveries(const std::string& repo, int64_t hook_id,
                                                       int per_page) override;

 private:
  struct Call;
  // One request with auth and GitHub's headers; non-2xx/304 become the Status of the contract.
  Result<HttpResponse> Do(const Call& call);
  // GET every page of a listing; each page's body is a JSON array, or an object holding the
  // array under `field`.
  Result<std::vector<std::string>> GetAllPages(const std::string& repo, const std::string& target,
                                               const std::string& what);
  // GET every page of a listing whose first page is asked with If-None-Match: `etag`. On 304,
  // no pages and `*not_modified`; `*new_etag` is the first page's ETag either way.
  Result<std::vector<std::string>> GetConditionalPages(const std::string& repo,
                                                       const std::string& target,
                                                       const std::string& what,
                                                       const std::string& etag, bool* not_modified,
                                                       std::string* new_etag);

  std::unique_ptr<HttpSession> session_;
  std::unique_ptr<TokenSource> tokens_;
  const Clock& clock_;
};

}  // namespace orch

#endif  // ORCH_GITHUB_GITHUB_REST_H_
