// Retries: what a failed attempt at a task leads to. Another attempt by the same agent, or by
// the next agent of router.agents that can run (failover), after a backoff when the failure was
// the backend's passing trouble; or needs_review once workflow.max_attempts are spent.
//
// RetryPolicy keeps, in memory, which agent:model pairs are cooling down after a rate limit
// (kRateLimitCooldown); the backoff's "not before" time is in the store (RetryKey), so it
// survives a restart.
//
// Thread safety: the engine's thread only.
#ifndef ORCH_AGENTS_RETRY_H_
#define ORCH_AGENTS_RETRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "agents/agent.h"
#include "agents/router.h"
#include "base/clock.h"
#include "config/config_set.h"
#include "engine/breaker.h"
#include "store/store.h"

namespace orch {

// The wait before retrying after a transient agent error (rate limit, model unavailable,
// timeout, an unclassified failure such as an API 5xx): exponential backoff with full jitter,
// uniform in [0, min(cap, base * 2^(attempt-1))] seconds, so agents that fail together do not
// all come back at once (workflow.retry_base_delay and retry_max_delay).
int64_t RetryDelay(int attempt, int64_t base, int64_t cap, std::mt19937_64& rng);
bool IsTransient(AgentError e);
// The store key holding when task `id` may start its next attempt (unix seconds).
std::string RetryKey(int64_t task_id);

class RetryPolicy {
 public:
  static constexpr int64_t kRateLimitCooldown = 300;

  // `breakers` (may be null) keep agents whose breaker is open out of failover; `installed`
  // says whether an agent's CLI can be started.
  // Attempts, backoff and failover follow the task's project's settings.
  RetryPolicy(Store& store, ConfigSet configs, const Clock& clock, Breakers* breakers,
              std::function<bool(const std::string&)> installed);

  // What a failed attempt does: retry (another agent when there is one) or needs_review. After
  // a transient agent error (`error`) the retry waits: RetryDelay's full jitter. A task that
  // moved meanwhile (no longer in_progress) is left alone.
  Status Fail(const Task& task, const std::string& agent, const std::string& model,
              const std::string& why, AgentError error);
  // The agent after `failed` in `task`'s project's router.agents that is installed, not
  // cooling down and not behind an open breaker; `failed` itself when there is none.
  std::string NextAgent(const Task& task, const std::string& failed) const;
  // Moves `task`'s route to agent `next` (by failover, because of `why`), with the model
  // model_map gives it, and forgets the agent session (another agent cannot resume it).
  // The new route; Corruption when the task's recorded route does not parse.
  Result<Route> SwitchAgent(const Task& task, const std::string& next, const std::string& why);

 private:
  Store& store_;
  ConfigSet configs_;
  const Clock& clock_;
  Breakers* breakers_;
  std::function<bool(const std::string&)> installed_;
  std::mt19937_64 rng_{std::random_device{}()};    // retry jitter
  std::map<std::string, int64_t> cooldown_until_;  // "agent:model" after a rate limit
};

}  // namespace orch

#endif  // ORCH_AGENTS_RETRY_H_
