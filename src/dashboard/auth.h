// Dashboard auth: how a browser gets into the daemon's local API without the bearer token.
//
// `orch dashboard` makes a login code (CreateLoginCode): 32 random bytes as hex, kept only as
// its SHA-256 in a file of its own under $ORCH_HOME/state/dashboard-login/ (mode 0600) holding
// its expiry, kLoginCodeTtl from now. GET /login?code=... claims it (ClaimLoginCode: renamed
// away first, so two requests with one code cannot both win, then deleted) and opens a
// session: an HttpOnly, SameSite=Strict cookie naming it and a CSRF token the page reads from
// GET /api/session and sends back as X-CSRF-Token on every POST, PUT and DELETE. Sessions live
// in the daemon's memory: a restart logs the browser out (`orch dashboard` again).
//
// Thread safety: Sessions may be used from any thread; the free functions are stateless.
#ifndef ORCH_DASHBOARD_AUTH_H_
#define ORCH_DASHBOARD_AUTH_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/home.h"
#include "base/status.h"

namespace orch {

inline constexpr int64_t kLoginCodeTtl = 300;          // seconds a login code is good for
inline constexpr int64_t kSessionTtl = 7 * 24 * 3600;  // seconds a session lasts unused
inline constexpr const char* kSessionCookie = "orch_session";

inline std::string LoginCodeDir(const Home& home) { return home.state_dir() + "/dashboard-login"; }

// `bytes` random bytes as lowercase hex; Internal when OpenSSL has none.
Result<std::string> RandomHex(size_t bytes);

// Makes a login code good until `now` + kLoginCodeTtl. IOError when its file cannot be written.
Result<std::string> CreateLoginCode(const Home& home, int64_t now);

// True once for a code CreateLoginCode made that has not expired at `now`; the code is gone
// afterwards, whatever the answer. Expired codes' files found on the way are deleted.
bool ClaimLoginCode(const Home& home, std::string_view code, int64_t now);

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(std::string_view header, std::string_view name);

// Constant-time equality of two secrets.
bool SameSecret(std::string_view a, std::string_view b);

class Sessions {
 public:
  struct Session {
    std::string id;    // the cookie's value
    std::string csrf;  // X-CSRF-Token
  };
  // A new session; Internal without random bytes.
  Result<Session> Open(int64_t now);
  // The session named by cookie `id` if it is open at `now` (and keeps it open kSessionTtl
  // longer).
  std::optional<Session> Find(std::string_view id, int64_t now);

 private:
  struct Entry {
    std::string csrf;
    int64_t expires = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> open_;
};

}  // namespace orch

#endif  // ORCH_DASHBOARD_AUTH_H_
