#include "engine/breaker.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "testing/test_util.h"

namespace orch {
namespace {

class BreakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.breaker_failures = 3;
    config_.breaker_window = Seconds(600);
    config_.breaker_cooldown = Seconds(300);
    store_ = std::move(Store::Open(dir_.Sub("orch.db"), clock_)).value();
    breakers_ = std::make_unique<Breakers>(*store_, config_, clock_);
  }
  test::TempDir dir_;
  test::FakeClock clock_;
  RouterConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Breakers> breakers_;
};

TEST_F(BreakerTest, OpensAfterKFailuresInARowAndASuccessResetsTheCount) {
  Breakers& b = *breakers_;
  b.Failed("claude");
  b.Failed("claude");
  b.Succeeded("claude");  // the row is broken
  b.Failed("claude");
  b.Failed("claude");
  EXPECT_TRUE(b.Available("claude"));
  EXPECT_EQ(b.Describe("claude"), "closed (2 failure(s) in a row)");
  b.Failed("claude");
  EXPECT_FALSE(b.Available("claude"));
  EXPECT_EQ(b.Get("claude").state, BreakerState::kOpen);
  EXPECT_TRUE(b.Available("codex"));  // one breaker per agent
}

TEST_F(BreakerTest, OnlyFailuresWithinTheWindowCount) {
  Breakers& b = *breakers_;
  b.Failed("claude");
  b.Failed("claude");
  clock_.Advance(601);
  b.Failed("claude");
  EXPECT_EQ(b.Get("claude").state, BreakerState::kClosed);
  EXPECT_EQ(b.Get("claude").failures.size(), 1u);
}

TEST_F(BreakerTest, AfterTheCooldownOneProbeRunsAndItsOutcomeDecides) {
  Breakers& b = *breakers_;
  for (int i = 0; i < 3; ++i) b.Failed("claude");
  clock_.Advance(299);
  EXPECT_FALSE(b.Available("claude"));
  clock_.Advance(1);
  EXPECT_TRUE(b.Available("claude"));  // the next run is the probe
  b.Started("claude");
  EXPECT_EQ(b.Get("claude").state, BreakerState::kHalfOpen);
  EXPECT_FALSE(b.Available("claude"));  // one probe at a time
  b.Failed("claude");                   // the probe failed: open again, a new cooldown
  EXPECT_EQ(b.Get("claude").state, BreakerState::kOpen);
  EXPECT_FALSE(b.Available("claude"));
  clock_.Advance(300);
  b.Started("claude");
  b.Succeeded("claude");
  EXPECT_EQ(b.Get("claude").state, BreakerState::kClosed);
  EXPECT_TRUE(b.Get("claude").failures.empty());
}

TEST_F(BreakerTest, TheStateOutlivesTheObject) {
  for (int i = 0; i < 3; ++i) breakers_->Failed("codex");
  Breakers again(*store_, config_, clock_);
  EXPECT_FALSE(again.Available("codex"));
  EXPECT_NE(again.Describe("codex").find("a probe may run in 300s"), std::string::npos);
}

}  // namespace
}  // namespace orch
