#include "routes.h"

#include <charconv>

#include "github/webhook_signature.h"

namespace orch::sim {
namespace {

using nlohmann::json;

constexpr char kDocs[] = "https://docs.github.com/rest";

int64_t InstallationId(const Sim& sim) {
  return sim.settings.app.enabled() ? sim.settings.app.installation_id : 0;
}

// The GitHub `errors` entry for a "<resource>: <reason>" validation message.
json ValidationError(const std::string& message) {
  size_t colon = message.find(": ");
  std::string resource = colon == std::string::npos ? "Resource" : message.substr(0, colon);
  std::string reason = colon == std::string::npos ? message : message.substr(colon + 2);
  if (reason == "already_exists") {
    return {{"resource", resource}, {"code", "already_exists"}, {"field", "name"}};
  }
  return {{"resource", resource}, {"code", "custom"}, {"message", reason}};
}

}  // namespace

Reply JsonReply(int status, json body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply NotFound(const std::string& message) {
  return JsonReply(404, {{"message", message}, {"documentation_url", kDocs}});
}

Reply FromStatus(const Status& status) {
  if (status.IsNotFound()) return NotFound(status.message());
  return JsonReply(422, {{"message", "Validation Failed"},
                         {"errors", json::array({ValidationError(status.message())})},
                         {"documentation_url", kDocs}});
}

Reply Paged(const Sim& sim, const Call& call, const std::vector<json>& items) {
  PageRequest page = ReadPage(call.query, sim.settings.per_page_default);
  PageSlice slice = SlicePage(items.size(), page);
  Reply r = JsonReply(200, json::array());
  for (size_t i = slice.begin; i < slice.end; ++i) r.body.push_back(items[i]);
  std::string link = LinkHeader(call.url, call.query, page.page, slice.last_page);
  if (!link.empty()) r.headers.emplace_back("Link", link);
  return r;
}

Repo* FindRepo(Sim& sim, const Call& call) {
  return sim.state.FindRepo(call.match(1), call.match(2));
}

Issue* FindIssue(Sim& sim, Repo& repo, const std::string& number) {
  int n = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || p != number.data() + number.size()) return nullptr;
  return sim.state.FindIssue(repo, n);
}

std::pair<Repo*, Issue*> FindTarget(Sim& sim, const Call& call, bool pulls_only) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return {nullptr, nullptr};
  Issue* issue = FindIssue(sim, *repo, call.match(3));
  if (issue != nullptr && pulls_only && !issue->is_pull()) issue = nullptr;
  return {repo, issue};
}

Webhook ItemHook(const Sim& sim, const Urls& urls, const std::string& action, const Repo& repo,
                 const Issue& issue, const std::string& sender) {
  json payload = WebhookEnvelope(action, repo, sender, InstallationId(sim), urls);
  if (issue.is_pull()) {
    payload["number"] = issue.number;
    payload["pull_request"] = PullJson(repo, issue, urls);
    return {"pull_request", std::move(payload), repo.id};
  }
  payload["issue"] = IssueJson(repo, issue, urls);
  return {"issues", std::move(payload), repo.id};
}

Webhook CommentHook(const Sim& sim, const Urls& urls, const Repo& repo, const Issue& issue,
                    const Comment& comment, const std::string& sender) {
  json payload = WebhookEnvelope("created", repo, sender, InstallationId(sim), urls);
  payload["issue"] = IssueJson(repo, issue, urls);  // has `pull_request` on a pull request
  payload["comment"] = CommentJson(repo, issue, comment, urls);
  return {"issue_comment", std::move(payload), repo.id};
}

Webhook ReviewCommentHook(const Sim& sim, const Urls& urls, const Repo& repo, const Issue& pull,
                          const ReviewComment& comment, const std::string& sender) {
  json payload = WebhookEnvelope("created", repo, sender, InstallationId(sim), urls);
  payload["comment"] = ReviewCommentJson(repo, pull, comment, urls);
  payload["pull_request"] = PullJson(repo, pull, urls);
  return {"pull_request_review_comment", std::move(payload), repo.id};
}

Webhook ReviewHook(const Sim& sim, const Urls& urls, const Repo& repo, const Issue& pull,
                   const Review& review) {
  json payload = WebhookEnvelope("submitted", repo, review.user, InstallationId(sim), urls);
  payload["review"] = WebhookReviewJson(repo, pull, review, urls);
  payload["pull_request"] = PullJson(repo, pull, urls);
  return {"pull_request_review", std::move(payload), repo.id};
}

