// GitHub's REST endpoints for pull requests, their reviews and review comments (and those
// comments' reactions), check runs with their annotations, and Actions job logs.
#include <nlohmann/json.hpp>

#include "mergeable.h"
#include "routes.h"

namespace orch::sim {
namespace {

using nlohmann::json;

std::string P(const char* suffix) { return std::string(R"(/repos/([^/]+)/([^/]+))") + suffix; }

// Works the pull request's mergeability out again when its base or head moved (mergeable.h):
// the first read after a move shows "unknown", the next the result.
void Refresh(const Repo& repo, Issue& pull) {
  PullPart& p = *pull.pull;
  if (repo.git_dir.empty() || p.merged || pull.state != "open") return;
  MergeCheck check = CheckMerge(repo.git_dir, p.base_ref, p.head_ref);
  if (!check.ok) {
    p.merge_key.clear();
    p.merge_shown = false;
    return;
  }
  // GitHub's head.sha and base.sha follow the branches.
  p.base_sha = check.key.substr(0, check.key.find(' '));
  p.head_sha = check.key.substr(check.key.find(' ') + 1);
  if (check.key == p.merge_key) {
    p.merge_shown = true;
    return;
  }
  p.merge_key = check.key;
  p.merge_clean = check.clean;
  p.conflicts = check.conflicts;
  p.merge_shown = false;
}

Reply ListPulls(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<IssueFilter> filter = ReadFilter(call.query, /*pulls=*/true);
  if (!filter.ok()) return FromStatus(filter.status());
  std::vector<json> items;
  for (const Issue* pull : sim.state.List(*repo, *filter)) {
    Refresh(*repo, *sim.state.FindIssue(*repo, pull->number));
    items.push_back(PullJson(*repo, *pull, call.urls));
  }
  return Paged(sim, call, items);
}

Reply GetPull(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  Refresh(*repo, *pull);
  return JsonReply(200, PullJson(*repo, *pull, call.urls));
}

Reply CreatePull(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<Issue*> pull = sim.state.CreatePull(*repo, NewPullFromBody(call, call.login));
  if (!pull.ok()) return FromStatus(pull.status());
  Reply r = JsonReply(201, PullJson(*repo, **pull, call.urls));
  r.webhooks.push_back(ItemHook(sim, call.urls, "opened", *repo, **pull, call.login));
  return r;
}

Reply ListReviews(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  std::vector<json> items;
  for (const Review& r : pull->pull->reviews)
    items.push_back(ReviewJson(*repo, *pull, r, call.urls));
  return Paged(sim, call, items);
}

Reply ListReviewComments(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  for (const Review& review : pull->pull->reviews) {
    if (std::to_string(review.id) != call.match(4)) continue;
    std::vector<json> items;
    for (const ReviewComment& c : review.comments) {
      items.push_back(ReviewCommentJson(*repo, *pull, c, call.urls));
    }
    return Paged(sim, call, items);
  }
  return NotFound();
}

// GET /repos/{o}/{r}/pulls/comments: every review comment of the repository.
Reply ListRepoReviewComments(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<CommentFilter> filter = ReadCommentFilter(call.query);
  if (!filter.ok()) return FromStatus(filter.status());
  std::vector<json> items;
  for (const Located<ReviewComment>& c : sim.state.ListReviewComments(*repo, *filter)) {
    items.push_back(ReviewCommentJson(*repo, *c.issue, *c.comment, call.urls));
  }
  return Paged(sim, call, items);
}

// The review comment of groups 1-3 (owner, repo, comment id), or null.
ReviewComment* FindReviewCommentOf(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  std::optional<int64_t> id = ParseId(call.match(3));
  if (repo == nullptr || !id) return nullptr;
  return sim.state.FindReviewComment(*repo, *id).second;
}

Reply ReactToReviewComment(Sim& sim, const Call& call) {
  ReviewComment* comment = FindReviewCommentOf(sim, call);
  if (comment == nullptr) return NotFound();
  return AddReaction(sim, call, comment->reactions);
}

Reply ListReviewCommentReactions(Sim& sim, const Call& call) {
  ReviewComment* comment = FindReviewCommentOf(sim, call);
  if (comment == nullptr) return NotFound();
  return ListReactions(sim, call, comment->reactions);
}

Reply ListCheckRuns(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  json runs = json::array();
  for (const CheckRun& run : sim.state.CheckRuns(*repo, call.match(3))) {
    runs.push_back(CheckRunJson(*repo, run, call.urls));
  }
  return JsonReply(200, {{"total_count", runs.size()}, {"check_runs", std::move(runs)}});
}

// The check run (or Actions job: same id) of groups 1-3, with its repository; nulls when none.
std::pair<Repo*, const CheckRun*> FindRun(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  std::optional<int64_t> id = ParseId(call.match(3));
  if (repo == nullptr || !id) return {nullptr, nullptr};
  return {repo, sim.state.FindCheckRun(*repo, *id)};
}

Reply GetCheckRun(Sim& sim, const Call& call) {
  auto [repo, run] = FindRun(sim, call);
  if (run == nullptr) return NotFound();
  return JsonReply(200, CheckRunJson(*repo, *run, call.urls));
}

Reply ListAnnotations(Sim& sim, const Call& call) {
  auto [repo, run] = FindRun(sim, call);
  if (run == nullptr) return NotFound();
  std::vector<json> items;
  for (const Annotation& a : run->annotations) {
    items.push_back(AnnotationJson(*repo, *run, a, call.urls));
  }
  return Paged(sim, call, items);
}

// GitHub answers 302 to a short-lived signed blob URL that needs no token.
Reply DownloadJobLogs(Sim& sim, const Call& call) {
  auto [repo, run] = FindRun(sim, call);
  if (run == nullptr) return NotFound();
  Reply r;
  r.status = 302;
  r.text = "";
  r.headers.emplace_back("Location", call.urls.api + JobLogPath(run->id));
  return r;
}

}  // namespace

std::vector<Route> PullRoutes() {
  return {
      {"GET", P("/pulls"), Auth::kToken, ListPulls},
      {"GET", P("/pulls/comments"), Auth::kToken, ListRepoReviewComments},
      {"GET", P(R"(/pulls/comments/(\d+)/reactions)"), Auth::kToken, ListReviewCommentReactions},
      {"POST", P(R"(/pulls/comments/(\d+)/reactions)"), Auth::kToken, ReactToReviewComment},
      {"POST", P("/pulls"), Auth::kToken, CreatePull},
      {"GET", P(R"(/pulls/(\d+))"), Auth::kToken, GetPull},
      {"GET", P(R"(/pulls/(\d+)/reviews)"), Auth::kToken, ListReviews},
      {"GET", P(R"(/pulls/(\d+)/reviews/(\d+)/comments)"), Auth::kToken, ListReviewComments},
      {"GET", P("/commits/(.+)/check-runs"), Auth::kToken, ListCheckRuns},  // refs hold slashes
      {"GET", P(R"(/check-runs/(\d+))"), Auth::kToken, GetCheckRun},
      {"GET", P(R"(/check-runs/(\d+)/annotations)"), Auth::kToken, ListAnnotations},
      {"GET", P(R"(/actions/jobs/(\d+)/logs)"), Auth::kToken, DownloadJobLogs},
  };
}

}  // namespace orch::sim
