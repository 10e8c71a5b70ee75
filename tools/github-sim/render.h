// GitHub's JSON shapes for what State holds: users, labels, repositories, issues, pull requests,
// comments, issue events, reviews, review comments, check runs, and the envelope every webhook
// payload shares. Field names and value spellings are GitHub's (REST v3, 2022-11-28), including
// its null fields, so a client written against api.github.com reads these unchanged.
//
// Pure functions of their arguments; thread-safe as long as the State they read is not being
// changed (the server holds its mutex while rendering).
#ifndef ORCH_SIM_RENDER_H_
#define ORCH_SIM_RENDER_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "state.h"

namespace orch::sim {

// Where links point: `api` is the simulator's base URL (orch's github.api_url) and `html` the
// web base (https://github.com unless the seed says otherwise). Neither ends in '/'.
struct Urls {
  std::string api;
  std::string html;
};

// A stable made-up id for a login (GitHub user ids never change).
int64_t UserId(const std::string& login);
// Logins ending in "[bot]" are GitHub Apps' bot accounts.
bool IsBot(const std::string& login);

nlohmann::json UserJson(const std::string& login, const Urls& urls);
nlohmann::json LabelJson(const Repo& repo, const Label& label, const Urls& urls);
nlohmann::json RepoJson(const Repo& repo, const Urls& urls);

// An issue as GET /issues lists it; pull requests carry a `pull_request` object.
nlohmann::json IssueJson(const Repo& repo, const Issue& issue, const Urls& urls);
// A pull request as GET /pulls/{n} returns it. `issue` must be a pull request.
nlohmann::json PullJson(const Repo& repo, const Issue& issue, const Urls& urls);

// Issue and review comments carry GitHub's `reactions` rollup (url, total_count, a count per
// content); a review comment that answers another carries `in_reply_to_id`.
nlohmann::json CommentJson(const Repo& repo, const Issue& issue, const Comment& comment,
                           const Urls& urls);
nlohmann::json EventJson(const Repo& repo, const IssueEvent& event, const Urls& urls);
// `review.state` as REST spells it (APPROVED, ...).
nlohmann::json ReviewJson(const Repo& repo, const Issue& pull, const Review& review,
                          const Urls& urls);
nlohmann::json ReviewCommentJson(const Repo& repo, const Issue& pull, const ReviewComment& c,
                                 const Urls& urls);
// {id, node_id, user, content, created_at}.
nlohmann::json ReactionJson(const Reaction& reaction, const Urls& urls);
// A check run as GET /check-runs/{id} returns it and the check_run webhook carries it: output
// with annotations_count and annotations_url, check_suite {id, head_branch, head_sha},
// pull_requests (the open ones whose head is the run's sha), the GitHub Actions app, and
// html_url = details_url = the Actions job page.
nlohmann::json CheckRunJson(const Repo& repo, const CheckRun& run, const Urls& urls);
// One entry of GET /check-runs/{id}/annotations.
nlohmann::json AnnotationJson(const Repo& repo, const CheckRun& run, const Annotation& a,
                              const Urls& urls);

// The `review` of a pull_request_review webhook: ReviewJson with the state in lowercase
// (approved, changes_requested, commented), as GitHub's webhooks spell it.
nlohmann::json WebhookReviewJson(const Repo& repo, const Issue& pull, const Review& review,
                                 const Urls& urls);

// What every webhook payload carries: action, repository, sender, and `installation` {id}
// when `installation_id` is not 0.
nlohmann::json WebhookEnvelope(const std::string& action, const Repo& repo,
                               const std::string& sender, int64_t installation_id,
                               const Urls& urls);

// Every repository with its labels, issues, pull requests, comments, reviews, events and
// check runs, for GET /_sim/state.
nlohmann::json DumpState(const State& state, const Urls& urls);

}  // namespace orch::sim

#endif  // ORCH_SIM_RENDER_H_
