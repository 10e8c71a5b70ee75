#include "receiver/webhook_server.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/platform.h"
#include "github/webhook_signature.h"

namespace orch {
namespace {

using Json = nlohmann::json;

HttpReply Reply(int status, const Json& body) {
  return HttpReply{.status = status, .body = body.dump()};
}

}  // namespace

WebhookServer::WebhookServer(WebhookServerOptions options, InboxWriter& inbox, const Clock& clock,
                             std::function<void()> on_stored)
    : options_(std::move(options)), inbox_(inbox), clock_(clock), on_stored_(std::move(on_stored)) {
  last_webhook_at_ = options_.last_webhook_at.value_or(0);
}

WebhookServer::~WebhookServer() { Stop(); }

Status WebhookServer::Start() {
  if (options_.secret.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument(
        "webhook.secret is empty" +
            std::string(options_.secret.empty() ? "" : " (only whitespace)"),
        "refusing to accept unsigned webhooks; set a secret (the same one in GitHub's webhook "
        "settings) or set webhook.enabled: false to rely on polling");
  }
  HttpReceiverOptions ro{.bind = options_.bind,
                         .port = options_.port,
                         .max_body_bytes = options_.max_payload_bytes,
                         .max_connections = options_.max_connections};
  receiver_ = std::make_unique<HttpReceiver>(
      ro, [this](HttpRequest& req, HttpReceiver::Ticket t) { return Handle(req, t); },
      [this] { HandOver(); });
  if (Status s = receiver_->Start(); !s.ok()) {
    receiver_.reset();
    return Status::InvalidArgument(
        "webhook receiver cannot listen on " + options_.bind + ":" + std::to_string(options_.port),
        "the port is in use or the address is not local; change webhook.port or webhook.bind (" +
            s.message() + ")");
  }
  port_ = receiver_->port();
  if (options_.secret.size() < 16) {
    spdlog::warn(
        "webhook: webhook.secret has {} characters; a guessable secret lets anyone forge "
        "deliveries (use 16 or more random ones, e.g. `openssl rand -hex 32`, in GitHub too)",
        options_.secret.size());
  }
  spdlog::info("webhook: receiving on {}:{}, at most {} connections at once", options_.bind, port_,
               receiver_->stats().connection_cap);
  stopping_ = false;
  committer_ = std::thread([this] {
    SetThreadName("orch-inbox");
    CommitLoop();
  });
  return Status::OK();
}

void WebhookServer::Stop() {
  if (!receiver_) return;
  // The receiver waits for the answers of requests begun, which the commit thread gives.
  receiver_->Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (committer_.joinable()) committer_.join();
  receiver_.reset();
}

std::optional<HttpReply> WebhookServer::Handle(HttpRequest& req, HttpReceiver::Ticket ticket) {
  if (req.path == "/webhook" && req.method == "POST") return Webhook(req, ticket);
  if (req.path == "/health" && (req.method == "GET" || req.method == "HEAD")) return Health();
  return HttpReply{.status = 404, .body = "", .content_type = ""};
}

std::optional<HttpReply> WebhookServer::Webhook(HttpRequest& req, HttpReceiver::Ticket ticket) {
  // The size was checked by the receiver; the signature is checked before anything else reads
  // the body.
  if (!VerifySignature(options_.secret, req.body, req.Header("X-Hub-Signature-256"))) {
    spdlog::debug("webhook: rejected a request with a missing or wrong signature");
    return Reply(401, {{"error", "X-Hub-Signature-256 is missing or does not match"}});
  }
  std::string event(req.Header("X-GitHub-Event"));
  std::string delivery(req.Header("X-GitHub-Delivery"));
  if (event.empty() || delivery.empty()) {
    return Reply(400, {{"error", "X-GitHub-Event and X-GitHub-Delivery are required"}});
  }
  // A webhook whose content type is application/x-www-form-urlencoded sends the JSON as its
  // `payload` field; the signature covered the form, the inbox keeps the JSON.
  std::string_view type = req.Header("Content-Type");
  if (type.substr(0, 33) == "application/x-www-form-urlencoded") {
    Result<std::string> json = FormPayload(req.body);
    if (!json.ok()) return Reply(400, {{"error", json.status().message()}});
    req.body = std::move(json).value();
  }
  Result<WebhookEnvelope> env = ParseEnvelope(req.body);
  if (!env.ok()) return Reply(400, {{"error", env.status().message()}});
  last_webhook_at_ = clock_.NowUnix();
  // Hashed here so the one writer does not have to.
  std::string hash = Sha256Hex(req.body);
  round_.push_back({ticket,
                    delivery,
                    {std::move(delivery), std::move(event), std::move(env->action),
                     std::move(env->repo), std::move(req.body), std::move(hash)}});
  return std::nullopt;  // answered by the commit thread
}

void WebhookServer::HandOver() {
  if (round_.empty()) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = pending_.empty();
    if (was_empty) {
      pending_.swap(round_);
    } else {
      for (Pending& p : round_) pending_.push_back(std::move(p));
    }
  }
  round_.clear();
  if (was_empty) queued_.notify_one();  // else the commit thread was woken already
}

HttpReply WebhookServer::Health() const {
  int64_t last = last_webhook_at_.load();
  Json body = {{"status", "ok"},
               {"signature_verification", !options_.secret.empty()},
               {"webhook_received_recently", last > 0 && clock_.NowUnix() - last <= 300},
               {"last_webhook_at", last > 0 ? Json(last) : Json(nullptr)}};
  return Reply(200, body);
}

void WebhookServer::CommitLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    queued_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and everything is answered
    // Whatever queued while the last batch committed goes in this one.
    std::vector<Pending> batch;
    batch.swap(pending_);
    lock.unlock();
    std::vector<NewDelivery> deliveries;
    deliveries.reserve(batch.size());
    for (Pending& p : batch) deliveries.push_back(std::move(p.delivery));
    Result<std::vector<InboxOutcome>> outcomes = inbox_.SubmitAll(std::move(deliveries));
    std::vector<std::pair<HttpReceiver::Ticket, HttpReply>> answers;
    answers.reserve(batch.size());
    bool stored = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string& id = batch[i].delivery_id;
      HttpReply r;
      if (!outcomes.ok()) {
        r = Reply(503, {{"error", "could not store the delivery; redeliver it later"}});
      } else if ((*outcomes)[i] == InboxOutcome::kDuplicate) {
        r = Reply(200, {{"status", "duplicate"}, {"delivery", id}});
      } else {
        stored = true;
        r = Reply(202, {{"status", InboxOutcomeName((*outcomes)[i])}, {"delivery", id}});
      }
      answers.emplace_back(batch[i].ticket, std::move(r));
    }
    if (!outcomes.ok()) {
      spdlog::error("webhook: {} deliveries not stored: {}", batch.size(),
                    outcomes.status().message());
    }
    if (stored && on_stored_) on_stored_();
    receiver_->Answer(std::move(answers));
    lock.lock();
  }
}

}  // namespace orch
