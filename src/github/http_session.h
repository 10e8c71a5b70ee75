// HttpSession: a small HTTP client over one keep-alive connection to an API host (cpp-httplib
// with OpenSSL), under GitHub's REST client (github_rest.h), its App token exchange
// (github_auth.h) and the chat channels (Telegram, Discord). StatusFromResponse maps a GitHub
// response to orch's Status, rate limits included; NextLink reads a `Link` header.
//
// Thread safety: one thread at a time per session, except Stop() (any thread).
#ifndef ORCH_GITHUB_HTTP_SESSION_H_
#define ORCH_GITHUB_HTTP_SESSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace httplib {
class Client;
}

namespace orch {

struct HttpResponse {
  int status = 0;
  std::multimap<std::string, std::string, std::less<>> headers;  // names lowercased
  std::string body;
  std::string Header(std::string_view name) const;  // first value, or ""
};

class HttpSession {
 public:
  // `base_url`: scheme://host[:port][/path prefix]. InvalidArgument when it is not a URL.
  static Result<std::unique_ptr<HttpSession>> Open(const std::string& base_url);
  ~HttpSession();

  // `target` is a path below the base ("/repos/a/b/issues?page=2") or an absolute URL on the
  // same host (a Link header's). Unavailable when the server cannot be reached.
  Result<HttpResponse> Send(const std::string& method, const std::string& target,
                            const std::map<std::string, std::string>& headers,
                            const std::string& body = "");
  const std::string& base_url() const { return base_url_; }
  // For long polls (Telegram getUpdates): how long Send waits for a response (default 30 s).
  void set_read_timeout(int seconds);
  // Aborts a Send in progress on another thread, which then fails with Unavailable. Any thread.
  void Stop();

 private:
  HttpSession(std::string base_url, std::string origin, std::string prefix);
  std::string base_url_;
  std::string origin_;  // scheme://host:port
  std::string prefix_;  // "/api/v3" or ""
  std::unique_ptr<httplib::Client> client_;
};

// The rel="next" URL of a Link header, or "".
std::string NextLink(std::string_view link_header);

// Maps a non-2xx response to the Status of the contract in github.h; OK for 2xx and 304.
// `now_unix` turns x-ratelimit-reset into a wait.
Status StatusFromResponse(const HttpResponse& r, const std::string& what, int64_t now_unix);

}  // namespace orch

#endif  // ORCH_GITHUB_HTTP_SESSION_H_
