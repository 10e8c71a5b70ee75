#include "engine/ci.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/intake.h"
#include "engine/reviews.h"
#include "testing/fake_github.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(":memory:", clock_)).value();
    project_ = *store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"});
    ci_ = std::make_unique<CiHandler>(*store_, github_, config_);
    Task t = *store_->AddTask({.project_id = project_.id,
                               .external_id = "7",
                               .source = TaskSource::kGithub,
                               .title = "Add a greeting"},
                              {"test", "made"});
    EXPECT_TRUE(store_->SetTaskBranch(t.id, "orch/7-add-a-greeting").ok());
    EXPECT_TRUE(store_->SetTaskPullRequest(t.id, 12).ok());
    for (TaskStatus to : {TaskStatus::kRouted, TaskStatus::kInProgress, TaskStatus::kInReview}) {
      EXPECT_TRUE(store_->Transition(t.id, store_->GetTask(t.id)->status, to, {"t", "t"}).ok());
    }
    parent_ = t.id;
    PullRequest pr;
    pr.number = 12;
    pr.state = "open";
    pr.head_ref = "orch/7-add-a-greeting";
    pr.head_sha = "aaaaaaa1";
    github_.pulls[12] = pr;
  }
  CheckRun Check(const std::string& sha, const std::string& conclusion, int64_t id = 501) {
    CheckRun c{"tests", "completed", conclusion};
    c.id = id;
    c.head_sha = sha;
    c.head_branch = "orch/7-add-a-greeting";
    c.pull_requests = {12};
    return c;
  }
  std::vector<Task> FollowUps() { return *store_->ListTasks({.parent_id = parent_}); }
  Task Parent() { return *store_->GetTask(parent_); }

  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
  test::FakeGitHub github_;
  Config config_;
  TrustPolicy trust_{github_, clock_, {}};
  std::unique_ptr<CiHandler> ci_;
  int64_t parent_ = 0;
};

TEST_F(CiTest, AFailingCheckOnTheHeadIsOneFollowUpWithItsAnnotationsAndLogTail) {
  github_.annotations[501] = {{"calc.py", 14, "failure", "assert 3 == 4"}};
  std::string log;
  for (int i = 1; i <= 300; ++i) log += "line " + std::to_string(i) + "\n";
  log += "token ghp_abcdefghijklmnopqrstuvwxyz0123456789\n";
  github_.job_logs[501] = log;
  Result<std::string> did = ci_->ApplyCheck(project_, Check("aaaaaaa1", "failure"));
  ASSERT_TRUE(did.ok()) << did.status().message();
  EXPECT_THAT(*did, HasSubstr("created follow-up task"));
  std::vector<Task> made = FollowUps();
  ASSERT_EQ(made.size(), 1u);
  EXPECT_TRUE(IsFollowUp(made[0]));
  EXPECT_EQ(made[0].branch, "orch/7-add-a-greeting");
  EXPECT_EQ(made[0].source_id, "ci aaaaaaa1");
  EXPECT_THAT(made[0].body, HasSubstr("`tests` ended failure"));
  EXPECT_THAT(made[0].body, HasSubstr("calc.py:14: failure: assert 3 == 4"));
  EXPECT_THAT(made[0].body, HasSubstr("line 300"));
  EXPECT_THAT(made[0].body, Not(HasSubstr("line 100\n")));  // only the tail
  EXPECT_THAT(made[0].body, Not(HasSubstr("ghp_abcdefghijklmnopqrstuvwxyz0123456789")));
  EXPECT_THAT(Parent().status_reason, HasSubstr("check tests failed on aaaaaaa"));
  ASSERT_EQ(github_.comments.size(), 1u);
  EXPECT_THAT(github_.comments[0], HasSubstr("fix attempt 1 of 3"));

  // The same failure again (a redelivery, another check of that commit): nothing new.
  EXPECT_THAT(*ci_->ApplyCheck(project_, Check("aaaaaaa1", "failure", 502)), HasSubstr("exists"));
  EXPECT_EQ(FollowUps().size(), 1u);

  // The fix is pushed and its checks pass: the task waits for review again.
  github_.pulls[12].head_sha = "bbbbbbb2";
  EXPECT_THAT(*ci_->ApplyCheck(project_, Check("bbbbbbb2", "success")),
              HasSubstr("waits for review"));
  EXPECT_THAT(Parent().status_reason, HasSubstr("checks pass on bbbbbbb"));
  EXPECT_EQ(Parent().status, TaskStatus::kInReview);
}

