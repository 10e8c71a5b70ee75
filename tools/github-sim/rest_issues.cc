// GitHub's REST endpoints for issues, their labels, comments (and the comments' reactions) and
// events, and repository labels.
#include <nlohmann/json.hpp>

#include "routes.h"

namespace orch::sim {
namespace {

using nlohmann::json;

constexpr char kRepo[] = R"(/repos/([^/]+)/([^/]+))";

std::string P(const char* suffix) { return std::string(kRepo) + suffix; }

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string piece = s.substr(start, comma - start);
    while (!piece.empty() && piece.front() == ' ') piece.erase(0, 1);
    while (!piece.empty() && piece.back() == ' ') piece.pop_back();
    if (!piece.empty()) out.push_back(piece);
    start = comma + 1;
  }
  return out;
}

// The label names of POST .../labels: {"labels": ["a", {"name": "b"}]} or a bare array.
std::vector<std::string> LabelNames(const json& body) {
  const json& list = body.is_array() ? body : body.value("labels", json::array());
  std::vector<std::string> names;
  for (const json& item : list) {
    if (item.is_string()) names.push_back(item.get<std::string>());
    if (item.is_object() && item.contains("name") && item["name"].is_string()) {
      names.push_back(item["name"].get<std::string>());
    }
  }
  return names;
}

json IssueLabels(const Repo& repo, const Issue& issue, const Urls& urls) {
  json out = json::array();
  for (const std::string& name : issue.labels) {
    for (const Label& l : repo.labels) {
      if (SameName(l.name, name)) out.push_back(LabelJson(repo, l, urls));
    }
  }
  return out;
}

}  // namespace

Result<IssueFilter> ReadFilter(const Query& query, bool pulls) {
  IssueFilter f;
  f.pulls_only = pulls;
  f.state = QueryValue(query, "state").value_or("open");
  if (f.state != "open" && f.state != "closed" && f.state != "all") {
    return Status::InvalidArgument("Issue", "state must be open, closed or all");
  }
  f.labels = SplitCommas(QueryValue(query, "labels").value_or(""));
  if (auto since = QueryValue(query, "since")) {
    f.since = ParseIso(*since);
    if (!f.since) return Status::InvalidArgument("Issue", "since is not an ISO-8601 time");
  }
  f.sort = QueryValue(query, "sort").value_or("created");
  // GitHub lists pulls sorted by anything but `created` oldest first unless told otherwise.
  std::string fallback = pulls && f.sort != "created" ? "asc" : "desc";
  f.ascending = QueryValue(query, "direction").value_or(fallback) == "asc";
  f.head = QueryValue(query, "head").value_or("");
  f.base = QueryValue(query, "base").value_or("");
  return f;
}

