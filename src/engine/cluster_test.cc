#include "engine/cluster.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "testing/store_backends.h"
#include "testing/test_util.h"

namespace orch {
namespace {

// Two hosts on one store, as two orch serve processes sharing a PostgreSQL database would be.
class ClusterTest : public ::testing::TestWithParam<test::Backend> {
 protected:
  void SetUp() override {
    std::string where = test::StoreLocation(GetParam(), dir_);
    alpha_store_ = std::move(Store::Open(where, clock_)).value();
    beta_store_ = std::move(Store::Open(where, clock_)).value();
    alpha_store_->SetHost("alpha", std::chrono::seconds(30));
    beta_store_->SetHost("beta", std::chrono::seconds(30));
    project_ = *alpha_store_->AddProject({.name = "acme/widgets", .path = "/src/widgets"});
  }

  // A task alpha has started an agent for.
  Task StartedOnAlpha(const std::string& title) {
    NewTask n{.project_id = project_.id, .title = title, .status = TaskStatus::kRouted};
    Task t = *alpha_store_->AddTask(n, {"test", ""});
    EXPECT_TRUE(
        alpha_store_
            ->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"engine", "starting"})
            .ok());
    Attempt run;
    run.task_id = t.id;
    run.agent = "claude";
    EXPECT_TRUE(alpha_store_->StartAttempt(run).ok());
    return t;
  }

  // Task `id`'s attempts not finished yet, whichever host's.
  size_t Unfinished(int64_t id) {
    Result<std::vector<Attempt>> attempts = beta_store_->ListAttempts(id);
    EXPECT_TRUE(attempts.ok()) << attempts.status().message();
    size_t n = 0;
    if (attempts.ok()) {
      for (const Attempt& a : *attempts) n += a.finished_at ? 0 : 1;
    }
    return n;
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  std::unique_ptr<Store> alpha_store_, beta_store_;
  Project project_;
};

INSTANTIATE_TEST_SUITE_P(Engines, ClusterTest, test::StoreBackends(), test::BackendName);

TEST_P(ClusterTest, OneHostLeadsAndTheOtherTakesOverOnceItFallsSilent) {
  Cluster alpha(*alpha_store_, "0.1.0", 3), beta(*beta_store_, "0.1.0", 3);
  EXPECT_TRUE(*alpha.Step());
  EXPECT_FALSE(*beta.Step());
  EXPECT_TRUE(alpha.leader());
  clock_.Advance(20);
  EXPECT_TRUE(*alpha.Step());  // renews its lead
  EXPECT_FALSE(*beta.Step());
  clock_.Advance(31);  // alpha silent (killed, cut off) for longer than the lease
  EXPECT_TRUE(*beta.Step());
  EXPECT_FALSE(*alpha.Step());  // back, it follows
  EXPECT_EQ(alpha_store_->ListHosts()->size(), 2u);
}

TEST_P(ClusterTest, ALostHostsTaskGoesBackToRoutedWithItsAttemptClosed) {
  Cluster alpha(*alpha_store_, "0.1.0", 3), beta(*beta_store_, "0.1.0", 3);
  ASSERT_TRUE(*alpha.Step());
  Task t = StartedOnAlpha("fix the widget");
  ASSERT_FALSE(*beta.Step());
  clock_.Advance(20);
  ASSERT_TRUE(*alpha.Step());  // its heartbeat renews the task's lease too
  EXPECT_EQ(alpha_store_->GetTask(t.id)->status, TaskStatus::kInProgress);
  clock_.Advance(31);  // alpha stops
  ASSERT_TRUE(*beta.Step());
  Task back = *beta_store_->GetTask(t.id);
  EXPECT_EQ(back.status, TaskStatus::kRouted);
  EXPECT_NE(back.status_reason.find("host alpha stopped renewing its lease"), std::string::npos)
      << back.status_reason;
  EXPECT_EQ(back.lease_owner, "");
  std::vector<Attempt> attempts = *beta_store_->ListAttempts(t.id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].error_class, "host_lost");
  EXPECT_EQ(attempts[0].host, "alpha");
  EXPECT_EQ(Unfinished(t.id), 0u);
  // Beta starts it again: its lease and attempt are beta's.
  ASSERT_TRUE(
      beta_store_
          ->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"engine", "starting"})
          .ok());
  EXPECT_EQ(beta_store_->GetTask(t.id)->lease_owner, "beta");
}

TEST_P(ClusterTest, ALiveHostsTasksAreLeftAlone) {
  Cluster alpha(*alpha_store_, "0.1.0", 3), beta(*beta_store_, "0.1.0", 3);
  ASSERT_TRUE(*beta.Step());  // beta leads
  Task t = StartedOnAlpha("fix the widget");
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(20);
    ASSERT_FALSE(*alpha.Step());
    ASSERT_TRUE(*beta.Step());
  }
  EXPECT_EQ(beta_store_->GetTask(t.id)->status, TaskStatus::kInProgress);
  EXPECT_EQ(Unfinished(t.id), 1u);
}

TEST(HostIdTest, IsTheConfiguredOneElseTheHostname) {
  EXPECT_EQ(HostId("build-3"), "build-3");
  EXPECT_FALSE(HostId("").empty());
}

}  // namespace
}  // namespace orch
