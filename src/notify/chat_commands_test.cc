#include "notify/chat_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ChatCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(":memory:", clock_)).value();
    project_ = *store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"});
    config_.workflow.max_attempts = 3;
  }
  Task AddTask(const std::string& title, TaskStatus status = TaskStatus::kNew) {
    NewTask n;
    n.project_id = project_.id;
    n.title = title;
    Task t = *store_->AddTask(n, {"test", "made"});
    if (status != TaskStatus::kNew) {
      EXPECT_TRUE(
          store_->Transition(t.id, TaskStatus::kNew, status, {"test", "set"}, AttemptEffect::kCount)
              .ok());
    }
    return *store_->GetTask(t.id);
  }
  std::string Say(const std::string& text) {
    std::optional<ChatReply> r = HandleChatCommand(*store_, config_, text, "telegram:alice");
    return r ? r->text : "<none>";
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
  Config config_;
};

TEST_F(ChatCommandsTest, UnblockReturnsANeedsReviewTaskToNewAsThePersonWhoAsked) {
  Task t = AddTask("Stuck", TaskStatus::kNeedsReview);
  ASSERT_EQ(t.attempts, 1);
  std::optional<ChatReply> r =
      HandleChatCommand(*store_, config_, "/unblock " + std::to_string(t.id), "telegram:alice");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changed);
  Task now = *store_->GetTask(t.id);
  EXPECT_EQ(now.status, TaskStatus::kNew);
  EXPECT_EQ(now.attempts, 0);
  std::vector<Event> events = *store_->TaskEvents(t.id);
  EXPECT_EQ(events.back().actor, "telegram:alice");
  EXPECT_EQ(events.back().reason, "unblocked");
}

TEST_F(ChatCommandsTest, UnblockRefusesATaskThatIsNotWaitingForAPerson) {
  Task t = AddTask("Fine", TaskStatus::kRouted);
  EXPECT_THAT(Say("/unblock " + std::to_string(t.id)), HasSubstr("not blocked or needs_review"));
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kRouted);
  EXPECT_THAT(Say("/unblock 999"), HasSubstr("999"));
  EXPECT_THAT(Say("/unblock"), HasSubstr("usage"));
}

TEST_F(ChatCommandsTest, RetryCountsAgainstMaxAttempts) {
  Task t = AddTask("Again", TaskStatus::kNeedsReview);
  EXPECT_THAT(Say("/retry@orch_bot " + std::to_string(t.id)), HasSubstr("new again"));
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kNew);
  config_.workflow.max_attempts = 1;
  Task used = AddTask("Used up", TaskStatus::kNeedsReview);
  EXPECT_THAT(Say("/retry " + std::to_string(used.id)), HasSubstr("/unblock resets them"));
  EXPECT_EQ(store_->GetTask(used.id)->status, TaskStatus::kNeedsReview);
}

TEST_F(ChatCommandsTest, StatusCountsAndListsActiveTasks) {
  AddTask("Fresh");
  AddTask("Stuck", TaskStatus::kNeedsReview);
  std::string s = Say("/status");
  EXPECT_THAT(s, HasSubstr("2 task(s), 1 new, 1 needs_review"));
  EXPECT_THAT(s, HasSubstr("[needs_review] acme/widgets: Stuck"));
  EXPECT_THAT(s, Not(HasSubstr("Fresh")));
}

TEST_F(ChatCommandsTest, StreamShowsTheTailOfTheLatestRunRedacted) {
  Task t = AddTask("Running", TaskStatus::kInProgress);
  std::filesystem::create_directories(dir_.Sub("run1"));
  std::string log;
  for (int i = 0; i < 30; ++i) log += "line " + std::to_string(i) + "\n";
  log += "\x1b[32mtoken=supersecretvalue123\x1b[0m\n";
  test::WriteFile(dir_.Sub("run1/output.log"), log);
  Attempt run;
  run.task_id = t.id;
  run.agent = "claude";
  run.run_dir = dir_.Sub("run1");
  ASSERT_TRUE(store_->StartAttempt(run).ok());
  std::string s = Say("/stream " + std::to_string(t.id));
  EXPECT_THAT(s, HasSubstr("run 1 (claude, running)"));
  EXPECT_THAT(s, HasSubstr("line 29"));
  EXPECT_THAT(s, Not(HasSubstr("line 10\n")));  // only the last 20 lines
  EXPECT_THAT(s, Not(HasSubstr("supersecretvalue123")));
  EXPECT_THAT(s, Not(HasSubstr("\x1b")));
  EXPECT_THAT(Say("/stream " + std::to_string(AddTask("Idle").id)), HasSubstr("no runs yet"));
}

TEST_F(ChatCommandsTest, PlainTextIsNoCommandAndUnknownCommandsGetHelp) {
  EXPECT_EQ(Say("hello there"), "<none>");
  EXPECT_THAT(Say("/frobnicate"), HasSubstr("/unblock ID"));
}

}  // namespace
}  // namespace orch
