#include "store/task.h"

#include <gtest/gtest.h>

#include <set>

namespace orch {
namespace {

using S = TaskStatus;

TEST(TaskTest, StatusNamesRoundTrip) {
  for (TaskStatus s : kAllTaskStatuses) {
    Result<TaskStatus> back = ParseTaskStatus(TaskStatusName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  Result<TaskStatus> bad = ParseTaskStatus("finished");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("needs_review"), std::string::npos);
}

TEST(TaskTest, TheLifecycleOfAnIssueIsLegal) {
  // new -> routed -> in_progress -> in_review -> in_progress (follow-up) -> in_review -> done
  EXPECT_TRUE(IsLegalTransition(S::kNew, S::kRouted));
  EXPECT_TRUE(IsLegalTransition(S::kRouted, S::kInProgress));
  EXPECT_TRUE(IsLegalTransition(S::kInProgress, S::kInReview));
  EXPECT_TRUE(IsLegalTransition(S::kInReview, S::kInProgress));
  EXPECT_TRUE(IsLegalTransition(S::kInReview, S::kDone));
  // A person's way back: unblock and retry go to new; a reopened issue too.
  EXPECT_TRUE(IsLegalTransition(S::kNeedsReview, S::kNew));
  EXPECT_TRUE(IsLegalTransition(S::kBlocked, S::kNew));
  EXPECT_TRUE(IsLegalTransition(S::kDone, S::kNew));
}

TEST(TaskTest, IllegalMovesAreRefused) {
  EXPECT_FALSE(IsLegalTransition(S::kDone, S::kInProgress));
  EXPECT_FALSE(IsLegalTransition(S::kDone, S::kInReview));
  EXPECT_FALSE(IsLegalTransition(S::kNew, S::kInReview));
  EXPECT_FALSE(IsLegalTransition(S::kNeedsReview, S::kInProgress));
  EXPECT_FALSE(IsLegalTransition(S::kRouted, S::kInReview));
  for (TaskStatus s : kAllTaskStatuses) EXPECT_FALSE(IsLegalTransition(s, s)) << TaskStatusName(s);
}

TEST(TaskTest, EveryStatusCanReachDone) {
  // No status is a trap: from each, done is reachable along legal moves.
  for (TaskStatus start : kAllTaskStatuses) {
    std::set<TaskStatus> seen{start};
    std::vector<TaskStatus> todo{start};
    while (!todo.empty()) {
      TaskStatus s = todo.back();
      todo.pop_back();
      for (TaskStatus t : kAllTaskStatuses) {
        if (IsLegalTransition(s, t) && seen.insert(t).second) todo.push_back(t);
      }
    }
    EXPECT_TRUE(seen.count(S::kDone)) << TaskStatusName(start);
  }
}

}  // namespace
}  // namespace orch
