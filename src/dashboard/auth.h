// Dashboard auth: how a browser gets into the daemon's local API without the bearer token.
//
// `orch dashboard` makes a login code (CreateLoginCode): 32 random bytes as hex, kept only as
// its SHA-256 in a file of its own under $ORCH_HOME/state/dashboard-login/ (mode 0600) holding
// its expiry, kLoginCodeTtl from now. GET /login?code=... claims it (ClaimLoginCode: renamed
// away first, so two requests with one code cannot both win, then deleted) and opens a
// session: an HttpOnly, SameSite=Strict cookie naming it and a CSRF token the page reads from
// GET /api/session and sends back as X-CSRF-Token on every POST, PUT and DELETE.
//
// Sessions are kept in the store's kv (`dashboard.sessions`: JSON, each session under the
// SHA-256 of its cookie, never the cookie itself, with its CSRF token and expiry), so a daemon
// restart keeps the browser signed in. A session lasts kSessionTtl after its last use; that
// sliding expiry is written back only once it has moved kSessionSaveSlack, so requests do not
// each commit (a commit wakes every pushed stream). Logout and expiry remove a session.
//
// Thread safety: Sessions may be used from any thread (it takes the store's mutex itself; never
// call it holding that mutex); the free functions are stateless.
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

class Store;

inline constexpr int64_t kLoginCodeTtl = 300;          // seconds a login code is good for
inline constexpr int64_t kSessionTtl = 7 * 24 * 3600;  // seconds a session lasts unused
inline constexpr int64_t kSessionSaveSlack = 3600;     // how far a kept expiry may lag
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
  static constexpr const char* kKvKey = "dashboard.sessions";
  struct Session {
    std::string id;    // the cookie's value
    std::string csrf;  // X-CSRF-Token
  };
  // Sessions kept in `store`'s kv, used under `store_mu`.
  Sessions(Store& store, std::mutex& store_mu) : store_(store), store_mu_(store_mu) {}
  // A new session, kept before it is returned; Internal without random bytes, the store's
  // error when it cannot be kept.
  Result<Session> Open(int64_t now);
  // The session named by cookie `id` if it is open at `now` (and keeps it open kSessionTtl
  // longer).
  std::optional<Session> Find(std::string_view id, int64_t now);
  // Ends the session named by cookie `id` (logout); nothing when there is none.
  Status Close(std::string_view id);

 private:
  struct Entry {
    std::string csrf;
    int64_t expires = 0;
    int64_t kept_expires = 0;  // what the store has
  };
  // Reads the kept sessions once, dropping those expired at `now`.
  void LoadLocked(int64_t now);
  // Writes the open sessions to kv.
  Status SaveLocked();

  Store& store_;
  std::mutex& store_mu_;
  std::mutex mu_;
  bool loaded_ = false;
  std::map<std::string, Entry, std::less<>> open_;  // by the SHA-256 of the cookie
};

}  // namespace orch

#endif  // ORCH_DASHBOARD_AUTH_H_
