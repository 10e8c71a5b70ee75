#include "webhooks.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <ctime>

#include "github/webhook_signature.h"
#include "wire.h"

namespace orch::sim {
namespace {

const std::string kHookId = std::to_string(kHookIdNumber);

std::string Hex(const unsigned char* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  RAND_bytes(buf.data(), static_cast<int>(buf.size()));
  return Hex(buf.data(), buf.size());
}

// "http://host:port" and "/path" of an http URL; nullopt for anything else.
std::optional<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
  size_t slash = url.find('/', kScheme.size());
  if (slash == std::string::npos) return std::make_pair(url, std::string("/"));
  return std::make_pair(url.substr(0, slash), url.substr(slash));
}

httplib::Headers HookHeaders(const Delivery& d, const std::string& secret,
                             const std::string& hookshot) {
  httplib::Headers h = {{"X-GitHub-Event", d.event},
                        {"X-GitHub-Delivery", d.guid},
                        {"X-GitHub-Hook-ID", kHookId},
                        {"X-GitHub-Hook-Installation-Target-Type", "repository"},
                        {"X-GitHub-Hook-Installation-Target-ID", std::to_string(d.target_id)},
                        {"User-Agent", "GitHub-Hookshot/" + hookshot},
                        {"Accept", "*/*"}};
  if (!secret.empty()) {
    h.emplace("X-Hub-Signature-256", SignBody(secret, d.body));
    h.emplace("X-Hub-Signature", SignBodySha1(secret, d.body));
  }
  return h;
}

Delivery FirstAttempt(const Webhook& hook) {
  Delivery d;
  d.guid = NewUuid();
  d.event = hook.event;
  d.action = hook.payload.value("action", "");
  d.body = hook.payload.dump();
  d.target_id = hook.target_id;
  return d;
}

}  // namespace

nlohmann::json Delivery::ToJson() const {
  return {{"guid", guid},
          {"event", event},
          {"action", action},
          {"status", status},
          {"error", error},
          {"body", body},
          {"sent_at", FormatIso(sent_at)}};
}

nlohmann::json Delivery::Summary() const {
  return {{"guid", guid}, {"event", event}, {"status", status}, {"error", error}};
}

std::string SignBodySha1(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return "sha1=" + Hex(mac, len);
}

std::string NewUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string h = Hex(b, sizeof b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

Deliverer::Deliverer(std::string url, std::string secret)
    : url_(std::move(url)), secret_(std::move(secret)), hookshot_(RandomHex(4).substr(0, 7)) {
  worker_ = std::thread([this] { Run(); });
}

Deliverer::~Deliverer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Deliverer::Configure(std::string url, std::string secret) {
  std::lock_guard<std::mutex> lock(mu_);
  url_ = std::move(url);
  secret_ = std::move(secret);
}

std::future<Delivery> Deliverer::Enqueue(Delivery delivery) {
  std::future<Delivery> result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(delivery), {}});
    result = queue_.back().done.get_future();
  }
  cv_.notify_all();
  return result;
}

Delivery Deliverer::Send(Webhook hook) { return Enqueue(FirstAttempt(hook)).get(); }

void Deliverer::Post(Webhook hook) {
  (void)Enqueue(FirstAttempt(hook));  // the future is dropped: nobody waits for it
}

std::optional<Delivery> Deliverer::Redeliver(const std::string& guid) {
  std::optional<Delivery> original;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Delivery& d : log_) {
      if (d.guid == guid) original = d;
    }
  }
  if (!original) return std::nullopt;
  original->status = 0;
  original->error.clear();
  return Enqueue(std::move(*original)).get();
}

std::string Deliverer::url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return url_;
}

std::vector<Delivery> Deliverer::deliveries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void Deliverer::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been sent
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Transmit(job.delivery);
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(job.delivery);
    }
    job.done.set_value(job.delivery);
  }
}

void Deliverer::Transmit(Delivery& d) {
  std::string url, secret;
  {
    std::lock_guard<std::mutex> lock(mu_);
    url = url_;
    secret = secret_;
  }
  d.sent_at = static_cast<int64_t>(std::time(nullptr));
  if (url.empty()) {
    d.error = "no webhook url configured";
    return;
  }
  auto parts = SplitUrl(url);
  if (!parts) {
    d.error = "webhook url must start with http://: " + url;
    return;
  }
  httplib::Client client(parts->first);
  client.set_connection_timeout(3);
  client.set_read_timeout(10);  // GitHub gives a hook 10 seconds
  auto res =
      client.Post(parts->second, HookHeaders(d, secret, hookshot_), d.body, "application/json");
  if (!res) {
    d.error = httplib::to_string(res.error());
    return;
  }
  d.status = res->status;
}

}  // namespace orch::sim
