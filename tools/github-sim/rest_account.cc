// GitHub's REST endpoints about who is calling: the user, the rate limit, the GitHub App and its
// installation tokens, repositories and collaborator permissions.
#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "routes.h"

namespace orch::sim {
namespace {

using nlohmann::json;

constexpr int64_t kTokenLifetime = 3600;  // installation tokens last an hour

std::string P(const char* suffix) { return std::string(R"(/repos/([^/]+)/([^/]+))") + suffix; }

// "ghs_" and 36 random letters and digits, the shape of an installation token.
std::string NewInstallationToken() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[36];
  RAND_bytes(bytes, sizeof bytes);
  std::string token = "ghs_";
  for (unsigned char b : bytes) token += kAlphabet[b % (sizeof kAlphabet - 1)];
  return token;
}

// GitHub's REST `permission` folds maintain into write and triage into read.
std::string PermissionOf(const std::string& role) {
  if (role == "admin") return "admin";
  if (role == "maintain" || role == "write") return "write";
  if (role == "triage" || role == "read") return "read";
  return "none";
}

Reply GetUser(Sim&, const Call& call) { return JsonReply(200, UserJson(call.login, call.urls)); }

Reply GetRateLimit(Sim& sim, const Call&) {
  json core = {{"limit", sim.rate.limit()},
               {"remaining", sim.rate.remaining()},
               {"reset", sim.rate.reset()},
               {"used", sim.rate.used()},
               {"resource", "core"}};
  return JsonReply(200, {{"resources", {{"core", core}}}, {"rate", core}});
}

Reply GetApp(Sim& sim, const Call& call) {
  const AppSettings& app = sim.settings.app;
  return JsonReply(200, {{"id", app.id},
                         {"slug", app.slug},
                         {"name", app.name},
                         {"node_id", "A_kwDO" + std::to_string(app.id)},
                         {"html_url", sim.settings.html_url + "/apps/" + app.slug},
                         {"owner", UserJson(sim.settings.authenticated_user, call.urls)}});
}

Reply CreateInstallationToken(Sim& sim, const Call& call) {
  if (call.match(1) != std::to_string(sim.settings.app.installation_id)) return NotFound();
  const std::string token = NewInstallationToken();
  const int64_t expires = sim.wall() + kTokenLifetime;
  sim.install_tokens[token] = expires;
  return JsonReply(201, {{"token", token},
                         {"expires_at", FormatIso(expires)},
                         {"permissions",
                          {{"issues", "write"},
                           {"pull_requests", "write"},
                           {"contents", "write"},
                           {"metadata", "read"}}},
                         {"repository_selection", "all"}});
}

Reply GetRepoInstallation(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  const AppSettings& app = sim.settings.app;
  return JsonReply(200, {{"id", app.installation_id},
                         {"app_id", app.id},
                         {"app_slug", app.slug},
                         {"target_type", "Organization"},
                         {"account", UserJson(repo->owner, call.urls)}});
}

Reply GetRepo(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  return JsonReply(200, RepoJson(*repo, call.urls));
}

Reply GetPermission(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  const std::string login = call.match(3);
  const std::string role = CollaboratorRole(*repo, login);
  json user = UserJson(login, call.urls);
  user["permissions"] = {{"admin", role == "admin"},
                         {"maintain", role == "admin" || role == "maintain"},
                         {"push", PermissionOf(role) == "admin" || PermissionOf(role) == "write"},
                         {"triage", role != "none" && role != "read"},
                         {"pull", role != "none"}};
  return JsonReply(200, {{"permission", PermissionOf(role)}, {"role_name", role}, {"user", user}});
}

// GET /repos/{o}/{r}/hooks: the simulator's one hook, pointing where deliveries go.
Reply ListHooks(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr) return NotFound();
  std::string base = call.urls.api + "/repos/" + repo->owner + "/" + repo->name + "/hooks/" +
                     std::to_string(kHookIdNumber);
  std::vector<Delivery> sent = sim.deliverer.deliveries();
  json last = {{"code", nullptr}, {"status", "unused"}, {"message", nullptr}};
  if (!sent.empty()) {
    const Delivery& d = sent.back();
    last = {{"code", d.status == 0 ? json(nullptr) : json(d.status)},
            {"status", d.status >= 200 && d.status < 300 ? "active" : "misconfigured"},
            {"message", d.error.empty() ? "OK" : d.error}};
  }
  json hook = {
      {"type", "Repository"},
      {"id", kHookIdNumber},
      {"name", "web"},
      {"active", true},
      {"events", {"*"}},
      {"config", {{"content_type", "json"}, {"insecure_ssl", "0"}, {"url", sim.deliverer.url()}}},
      {"updated_at", FormatIso(sim.wall())},
      {"created_at", FormatIso(sim.wall())},
      {"url", base},
      {"test_url", base + "/test"},
      {"ping_url", base + "/pings"},
      {"deliveries_url", base + "/deliveries"},
      {"last_response", last}};
  return JsonReply(200, json::array({hook}));
}

// GET /repos/{o}/{r}/hooks/{id}/deliveries: the repository's deliveries, newest first, as
// GitHub's summaries (no payload).
Reply ListHookDeliveries(Sim& sim, const Call& call) {
  Repo* repo = FindRepo(sim, call);
  if (repo == nullptr || call.match(3) != std::to_string(kHookIdNumber)) return NotFound();
  std::vector<Delivery> sent = sim.deliverer.deliveries();
  std::vector<json> items;
  std::set<std::string> seen;  // a redelivery keeps its guid
  for (const Delivery& d : sent) {
    if (d.target_id != repo->id) continue;
    bool ok = d.status >= 200 && d.status < 300;
    std::string status = ok              ? std::string("OK")
                         : d.status == 0 ? d.error
                                         : "Invalid HTTP Response: " + std::to_string(d.status);
    items.push_back({{"id", static_cast<int64_t>(items.size()) + 1},
                     {"guid", d.guid},
                     {"delivered_at", FormatIso(d.sent_at)},
                     {"redelivery", !seen.insert(d.guid).second},
                     {"duration", 0.01},
                     {"status", status},
                     {"status_code", d.status},
                     {"event", d.event},
                     {"action", d.action.empty() ? json(nullptr) : json(d.action)},
                     {"installation_id", nullptr},
                     {"repository_id", repo->id},
                     {"throttled_at", nullptr}});
  }
  std::reverse(items.begin(), items.end());  // newest first, as GitHub lists them
  return Paged(sim, call, items);
}

}  // namespace

std::vector<Route> AccountRoutes() {
  return {
      {"GET", "/user", Auth::kToken, GetUser},
      {"GET", "/rate_limit", Auth::kToken, GetRateLimit},
      {"GET", "/app", Auth::kJwt, GetApp},
      {"POST", R"(/app/installations/(\d+)/access_tokens)", Auth::kJwt, CreateInstallationToken},
      {"GET", P("/installation"), Auth::kJwt, GetRepoInstallation},
      {"GET", P(""), Auth::kToken, GetRepo},
      {"GET", P("/collaborators/([^/]+)/permission"), Auth::kToken, GetPermission},
      {"GET", P("/hooks"), Auth::kToken, ListHooks},
      {"GET", P(R"(/hooks/(\d+)/deliveries)"), Auth::kToken, ListHookDeliveries},
  };
}

}  // namespace orch::sim
