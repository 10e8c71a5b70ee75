// TrustPolicy: who may start work. Issue and comment text is untrusted input for a program that
// runs with the user's credentials, so only some people's events create tasks:
//   - logins listed in workflow.allowed_authors (bots included, when listed);
//   - otherwise collaborators whose role is admin, maintain or write, asked through the API and
//     cached for ten minutes per (repository, login);
//   - bots are untrusted unless listed, whatever their permission.
// Every verdict carries the reason, which intake records beside the event it ignored.
//
// Thread safety: one thread (the engine's).
#ifndef ORCH_GITHUB_TRUST_H_
#define ORCH_GITHUB_TRUST_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "github/github.h"

namespace orch {

struct TrustVerdict {
  bool trusted = false;
  std::string reason;  // "alice has write access", "eve has read access, needs write", ...
};

class TrustPolicy {
 public:
  TrustPolicy(GitHubClient& github, const Clock& clock, std::vector<std::string> allowed_authors,
              int64_t ttl_seconds = 600)
      : github_(github), clock_(clock), allowed_(std::move(allowed_authors)), ttl_(ttl_seconds) {}

  // Where allowed_authors come from per repository (a project's .orch.yml may set its own);
  // without one, the list given at construction.
  using AllowedFor = std::function<std::vector<std::string>(const std::string& repo)>;
  void set_allowed_for(AllowedFor f) { allowed_for_ = std::move(f); }

  // The verdict for `user` acting on `repo`. Fails (retryably or not) only when the permission
  // had to be asked and GitHub did not answer.
  Result<TrustVerdict> Check(const std::string& repo, const GitHubUser& user);

 private:
  struct Cached {
    std::string role;
    int64_t at = 0;
  };

  GitHubClient& github_;
  const Clock& clock_;
  std::vector<std::string> allowed_;
  AllowedFor allowed_for_;
  int64_t ttl_;
  std::map<std::pair<std::string, std::string>, Cached> cache_;
};

}  // namespace orch

#endif  // ORCH_GITHUB_TRUST_H_
