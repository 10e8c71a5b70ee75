#include "github/github_rest.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_fields.h"
#include "version.h"

namespace orch {
namespace {

using Json = nlohmann::json;

constexpr auto Str = JsonString;
constexpr auto Int = JsonInt;

GitHubUser ParseUser(const Json& j) {
  if (!j.is_object()) return {};
  return {Str(j, "login"), Str(j, "type")};
}

Issue ParseIssue(const Json& j) {
  Issue i;
  i.number = Int(j, "number");
  i.title = Str(j, "title");
  i.body = Str(j, "body");
  i.state = Str(j, "state");
  if (j.contains("labels") && j["labels"].is_array()) {
    for (const Json& l : j["labels"])
      i.labels.push_back(l.is_string() ? l.get<std::string>() : Str(l, "name"));
  }
  i.user = ParseUser(j.value("user", Json()));
  i.is_pull_request = j.contains("pull_request") && !j["pull_request"].is_null();
  i.updated_at = Str(j, "updated_at");
  i.html_url = Str(j, "html_url");
  return i;
}

PullRequest ParsePull(const Json& j) {
  PullRequest p;
  p.number = Int(j, "number");
  p.title = Str(j, "title");
  p.state = Str(j, "state");
  p.merged = j.value("merged", false) || !Str(j, "merged_at").empty();
  p.head_ref = Str(JsonObject(j, "head"), "ref");
  p.base_ref = Str(JsonObject(j, "base"), "ref");
  p.html_url = Str(j, "html_url");
  p.head_repo = Str(JsonObject(JsonObject(j, "head"), "repo"), "full_name");
  p.head_sha = Str(JsonObject(j, "head"), "sha");
  p.base_sha = Str(JsonObject(j, "base"), "sha");
  if (j.contains("mergeable") && j["mergeable"].is_boolean())
    p.mergeable = j["mergeable"].get<bool>();
  p.mergeable_state = Str(j, "mergeable_state");
  return p;
}

}  // namespace

CheckRun ParseCheckRun(const Json& j) {
  CheckRun c{Str(j, "name"), Str(j, "status"), Str(j, "conclusion")};
  c.id = Int(j, "id");
  c.head_sha = Str(j, "head_sha");
  c.head_branch = Str(JsonObject(j, "check_suite"), "head_branch");
  c.html_url = Str(j, "html_url");
  c.title = Str(JsonObject(j, "output"), "title");
  c.summary = Str(JsonObject(j, "output"), "summary");
  auto prs = j.find("pull_requests");
  if (prs != j.end() && prs->is_array()) {
    for (const Json& pr : *prs) c.pull_requests.push_back(Int(pr, "number"));
  }
  return c;
}

namespace {

// The number at the end of an issue_url or pull_request_url (".../issues/12"), or 0.
int64_t TrailingNumber(const std::string& url) {
  size_t slash = url.rfind('/');
  if (slash == std::string::npos) return 0;
  return std::atoll(url.c_str() + slash + 1);
}

Comment ParseComment(const Json& j) {
  Comment c{Int(j, "id"), Str(j, "body"), ParseUser(j.value("user", Json())), Str(j, "html_url")};
  c.issue_number = TrailingNumber(Str(j, "issue_url"));
  c.created_at = Str(j, "created_at");
  c.updated_at = Str(j, "updated_at");
  return c;
}

ReviewComment ParseReviewComment(const Json& j) {
  ReviewComment c{Int(j, "id"),        Str(j, "path"), std::nullopt,
                  Str(j, "diff_hunk"), Str(j, "body"), ParseUser(j.value("user", Json()))};
  if (j.contains("line") && j["line"].is_number()) c.line = j["line"].get<int64_t>();
  c.pr_number = TrailingNumber(Str(j, "pull_request_url"));
  c.html_url = Str(j, "html_url");
  c.updated_at = Str(j, "updated_at");
  return c;
}

// Parses `text` and hands each element of its array (or of obj[field]) to `each`.
template <typename T, typename F>
Result<std::vector<T>> ParseList(const std::vector<std::string>& pages, const std::string& what,
                                 F each, const char* field = nullptr) {
  std::vector<T> out;
  try {
    for (const std::string& page : pages) {
      Json j = Json::parse(page);
      const Json& arr = field ? j.at(field) : j;
      for (const Json& item : arr) out.push_back(each(item));
    }
  } catch (const std::exception& e) {
    return Status::IOError(what + ": unexpected response from GitHub", e.what());
  }
  return out;
}

template <typename T, typename F>
Result<T> ParseOne(const HttpResponse& r, const std::string& what, F parse) {
  try {
    return parse(Json::parse(r.body));
  } catch (const std::exception& e) {
    return Status::IOError(what + ": unexpected response from GitHub", e.what());
  }
}

// Percent-encodes everything but RFC 3986's unreserved characters (labels may hold spaces,
// colons and slashes).
std::string Escape(std::string_view s, bool keep_slashes = false) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slashes && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace

struct RestGitHubClient::Call {
  std::string method = "GET";
  std::string repo = "";    // for the installation token; "" for calls about no repository
  std::string target = "";  // path below api_url, or an absolute Link URL
  std::string what = "";    // for messages: "listing issues of acme/widgets"
  std::string body = "";
  std::string etag = "";
  bool redirect = false;  // a 3xx is an answer (its Location), not an error
};

RestGitHubClient::RestGitHubClient(std::unique_ptr<HttpSession> session,
                                   std::unique_ptr<TokenSource> tokens, const Clock& clock)
    : session_(std::move(session)), tokens_(std::move(tokens)), clock_(clock) {}

RestGitHubClient::~RestGitHubClient() = default;

Result<std::unique_ptr<RestGitHubClient>> RestGitHubClient::Make(const GitHubConfig& config,
                                                                 const EnvLookup& env,
                                                                 ProcessRunner& runner,
                                                                 const Clock& clock) {
  Result<std::unique_ptr<HttpSession>> session = HttpSession::Open(config.api_url);
  if (!session.ok()) return session.status();
  Result<std::unique_ptr<TokenSource>> tokens =
      MakeTokenSource(config, env, **session, runner, clock);
  if (!tokens.ok()) return tokens.status();
  return std::make_unique<RestGitHubClient>(std::move(session).value(), std::move(tokens).value(),
                                            clock);
}

Result<HttpResponse> RestGitHubClient::Do(const Call& call) {
  Result<std::string> auth = tokens_->Authorization(call.repo);
  if (!auth.ok()) return auth.status().Prefixed(call.what);
  std::map<std::string, std::string> headers = {
      {"Authorization", *auth},
      {"Accept", "application/vnd.github+json"},
      {"X-GitHub-Api-Version", "2022-11-28"},
      {"User-Agent", std::string("orch/") + ORCH_VERSION}};
  if (!call.etag.empty()) headers["If-None-Match"] = call.etag;
  Result<HttpResponse> r = session_->Send(call.method, call.target, headers, call.body);
  if (!r.ok()) return r.status().Prefixed(call.what);
  std::string remaining = r->Header("x-ratelimit-remaining");
  if (!remaining.empty() && std::atoll(remaining.c_str()) < 100 && r->status != 304) {
    spdlog::warn("github: {} requests left until the rate limit resets", remaining);
  }
  if (call.redirect && r->status / 100 == 3 && !r->Header("location").empty()) return r;
  Status s = StatusFromResponse(*r, call.what, clock_.NowUnix());
  if (!s.ok()) return s;
  return r;
}

Result<std::vector<std::string>> RestGitHubClient::GetAllPages(const std::string& repo,
                                                               const std::string& target,
                                                               const std::string& what) {
  std::vector<std::string> pages;
  std::string next = target;
  for (int page = 0; !next.empty(); ++page) {
    if (page >= 100) return Status::IOError(what, "more than 100 pages; refusing to go on");
    Result<HttpResponse> r = Do({.repo = repo, .target = next, .what = what});
    if (!r.ok()) return r.status();
    pages.push_back(std::move(r->body));
    next = NextLink(r->Header("link"));
  }
  return pages;
}

Result<GitHubUser> RestGitHubClient::AuthenticatedUser() {
  if (tokens_->is_app()) {
    // Installation tokens cannot read /user; an App acts as "<slug>[bot]" (GET /app, JWT).
    Result<HttpResponse> r = Do({.target = "/app", .what = "reading the GitHub App"});
    if (!r.ok()) return r.status();
    return ParseOne<GitHubUser>(*r, "reading the GitHub App", [](const Json& j) {
      return GitHubUser{Str(j, "slug") + "[bot]", "Bot"};
    });
  }
  Result<HttpResponse> r = Do({.target = "/user", .what = "reading the authenticated user"});
  if (!r.ok()) return r.status();
  Result<GitHubUser> me = ParseOne<GitHubUser>(*r, "reading the authenticated user", ParseUser);
  if (me.ok() && r->headers.count("x-oauth-scopes") > 0) me->scopes = r->Header("x-oauth-scopes");
  return me;
}

Result<std::vector<std::string>> RestGitHubClient::GetConditionalPages(
    const std::string& repo, const std::string& target, const std::string& what,
    const std::string& etag, bool* not_modified, std::string* new_etag) {
  Result<HttpResponse> first = Do({.repo = repo, .target = target, .what = what, .etag = etag});
  if (!first.ok()) return first.status();
  *new_etag = first->Header("etag");
  *not_modified = first->status == 304;
  if (*not_modified) return std::vector<std::string>{};
  std::vector<std::string> pages = {std::move(first->body)};
  std::string next = NextLink(first->Header("link"));
  if (!next.empty()) {
    Result<std::vector<std::string>> rest = GetAllPages(repo, next, what);
    if (!rest.ok()) return rest.status();
    for (auto& p : *rest) pages.push_back(std::move(p));
  }
  return pages;
}

Result<IssueListing> RestGitHubClient::ListIssues(const std::string& repo, const IssueQuery& q) {
  std::string what = "listing issues of " + repo;
  std::string target = "/repos/" + repo + "/issues?state=" + q.state +
                       "&sort=updated&direction=desc&per_page=" + std::to_string(q.per_page);
  if (!q.since.empty()) target += "&since=" + Escape(q.since);
  if (!q.labels.empty()) {
    std::string joined;
    for (const auto& l : q.labels) joined += (joined.empty() ? "" : ",") + l;
    target += "&labels=" + Escape(joined);
  }
  IssueListing out;
  Result<std::vector<std::string>> pages =
      GetConditionalPages(repo, target, what, q.etag, &out.not_modified, &out.etag);
  if (!pages.ok()) return pages.status();
  Result<std::vector<Issue>> issues = ParseList<Issue>(*pages, what, ParseIssue);
  if (!issues.ok()) return issues.status();
  out.issues = std::move(issues).value();
  return out;
}

Result<CommentListing<Comment>> RestGitHubClient::ListRepoComments(const std::string& repo,
                                                                   const CommentQuery& q) {
  std::string what = "listing comments of " + repo;
  std::string target =
      "/repos/" + repo + "/issues/comments?sort=updated&direction=asc&per_page=100";
  if (!q.since.empty()) target += "&since=" + Escape(q.since);
  CommentListing<Comment> out;
  Result<std::vector<std::string>> pages =
      GetConditionalPages(repo, target, what, q.etag, &out.not_modified, &out.etag);
  if (!pages.ok()) return pages.status();
  Result<std::vector<Comment>> comments = ParseList<Comment>(*pages, what, ParseComment);
  if (!comments.ok()) return comments.status();
  out.comments = std::move(comments).value();
  return out;
}

Result<CommentListing<ReviewComment>> RestGitHubClient::ListRepoReviewComments(
    const std::string& repo, const CommentQuery& q) {
  std::string what = "listing review comments of " + repo;
  std::string target = "/repos/" + repo + "/pulls/comments?sort=updated&direction=asc&per_page=100";
  if (!q.since.empty()) target += "&since=" + Escape(q.since);
  CommentListing<ReviewComment> out;
  Result<std::vector<std::string>> pages =
      GetConditionalPages(repo, target, what, q.etag, &out.not_modified, &out.etag);
  if (!pages.ok()) return pages.status();
  Result<std::vector<ReviewComment>> comments =
      ParseList<ReviewComment>(*pages, what, ParseReviewComment);
  if (!comments.ok()) return comments.status();
  out.comments = std::move(comments).value();
  return out;
}

Status RestGitHubClient::AddReaction(const std::string& repo, CommentKind kind, int64_t comment_id,
                                     const std::string& content) {
  std::string id = std::to_string(comment_id);
  Result<HttpResponse> r =
      Do({.method = "POST",
          .repo = repo,
          .target = "/repos/" + repo + (kind == CommentKind::kIssue ? "/issues" : "/pulls") +
                    "/comments/" + id + "/reactions",
          .what = "reacting to comment " + id + " of " + repo,
          .body = Json{{"content", content}}.dump()});
  return r.status();
}

Result<Issue> RestGitHubClient::GetIssue(const std::string& repo, int64_t number) {
  std::string what = "reading " + repo + "#" + std::to_string(number);
  Result<HttpResponse> r = Do({.repo = repo,
                               .target = "/repos/" + repo + "/issues/" + std::to_string(number),
                               .what = what});
  if (!r.ok()) return r.status();
  return ParseOne<Issue>(*r, what, ParseIssue);
}

Result<std::vector<IssueEvent>> RestGitHubClient::ListIssueEvents(const std::string& repo,
                                                                  int64_t number) {
  std::string what = "listing events of " + repo + "#" + std::to_string(number);
  Result<std::vector<std::string>> pages = GetAllPages(
      repo, "/repos/" + repo + "/issues/" + std::to_string(number) + "/events?per_page=100", what);
  if (!pages.ok()) return pages.status();
  return ParseList<IssueEvent>(*pages, what, [](const Json& j) {
    return IssueEvent{Int(j, "id"), Str(j, "event"), ParseUser(j.value("actor", Json())),
                      Str(JsonObject(j, "label"), "name"), Str(j, "created_at")};
  });
}

Status RestGitHubClient::AddLabels(const std::string& repo, int64_t number,
                                   const std::vector<std::string>& labels) {
  Result<HttpResponse> r =
      Do({.method = "POST",
          .repo = repo,
          .target = "/repos/" + repo + "/issues/" + std::to_string(number) + "/labels",
          .what = "labelling " + repo + "#" + std::to_string(number),
          .body = Json{{"labels", labels}}.dump()});
  return r.status();
}

Status RestGitHubClient::RemoveLabel(const std::string& repo, int64_t number,
                                     const std::string& label) {
  Result<HttpResponse> r = Do({.method = "DELETE",
                               .repo = repo,
                               .target = "/repos/" + repo + "/issues/" + std::to_string(number) +
                                         "/labels/" + Escape(label),
                               .what = "unlabelling " + repo + "#" + std::to_string(number)});
  if (r.status().IsNotFound()) return Status::OK();
  return r.status();
}

Status RestGitHubClient::EnsureLabel(const std::string& repo, const std::string& name,
                                     const std::string& color, const std::string& description) {
  Result<HttpResponse> got = Do({.repo = repo,
                                 .target = "/repos/" + repo + "/labels/" + Escape(name),
                                 .what = "reading label " + name + " of " + repo});
  if (got.ok()) return Status::OK();
  if (!got.status().IsNotFound()) return got.status();
  Result<HttpResponse> made =
      Do({.method = "POST",
          .repo = repo,
          .target = "/repos/" + repo + "/labels",
          .what = "creating label " + name + " in " + repo,
          .body = Json{{"name", name}, {"color", color}, {"description", description}}.dump()});
  if (made.status().IsConflict()) return Status::OK();  // someone made it meanwhile
  return made.status();
}

Result<Comment> RestGitHubClient::CreateComment(const std::string& repo, int64_t number,
                                                const std::string& body) {
  std::string what = "commenting on " + repo + "#" + std::to_string(number);
  Result<HttpResponse> r =
      Do({.method = "POST",
          .repo = repo,
          .target = "/repos/" + repo + "/issues/" + std::to_string(number) + "/comments",
          .what = what,
          .body = Json{{"body", body}}.dump()});
  if (!r.ok()) return r.status();
  return ParseOne<Comment>(*r, what, ParseComment);
}

Result<std::vector<Comment>> RestGitHubClient::ListComments(const std::string& repo,
                                                            int64_t number) {
  std::string what = "listing comments of " + repo + "#" + std::to_string(number);
  Result<std::vector<std::string>> pages = GetAllPages(
      repo, "/repos/" + repo + "/issues/" + std::to_string(number) + "/comments?per_page=100",
      what);
  if (!pages.ok()) return pages.status();
  return ParseList<Comment>(*pages, what, ParseComment);
}

Result<PullRequest> RestGitHubClient::CreatePullRequest(const std::string& repo,
                                                        const NewPullRequest& pr) {
  std::string what = "opening a pull request for " + pr.head + " in " + repo;
  Result<HttpResponse> r = Do({.method = "POST",
                               .repo = repo,
                               .target = "/repos/" + repo + "/pulls",
                               .what = what,
                               .body = Json{{"title", pr.title},
                                            {"body", pr.body},
                                            {"head", pr.head},
                                            {"base", pr.base},
                                            {"draft", pr.draft}}
                                           .dump()});
  if (!r.ok()) return r.status();
  return ParseOne<PullRequest>(*r, what, ParsePull);
}

Result<PullRequest> RestGitHubClient::GetPullRequest(const std::string& repo, int64_t number) {
  std::string what = "reading pull request " + repo + "#" + std::to_string(number);
  Result<HttpResponse> r = Do({.repo = repo,
                               .target = "/repos/" + repo + "/pulls/" + std::to_string(number),
                               .what = what});
  if (!r.ok()) return r.status();
  return ParseOne<PullRequest>(*r, what, ParsePull);
}

Result<std::vector<PullRequest>> RestGitHubClient::ListPullRequests(const std::string& repo,
                                                                    const std::string& branch,
                                                                    const std::string& state) {
  std::string owner = repo.substr(0, repo.find('/'));
  std::string what = "listing pull requests of " + repo + " from " + branch;
  Result<std::vector<std::string>> pages =
      GetAllPages(repo,
                  "/repos/" + repo + "/pulls?state=" + state +
                      "&head=" + Escape(owner + ":" + branch) + "&per_page=100",
                  what);
  if (!pages.ok()) return pages.status();
  return ParseList<PullRequest>(*pages, what, ParsePull);
}

Result<std::vector<Review>> RestGitHubClient::ListReviews(const std::string& repo, int64_t pr) {
  std::string what = "listing reviews of " + repo + "#" + std::to_string(pr);
  Result<std::vector<std::string>> pages = GetAllPages(
      repo, "/repos/" + repo + "/pulls/" + std::to_string(pr) + "/reviews?per_page=100", what);
  if (!pages.ok()) return pages.status();
  return ParseList<Review>(*pages, what, [](const Json& j) {
    return Review{Int(j, "id"), Str(j, "state"), Str(j, "body"),
                  ParseUser(j.value("user", Json()))};
  });
}

Result<std::vector<ReviewComment>> RestGitHubClient::ListReviewComments(const std::string& repo,
                                                                        int64_t pr,
                                                                        int64_t review_id) {
  std::string what = "listing comments of review " + std::to_string(review_id);
  Result<std::vector<std::string>> pages =
      GetAllPages(repo,
                  "/repos/" + repo + "/pulls/" + std::to_string(pr) + "/reviews/" +
                      std::to_string(review_id) + "/comments?per_page=100",
                  what);
  if (!pages.ok()) return pages.status();
  return ParseList<ReviewComment>(*pages, what, ParseReviewComment);
}

Result<std::string> RestGitHubClient::CollaboratorPermission(const std::string& repo,
                                                             const std::string& login) {
  std::string what = "reading " + login + "'s permission on " + repo;
  Result<HttpResponse> r =
      Do({.repo = repo,
          .target = "/repos/" + repo + "/collaborators/" + Escape(login) + "/permission",
          .what = what});
  if (r.status().IsNotFound()) return std::string("none");
  if (!r.ok()) return r.status();
  return ParseOne<std::string>(*r, what, [](const Json& j) {
    std::string role = Str(j, "role_name");
    return role.empty() ? Str(j, "permission") : role;
  });
}

Result<std::vector<CheckRun>> RestGitHubClient::ListCheckRuns(const std::string& repo,
                                                              const std::string& ref) {
  std::string what = "listing check runs of " + ref;
  Result<std::vector<std::string>> pages = GetAllPages(
      repo, "/repos/" + repo + "/commits/" + Escape(ref, true) + "/check-runs?per_page=100",
      what);  // branch names keep their slashes, as GitHub expects
  if (!pages.ok()) return pages.status();
  return ParseList<CheckRun>(*pages, what, ParseCheckRun, "check_runs");
}

Result<std::vector<CheckAnnotation>> RestGitHubClient::ListCheckAnnotations(const std::string& repo,
                                                                            int64_t id) {
  std::string what = "listing annotations of check run " + std::to_string(id);
  Result<std::vector<std::string>> pages = GetAllPages(
      repo, "/repos/" + repo + "/check-runs/" + std::to_string(id) + "/annotations?per_page=100",
      what);
  if (!pages.ok()) return pages.status();
  return ParseList<CheckAnnotation>(*pages, what, [](const Json& j) {
    return CheckAnnotation{Str(j, "path"), Int(j, "start_line"), Str(j, "annotation_level"),
                           Str(j, "message")};
  });
}

Result<std::string> RestGitHubClient::GetJobLog(const std::string& repo, int64_t job_id) {
  std::string what = "reading the log of job " + std::to_string(job_id);
  Result<HttpResponse> r =
      Do({.repo = repo,
          .target = "/repos/" + repo + "/actions/jobs/" + std::to_string(job_id) + "/logs",
          .what = what,
          .redirect = true});
  if (!r.ok()) return r.status();
  if (r->status / 100 == 2) return r->body;
  // The log lives elsewhere, at a signed URL: asked for without orch's token.
  std::string location = r->Header("location");
  size_t scheme = location.find("://");
  if (scheme == std::string::npos) return Status::IOError(what, "a redirect without a URL");
  std::string origin = location.substr(0, location.find('/', scheme + 3));
  Result<std::unique_ptr<HttpSession>> blob = HttpSession::Open(origin);
  if (!blob.ok()) return blob.status().Prefixed(what);
  Result<HttpResponse> log =
      (*blob)->Send("GET", location, {{"User-Agent", std::string("orch/") + ORCH_VERSION}});
  if (!log.ok()) return log.status().Prefixed(what);
  ORCH_RETURN_IF_ERROR(StatusFromResponse(*log, what, clock_.NowUnix()));
  return log->body;
}

Result<std::vector<RepoHook>> RestGitHubClient::ListRepoHooks(const std::string& repo) {
  std::string what = "listing webhooks of " + repo;
  Result<std::vector<std::string>> pages =
      GetAllPages(repo, "/repos/" + repo + "/hooks?per_page=100", what);
  if (!pages.ok()) return pages.status();
  return ParseList<RepoHook>(*pages, what, [](const Json& j) {
    auto active = j.find("active");
    return RepoHook{Int(j, "id"), active != j.end() && active->is_boolean() && active->get<bool>(),
                    Str(JsonObject(j, "config"), "url")};
  });
}

Result<std::vector<HookDelivery>> RestGitHubClient::ListHookDeliveries(const std::string& repo,
                                                                       int64_t hook_id,
                                                                       int per_page) {
  std::string what = "listing deliveries of webhook " + std::to_string(hook_id) + " of " + repo;
  // One page: the newest are what tell whether deliveries get through now.
  Result<HttpResponse> r = Do({.repo = repo,
                               .target = "/repos/" + repo + "/hooks/" + std::to_string(hook_id) +
                                         "/deliveries?per_page=" + std::to_string(per_page),
                               .what = what});
  if (!r.ok()) return r.status();
  return ParseList<HookDelivery>({r->body}, what, [](const Json& j) {
    auto redelivery = j.find("redelivery");
    HookDelivery d;
    d.id = Int(j, "id");
    d.guid = Str(j, "guid");
    d.delivered_at = Str(j, "delivered_at");
    d.redelivery = redelivery != j.end() && redelivery->is_boolean() && redelivery->get<bool>();
    d.status_code = static_cast<int>(Int(j, "status_code"));
    d.status = Str(j, "status");
    d.event = Str(j, "event");
    d.action = Str(j, "action");
    return d;
  });
}

}  // namespace orch
