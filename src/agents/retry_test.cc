// The retry backoff of dispatch.h: exponential with full jitter.
#include <gtest/gtest.h>

#include <set>

#include "agents/dispatch.h"

namespace orch {
namespace {

TEST(RetryDelayTest, FullJitterUpToAnExponentialCeilingAndTheCap) {
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    int64_t ceiling = std::min<int64_t>(300, int64_t{5} << (attempt - 1));
    std::set<int64_t> seen;
    for (int i = 0; i < 2000; ++i) {
      int64_t d = RetryDelay(attempt, 5, 300, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "attempt " << attempt;
      seen.insert(d);
    }
    // Full jitter: the whole range is used, from no wait to the ceiling.
    EXPECT_TRUE(seen.count(0)) << attempt;
    EXPECT_TRUE(seen.count(ceiling)) << attempt;
  }
  EXPECT_EQ(RetryDelay(3, 0, 300, rng), 0);     // a base of 0: at once
  EXPECT_LE(RetryDelay(60, 5, 300, rng), 300);  // no overflow far out
}

TEST(RetryDelayTest, OnlyTheBackendsPassingTroublesAreTransient) {
  for (AgentError e : {AgentError::kRateLimit, AgentError::kModelUnavailable, AgentError::kTimeout,
                       AgentError::kFailed}) {
    EXPECT_TRUE(IsTransient(e)) << AgentErrorName(e);
  }
  for (AgentError e :
       {AgentError::kNone, AgentError::kAuth, AgentError::kContextOverflow,
        AgentError::kMissingTool, AgentError::kWaitingForInput, AgentError::kUnparseable}) {
    EXPECT_FALSE(IsTransient(e)) << AgentErrorName(e);
  }
}

}  // namespace
}  // namespace orch
