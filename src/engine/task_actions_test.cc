#include "engine/task_actions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "agents/runner.h"
#include "agents/tmux.h"
#include "base/subprocess.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class TaskActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(dir_.Sub("orch.db"), clock_)).value();
    project_ = *store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"});
    other_ = *store_->AddProject({.name = "acme/other", .repo = "acme/other", .path = "/o"});
  }
  // A task of `project` (default acme/widgets) moved to `status`, `attempts` attempts used.
  Task AddTask(TaskStatus status, int attempts = 1, std::optional<int64_t> project = {}) {
    Task t = *store_->AddTask({.project_id = project.value_or(project_.id), .title = "t"},
                              {"test", "made"});
    TaskStatus at = TaskStatus::kNew;
    for (int i = 0; i < attempts; ++i) {
      EXPECT_TRUE(store_->Transition(t.id, at, TaskStatus::kInProgress, {"test", "run"}).ok());
      TaskStatus next = i + 1 < attempts ? TaskStatus::kNew : status;
      if (next != TaskStatus::kInProgress) {
        EXPECT_TRUE(store_
                        ->Transition(t.id, TaskStatus::kInProgress, next, {"test", "end"},
                                     AttemptEffect::kCount)
                        .ok());
      }
      at = next;
    }
    return *store_->GetTask(t.id);
  }
  // A needs_review task that is the failed step of a run still running.
  Task StepTaskOfAFailedStep() {
    RunRecord run = *store_->CreateRun({.kind = RunKind::kFlow, .project_id = project_.id},
                                       {{.step_id = "fix", .agent = "claude"}});
    Task t = *store_->StartAgentStep(run.id, "fix",
                                     {.project_id = project_.id, .title = "fix", .run_id = run.id},
                                     {"test", "step"});
    EXPECT_TRUE(store_
                    ->Transition(t.id, TaskStatus::kNew, TaskStatus::kNeedsReview,
                                 {"test", "gave up"}, AttemptEffect::kCount)
                    .ok());
    RunStepRecord step = (*store_->ListRunSteps(run.id))[0];
    step.status = StepState::kFailed;
    EXPECT_TRUE(store_->UpdateRunStep(step).ok());
    return *store_->GetTask(t.id);
  }
  Event LastEvent(int64_t id) { return store_->TaskEvents(id)->back(); }

  test::TempDir dir_;
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_, other_;
};

TEST_F(TaskActionsTest, RetryMovesAFailedTaskToNewKeepingItsAttemptsWithinTheMaximum) {
  Task t = AddTask(TaskStatus::kNeedsReview, 2);
  Result<std::string> done = RetryTask(*store_, t.id, 3, "dashboard");
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_THAT(*done, HasSubstr("attempt 3 of 3 next"));
  Task now = *store_->GetTask(t.id);
  EXPECT_EQ(now.status, TaskStatus::kNew);
  EXPECT_EQ(now.attempts, 2);
  EXPECT_EQ(LastEvent(t.id).actor, "dashboard");
  EXPECT_EQ(LastEvent(t.id).reason, "retry requested");
}

