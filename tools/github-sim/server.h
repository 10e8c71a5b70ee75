// The simulator's HTTP server: GitHub's REST API and the /_sim control API (routes.h) on one
// httplib::Server. In front of every REST route it behaves as api.github.com does:
// authentication (401 without or with a bad token), the primary rate limit and its
// x-ratelimit-* headers, weak ETags with 304 answers that cost nothing, injected faults, and a
// log of every REST request (never the token). Control routes skip all of that and send their
// webhooks before answering; REST writes send theirs in the background.
//
// Owns the simulator's one State (inside Sim) and its webhook Deliverer.
// Thread safety: Run() blocks, serving on a pool of 32 threads; Stop() may be called from any
// thread and makes Run() return.
#ifndef ORCH_SIM_SERVER_H_
#define ORCH_SIM_SERVER_H_

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "routes.h"
#include "seed.h"

namespace orch::sim {

struct ServerOptions {
  std::string app_public_key_pem;  // "" accepts any well-formed JWT for the app
  std::string webhook_url;         // "" records deliveries without sending them
  std::string webhook_secret;      // "" sends no signature headers
  std::function<int64_t()> wall;   // unix seconds; unset means the system clock
};

class SimServer {
 public:
  // Fails with InvalidArgument for an unreadable public key, or one given without an app in
  // the seed.
  static Result<std::unique_ptr<SimServer>> Create(Seeded seeded, ServerOptions options);

  // Binds `host`:`port` (0 picks a free port) and returns the port; IOError when it cannot.
  Result<int> Bind(const std::string& host, int port);
  // Serves until Stop(); IOError if the listener fails.
  Status Run();
  void Stop() { http_.stop(); }

 private:
  explicit SimServer(std::unique_ptr<Sim> sim);
  void AddRoute(const Route& route);
  void ServeRest(const Route& route, const httplib::Request& req, httplib::Response& res);
  void ServeControl(const Route& route, const httplib::Request& req, httplib::Response& res);
  Reply Decide(const Route& route, Call& call, const std::optional<Fault>& fault);
  std::optional<Reply> Authenticate(Auth auth, Call& call);
  void Finish(const httplib::Request& req, const Reply& reply, httplib::Response& res);
  Urls UrlsFor(const httplib::Request& req) const;

  std::unique_ptr<Sim> sim_;
  httplib::Server http_;
  int port_ = 0;
};

}  // namespace orch::sim

#endif  // ORCH_SIM_SERVER_H_
