#include "seed.h"

#include <nlohmann/json.hpp>

#include "wire.h"

namespace orch::sim {
namespace {

using nlohmann::json;

// json::value() that also accepts an explicit null as "absent".
template <typename T>
T Get(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

// Numbers may be given as 42 or "42" (JWT `iss` and app ids travel both ways).
int64_t GetId(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_string()) return std::stoll(it->get<std::string>());
  return it->get<int64_t>();
}

Status ReadSettings(const json& seed, Settings* s) {
  s->authenticated_user = Get<std::string>(seed, "authenticated_user", s->authenticated_user);
  s->tokens = Get<std::vector<std::string>>(seed, "tokens", {});
  s->oauth_scopes = Get<std::string>(seed, "oauth_scopes", s->oauth_scopes);
  s->per_page_default = Get<int>(seed, "per_page_default", s->per_page_default);
  s->rate_limit = Get<int>(seed, "rate_limit", s->rate_limit);
  s->html_url = Get<std::string>(seed, "html_url", s->html_url);
  if (auto start = Get<std::string>(seed, "start_time", ""); !start.empty()) {
    s->start_time = ParseIso(start);
    if (!s->start_time) return Status::InvalidArgument("start_time", "not an ISO-8601 time");
  }
  if (seed.contains("app") && !seed["app"].is_null()) {
    const json& app = seed["app"];
    s->app.id = GetId(app, "id");
    s->app.installation_id = GetId(app, "installation_id");
    s->app.slug = Get<std::string>(app, "slug", s->app.slug);
    s->app.name = Get<std::string>(app, "name", s->app.slug);
  }
  if (s->per_page_default < 1 || s->rate_limit < 0) {
    return Status::InvalidArgument("per_page_default/rate_limit", "out of range");
  }
  return Status::OK();
}

// Seeded items may fix their number; numbers only go up, as on GitHub.
Status Renumber(const json& item, Repo& repo, const std::string& where) {
  int number = Get<int>(item, "number", 0);
  if (number == 0) return Status::OK();
  if (number < repo.next_number) {
    return Status::InvalidArgument(where + ".number",
                                   "must be at least " + std::to_string(repo.next_number));
  }
  repo.next_number = number;
  return Status::OK();
}

// Applies what follows creation: "comments", then "state" and (pull requests) "merged".
void Finish(const json& item, State& state, Issue& issue) {
  for (const json& c : Get<json>(item, "comments", json::array())) {
    state.AddComment(issue, Get<std::string>(c, "user", issue.user),
                     Get<std::string>(c, "body", ""));
  }
  if (Get<std::string>(item, "state", "open") == "closed") state.SetOpen(issue, issue.user, false);
  if (issue.is_pull() && Get<bool>(item, "merged", false) && issue.state == "open") {
    (void)state.Merge(issue, issue.user);
  }
}

Status ReadIssue(const json& item, State& state, Repo& repo, const std::string& where) {
  ORCH_RETURN_IF_ERROR(Renumber(item, repo, where));
  NewIssue in{Get<std::string>(item, "user", "octocat"), Get<std::string>(item, "title", ""),
              Get<std::string>(item, "body", ""),
              Get<std::vector<std::string>>(item, "labels", {})};
  Result<Issue*> issue = state.CreateIssue(repo, in);
  if (!issue.ok()) return issue.status().Prefixed(where);
  Finish(item, state, **issue);
  return Status::OK();
}

Status ReadPull(const json& item, State& state, Repo& repo, const std::string& where) {
  ORCH_RETURN_IF_ERROR(Renumber(item, repo, where));
  NewPull in{Get<std::string>(item, "user", "octocat"), Get<std::string>(item, "title", ""),
             Get<std::string>(item, "body", ""),        Get<std::string>(item, "head", ""),
             Get<std::string>(item, "base", ""),        Get<bool>(item, "draft", false)};
  Result<Issue*> pull = state.CreatePull(repo, in);
  if (!pull.ok()) return pull.status().Prefixed(where);
  state.AddLabels(repo, **pull, in.user, Get<std::vector<std::string>>(item, "labels", {}));
  Finish(item, state, **pull);
  return Status::OK();
}

Status ReadRepo(const json& r, State& state, const std::string& where) {
  Result<Repo*> repo = state.AddRepo(Get<std::string>(r, "full_name", ""),
                                     Get<std::string>(r, "default_branch", "main"));
  if (!repo.ok()) return repo.status().Prefixed(where);
  (*repo)->collaborators = Get<std::map<std::string, std::string>>(r, "collaborators", {});
  for (const json& l : Get<json>(r, "labels", json::array())) {
    Label label{0, Get<std::string>(l, "name", ""), Get<std::string>(l, "color", "ededed"),
                Get<std::string>(l, "description", "")};
    Result<Label> made = state.CreateLabel(**repo, label);
    if (!made.ok()) return made.status().Prefixed(where + ".labels");
  }
  const json issues = Get<json>(r, "issues", json::array());
  for (size_t i = 0; i < issues.size(); ++i) {
    ORCH_RETURN_IF_ERROR(
        ReadIssue(issues[i], state, **repo, where + ".issues[" + std::to_string(i) + "]"));
  }
  const json pulls = Get<json>(r, "pulls", json::array());
  for (size_t i = 0; i < pulls.size(); ++i) {
    ORCH_RETURN_IF_ERROR(
        ReadPull(pulls[i], state, **repo, where + ".pulls[" + std::to_string(i) + "]"));
  }
  return Status::OK();
}

Result<Seeded> Load(const json& seed, int64_t wall_now) {
  Settings settings;
  ORCH_RETURN_IF_ERROR(ReadSettings(seed, &settings));
  Seeded out{settings, State(settings.start_time.value_or(wall_now))};
  const json repos = Get<json>(seed, "repos", json::array());
  for (size_t i = 0; i < repos.size(); ++i) {
    ORCH_RETURN_IF_ERROR(ReadRepo(repos[i], out.state, "repos[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace

Result<Seeded> LoadSeed(std::string_view text, int64_t wall_now) {
  try {
    json seed = text.empty() ? json::object() : json::parse(text);
    if (!seed.is_object()) return Status::InvalidArgument("seed", "not a JSON object");
    Result<Seeded> loaded = Load(seed, wall_now);
    if (!loaded.ok()) return loaded.status().Prefixed("seed");
    return loaded;
  } catch (const std::exception& e) {
    // nlohmann::json reports parse and type errors, std::stoll bad ids.
    return Status::InvalidArgument("seed", e.what());
  }
}

}  // namespace orch::sim
