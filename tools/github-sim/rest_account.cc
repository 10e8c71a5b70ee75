// GitHub's REST endpoints about who is calling: the user, the rate limit, the GitHub App and its
// installation tokens, repositories and collaborator permissions.
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

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
  };
}

}  // namespace orch::sim
