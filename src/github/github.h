// GitHubClient: the GitHub REST calls orch makes, as an interface (the real one is
// RestGitHubClient in github_rest.h; tests run it against the GitHub simulator in
// tools/github-sim). Types carry only the fields orch reads, with GitHub's names.
//
// Failure contract, for every method: Unavailable (retryable, with retry_after_seconds() when
// GitHub said how long) for network errors, 5xx, 429 and rate limits, primary or secondary;
// NotFound for 404; Config when GitHub rejects the credentials (401); Conflict for 422
// (validation, "already exists"); IOError for anything else, with GitHub's message.
// Thread safety: an implementation is used by one thread at a time.
#ifndef ORCH_GITHUB_GITHUB_H_
#define ORCH_GITHUB_GITHUB_H_

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace orch {

struct GitHubUser {
  std::string login;
  std::string type;  // "User", "Bot", "Organization"
  // For the authenticated user: the token's X-OAuth-Scopes (classic tokens and gh's OAuth
  // token); nullopt when GitHub sent none (fine-grained tokens, Apps).
  std::optional<std::string> scopes = std::nullopt;
  bool is_bot() const { return type == "Bot"; }
};

// GitHub logins compare without case.
inline bool SameLogin(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Issue {
  int64_t number = 0;
  std::string title;
  std::string body;
  std::string state;  // "open" | "closed"
  std::vector<std::string> labels;
  GitHubUser user;
  bool is_pull_request = false;  // the issues list returns PRs too
  std::string updated_at;        // ISO-8601, as GitHub wrote it
  std::string html_url;
};

struct IssueEvent {
  int64_t id = 0;
  std::string event;  // "labeled", "unlabeled", "closed", ...
  GitHubUser actor;
  std::string label;  // for label events
  std::string created_at;
};

// A comment on an issue or a pull request's conversation.
struct Comment {
  int64_t id = 0;
  std::string body;
  GitHubUser user;
  std::string html_url;
  int64_t issue_number = 0;  // from issue_url: the issue or pull request it is on
  std::string created_at = "";
  std::string updated_at = "";
};

struct PullRequest {
  int64_t number = 0;
  std::string title;
  std::string state;  // "open" | "closed"
  bool merged = false;
  std::string head_ref;
  std::string base_ref;
  std::string html_url;
  std::string head_repo = "";  // head.repo.full_name: another repository for a fork's PR
  std::string head_sha = "";   // head.sha: the commit its checks run on
  std::string base_sha = "";   // base.sha
  // null while GitHub works it out (a read after the base or head moved starts that).
  std::optional<bool> mergeable = std::nullopt;
  std::string mergeable_state = "";  // "clean", "dirty" (conflicts), "unknown", "blocked", ...
};

struct NewPullRequest {
  std::string title = "";
  std::string body = "";
  std::string head = "";  // branch name
  std::string base = "";
  bool draft = false;
};

struct Review {
  int64_t id = 0;
  std::string state;  // REST: "APPROVED", "CHANGES_REQUESTED", "COMMENTED", ...
  std::string body;
  GitHubUser user;
};

struct ReviewComment {
  int64_t id = 0;
  std::string path;
  std::optional<int64_t> line;
  std::string diff_hunk;
  std::string body;
  GitHubUser user;
  int64_t pr_number = 0;  // from pull_request_url
  std::string html_url = "";
  std::string updated_at = "";
};

// Which comments a reaction goes on: issue (and PR conversation) comments, or PR review
// comments.
enum class CommentKind { kIssue, kReview };

struct CheckRun {
  std::string name;
  std::string status;      // "queued", "in_progress", "completed"
  std::string conclusion;  // when completed: "success", "failure", ...
  int64_t id = 0;          // for GitHub Actions also the job's id (its log)
  std::string head_sha = "";
  std::string head_branch = "";  // check_suite.head_branch
  std::string html_url = "";
  std::string title = "";  // output.title and output.summary
  std::string summary = "";
  std::vector<int64_t> pull_requests = {};  // open PRs whose head is head_sha
};

// One annotation of a check run (GET .../check-runs/{id}/annotations).
struct CheckAnnotation {
  std::string path;
  int64_t start_line = 0;
  std::string level;  // "notice", "warning", "failure"
  std::string message;
};

// A repository webhook (GET /repos/{owner}/{repo}/hooks).
struct RepoHook {
  int64_t id = 0;
  bool active = false;
  std::string url;  // config.url: where GitHub sends the deliveries
};

// GitHub's record of one delivery attempt of a hook (GET .../hooks/{id}/deliveries).
struct HookDelivery {
  int64_t id = 0;
  std::string guid;          // X-GitHub-Delivery
  std::string delivered_at;  // ISO-8601
  bool redelivery = false;
  int status_code = 0;  // the receiver's HTTP status; 0 when nothing answered
  std::string status;   // "OK", "Invalid HTTP Response: 503", "failed to connect to host", ...
  std::string event;
  std::string action;
};

// One conditional listing: the ETag of its first page goes back in as `etag` next time; when
// nothing changed GitHub answers 304 (free of rate limit) and `not_modified` is set.
struct IssueListing {
  std::vector<Issue> issues;
  bool not_modified = false;
  std::string etag;
};

// A repository's comments updated since a time, listed conditionally as issues are.
template <typename T>
struct CommentListing {
  std::vector<T> comments;
  bool not_modified = false;
  std::string etag;
};

struct CommentQuery {
  std::string since = "";  // ISO-8601; empty: all
  std::string etag = "";   // If-None-Match for the first page
};

struct IssueQuery {
  std::string state = "all";
  std::string since = "";  // ISO-8601; empty: all
  std::vector<std::string> labels = {};
  std::string etag = "";  // If-None-Match for the first page
  int per_page = 100;
};

class GitHubClient {
 public:
  virtual ~GitHubClient() = default;

  // The identity orch acts as (its own events are ignored by intake).
  virtual Result<GitHubUser> AuthenticatedUser() = 0;
  // Every page, newest update first, following `Link: rel="next"`.
  virtual Result<IssueListing> ListIssues(const std::string& repo, const IssueQuery& query) = 0;
  virtual Result<Issue> GetIssue(const std::string& repo, int64_t number) = 0;
  virtual Result<std::vector<IssueEvent>> ListIssueEvents(const std::string& repo,
                                                          int64_t number) = 0;
  virtual Status AddLabels(const std::string& repo, int64_t number,
                           const std::vector<std::string>& labels) = 0;
  // OK when the label was not there.
  virtual Status RemoveLabel(const std::string& repo, int64_t number, const std::string& label) = 0;
  // Creates the repository label unless it exists.
  virtual Status EnsureLabel(const std::string& repo, const std::string& name,
                             const std::string& color, const std::string& description) = 0;
  virtual Result<Comment> CreateComment(const std::string& repo, int64_t number,
                                        const std::string& body) = 0;
  virtual Result<std::vector<Comment>> ListComments(const std::string& repo, int64_t number) = 0;
  // Every issue comment of the repository (issues and pull requests' conversations), or every
  // pull request review comment, updated since `q.since`, oldest update first, all pages.
  virtual Result<CommentListing<Comment>> ListRepoComments(const std::string& repo,
                                                           const CommentQuery& q) = 0;
  virtual Result<CommentListing<ReviewComment>> ListRepoReviewComments(const std::string& repo,
                                                                       const CommentQuery& q) = 0;
  // Reacts to a comment ("eyes", "+1", ...); OK when orch had reacted so already.
  virtual Status AddReaction(const std::string& repo, CommentKind kind, int64_t comment_id,
                             const std::string& content) = 0;
  virtual Result<PullRequest> CreatePullRequest(const std::string& repo,
                                                const NewPullRequest& pr) = 0;
  virtual Result<PullRequest> GetPullRequest(const std::string& repo, int64_t number) = 0;
  // Pull requests whose head is `branch` in the repository itself.
  virtual Result<std::vector<PullRequest>> ListPullRequests(const std::string& repo,
                                                            const std::string& branch,
                                                            const std::string& state) = 0;
  virtual Result<std::vector<Review>> ListReviews(const std::string& repo, int64_t pr) = 0;
  virtual Result<std::vector<ReviewComment>> ListReviewComments(const std::string& repo, int64_t pr,
                                                                int64_t review_id) = 0;
  // "admin", "maintain", "write", "triage", "read" or "none" (the role, not the legacy
  // `permission` field, which folds maintain into write).
  virtual Result<std::string> CollaboratorPermission(const std::string& repo,
                                                     const std::string& login) = 0;
  virtual Result<std::vector<CheckRun>> ListCheckRuns(const std::string& repo,
                                                      const std::string& ref) = 0;
  virtual Result<std::vector<CheckAnnotation>> ListCheckAnnotations(const std::string& repo,
                                                                    int64_t check_run_id) = 0;
  // A GitHub Actions job's log as text (GitHub redirects to a short-lived URL elsewhere, which is
  // fetched without orch's credentials).
  virtual Result<std::string> GetJobLog(const std::string& repo, int64_t job_id) = 0;
  // The repository's webhooks, and GitHub's record of one hook's newest deliveries (newest
  // first, at most `per_page`). Reading them needs admin rights on the repository (a token's
  // `admin:repo_hook` or `repo` scope, an App's webhooks permission): GitHub answers 404 or 403
  // otherwise, returned as the error. A client that cannot ask says NotFound.
  virtual Result<std::vector<RepoHook>> ListRepoHooks(const std::string& repo) {
    return Status::NotFound(repo, "listing webhooks is not supported here");
  }
  virtual Result<std::vector<HookDelivery>> ListHookDeliveries(const std::string& repo,
                                                               int64_t hook_id, int per_page) {
    (void)hook_id;
    (void)per_page;
    return Status::NotFound(repo, "listing webhook deliveries is not supported here");
  }
};

}  // namespace orch

#endif  // ORCH_GITHUB_GITHUB_H_
