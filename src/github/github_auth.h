// Credentials for GitHub's REST API, in the order orch looks for them:
//   1. github.token in config.yml (usually "${GITHUB_TOKEN}");
//   2. a GitHub App (github.app_id + github.private_key_path): an RS256 JWT signed with the
//      App's key is exchanged for an installation token, refreshed five minutes before expiry;
//   3. the GITHUB_TOKEN or GH_TOKEN environment variable;
//   4. `gh auth token`, when the gh CLI is installed and logged in.
// Tokens are never written to the log; Describe() says where a token came from, not what it is.
//
// Thread safety: one thread at a time (the client that owns it).
#ifndef ORCH_GITHUB_GITHUB_AUTH_H_
#define ORCH_GITHUB_GITHUB_AUTH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "base/subprocess.h"
#include "config/config.h"

namespace orch {

class HttpSession;

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The Authorization header value for a call about `repo` (App tokens are per installation).
  // Config when no credentials work, Unavailable when GitHub could not be reached.
  virtual Result<std::string> Authorization(const std::string& repo) = 0;
  // "github.token", "GitHub App 42", "GH_TOKEN", "gh auth token": for logs and `orch doctor`.
  virtual std::string Describe() const = 0;
  // True for a GitHub App: calls about no repository carry the App's JWT.
  virtual bool is_app() const { return false; }
};

// An RS256 JSON Web Token for GitHub App `app_id`, valid from a minute ago for nine minutes
// (GitHub allows at most ten). `private_key_pem` is the App's PEM key. InvalidArgument when the
// key cannot be read as an RSA private key.
Result<std::string> MakeAppJwt(int64_t app_id, const std::string& private_key_pem,
                               int64_t now_unix);

// Base64url without padding, as JWTs use it.
std::string Base64Url(std::string_view data);

// Picks the first source that is configured (see the order above). `session` is the HTTP
// session to api_url, used to exchange App tokens; `runner` runs `gh`. Config when none is.
Result<std::unique_ptr<TokenSource>> MakeTokenSource(const GitHubConfig& config,
                                                     const EnvLookup& env, HttpSession& session,
                                                     ProcessRunner& runner, const Clock& clock);

}  // namespace orch

#endif  // ORCH_GITHUB_GITHUB_AUTH_H_
