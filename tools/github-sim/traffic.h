// What stands between a REST request and the data: GitHub's primary rate limit for the `core`
// resource, and the faults a test injects through POST /_sim/faults (errors, secondary rate
// limits, slow answers for the next N matching requests).
//
// Pure bookkeeping; time is passed in. Thread safety: none; the server guards them with its
// mutex.
#ifndef ORCH_SIM_TRAFFIC_H_
#define ORCH_SIM_TRAFFIC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace orch::sim {

// An hourly budget of requests: `remaining` falls by one per counted response and comes back
// to `limit` when the window resets.
class RateLimiter {
 public:
  static constexpr int64_t kWindow = 3600;

  RateLimiter(int limit, int64_t now) : limit_(limit), remaining_(limit), reset_(now + kWindow) {}

  // Starts a fresh window when the current one has ended; then true if nothing is left.
  bool Exhausted(int64_t now);
  // Counts one response (GitHub counts everything but a 304).
  void Count();
  // For tests: a new limit and what is left of it in the current window.
  void Set(int limit, int remaining);

  int limit() const { return limit_; }
  int remaining() const { return remaining_; }
  int used() const { return limit_ - remaining_; }
  int64_t reset() const { return reset_; }

 private:
  int limit_;
  int remaining_;
  int64_t reset_;  // unix seconds when the window ends
};

// One injected fault. `status` 0 means "no error, just `delay_ms`".
struct Fault {
  std::string method;       // "" matches any
  std::string path_prefix;  // "" matches any
  int status = 0;           // 500, 502, 429, 403, ...
  int count = 1;            // how many matching requests it hits
  int retry_after = 0;      // seconds, sent as `retry-after` when not 0
  bool secondary = false;   // 403/429 reads as GitHub's secondary rate limit
  int delay_ms = 0;         // sleep before answering
};

class FaultTable {
 public:
  void Add(const Fault& fault) { faults_.push_back(fault); }
  void Clear() { faults_.clear(); }
  // The first fault that matches and has hits left, with one hit used; nullopt when none.
  std::optional<Fault> Take(const std::string& method, const std::string& path);
  const std::vector<Fault>& faults() const { return faults_; }

 private:
  std::vector<Fault> faults_;  // in the order added; spent ones are dropped
};

}  // namespace orch::sim

#endif  // ORCH_SIM_TRAFFIC_H_
