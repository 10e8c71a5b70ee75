// The /_sim control API: act as a person on GitHub (each action changes State and sends the
// matching webhook), inject faults, point webhooks somewhere, and read back what happened
// (deliveries, requests, state, rate limit). No authentication.
#include <nlohmann/json.hpp>

#include "routes.h"

namespace orch::sim {
namespace {

using nlohmann::json;

constexpr char kDefaultActor[] = "octocat";

std::string P(const char* suffix) { return std::string(R"(/_sim/repos/([^/]+)/([^/]+))") + suffix; }

std::string Actor(const Call& call) {
  std::string user = BodyString(call, "user");
  if (user.empty()) user = QueryValue(call.query, "user").value_or("");
  return user.empty() ? kDefaultActor : user;
}

// An answer that will carry "delivery" (null unless a webhook goes out) and `key`: `value`.
Reply Acted(const char* key, json value) {
  return JsonReply(200, {{"delivery", nullptr}, {key, std::move(value)}});
}

Reply OpenIssue(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  std::vector<std::string> labels;
  for (const json& l : call.body.value("labels", json::array())) {
    if (l.is_string()) labels.push_back(l.get<std::string>());
  }
  Result<Issue*> issue = sim.state.CreateIssue(
      *repo, {Actor(call), BodyString(call, "title"), BodyString(call, "body"), labels});
  if (!issue.ok()) return FromStatus(issue.status());
  Reply r = Acted("issue", IssueJson(*repo, **issue, call.urls));
  r.webhooks.push_back(ItemHook(sim, call.urls, "opened", *repo, **issue, Actor(call)));
  return r;
}

Reply LabelIssue(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  std::vector<Label> added =
      sim.state.AddLabels(*repo, *issue, Actor(call), {BodyString(call, "label")});
  Reply r = Acted("issue", IssueJson(*repo, *issue, call.urls));
  for (const Label& label : added) {
    Webhook hook = ItemHook(sim, call.urls, "labeled", *repo, *issue, Actor(call));
    hook.payload["label"] = LabelJson(*repo, label, call.urls);
    r.body["label"] = hook.payload["label"];
    r.webhooks.push_back(std::move(hook));
  }
  return r;
}

Reply UnlabelIssue(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  Result<Label> removed = sim.state.RemoveLabel(*repo, *issue, Actor(call), call.match(4));
  if (!removed.ok()) return FromStatus(removed.status());
  Reply r = Acted("issue", IssueJson(*repo, *issue, call.urls));
  Webhook hook = ItemHook(sim, call.urls, "unlabeled", *repo, *issue, Actor(call));
  hook.payload["label"] = r.body["label"] = LabelJson(*repo, *removed, call.urls);
  r.webhooks.push_back(std::move(hook));
  return r;
}

Reply SetOpen(Sim& sim, const Call& call, bool open) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  bool changed = sim.state.SetOpen(*issue, Actor(call), open);
  Reply r = Acted(
      issue->is_pull() ? "pull_request" : "issue",
      issue->is_pull() ? PullJson(*repo, *issue, call.urls) : IssueJson(*repo, *issue, call.urls));
  if (changed) {
    r.webhooks.push_back(
        ItemHook(sim, call.urls, open ? "reopened" : "closed", *repo, *issue, Actor(call)));
  }
  return r;
}
Reply Close(Sim& sim, const Call& call) { return SetOpen(sim, call, false); }
Reply Reopen(Sim& sim, const Call& call) { return SetOpen(sim, call, true); }

Reply CommentOn(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  const Comment& c = sim.state.AddComment(*issue, Actor(call), BodyString(call, "body"));
  Reply r = Acted("comment", CommentJson(*repo, *issue, c, call.urls));
  r.webhooks.push_back(CommentHook(sim, call.urls, *repo, *issue, c, Actor(call)));
  return r;
}

Reply OpenPull(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<Issue*> pull = sim.state.CreatePull(*repo, NewPullFromBody(call, Actor(call)));
  if (!pull.ok()) return FromStatus(pull.status());
  Reply r = Acted("pull_request", PullJson(*repo, **pull, call.urls));
  r.webhooks.push_back(ItemHook(sim, call.urls, "opened", *repo, **pull, Actor(call)));
  return r;
}

std::vector<NewReviewComment> ReviewComments(const Call& call) {
  std::vector<NewReviewComment> out;
  for (const json& c : call.body.value("comments", json::array())) {
    if (!c.is_object()) continue;
    out.push_back(
        {c.value("path", ""), c.value("line", 0), c.value("body", ""), c.value("diff_hunk", "")});
  }
  return out;
}

Reply SubmitReview(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  Result<const Review*> review =
      sim.state.AddReview(*pull, Actor(call), BodyString(call, "state", "COMMENTED"),
                          BodyString(call, "body"), ReviewComments(call));
  if (!review.ok()) return FromStatus(review.status());
  Reply r = Acted("review", ReviewJson(*repo, *pull, **review, call.urls));
  r.body["review"]["comments"] = json::array();
  for (const ReviewComment& c : (*review)->comments) {
    r.body["review"]["comments"].push_back(ReviewCommentJson(*repo, *pull, c, call.urls));
  }
  r.webhooks.push_back(ReviewHook(sim, call.urls, *repo, *pull, **review));
  return r;
}

// A lone review comment (a COMMENTED review holding it), answered with the comment and its
// review; sends pull_request_review_comment created.
Reply CommentOnPull(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  NewReviewComment in{BodyString(call, "path"), call.body.value("line", 0),
                      BodyString(call, "body"), BodyString(call, "diff_hunk"),
                      call.body.value("in_reply_to", int64_t{0})};
  Result<const Review*> review = sim.state.AddSingleReviewComment(*pull, Actor(call), in);
  if (!review.ok()) return FromStatus(review.status());
  const ReviewComment& c = (*review)->comments.front();
  Reply r = Acted("comment", ReviewCommentJson(*repo, *pull, c, call.urls));
  r.body["review"] = ReviewJson(*repo, *pull, **review, call.urls);
  r.webhooks.push_back(ReviewCommentHook(sim, call.urls, *repo, *pull, c, Actor(call)));
  return r;
}

Reply Merge(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  Status merged = sim.state.Merge(*pull, Actor(call));
  if (!merged.ok()) return FromStatus(merged);
  Reply r = Acted("pull_request", PullJson(*repo, *pull, call.urls));
  r.webhooks.push_back(ItemHook(sim, call.urls, "closed", *repo, *pull, Actor(call)));
  return r;
}

Reply ClosePull(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  return Close(sim, call);
}

// The `annotations` of a check run body; fails with InvalidArgument for a malformed entry.
Result<std::vector<Annotation>> ReadAnnotations(const json& list) {
  std::vector<Annotation> out;
  if (!list.is_array()) return Status::InvalidArgument("CheckRun", "annotations must be a list");
  for (const json& a : list) {
    if (!a.is_object()) return Status::InvalidArgument("CheckRun", "an annotation is an object");
    Annotation one{a.value("path", ""),       a.value("start_line", 0),
                   a.value("end_line", 0),    a.value("annotation_level", "failure"),
                   a.value("message", ""),    a.value("title", ""),
                   a.value("raw_details", "")};
    if (one.end_line == 0) one.end_line = one.start_line;
    if (one.path.empty() || one.message.empty() || one.start_line <= 0) {
      return Status::InvalidArgument("CheckRun", "annotations need path, start_line and message");
    }
    if (one.level != "notice" && one.level != "warning" && one.level != "failure") {
      return Status::InvalidArgument("CheckRun",
                                     "annotation_level must be notice, warning or failure");
    }
    out.push_back(std::move(one));
  }
  return out;
}

// A check run as the body describes it, on `head_sha` or on the commit `ref` resolves to.
Result<CheckRun> ReadCheckRun(const Sim& sim, const Repo& repo, const Call& call) {
  CheckRun in;
  const std::string ref = BodyString(call, "ref");
  in.head_sha = BodyString(call, "head_sha");
  in.name = BodyString(call, "name");
  in.status = BodyString(call, "status", "completed");
  in.conclusion = BodyString(call, "conclusion");
  in.log = BodyString(call, "log");
  if ((ref.empty() && in.head_sha.empty()) || in.name.empty()) {
    return Status::InvalidArgument("CheckRun", "head_sha (or ref) and name are required");
  }
  if (in.status != "queued" && in.status != "in_progress" && in.status != "completed") {
    return Status::InvalidArgument("CheckRun", "status must be queued, in_progress or completed");
  }
  if (in.head_sha.empty()) {
    ResolvedRef at = sim.state.Resolve(repo, ref);
    in.head_sha = at.sha;
    in.head_branch = at.branch;
  } else {
    in.head_branch = ref;
    std::vector<const Issue*> pulls = OpenPullsAt(repo, in.head_sha);
    if (in.head_branch.empty() && !pulls.empty()) in.head_branch = pulls[0]->pull->head_ref;
  }
  const json output = call.body.value("output", json::object());
  if (output.is_object()) {
    in.output_title = output.value("title", "");
    in.output_summary = output.value("summary", "");
  }
  Result<std::vector<Annotation>> annotations =
      ReadAnnotations(call.body.value("annotations", json::array()));
  if (!annotations.ok()) return annotations.status();
  in.annotations = std::move(*annotations);
  return in;
}

// Sets a check run (GitHub Actions finishing a job, say) and sends `check_run`. The sender
// defaults to the author of the pull request at that commit: GitHub names whoever pushed.
Reply SetCheckRun(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<CheckRun> in = ReadCheckRun(sim, *repo, call);
  if (!in.ok()) return FromStatus(in.status());
  const CheckRun& run = sim.state.SetCheckRun(*repo, *in);
  std::string sender = BodyString(call, "sender");
  if (sender.empty()) {
    std::vector<const Issue*> pulls = OpenPullsAt(*repo, run.head_sha);
    sender = pulls.empty() ? Actor(call) : pulls[0]->user;
  }
  Reply r = Acted("check_run", CheckRunJson(*repo, run, call.urls));
  r.webhooks.push_back(CheckRunHook(sim, call.urls, *repo, run, sender));
  for (Webhook& hook : SuiteHooks(sim, call.urls, *repo, run, sender)) {
    r.webhooks.push_back(std::move(hook));
  }
  return r;
}

// A push GitHub learned of: the pull request's head moves to `sha`; sends `pull_request`
// `synchronize` (with before and after), its sender `user` or else the author.
Reply SetPullHead(Sim& sim, const Call& call) {
  auto [repo, pull] = FindTarget(sim, call, /*pulls_only=*/true);
  if (pull == nullptr) return NotFound();
  const std::string before = pull->pull->head_sha;
  Result<bool> changed = sim.state.SetHeadSha(*pull, BodyString(call, "sha"));
  if (!changed.ok()) return FromStatus(changed.status());
  Reply r = Acted("pull_request", PullJson(*repo, *pull, call.urls));
  if (*changed) {
    Webhook hook =
        ItemHook(sim, call.urls, "synchronize", *repo, *pull, BodyString(call, "user", pull->user));
    hook.payload["before"] = before;
    hook.payload["after"] = pull->pull->head_sha;
    r.webhooks.push_back(std::move(hook));
  }
  return r;
}

// Where the repository's git objects are (mergeable.h): {"dir": a bare repository}, "" none.
Reply SetGitDir(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  repo->git_dir = BodyString(call, "dir");
  return Acted("repository", {{"full_name", repo->full_name()}, {"git_dir", repo->git_dir}});
}

// The signed blob URL GET /actions/jobs/{id}/logs redirects to: the log as text, no token.
Reply JobLogBlob(Sim& sim, const Call& call) {
  std::optional<int64_t> id = ParseId(call.match(1));
  if (!id || !JobLogSignatureOk(*id, QueryValue(call.query, "sig").value_or(""))) {
    Reply r = JsonReply(403, json::object());
    r.text = "AuthenticationFailed: Server failed to authenticate the request.";
    return r;
  }
  for (const auto& [name, repo] : sim.state.repos()) {
    if (const CheckRun* run = sim.state.FindCheckRun(repo, *id)) {
      Reply r;
      r.text = run->log;
      return r;
    }
  }
  Reply r = JsonReply(404, json::object());
  r.text = "BlobNotFound: The specified blob does not exist.";
  return r;
}

}  // namespace

