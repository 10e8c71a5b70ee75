// Webhook deliveries to orch, as GitHub's hookshot sends them: a JSON POST with X-GitHub-Event,
// X-GitHub-Delivery (a UUID v4), the hook and target ids, X-Hub-Signature-256 and X-Hub-Signature
// over the exact body bytes when a secret is set, and a GitHub-Hookshot user agent.
//
// A Deliverer owns one worker thread that sends deliveries in the order they were queued, so
// webhooks arrive in the order the changes happened and the REST handler that queued one never
// waits for orch (who may be calling back into the simulator). Send() queues and waits for the
// outcome; Post() queues and returns. Every delivery is kept, with its body, for
// GET /_sim/deliveries and redelivery.
//
// Thread safety: every method may be called from any thread. The destructor sends what is
// queued, then joins the worker.
#ifndef ORCH_SIM_WEBHOOKS_H_
#define ORCH_SIM_WEBHOOKS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace orch::sim {

// A webhook to send: the event name and the payload (whose "action" is recorded).
struct Webhook {
  std::string event;
  nlohmann::json payload;
  int64_t target_id = 0;  // the repository id (X-GitHub-Hook-Installation-Target-ID)
};

// One delivery attempt and how orch answered it.
struct Delivery {
  std::string guid;
  std::string event;
  std::string action;
  std::string body;  // the exact bytes sent (and signed)
  int64_t target_id = 0;
  int status = 0;     // orch's HTTP status; 0 when nothing answered
  std::string error;  // "" on any HTTP answer
  int64_t sent_at = 0;
  nlohmann::json ToJson() const;   // for GET /_sim/deliveries
  nlohmann::json Summary() const;  // {guid, event, status, error}
};

// The one hook every delivery comes from (X-GitHub-Hook-ID; GET /repos/{o}/{r}/hooks).
inline constexpr int64_t kHookIdNumber = 424242;

// "sha1=<hex>" HMAC-SHA1 of `body` (GitHub's legacy X-Hub-Signature).
std::string SignBodySha1(std::string_view secret, std::string_view body);

// A random UUID v4, lowercase.
std::string NewUuid();

class Deliverer {
 public:
  Deliverer(std::string url, std::string secret);
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // Changes the target ("" disables sending: deliveries are recorded with an error).
  void Configure(std::string url, std::string secret);

  // Queues `hook` and waits until it has been sent (or has failed).
  Delivery Send(Webhook hook);
  // Queues `hook` without waiting.
  void Post(Webhook hook);
  // Sends a recorded delivery again: the same body and the same X-GitHub-Delivery guid.
  // nullopt when no delivery has that guid.
  std::optional<Delivery> Redeliver(const std::string& guid);

  std::vector<Delivery> deliveries() const;
  // Where deliveries go ("" when nowhere).
  std::string url() const;

 private:
  struct Job {
    Delivery delivery;
    std::promise<Delivery> done;
  };

  std::future<Delivery> Enqueue(Delivery delivery);
  void Run();
  void Transmit(Delivery& delivery);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;      // (mu_)
  bool stopping_ = false;      // (mu_)
  std::string url_;            // (mu_)
  std::string secret_;         // (mu_)
  std::vector<Delivery> log_;  // (mu_) sent deliveries, in order
  std::string hookshot_;       // the User-Agent's 7 hex digits, fixed per process
  std::thread worker_;
};

}  // namespace orch::sim

#endif  // ORCH_SIM_WEBHOOKS_H_
