// WebhookServer: the HTTP side of GitHub's webhooks. `POST /webhook` and `GET /health` on
// webhook.bind:webhook.port, served by an HttpReceiver (one libuv loop thread) and one commit
// thread.
//
// A POST is worked in this order and stops at the first failure: body size (413, by the
// receiver, before the body is read), the X-Hub-Signature-256 HMAC over the raw bytes,
// constant-time (401; nothing parsed, nothing stored), the event headers and JSON syntax (400;
// webhook_envelope.h, a member name given twice included), then the durable inbox, and only after
// its commit the 2xx. The checks run on the receiver's thread; deliveries that pass are queued for
// the commit thread, which hands everything queued to the InboxWriter as one batch (one
// transaction) and answers the batch when it has committed; meanwhile the receiver goes on reading
// and checking the next requests. The server never calls GitHub or applies a delivery; it wakes the
// engine, which does.
//
// (It used cpp-httplib, whose thread per connection and ~15 system calls per request were most
// of the receiver's CPU; see http_receiver.h.)
//
// Thread safety: Start() and Stop() from one thread; the rest runs on the server's own threads.
#ifndef ORCH_RECEIVER_WEBHOOK_SERVER_H_
#define ORCH_RECEIVER_WEBHOOK_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "receiver/http_receiver.h"
#include "receiver/inbox_writer.h"
#include "receiver/webhook_envelope.h"

namespace orch {

struct WebhookServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests)
  std::string secret;
  int64_t max_payload_bytes = 25 * 1024 * 1024;
  size_t max_connections = 1024;  // at most, fewer under a low RLIMIT_NOFILE (http_receiver.h)
  std::optional<int64_t> last_webhook_at =
      std::nullopt;  // from the store, so /health survives a restart
};

class WebhookServer {
 public:
  // `on_stored` runs after a commit that newly queued deliveries (the daemon wakes the engine).
  WebhookServer(WebhookServerOptions options, InboxWriter& inbox, const Clock& clock,
                std::function<void()> on_stored);
  ~WebhookServer();

  // Binds and starts serving on a background thread. Fails closed with InvalidArgument when no
  // secret is set (or only whitespace; one under 16 characters is logged as a warning), and with
  // InvalidArgument naming the address when it is taken.
  Status Start();
  // The bound port (useful with port 0).
  int port() const { return port_; }
  // Stops accepting, lets requests already begun finish (their deliveries committed and
  // answered), and joins the threads. Idempotent.
  void Stop();

 private:
  struct Pending {
    HttpReceiver::Ticket ticket;
    std::string delivery_id;  // for the answer, once `delivery` went to the inbox
    NewDelivery delivery;
  };

  // The receiver's handler: answers at once, or queues the delivery and answers after commit.
  std::optional<HttpReply> Handle(HttpRequest& req, HttpReceiver::Ticket ticket);
  std::optional<HttpReply> Webhook(HttpRequest& req, HttpReceiver::Ticket ticket);
  HttpReply Health() const;
  // After each round of the receiver's events: hands the round's deliveries to the commit
  // thread at once, so a commit takes all of them rather than the first.
  void HandOver();
  void CommitLoop();

  WebhookServerOptions options_;
  InboxWriter& inbox_;
  const Clock& clock_;
  std::function<void()> on_stored_;
  std::unique_ptr<HttpReceiver> receiver_;
  int port_ = 0;
  std::atomic<int64_t> last_webhook_at_{0};
  std::vector<Pending> round_;  // receiver thread only: checked in this round of events

  std::thread committer_;
  std::mutex mu_;
  std::condition_variable queued_;
  std::vector<Pending> pending_;  // checked deliveries waiting for the commit thread
  bool stopping_ = false;
};

}  // namespace orch

#endif  // ORCH_RECEIVER_WEBHOOK_SERVER_H_
