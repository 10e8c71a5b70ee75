#include "render.h"

#include <algorithm>
#include <cctype>

#include "wire.h"

namespace orch::sim {
namespace {

using nlohmann::json;

json TimeOrNull(int64_t t) { return t == 0 ? json(nullptr) : json(FormatIso(t)); }
json TextOrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

std::string NodeId(const char* prefix, int64_t id) {
  return std::string(prefix) + "_kwDO" + std::to_string(id);
}

std::string RepoApi(const Repo& repo, const Urls& urls) {
  return urls.api + "/repos/" + repo.full_name();
}

std::string RepoHtml(const Repo& repo, const Urls& urls) {
  return urls.html + "/" + repo.full_name();
}

std::string IssueHtml(const Repo& repo, const Issue& issue, const Urls& urls) {
  return RepoHtml(repo, urls) + (issue.is_pull() ? "/pull/" : "/issues/") +
         std::to_string(issue.number);
}

// OWNER, COLLABORATOR or NONE: what GitHub says about a user's tie to a repository.
std::string AuthorAssociation(const Repo& repo, const std::string& login) {
  if (SameName(login, repo.owner)) return "OWNER";
  return CollaboratorRole(repo, login) == "none" ? "NONE" : "COLLABORATOR";
}

json LabelsJson(const Repo& repo, const Issue& issue, const Urls& urls) {
  json out = json::array();
  for (const std::string& name : issue.labels) {
    const Label* label = nullptr;
    for (const Label& l : repo.labels) {
      if (SameName(l.name, name)) label = &l;
    }
    if (label != nullptr) out.push_back(LabelJson(repo, *label, urls));
  }
  return out;
}

json PullLinks(const Repo& repo, const Issue& issue, const Urls& urls) {
  const std::string html = IssueHtml(repo, issue, urls);
  return {{"url", RepoApi(repo, urls) + "/pulls/" + std::to_string(issue.number)},
          {"html_url", html},
          {"diff_url", html + ".diff"},
          {"patch_url", html + ".patch"},
          {"merged_at", TimeOrNull(issue.pull->merged_at)}};
}

json BranchJson(const Repo& repo, const std::string& owner, const std::string& ref,
                const std::string& sha, const Urls& urls) {
  return {{"label", owner + ":" + ref},
          {"ref", ref},
          {"sha", sha},
          {"user", UserJson(owner, urls)},
          {"repo", RepoJson(repo, urls)}};
}

// GitHub's `reactions` rollup of a comment whose API URL is `url`.
json ReactionRollup(const std::string& url, const std::vector<Reaction>& reactions) {
  json out = {{"url", url + "/reactions"}, {"total_count", reactions.size()}};
  for (const char* content : kReactionContents) {
    out[content] = std::count_if(reactions.begin(), reactions.end(),
                                 [&](const Reaction& r) { return r.content == content; });
  }
  return out;
}

// The minimal pull request objects a check run names: {url, id, number, head, base}.
json CheckRunPulls(const Repo& repo, const CheckRun& run, const Urls& urls) {
  const json repo_ref = {{"id", repo.id}, {"url", RepoApi(repo, urls)}, {"name", repo.name}};
  json out = json::array();
  for (const Issue* pull : OpenPullsAt(repo, run.head_sha)) {
    const PullPart& p = *pull->pull;
    out.push_back({{"url", RepoApi(repo, urls) + "/pulls/" + std::to_string(pull->number)},
                   {"id", pull->id},
                   {"number", pull->number},
                   {"head", {{"ref", p.head_ref}, {"sha", p.head_sha}, {"repo", repo_ref}}},
                   {"base", {{"ref", p.base_ref}, {"sha", p.base_sha}, {"repo", repo_ref}}}});
  }
  return out;
}

}  // namespace

int64_t UserId(const std::string& login) {
  // FNV-1a over the lowercase login: stable across runs, case-insensitive like logins.
  uint64_t h = 1469598103934665603ULL;
  for (char c : login) {
    h ^= static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)));
    h *= 1099511628211ULL;
  }
  return static_cast<int64_t>(h % 90'000'000ULL) + 10'000'000;
}

