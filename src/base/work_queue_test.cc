#include "base/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace orch {
namespace {

TEST(WorkQueueTest, WithoutWorkersAJobRunsAtSubmitAndItsResultWaitsForApplyDone) {
  WorkQueue q(0);
  std::vector<std::string> seen;
  q.Submit([&]() -> WorkQueue::Apply {
    seen.push_back("job");
    return [&] { seen.push_back("applied"); };
  });
  EXPECT_EQ(seen, std::vector<std::string>{"job"});
  EXPECT_EQ(q.in_flight(), 1);
  EXPECT_EQ(q.ApplyDone(), 1);
  EXPECT_EQ(seen, (std::vector<std::string>{"job", "applied"}));
  EXPECT_EQ(q.in_flight(), 0);
}

TEST(WorkQueueTest, ResultsAreAppliedOnTheThreadThatCallsApplyDone) {
  std::atomic<int> wakes{0};
  WorkQueue q(3, [&] { ++wakes; });
  std::thread::id applied_on;
  std::thread::id ran_on;
  for (int i = 0; i < 5; ++i) {
    q.Submit([&, i]() -> WorkQueue::Apply {
      if (i == 0) ran_on = std::this_thread::get_id();
      return [&, i] {
        if (i == 0) applied_on = std::this_thread::get_id();
      };
    });
  }
  q.Drain();
  EXPECT_EQ(q.in_flight(), 0);
  EXPECT_EQ(applied_on, std::this_thread::get_id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
  // Each worker wakes the engine after handing its result over, so the last wake may follow
  // Drain() by a moment.
  for (int i = 0; i < 1000 && wakes.load() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(wakes.load(), 5);
}

TEST(WorkQueueTest, StopRaisesStoppingWaitsForRunningJobsAndDropsTheirResults) {
  WorkQueue q(1);
  std::atomic<bool> started{false};
  bool applied = false;
  q.Submit([&]() -> WorkQueue::Apply {
    started = true;
    while (!q.stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return [&] { applied = true; };
  });
  q.Submit([&]() -> WorkQueue::Apply { return [&] { applied = true; }; });  // never starts
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  q.Stop();
  EXPECT_TRUE(q.stopping());
  EXPECT_EQ(q.ApplyDone(), 0);
  EXPECT_FALSE(applied);
  q.Submit([&]() -> WorkQueue::Apply { return [&] { applied = true; }; });  // refused
  EXPECT_EQ(q.in_flight(), 0);
}

}  // namespace
}  // namespace orch