std::vector<Route> ControlRoutes() {
  std::vector<Route> routes = {
      {"POST", P("/issues"), Auth::kNone, OpenIssue},
      {"POST", P(R"(/issues/(\d+)/labels)"), Auth::kNone, LabelIssue},
      {"DELETE", P(R"(/issues/(\d+)/labels/([^/]+))"), Auth::kNone, UnlabelIssue},
      {"POST", P(R"(/issues/(\d+)/close)"), Auth::kNone, Close},
      {"POST", P(R"(/issues/(\d+)/reopen)"), Auth::kNone, Reopen},
      {"POST", P(R"(/issues/(\d+)/comments)"), Auth::kNone, CommentOn},
      {"POST", P("/pulls"), Auth::kNone, OpenPull},
      {"POST", P(R"(/pulls/(\d+)/reviews)"), Auth::kNone, SubmitReview},
      {"POST", P(R"(/pulls/(\d+)/comments)"), Auth::kNone, CommentOnPull},
      {"POST", P(R"(/pulls/(\d+)/merge)"), Auth::kNone, Merge},
      {"POST", P(R"(/pulls/(\d+)/close)"), Auth::kNone, ClosePull},
      {"POST", P(R"(/pulls/(\d+)/head)"), Auth::kNone, SetPullHead},
      {"POST", P("/check-runs"), Auth::kNone, SetCheckRun},
      {"POST", P("/git"), Auth::kNone, SetGitDir},
      {"GET", R"(/_sim/blobs/job-logs/(\d+))", Auth::kNone, JobLogBlob},
  };
  for (Route& r : AdminRoutes()) routes.push_back(std::move(r));
  return routes;
}

}  // namespace orch::sim