TEST_F(TaskActionsTest, RetryIsRefusedAtTheMaximumAndForATaskNotStuck) {
  Task spent = AddTask(TaskStatus::kNeedsReview, 3);
  Result<std::string> at_max = RetryTask(*store_, spent.id, 3, "cli");
  EXPECT_EQ(at_max.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(at_max.status().message(), HasSubstr("has used 3 of 3 attempts; unblock resets"));
  Task fresh = AddTask(TaskStatus::kNew, 0);
  Result<std::string> is_new = RetryTask(*store_, fresh.id, 3, "cli");
  EXPECT_EQ(is_new.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(is_new.status().message(), HasSubstr("only needs_review, blocked or in_progress"));
  EXPECT_TRUE(RetryTask(*store_, 999, 3, "cli").status().IsNotFound());
  EXPECT_EQ(store_->GetTask(spent.id)->status, TaskStatus::kNeedsReview);
}

TEST_F(TaskActionsTest, UnblockResetsTheAttemptCountAndRefusesATaskNotWaiting) {
  Task t = AddTask(TaskStatus::kNeedsReview, 3);
  Result<std::string> done = UnblockTask(*store_, t.id, "telegram:alice");
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_THAT(*done, HasSubstr("unblocked"));
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kNew);
  EXPECT_EQ(store_->GetTask(t.id)->attempts, 0);
  EXPECT_EQ(LastEvent(t.id).actor, "telegram:alice");
  Result<std::string> again = UnblockTask(*store_, t.id, "telegram:alice");
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(again.status().message(), HasSubstr("is new, not blocked or needs_review"));
}

TEST_F(TaskActionsTest, AStepTaskItsRunMovedOnFromIsNeitherRetriedNorUnblocked) {
  Task step = StepTaskOfAFailedStep();
  Result<std::string> retry = RetryTask(*store_, step.id, 3, "cli");
  EXPECT_TRUE(retry.status().IsConflict()) << retry.status().message();
  EXPECT_THAT(retry.status().message(), HasSubstr("is step fix of run"));
  EXPECT_TRUE(UnblockTask(*store_, step.id, "cli").status().IsConflict());
  EXPECT_EQ(store_->GetTask(step.id)->status, TaskStatus::kNeedsReview);
}

TEST_F(TaskActionsTest, UnblockAllMovesEveryWaitingTaskOfTheProjectAndSaysWhyItSkippedOne) {
  Task stuck = AddTask(TaskStatus::kNeedsReview, 3);
  Task blocked = AddTask(TaskStatus::kBlocked, 1);
  Task running = AddTask(TaskStatus::kInProgress, 1);
  Task elsewhere = AddTask(TaskStatus::kNeedsReview, 1, other_.id);
  Task step = StepTaskOfAFailedStep();
  Result<UnblockAllReport> r = UnblockAll(*store_, project_.id, "cli");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->moved, 2);
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_THAT(r->skipped[0], HasSubstr("task " + std::to_string(step.id) + " is step fix"));
  for (const Task& t : {stuck, blocked}) {
    EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kNew);
    EXPECT_EQ(store_->GetTask(t.id)->attempts, 0);
  }
  EXPECT_EQ(store_->GetTask(running.id)->status, TaskStatus::kInProgress);
  EXPECT_EQ(store_->GetTask(elsewhere.id)->status, TaskStatus::kNeedsReview);
  EXPECT_EQ(UnblockAll(*store_, std::nullopt, "cli")->moved, 1);  // the other project's
}

TEST_F(TaskActionsTest, KillMarksTheRunAsStoppedByAPersonAndEndsItsTmuxSession) {
  // A real tmux server on a private socket, with the attempt's session running.
  std::string socket = "orch-actions-" + std::to_string(getpid());
  PosixProcessRunner processes;
  Tmux tmux(processes, socket);
  Task t = AddTask(TaskStatus::kInProgress, 1);
  EXPECT_TRUE(KillTask(*store_, tmux, t.id, "cli").status().IsNotFound());  // nothing started
  std::string run_dir = dir_.Sub("run");
  std::filesystem::create_directories(run_dir);
  Attempt run;  // field by field: Attempt's strings have no initializers for -Wextra to see
  run.task_id = t.id;
  run.agent = "claude";
  run.tmux_session = "orch-1-1";
  run.run_dir = run_dir;
  run.started_at = 1;
  ASSERT_TRUE(store_->StartAttempt(run).ok());
  ASSERT_EQ(test::Run({"tmux", "-f", "/dev/null", "-L", socket, "new-session", "-d", "-s",
                       "orch-1-1", "sleep", "60"})
                .exit_code,
            0);
  ASSERT_TRUE(*tmux.HasSession("orch-1-1"));
  Result<std::string> done = KillTask(*store_, tmux, t.id, "dashboard");
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_THAT(*done, HasSubstr("killed orch-1-1"));
  EXPECT_FALSE(*tmux.HasSession("orch-1-1"));
  EXPECT_EQ(test::ReadFile(run_dir + "/" + kKilledMarker), "dashboard\n");
  (void)test::Run({"tmux", "-L", socket, "kill-server"});
}

}  // namespace
}  // namespace orch
