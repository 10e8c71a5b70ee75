#include "github/trust.h"

#include <algorithm>

namespace orch {
Result<TrustVerdict> TrustPolicy::Check(const std::string& repo, const GitHubUser& user) {
  if (user.login.empty()) return TrustVerdict{false, "the event names no sender"};
  const std::vector<std::string> allowed = allowed_for_ ? allowed_for_(repo) : allowed_;
  for (const std::string& a : allowed) {
    if (SameLogin(a, user.login)) {
      return TrustVerdict{true, user.login + " is in workflow.allowed_authors"};
    }
  }
  if (user.is_bot()) {
    return TrustVerdict{false, user.login + " is a bot not listed in workflow.allowed_authors"};
  }
  auto key = std::make_pair(repo, user.login);
  auto it = cache_.find(key);
  if (it == cache_.end() || clock_.NowUnix() - it->second.at >= ttl_) {
    Result<std::string> role = github_.CollaboratorPermission(repo, user.login);
    if (!role.ok()) return role.status();
    it = cache_.insert_or_assign(key, Cached{*role, clock_.NowUnix()}).first;
  }
  const std::string& role = it->second.role;
  if (role == "admin" || role == "maintain" || role == "write") {
    return TrustVerdict{true, user.login + " has " + role + " access to " + repo};
  }
  std::string has =
      role == "none" ? " is not a collaborator on " + repo : " has " + role + " access to " + repo;
  return TrustVerdict{
      false, user.login + has + " (write, maintain or admin needed, or workflow.allowed_authors)"};
}

}  // namespace orch
