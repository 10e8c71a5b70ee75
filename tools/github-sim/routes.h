// The simulator's routes as rows of tables: GitHub's REST API (issues, pulls, account) and the
// /_sim control API. Each row names a method, a path regex, how the caller must authenticate
// and a handler; server.cc puts auth, the rate limit, ETags, faults and the request log in
// front of the REST rows, and sends the webhooks a handler asks for.
//
// Handlers run with `Sim::mu` held (unless the row says otherwise) and never block: they change
// State, render JSON and return the webhooks to send, which the server sends once the mutex is
// released, so orch may call back into the simulator while it handles one.
#ifndef ORCH_SIM_ROUTES_H_
#define ORCH_SIM_ROUTES_H_

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "jwt.h"
#include "render.h"
#include "seed.h"
#include "state.h"
#include "traffic.h"
#include "webhooks.h"
#include "wire.h"

namespace orch::sim {

// Everything the routes share. `mu` guards every member except `deliverer` (thread-safe on its
// own) and `settings`, `jwt` and `wall` (never changed after construction).
struct Sim {
  Sim(Seeded seeded, std::optional<JwtVerifier> verifier, std::function<int64_t()> wall_clock,
      std::string webhook_url, std::string webhook_secret)
      : settings(std::move(seeded.settings)),
        state(std::move(seeded.state)),
        rate(settings.rate_limit, wall_clock()),
        jwt(std::move(verifier)),
        wall(std::move(wall_clock)),
        deliverer(std::move(webhook_url), std::move(webhook_secret)) {}

  std::mutex mu;
  Settings settings;
  State state;
  RateLimiter rate;
  FaultTable faults;
  std::vector<nlohmann::json> requests;           // GET /_sim/requests
  std::map<std::string, int64_t> install_tokens;  // issued "ghs_" token -> expiry (unix)
  const std::optional<JwtVerifier> jwt;           // set when the seed has an app
  const std::function<int64_t()> wall;            // unix seconds
  Deliverer deliverer;
};

// A request as a handler sees it, after the server's checks.
struct Call {
  const httplib::Request& req;
  Urls urls;
  std::string url;           // absolute URL of the path, without the query (for Link)
  Query query;               // as sent, in order
  nlohmann::json body;       // parsed JSON body; an empty object when there was none
  std::string login;         // who is calling: a user, "<slug>[bot]" or "" (control API)
  bool plain_token = false;  // authenticated by a (classic) token, not an App
  std::string match(size_t i) const { return req.matches[i].str(); }
};

// A handler's answer. `webhooks` go out after the mutex is released: REST ones in the
// background, control ones before the answer, which then carries "delivery".
struct Reply {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Webhook> webhooks;
  // Set: sent as is with `content_type` instead of `body` (job logs, redirects).
  std::optional<std::string> text;
  std::string content_type = "text/plain; charset=utf-8";
};

enum class Auth {
  kToken,  // a user or installation token
  kJwt,    // a GitHub App JWT
  kNone,   // the control API
};

struct Route {
  const char* method;
  std::string pattern;
  Auth auth;
  Reply (*handler)(Sim& sim, const Call& call);
  bool needs_state = true;  // false: runs without `Sim::mu` (it may block on deliveries)
};

std::vector<Route> AccountRoutes();
std::vector<Route> IssueRoutes();
std::vector<Route> PullRoutes();
std::vector<Route> ControlRoutes();  // acting as a person; includes AdminRoutes()
std::vector<Route> AdminRoutes();    // faults, webhook target, deliveries, logs, state

// --- Replies GitHub sends ---
Reply JsonReply(int status, nlohmann::json body);
// 404 {"message": message, "documentation_url": ...}.
Reply NotFound(const std::string& message = "Not Found");
// 404 for NotFound, otherwise 422 "Validation Failed" with GitHub's `errors` entry built from
// the "<resource>: <reason>" message.
Reply FromStatus(const Status& status);
// One page of `items` with GitHub's Link header.
Reply Paged(const Sim& sim, const Call& call, const std::vector<nlohmann::json>& items);

// --- Lookups on the regex groups (1: owner, 2: repo, 3: number) ---
Repo* FindRepo(Sim& sim, const Call& call);
Issue* FindIssue(Sim& sim, Repo& repo, const std::string& number);
// The issue or pull request of groups 1-3; `pulls_only` turns plain issues into a 404.
std::pair<Repo*, Issue*> FindTarget(Sim& sim, const Call& call, bool pulls_only);

// --- Webhooks ---
// `issues` (or `pull_request` for a pull request) with `action`, carrying the item.
Webhook ItemHook(const Sim& sim, const Urls& urls, const std::string& action, const Repo& repo,
                 const Issue& issue, const std::string& sender);
// `issue_comment` created.
Webhook CommentHook(const Sim& sim, const Urls& urls, const Repo& repo, const Issue& issue,
                    const Comment& comment, const std::string& sender);
// `pull_request_review_comment` created, carrying the comment and the pull request.
Webhook ReviewCommentHook(const Sim& sim, const Urls& urls, const Repo& repo, const Issue& pull,
                          const ReviewComment& comment, const std::string& sender);
// `pull_request_review` submitted, review state in lowercase.
Webhook ReviewHook(const Sim& sim, const Urls& urls, const Repo& repo, const Issue& pull,
                   const Review& review);

// `check_run` with "completed" when the run is, else "created"; carries the run.
Webhook CheckRunHook(const Sim& sim, const Urls& urls, const Repo& repo, const CheckRun& run,
                     const std::string& sender);
// When `run` completed the last run of its suite: `check_suite` and `workflow_run` `completed`
// (GitHub Actions: the suite is the workflow run), concluding failure (or timed_out) when any
// run of it did, else success. None while a run of the suite is still going.
std::vector<Webhook> SuiteHooks(const Sim& sim, const Urls& urls, const Repo& repo,
                                const CheckRun& run, const std::string& sender);

// --- Job logs: GitHub redirects to a signed blob URL that needs no token ---
// The simulator's blob path of a job's log: /_sim/blobs/job-logs/{id}?sig=...
std::string JobLogPath(int64_t job_id);
// Whether `sig` is the one JobLogPath signs `job_id` with.
bool JobLogSignatureOk(int64_t job_id, const std::string& sig);

// A string field of the JSON body, or `fallback` when absent or not a string.
std::string BodyString(const Call& call, const char* key, const std::string& fallback = "");
// A pull request as the JSON body describes it (title, body, head, base, draft), by `user`.
NewPull NewPullFromBody(const Call& call, const std::string& user);

// The filter of GET /issues (`pulls` false) or GET /pulls. Fails with InvalidArgument
// ("Issue: ...") for a bad state or since.
Result<IssueFilter> ReadFilter(const Query& query, bool pulls);
// The filter of the repository-wide comment lists: `sort` created|updated (created),
// `direction` asc|desc (asc), `since`. Fails with InvalidArgument ("Comment: ...") otherwise.
Result<CommentFilter> ReadCommentFilter(const Query& query);
// A comment id of a path (digits only), or nullopt.
std::optional<int64_t> ParseId(const std::string& digits);

// --- Reactions on a comment, as the token's user ---
// POST {"content": C}: 201 with a new reaction, 200 with the user's existing one, 422 for a
// content GitHub does not know.
Reply AddReaction(Sim& sim, const Call& call, std::vector<Reaction>& reactions);
// GET, paged; `content` narrows to one content.
Reply ListReactions(const Sim& sim, const Call& call, const std::vector<Reaction>& reactions);

}  // namespace orch::sim

#endif  // ORCH_SIM_ROUTES_H_
