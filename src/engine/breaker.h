// Breakers: a circuit breaker per agent backend. `router.breaker_failures` failed attempts in a
// row, within `router.breaker_window`, open it: routing and failover skip that agent. After
// `router.breaker_cooldown` the next run of it is a probe (half-open): success closes the
// breaker, failure opens it again. Only the backend's own failures count (an agent error,
// output that does not parse, a session that vanished), not a failed push or a person's
// `orch task kill`.
//
// The state is kept in the store (kv `breaker.<agent>`), so `orch agents` shows it and a
// restart keeps it. Thread safety: one thread at a time (the engine's), like the store handle.
#ifndef ORCH_ENGINE_BREAKER_H_
#define ORCH_ENGINE_BREAKER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/config.h"

namespace orch {

class Store;

enum class BreakerState { kClosed, kOpen, kHalfOpen };
const char* BreakerStateName(BreakerState s);

struct BreakerStatus {
  BreakerState state = BreakerState::kClosed;
  std::vector<int64_t> failures = {};  // times of the failures in a row, oldest first
  int64_t opened_at = 0;               // when it last opened
};

class Breakers {
 public:
  Breakers(Store& store, const RouterConfig& config, const Clock& clock)
      : store_(store), config_(config), clock_(clock) {}

  // Whether `agent` may be chosen now: closed, or open with its cooldown over (the next run is
  // the probe). Not while open and cooling, nor half-open (its probe is running).
  bool Available(const std::string& agent);
  // A run of `agent` starts: an open breaker past its cooldown turns half-open.
  void Started(const std::string& agent);
  void Succeeded(const std::string& agent);
  void Failed(const std::string& agent);

  BreakerStatus Get(const std::string& agent);
  // "closed", "open (2 failures; a probe is allowed in 4m10s)", "half-open (probing)".
  std::string Describe(const std::string& agent);

 private:
  void Put(const std::string& agent, const BreakerStatus& s);

  Store& store_;
  const RouterConfig& config_;
  const Clock& clock_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_BREAKER_H_