TEST_F(CiTest, AnOlderCommitAnotherBranchOrAnotherPullRequestIsIgnored) {
  EXPECT_THAT(*ci_->ApplyCheck(project_, Check("0ld0ld0", "failure")),
              HasSubstr("not on the pull request's head aaaaaaa"));
  CheckRun elsewhere = Check("aaaaaaa1", "failure");
  elsewhere.pull_requests = {};
  elsewhere.head_branch = "someone/else";
  EXPECT_THAT(*ci_->ApplyCheck(project_, elsewhere), HasSubstr("not on a pull request of orch's"));
  EXPECT_TRUE(FollowUps().empty());
}

TEST_F(CiTest, AfterMaxCiFixAttemptsTheTaskNeedsReview) {
  config_.workflow.max_ci_fix_attempts = 2;
  ci_ = std::make_unique<CiHandler>(*store_, github_, config_);
  for (const char* sha : {"aaaaaaa1", "bbbbbbb2"}) {
    github_.pulls[12].head_sha = sha;
    ASSERT_THAT(*ci_->ApplyCheck(project_, Check(sha, "timed_out")), HasSubstr("created"));
  }
  github_.pulls[12].head_sha = "ccccccc3";
  EXPECT_THAT(*ci_->ApplyCheck(project_, Check("ccccccc3", "failure")), HasSubstr("needs review"));
  EXPECT_EQ(Parent().status, TaskStatus::kNeedsReview);
  EXPECT_EQ(FollowUps().size(), 2u);
  EXPECT_THAT(github_.comments.back(), HasSubstr("a person should look"));
}

TEST_F(CiTest, TheSyncAsksTheChecksOfEachPullRequestInReview) {
  github_.check_runs = {Check("aaaaaaa1", "failure")};
  github_.check_runs[0].pull_requests = {};  // the listing does not always say
  // The engine's sync: the review handler reads the PR and hands it on for its checks.
  ReviewHandler reviews(*store_, github_, trust_, config_);
  reviews.set_ci(ci_.get());
  Result<int> synced = reviews.Sync(project_);
  ASSERT_TRUE(synced.ok()) << synced.status().message();
  EXPECT_EQ(*synced, 1);
  EXPECT_EQ(FollowUps().size(), 1u);
  ASSERT_TRUE(reviews.Sync(project_).ok());
  EXPECT_EQ(FollowUps().size(), 1u);
  EXPECT_EQ(github_.Count("pull request 12"), 2);  // once per sync
}

TEST(CiIntakeTest, CheckEventsAreKeptThoughOrchPushedTheCommit) {
  IntakeRules rules{"orch-bot", {"orch"}};
  nlohmann::json p = {{"action", "completed"},
                      {"check_run",
                       {{"id", 501},
                        {"name", "tests"},
                        {"status", "completed"},
                        {"conclusion", "failure"},
                        {"head_sha", "aaaaaaa1"},
                        {"check_suite", {{"head_branch", "orch/7-x"}}},
                        {"pull_requests", {{{"number", 12}}}}}},
                      {"repository", {{"full_name", "acme/widgets"}}},
                      {"sender", {{"login", "orch-bot"}, {"type", "User"}}}};
  IntakeDecision d = DecideEvent("check_run", p, rules);
  ASSERT_EQ(d.action, IntakeAction::kCheck) << d.reason;
  EXPECT_EQ(d.check.id, 501);
  EXPECT_EQ(d.check.head_branch, "orch/7-x");
  EXPECT_EQ(d.check.pull_requests, std::vector<int64_t>{12});
  nlohmann::json suite = {{"action", "completed"},
                          {"check_suite", {{"head_sha", "aaaaaaa1"}, {"conclusion", "failure"}}},
                          {"repository", {{"full_name", "acme/widgets"}}},
                          {"sender", {{"login", "orch-bot"}, {"type", "User"}}}};
  IntakeDecision s = DecideEvent("check_suite", suite, rules);
  EXPECT_EQ(s.action, IntakeAction::kCommitChecks);
  EXPECT_EQ(s.head_sha, "aaaaaaa1");
  suite["action"] = "requested";
  EXPECT_EQ(DecideEvent("check_suite", suite, rules).action, IntakeAction::kIgnore);
}

}  // namespace
}  // namespace orch