bool IsBot(const std::string& login) {
  constexpr std::string_view kSuffix = "[bot]";
  return login.size() > kSuffix.size() &&
         login.compare(login.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

json UserJson(const std::string& login, const Urls& urls) {
  return {{"login", login},
          {"id", UserId(login)},
          {"node_id", NodeId(IsBot(login) ? "BOT" : "U", UserId(login))},
          {"type", IsBot(login) ? "Bot" : "User"},
          {"site_admin", false},
          {"url", urls.api + "/users/" + login},
          {"html_url", urls.html + "/" + login}};
}

json LabelJson(const Repo& repo, const Label& label, const Urls& urls) {
  return {{"id", label.id},
          {"node_id", NodeId("LA", label.id)},
          {"url", RepoApi(repo, urls) + "/labels/" + label.name},
          {"name", label.name},
          {"color", label.color},
          {"default", false},
          {"description", TextOrNull(label.description)}};
}

json RepoJson(const Repo& repo, const Urls& urls) {
  return {{"id", repo.id},
          {"node_id", NodeId("R", repo.id)},
          {"name", repo.name},
          {"full_name", repo.full_name()},
          {"private", false},
          {"owner", UserJson(repo.owner, urls)},
          {"html_url", RepoHtml(repo, urls)},
          {"url", RepoApi(repo, urls)},
          {"default_branch", repo.default_branch}};
}

json IssueJson(const Repo& repo, const Issue& issue, const Urls& urls) {
  const std::string api = RepoApi(repo, urls) + "/issues/" + std::to_string(issue.number);
  json out = {{"id", issue.id},
              {"node_id", NodeId(issue.is_pull() ? "PR" : "I", issue.id)},
              {"url", api},
              {"repository_url", RepoApi(repo, urls)},
              {"labels_url", api + "/labels{/name}"},
              {"comments_url", api + "/comments"},
              {"events_url", api + "/events"},
              {"html_url", IssueHtml(repo, issue, urls)},
              {"number", issue.number},
              {"title", issue.title},
              {"body", TextOrNull(issue.body)},
              {"user", UserJson(issue.user, urls)},
              {"labels", LabelsJson(repo, issue, urls)},
              {"state", issue.state},
              {"state_reason", TextOrNull(issue.state_reason)},
              {"locked", false},
              {"assignee", nullptr},
              {"assignees", json::array()},
              {"milestone", nullptr},
              {"comments", issue.comments.size()},
              {"created_at", FormatIso(issue.created_at)},
              {"updated_at", FormatIso(issue.updated_at)},
              {"closed_at", TimeOrNull(issue.closed_at)},
              {"author_association", AuthorAssociation(repo, issue.user)}};
  if (issue.is_pull()) {
    out["pull_request"] = PullLinks(repo, issue, urls);
    out["draft"] = issue.pull->draft;
  }
  return out;
}

// As GitHub: null while the merge is being worked out (and once merged or closed).
json MergeableJson(const Repo& repo, const Issue& issue) {
  const PullPart& p = *issue.pull;
  if (p.merged || issue.state != "open") return nullptr;
  if (repo.git_dir.empty()) return true;
  if (!p.merge_shown) return nullptr;
  return p.merge_clean;
}

std::string MergeableState(const Repo& repo, const Issue& issue) {
  json m = MergeableJson(repo, issue);
  if (m.is_null()) return "unknown";
  return m.get<bool>() ? "clean" : "dirty";
}

json PullJson(const Repo& repo, const Issue& issue, const Urls& urls) {
  const PullPart& p = *issue.pull;
  json out = PullLinks(repo, issue, urls);
  out.update({{"id", issue.id},
              {"node_id", NodeId("PR", issue.id)},
              {"issue_url", RepoApi(repo, urls) + "/issues/" + std::to_string(issue.number)},
              {"number", issue.number},
              {"state", issue.state},
              {"locked", false},
              {"title", issue.title},
              {"body", TextOrNull(issue.body)},
              {"user", UserJson(issue.user, urls)},
              {"labels", LabelsJson(repo, issue, urls)},
              {"draft", p.draft},
              {"merged", p.merged},
              {"merged_by", p.merged ? UserJson(p.merged_by, urls) : json(nullptr)},
              {"merge_commit_sha", p.merged ? json(p.head_sha) : json(nullptr)},
              {"mergeable", MergeableJson(repo, issue)},
              {"mergeable_state", MergeableState(repo, issue)},
              {"comments", issue.comments.size()},
              {"created_at", FormatIso(issue.created_at)},
              {"updated_at", FormatIso(issue.updated_at)},
              {"closed_at", TimeOrNull(issue.closed_at)},
              {"head", BranchJson(repo, p.head_owner, p.head_ref, p.head_sha, urls)},
              {"base", BranchJson(repo, repo.owner, p.base_ref, p.base_sha, urls)},
              {"author_association", AuthorAssociation(repo, issue.user)}});
  return out;
}

json CommentJson(const Repo& repo, const Issue& issue, const Comment& c, const Urls& urls) {
  const std::string url = RepoApi(repo, urls) + "/issues/comments/" + std::to_string(c.id);
  return {{"id", c.id},
          {"node_id", NodeId("IC", c.id)},
          {"url", url},
          {"html_url", IssueHtml(repo, issue, urls) + "#issuecomment-" + std::to_string(c.id)},
          {"issue_url", RepoApi(repo, urls) + "/issues/" + std::to_string(issue.number)},
          {"body", c.body},
          {"user", UserJson(c.user, urls)},
          {"created_at", FormatIso(c.created_at)},
          {"updated_at", FormatIso(c.updated_at)},
          {"author_association", AuthorAssociation(repo, c.user)},
          {"reactions", ReactionRollup(url, c.reactions)}};
}

json EventJson(const Repo& repo, const IssueEvent& e, const Urls& urls) {
  json out = {{"id", e.id},
              {"node_id", NodeId("E", e.id)},
              {"url", RepoApi(repo, urls) + "/issues/events/" + std::to_string(e.id)},
              {"actor", UserJson(e.actor, urls)},
              {"event", e.event},
              {"commit_id", nullptr},
              {"created_at", FormatIso(e.created_at)}};
  if (e.label) out["label"] = {{"name", e.label->name}, {"color", e.label->color}};
  return out;
}

json ReviewJson(const Repo& repo, const Issue& pull, const Review& r, const Urls& urls) {
  const std::string pr_api = RepoApi(repo, urls) + "/pulls/" + std::to_string(pull.number);
  return {{"id", r.id},
          {"node_id", NodeId("PRR", r.id)},
          {"user", UserJson(r.user, urls)},
          {"body", r.body},
          {"state", r.state},
          {"html_url", IssueHtml(repo, pull, urls) + "#pullrequestreview-" + std::to_string(r.id)},
          {"pull_request_url", pr_api},
          {"submitted_at", FormatIso(r.submitted_at)},
          {"commit_id", r.commit_id},
          {"author_association", AuthorAssociation(repo, r.user)}};
}

json WebhookReviewJson(const Repo& repo, const Issue& pull, const Review& r, const Urls& urls) {
  json out = ReviewJson(repo, pull, r, urls);
  std::string state = r.state;
  std::transform(state.begin(), state.end(), state.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  out["state"] = state;
  return out;
}

json ReviewCommentJson(const Repo& repo, const Issue& pull, const ReviewComment& c,
                       const Urls& urls) {
  const std::string pr_api = RepoApi(repo, urls) + "/pulls/" + std::to_string(pull.number);
  const std::string url = RepoApi(repo, urls) + "/pulls/comments/" + std::to_string(c.id);
  json out = {{"id", c.id},
              {"node_id", NodeId("PRRC", c.id)},
              {"pull_request_review_id", c.review_id},
              {"url", url},
              {"pull_request_url", pr_api},
              {"html_url", IssueHtml(repo, pull, urls) + "#discussion_r" + std::to_string(c.id)},
              {"path", c.path},
              {"line", c.line},
              {"original_line", c.line},
              {"side", "RIGHT"},
              {"diff_hunk", c.diff_hunk},
              {"body", c.body},
              {"user", UserJson(c.user, urls)},
              {"commit_id", pull.pull->head_sha},
              {"original_commit_id", pull.pull->head_sha},
              {"created_at", FormatIso(c.created_at)},
              {"updated_at", FormatIso(c.updated_at)},
              {"author_association", AuthorAssociation(repo, c.user)},
              {"reactions", ReactionRollup(url, c.reactions)}};
  if (c.in_reply_to_id != 0) out["in_reply_to_id"] = c.in_reply_to_id;  // absent otherwise
  return out;
}

json ReactionJson(const Reaction& r, const Urls& urls) {
  return {{"id", r.id},
          {"node_id", NodeId("REA", r.id)},
          {"user", UserJson(r.user, urls)},
          {"content", r.content},
          {"created_at", FormatIso(r.created_at)}};
}

json CheckRunJson(const Repo& repo, const CheckRun& run, const Urls& urls) {
  const std::string url = RepoApi(repo, urls) + "/check-runs/" + std::to_string(run.id);
  // GitHub Actions: a check run is a job, its suite a workflow run.
  const std::string page = RepoHtml(repo, urls) + "/actions/runs/" +
                           std::to_string(run.check_suite_id) + "/job/" + std::to_string(run.id);
  return {{"id", run.id},
          {"node_id", NodeId("CR", run.id)},
          {"name", run.name},
          {"head_sha", run.head_sha},
          {"external_id", ""},
          {"status", run.status},
          {"conclusion", TextOrNull(run.conclusion)},
          {"started_at", TimeOrNull(run.started_at)},
          {"completed_at", TimeOrNull(run.completed_at)},
          {"url", url},
          {"html_url", page},
          {"details_url", page},
          {"output",
           {{"title", TextOrNull(run.output_title)},
            {"summary", TextOrNull(run.output_summary)},
            {"text", nullptr},
            {"annotations_count", run.annotations.size()},
            {"annotations_url", url + "/annotations"}}},
          {"check_suite",
           {{"id", run.check_suite_id},
            {"head_branch", TextOrNull(run.head_branch)},
            {"head_sha", run.head_sha}}},
          {"app",
           {{"id", 15368},
            {"slug", "github-actions"},
            {"node_id", "MDM6QXBwMTUzNjg="},
            {"name", "GitHub Actions"}}},
          {"pull_requests", CheckRunPulls(repo, run, urls)}};
}

json AnnotationJson(const Repo& repo, const CheckRun& run, const Annotation& a, const Urls& urls) {
  return {{"path", a.path},
          {"blob_href", RepoHtml(repo, urls) + "/blob/" + run.head_sha + "/" + a.path},
          {"start_line", a.start_line},
          {"end_line", a.end_line},
          {"start_column", nullptr},
          {"end_column", nullptr},
          {"annotation_level", a.level},
          {"title", TextOrNull(a.title)},
          {"message", a.message},
          {"raw_details", TextOrNull(a.raw_details)}};
}

json WebhookEnvelope(const std::string& action, const Repo& repo, const std::string& sender,
                     int64_t installation_id, const Urls& urls) {
  json out = {
      {"action", action}, {"repository", RepoJson(repo, urls)}, {"sender", UserJson(sender, urls)}};
  if (installation_id != 0) {
    out["installation"] = {{"id", installation_id}, {"node_id", NodeId("MDIz", installation_id)}};
  }
  return out;
}

namespace {

json DumpIssue(const Repo& repo, const Issue& issue, const Urls& urls) {
  json out = IssueJson(repo, issue, urls);
  out["comment_list"] = json::array();
  for (const Comment& c : issue.comments)
    out["comment_list"].push_back(CommentJson(repo, issue, c, urls));
  out["event_list"] = json::array();
  for (const IssueEvent& e : issue.events) out["event_list"].push_back(EventJson(repo, e, urls));
  if (!issue.is_pull()) return out;
  out["pull"] = PullJson(repo, issue, urls);
  out["reviews"] = json::array();
  for (const Review& r : issue.pull->reviews) {
    json review = ReviewJson(repo, issue, r, urls);
    review["comments"] = json::array();
    for (const ReviewComment& c : r.comments) {
      review["comments"].push_back(ReviewCommentJson(repo, issue, c, urls));
    }
    out["reviews"].push_back(std::move(review));
  }
  return out;
}

json DumpRepo(const Repo& repo, const Urls& urls) {
  json out = RepoJson(repo, urls);
  out["collaborators"] = repo.collaborators;
  out["labels"] = json::array();
  for (const Label& l : repo.labels) out["labels"].push_back(LabelJson(repo, l, urls));
  out["issues"] = json::array();
  for (const auto& [number, issue] : repo.issues)
    out["issues"].push_back(DumpIssue(repo, issue, urls));
  out["check_runs"] = json::object();
  for (const auto& [sha, runs] : repo.check_runs) {
    for (const CheckRun& run : runs) {
      json one = CheckRunJson(repo, run, urls);
      one["annotations"] = json::array();
      for (const Annotation& a : run.annotations) {
        one["annotations"].push_back(AnnotationJson(repo, run, a, urls));
      }
      one["log"] = run.log;
      out["check_runs"][sha].push_back(std::move(one));
    }
  }
  return out;
}

}  // namespace

json DumpState(const State& state, const Urls& urls) {
  json repos = json::array();
  for (const auto& [name, repo] : state.repos()) repos.push_back(DumpRepo(repo, urls));
  return {{"now", FormatIso(state.now())}, {"repos", std::move(repos)}};
}

}  // namespace orch::sim