Webhook CheckRunHook(const Sim& sim, const Urls& urls, const Repo& repo, const CheckRun& run,
                     const std::string& sender) {
  const std::string action = run.status == "completed" ? "completed" : "created";
  json payload = WebhookEnvelope(action, repo, sender, InstallationId(sim), urls);
  payload["check_run"] = CheckRunJson(repo, run, urls);
  return {"check_run", std::move(payload), repo.id};
}

std::vector<Webhook> SuiteHooks(const Sim& sim, const Urls& urls, const Repo& repo,
                                const CheckRun& run, const std::string& sender) {
  auto runs = repo.check_runs.find(run.head_sha);
  if (run.status != "completed" || runs == repo.check_runs.end()) return {};
  std::string conclusion = "success";
  for (const CheckRun& r : runs->second) {
    if (r.check_suite_id != run.check_suite_id) continue;
    if (r.status != "completed") return {};  // the suite is not done yet
    if (r.conclusion == "failure" || r.conclusion == "timed_out") conclusion = r.conclusion;
  }
  const json check = CheckRunJson(repo, run, urls);
  json common = {{"id", run.check_suite_id}, {"head_branch", check["check_suite"]["head_branch"]},
                 {"head_sha", run.head_sha}, {"status", "completed"},
                 {"conclusion", conclusion}, {"pull_requests", check["pull_requests"]}};
  json suite = common;
  suite["app"] = check["app"];
  json workflow = common;
  workflow["name"] = "CI";
  workflow["event"] = "pull_request";
  const std::string page = check["html_url"];
  workflow["html_url"] = page.substr(0, page.find("/job/"));
  json suite_payload = WebhookEnvelope("completed", repo, sender, InstallationId(sim), urls);
  suite_payload["check_suite"] = suite;
  json workflow_payload = WebhookEnvelope("completed", repo, sender, InstallationId(sim), urls);
  workflow_payload["workflow_run"] = workflow;
  return {{"check_suite", std::move(suite_payload), repo.id},
          {"workflow_run", std::move(workflow_payload), repo.id}};
}

std::string JobLogSignature(int64_t job_id) {
  // Not a secret: it only makes the URL look and behave like GitHub's signed blob links.
  return Sha256Hex("orch-github-sim:job-logs:" + std::to_string(job_id)).substr(0, 32);
}

std::string JobLogPath(int64_t job_id) {
  return "/_sim/blobs/job-logs/" + std::to_string(job_id) + "?sig=" + JobLogSignature(job_id);
}

bool JobLogSignatureOk(int64_t job_id, const std::string& sig) {
  return sig == JobLogSignature(job_id);
}

Result<CommentFilter> ReadCommentFilter(const Query& query) {
  CommentFilter f;
  const std::string sort = QueryValue(query, "sort").value_or("created");
  const std::string direction = QueryValue(query, "direction").value_or("asc");
  if (sort != "created" && sort != "updated") {
    return Status::InvalidArgument("Comment", "sort must be created or updated");
  }
  if (direction != "asc" && direction != "desc") {
    return Status::InvalidArgument("Comment", "direction must be asc or desc");
  }
  f.by_updated = sort == "updated";
  f.ascending = direction == "asc";
  if (auto since = QueryValue(query, "since")) {
    f.since = ParseIso(*since);
    if (!f.since) return Status::InvalidArgument("Comment", "since is not an ISO-8601 time");
  }
  return f;
}

std::optional<int64_t> ParseId(const std::string& digits) {
  int64_t id = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return id;
}

Reply AddReaction(Sim& sim, const Call& call, std::vector<Reaction>& reactions) {
  Result<std::pair<const Reaction*, bool>> reacted =
      sim.state.React(reactions, call.login, BodyString(call, "content"));
  if (!reacted.ok()) return FromStatus(reacted.status());
  // GitHub answers 200 with the existing reaction when the user already gave this one.
  return JsonReply(reacted->second ? 201 : 200, ReactionJson(*reacted->first, call.urls));
}

Reply ListReactions(const Sim& sim, const Call& call, const std::vector<Reaction>& reactions) {
  const std::optional<std::string> content = QueryValue(call.query, "content");
  std::vector<json> items;
  for (const Reaction& r : reactions) {
    if (!content || r.content == *content) items.push_back(ReactionJson(r, call.urls));
  }
  return Paged(sim, call, items);
}

std::string BodyString(const Call& call, const char* key, const std::string& fallback) {
  auto it = call.body.find(key);
  return it != call.body.end() && it->is_string() ? it->get<std::string>() : fallback;
}

NewPull NewPullFromBody(const Call& call, const std::string& user) {
  auto draft = call.body.find("draft");
  return {user,
          BodyString(call, "title"),
          BodyString(call, "body"),
          BodyString(call, "head"),
          BodyString(call, "base"),
          draft != call.body.end() && draft->is_boolean() && draft->get<bool>()};
}

}  // namespace orch::sim
