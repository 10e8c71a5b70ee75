// WebhookServer: the HTTP side of GitHub's webhooks. `POST /webhook` and `GET /health` on
// webhook.bind:webhook.port (cpp-httplib).
//
// A POST is worked in this order and stops at the first failure: body size (413), the
// X-Hub-Signature-256 HMAC over the raw bytes, constant-time (401; nothing parsed, nothing
// stored), the event headers and JSON syntax (400), then the durable inbox (InboxWriter), and
// only after its commit the 2xx. The server never calls GitHub or applies a delivery; it wakes
// the engine, which does.
//
// cpp-httplib 0.11.4 as Debian ships it has its settings compiled in, so they are set at run
// time here: TCP_NODELAY on (otherwise a keep-alive POST waits ~40 ms on delayed ACK), a thread
// pool sized for the connections we serve (httplib holds one thread per keep-alive connection),
// keep-alive for many requests per connection, and a listen backlog of 1024 instead of 5.
//
// Thread safety: Start() and Stop() from one thread; handlers run on the pool's threads.
#ifndef ORCH_WEBHOOK_SERVER_H_
#define ORCH_WEBHOOK_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "clock.h"
#include "inbox_writer.h"
#include "status.h"

namespace httplib {
class Server;
}

namespace orch {

struct WebhookServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests)
  std::string secret;
  int64_t max_payload_bytes = 25 * 1024 * 1024;
  int threads = 128;  // the most connections served at once
  std::optional<int64_t> last_webhook_at = std::nullopt;  // from the store, so /health survives a restart
};

// The parts of a delivery's JSON the inbox keeps beside the raw body.
struct WebhookEnvelope {
  std::string action;
  std::string repo;  // repository.full_name
};

// Checks that `body` is one JSON object and reads its top-level "action" and
// "repository.full_name" in one pass without building a document. InvalidArgument describing
// the syntax error otherwise.
Result<WebhookEnvelope> ParseEnvelope(std::string_view body);

class WebhookServer {
 public:
  // `on_stored` runs after a delivery was newly queued (the daemon wakes the engine).
  WebhookServer(WebhookServerOptions options, InboxWriter& inbox, const Clock& clock,
                std::function<void()> on_stored);
  ~WebhookServer();

  // Binds and starts serving on a background thread. Fails closed with InvalidArgument when no
  // secret is set, and with InvalidArgument naming the address when it is taken.
  Status Start();
  // The bound port (useful with port 0).
  int port() const { return port_; }
  // Stops accepting, lets in-flight requests finish, and joins the threads. Idempotent.
  void Stop();

 private:
  void Route();

  WebhookServerOptions options_;
  InboxWriter& inbox_;
  const Clock& clock_;
  std::function<void()> on_stored_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int64_t> last_webhook_at_{0};
};

}  // namespace orch

#endif  // ORCH_WEBHOOK_SERVER_H_