namespace {

Reply ListIssues(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<IssueFilter> filter = ReadFilter(call.query, /*pulls=*/false);
  if (!filter.ok()) return FromStatus(filter.status());
  std::vector<json> items;
  for (const Issue* issue : sim.state.List(*repo, *filter)) {
    items.push_back(IssueJson(*repo, *issue, call.urls));
  }
  return Paged(sim, call, items);
}

Reply GetIssue(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  return JsonReply(200, IssueJson(*repo, *issue, call.urls));
}

Reply CreateIssue(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  NewIssue in{call.login, BodyString(call, "title"), BodyString(call, "body"),
              LabelNames(call.body)};
  Result<Issue*> issue = sim.state.CreateIssue(*repo, in);
  if (!issue.ok()) return FromStatus(issue.status());
  Reply r = JsonReply(201, IssueJson(*repo, **issue, call.urls));
  r.webhooks.push_back(ItemHook(sim, call.urls, "opened", *repo, **issue, call.login));
  return r;
}

// PATCH: title, body and state ("open" / "closed").
Reply UpdateIssue(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  std::optional<std::string> title, body;
  if (call.body.contains("title")) title = BodyString(call, "title");
  if (call.body.contains("body")) body = BodyString(call, "body");
  if (title && title->empty())
    return FromStatus(Status::InvalidArgument("Issue", "title is empty"));
  Reply r;
  if (sim.state.Edit(*issue, title, body)) {
    r.webhooks.push_back(ItemHook(sim, call.urls, "edited", *repo, *issue, call.login));
  }
  std::string state = BodyString(call, "state");
  if ((state == "open" || state == "closed") &&
      sim.state.SetOpen(*issue, call.login, state == "open")) {
    r.webhooks.push_back(ItemHook(sim, call.urls, state == "open" ? "reopened" : "closed", *repo,
                                  *issue, call.login));
  }
  r.body = IssueJson(*repo, *issue, call.urls);
  return r;
}

Reply ListEvents(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  std::vector<json> items;
  for (const IssueEvent& e : issue->events) items.push_back(EventJson(*repo, e, call.urls));
  return Paged(sim, call, items);
}

Reply ListIssueLabels(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  return JsonReply(200, IssueLabels(*repo, *issue, call.urls));
}

Reply AddLabels(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  Reply r;
  for (const Label& added : sim.state.AddLabels(*repo, *issue, call.login, LabelNames(call.body))) {
    Webhook hook = ItemHook(sim, call.urls, "labeled", *repo, *issue, call.login);
    hook.payload["label"] = LabelJson(*repo, added, call.urls);
    r.webhooks.push_back(std::move(hook));
  }
  r.body = IssueLabels(*repo, *issue, call.urls);
  return r;
}

Reply RemoveLabel(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  Result<Label> removed = sim.state.RemoveLabel(*repo, *issue, call.login, call.match(4));
  if (!removed.ok()) return FromStatus(removed.status());
  Reply r = JsonReply(200, IssueLabels(*repo, *issue, call.urls));
  Webhook hook = ItemHook(sim, call.urls, "unlabeled", *repo, *issue, call.login);
  hook.payload["label"] = LabelJson(*repo, *removed, call.urls);
  r.webhooks.push_back(std::move(hook));
  return r;
}

Reply ListRepoLabels(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  std::vector<json> items;
  for (const Label& l : repo->labels) items.push_back(LabelJson(*repo, l, call.urls));
  return Paged(sim, call, items);
}

Reply GetRepoLabel(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  const Label* label = sim.state.FindLabel(*repo, call.match(3));
  if (label == nullptr) return NotFound();
  return JsonReply(200, LabelJson(*repo, *label, call.urls));
}

Reply CreateRepoLabel(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Label in{0, BodyString(call, "name"), BodyString(call, "color", "ededed"),
           BodyString(call, "description")};
  Result<Label> label = sim.state.CreateLabel(*repo, in);
  if (!label.ok()) return FromStatus(label.status());
  return JsonReply(201, LabelJson(*repo, *label, call.urls));
}

Reply ListComments(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  std::optional<int64_t> since;
  if (auto s = QueryValue(call.query, "since")) since = ParseIso(*s);
  std::vector<json> items;
  for (const Comment& c : issue->comments) {
    if (!since || c.updated_at >= *since) items.push_back(CommentJson(*repo, *issue, c, call.urls));
  }
  return Paged(sim, call, items);
}

Reply CreateComment(Sim& sim, const Call& call) {
  auto [repo, issue] = FindTarget(sim, call, /*pulls_only=*/false);
  if (issue == nullptr) return NotFound();
  std::string text = BodyString(call, "body");
  if (text.empty()) return FromStatus(Status::InvalidArgument("IssueComment", "body is empty"));
  const Comment& comment = sim.state.AddComment(*issue, call.login, text);
  Reply r = JsonReply(201, CommentJson(*repo, *issue, comment, call.urls));
  r.webhooks.push_back(CommentHook(sim, call.urls, *repo, *issue, comment, call.login));
  return r;
}

// GET /repos/{o}/{r}/issues/comments: every issue comment of the repository.
Reply ListRepoComments(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  Result<CommentFilter> filter = ReadCommentFilter(call.query);
  if (!filter.ok()) return FromStatus(filter.status());
  std::vector<json> items;
  for (const Located<Comment>& c : sim.state.ListComments(*repo, *filter)) {
    items.push_back(CommentJson(*repo, *c.issue, *c.comment, call.urls));
  }
  return Paged(sim, call, items);
}

// The issue comment of groups 1-3 (owner, repo, comment id), or null.
Comment* FindCommentOf(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  std::optional<int64_t> id = ParseId(call.match(3));
  if (repo == nullptr || !id) return nullptr;
  return sim.state.FindComment(*repo, *id).second;
}

Reply ReactToComment(Sim& sim, const Call& call) {
  Comment* comment = FindCommentOf(sim, call);
  if (comment == nullptr) return NotFound();
  return AddReaction(sim, call, comment->reactions);
}

Reply ListCommentReactions(Sim& sim, const Call& call) {
  Comment* comment = FindCommentOf(sim, call);
  if (comment == nullptr) return NotFound();
  return ListReactions(sim, call, comment->reactions);
}

}  // namespace

std::vector<Route> IssueRoutes() {
  return {
      {"GET", P("/issues"), Auth::kToken, ListIssues},
      {"GET", P("/issues/comments"), Auth::kToken, ListRepoComments},
      {"GET", P(R"(/issues/comments/(\d+)/reactions)"), Auth::kToken, ListCommentReactions},
      {"POST", P(R"(/issues/comments/(\d+)/reactions)"), Auth::kToken, ReactToComment},
      {"POST", P("/issues"), Auth::kToken, CreateIssue},
      {"GET", P(R"(/issues/(\d+))"), Auth::kToken, GetIssue},
      {"PATCH", P(R"(/issues/(\d+))"), Auth::kToken, UpdateIssue},
      {"GET", P(R"(/issues/(\d+)/events)"), Auth::kToken, ListEvents},
      {"GET", P(R"(/issues/(\d+)/labels)"), Auth::kToken, ListIssueLabels},
      {"POST", P(R"(/issues/(\d+)/labels)"), Auth::kToken, AddLabels},
      {"DELETE", P(R"(/issues/(\d+)/labels/([^/]+))"), Auth::kToken, RemoveLabel},
      {"GET", P(R"(/issues/(\d+)/comments)"), Auth::kToken, ListComments},
      {"POST", P(R"(/issues/(\d+)/comments)"), Auth::kToken, CreateComment},
      {"GET", P("/labels"), Auth::kToken, ListRepoLabels},
      {"POST", P("/labels"), Auth::kToken, CreateRepoLabel},
      {"GET", P("/labels/([^/]+)"), Auth::kToken, GetRepoLabel},
  };
}

}  // namespace orch::sim
