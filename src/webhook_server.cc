#include "webhook_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "webhook_signature.h"

namespace orch {
namespace {

using Json = nlohmann::json;

// Reads the two fields the inbox keeps while nlohmann checks the syntax, without building a DOM
// of the whole (often 8 KB+) payload.
class EnvelopeSax : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool string(string_t& s) override {
    if (depth_ == 1 && key1_ == "action") env.action = s;
    if (depth_ == 2 && in_repo_ && key2_ == "full_name") env.repo = s;
    return Value();
  }
  bool start_object(std::size_t) override {
    if (depth_ == 0) root_object = true;
    if (depth_ == 1 && key1_ == "repository") in_repo_ = true;
    ++depth_;
    return true;
  }
  bool end_object() override {
    if (--depth_ == 1) in_repo_ = false;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return depth_ > 1;  // the root must be an object
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) key1_ = k;
    if (depth_ == 2) key2_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

  WebhookEnvelope env;
  bool root_object = false;
  std::string error;

 private:
  bool Value() { return depth_ > 0; }  // a bare scalar is not a payload

  int depth_ = 0;
  bool in_repo_ = false;
  std::string key1_, key2_;
};

void Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

}  // namespace

Result<WebhookEnvelope> ParseEnvelope(std::string_view body) {
  EnvelopeSax sax;
  bool ok = false;
  try {
    ok = Json::sax_parse(body.begin(), body.end(), &sax);
  } catch (const std::exception& e) {
    sax.error = e.what();
  }
  if (!ok || !sax.root_object) {
    return Status::InvalidArgument("payload is not a JSON object",
                                   sax.error.empty() ? "wrong top-level type" : sax.error);
  }
  return std::move(sax.env);
}

WebhookServer::WebhookServer(WebhookServerOptions options, InboxWriter& inbox, const Clock& clock,
                             std::function<void()> on_stored)
    : options_(std::move(options)),
      inbox_(inbox),
      clock_(clock),
      on_stored_(std::move(on_stored)) {
  last_webhook_at_ = options_.last_webhook_at.value_or(0);
}

WebhookServer::~WebhookServer() { Stop(); }

Status WebhookServer::Start() {
  if (options_.secret.empty()) {
    return Status::InvalidArgument(
        "webhook.secret is empty",
        "refusing to accept unsigned webhooks; set a secret (the same one in GitHub's webhook "
        "settings) or set webhook.enabled: false to rely on polling");
  }
  server_ = std::make_unique<httplib::Server>();
  httplib::Server& s = *server_;
  int threads = options_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(1'000'000);
  s.set_keep_alive_timeout(5);
  s.set_read_timeout(10);
  s.set_payload_max_length(static_cast<size_t>(options_.max_payload_bytes));
  int listen_fd = -1;
  s.set_socket_options([&listen_fd](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = fd;
  });
  Route();
  std::string where = options_.bind + ":" + std::to_string(options_.port);
  if (options_.port == 0) {
    port_ = s.bind_to_any_port(options_.bind);
  } else {
    port_ = s.bind_to_port(options_.bind, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    server_.reset();
    return Status::InvalidArgument("webhook receiver cannot listen on " + where,
                                   "the port is in use or the address is not local; change "
                                   "webhook.port or webhook.bind");
  }
  // httplib listens with a backlog of 5; a burst of new connections overflows it. Linux lets
  // listen() on a listening socket raise the backlog.
  if (listen_fd >= 0) ::listen(listen_fd, 1024);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::OK();
}

void WebhookServer::Stop() {
  if (!server_) return;
  server_->stop();  // closes the listener; the pool finishes the requests it has
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void WebhookServer::Route() {
  server_->Post("/webhook", [this](const httplib::Request& req, httplib::Response& res) {
    // The signature is checked before anything else reads the body.
    if (!VerifySignature(options_.secret, req.body, req.get_header_value("X-Hub-Signature-256"))) {
      spdlog::debug("webhook: rejected a request with a missing or wrong signature");
      return Reply(res, 401, {{"error", "X-Hub-Signature-256 is missing or does not match"}});
    }
    std::string event = req.get_header_value("X-GitHub-Event");
    std::string delivery = req.get_header_value("X-GitHub-Delivery");
    if (event.empty() || delivery.empty()) {
      return Reply(res, 400, {{"error", "X-GitHub-Event and X-GitHub-Delivery are required"}});
    }
    Result<WebhookEnvelope> env = ParseEnvelope(req.body);
    if (!env.ok()) return Reply(res, 400, {{"error", env.status().message()}});
    last_webhook_at_ = clock_.NowUnix();
    Result<InboxOutcome> outcome =
        inbox_.Submit({delivery, event, env->action, env->repo, req.body});
    if (!outcome.ok()) {
      spdlog::error("webhook: delivery {} not stored: {}", delivery, outcome.status().message());
      return Reply(res, 503, {{"error", "could not store the delivery; redeliver it later"}});
    }
    if (*outcome == InboxOutcome::kDuplicate) {
      return Reply(res, 200, {{"status", "duplicate"}, {"delivery", delivery}});
    }
    if (on_stored_) on_stored_();
    Reply(res, 202, {{"status", InboxOutcomeName(*outcome)}, {"delivery", delivery}});
  });
  server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    int64_t last = last_webhook_at_.load();
    Json body = {{"status", "ok"},
                 {"signature_verification", !options_.secret.empty()},
                 {"webhook_received_recently", last > 0 && clock_.NowUnix() - last <= 300},
                 {"last_webhook_at", last > 0 ? Json(last) : Json(nullptr)}};
    Reply(res, 200, body);
  });
}

}  // namespace orch
