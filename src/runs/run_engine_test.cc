// The run engine's decisions, driven in-process one Step() at a time over a real store file:
// which steps start in a wave, how a step's end is read back from its task, the review loop,
// code steps (real commands through the process runner), and the debug orchestrator that runs
// exactly once. Agent steps' tasks are finished by hand, as the dispatcher would finish them;
// the work queue has no workers, so a code step's result is applied at the next Step().
#include "runs/run_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class RunEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.router.agents = {"claude", "codex"};
    config_.runs.orchestrator_agent = "codex";
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(dir_.Sub("orch.db"), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Result<Project> p = store_->AddProject({.name = "acme/widgets", .path = dir_.path()});
    ASSERT_TRUE(p.ok()) << p.status().message();
    project_ = *p;
    engine_ = std::make_unique<RunEngine>(RunEngineParts{
        .store = *store_,
        .config = config_,
        .clock = clock_,
        .processes = processes_,
        .work = work_,
        .files = files_,
        .project_config = [this](const Project&) -> Result<Config> { return config_; },
        .worktree_of = [this](const std::string&,
                              const std::string& branch) { return dir_.Sub("trees/" + branch); }});
  }

  RunRecord StartFlow(const std::string& yaml) {
    Result<Flow> flow = ParseFlow(yaml, "test.yml", [](const std::string&) { return true; });
    EXPECT_TRUE(flow.ok()) << flow.status().message();
    Result<RunRecord> run = CreateFlowRun(*store_, *flow, project_, "\"the change\"");
    EXPECT_TRUE(run.ok()) << run.status().message();
    return *run;
  }
  void Step() {
    Status s = engine_->Step();
    EXPECT_TRUE(s.ok()) << s.message();
  }
  std::map<std::string, RunStepRecord> Steps(int64_t run) {
    std::map<std::string, RunStepRecord> out;
    Result<std::vector<RunStepRecord>> steps = store_->ListRunSteps(run);
    for (const RunStepRecord& s : *steps) out[s.step_id] = s;
    return out;
  }
  RunRecord Run(int64_t id) { return *store_->GetRun(id); }
  // Ends the agent step's task as the dispatcher would: one attempt whose summary is `output`.
  void EndTask(int64_t task_id, const std::string& output, bool done = true) {
    ASSERT_TRUE(
        store_->Transition(task_id, TaskStatus::kNew, TaskStatus::kRouted, {"t", "routed"}).ok());
    ASSERT_TRUE(
        store_->Transition(task_id, TaskStatus::kRouted, TaskStatus::kInProgress, {"t", "started"})
            .ok());
    Attempt row;
    row.task_id = task_id;
    row.agent = "claude";
    Result<Attempt> run = store_->StartAttempt(row);
    ASSERT_TRUE(run.ok()) << run.status().message();
    run->outcome = done ? "done" : "failed";
    run->summary = output;
    run->finished_at = clock_.NowUnix();
    ASSERT_TRUE(store_->FinishAttempt(*run).ok());
    ASSERT_TRUE(store_
                    ->Transition(task_id, TaskStatus::kInProgress,
                                 done ? TaskStatus::kDone : TaskStatus::kNeedsReview,
                                 {"t", done ? "done" : "the agent gave up"})
                    .ok());
  }
  void EndStep(int64_t run, const std::string& step, const std::string& output, bool done = true) {
    std::optional<int64_t> task = Steps(run)[step].task_id;
    ASSERT_TRUE(task) << step << " has no task";
    EndTask(*task, output, done);
  }
  int TasksOfRun(int64_t run) {
    int n = 0;
    Result<std::vector<Task>> tasks = store_->ListTasks({.project_id = project_.id});
    for (const Task& t : *tasks) n += t.run_id == run;
    return n;
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  Config config_;
  PosixProcessRunner processes_;
  RealFileSystem files_;
  WorkQueue work_{0};
  std::unique_ptr<SqliteStore> store_;
  Project project_;
  std::unique_ptr<RunEngine> engine_;
};

constexpr const char* kTwoWaves = R"(name: two-waves
steps:
  - id: a
    agent: claude
    prompt: "do {{input}}"
  - id: b
    agent: codex
    prompt: "do more"
  - id: c
    needs: [a, b]
    agent: claude
    prompt: "after {{steps.a.output}}"
)";

TEST_F(RunEngineTest, AWaveStartsEveryReadyStepAndTheNextWaitsForItsNeeds) {
  RunRecord run = StartFlow(kTwoWaves);
  Step();
  auto steps = Steps(run.id);
  EXPECT_EQ(steps["a"].status, StepState::kRunning);
  EXPECT_EQ(steps["b"].status, StepState::kRunning);
  EXPECT_EQ(steps["c"].status, StepState::kPending);
  Task a = *store_->GetTask(*steps["a"].task_id);
  EXPECT_EQ(a.body, "do the change");
  EXPECT_EQ(a.branch, "orch/run-" + std::to_string(run.id));  // the run's one branch
  EXPECT_THAT(a.labels, ::testing::Contains("agent:claude"));
  Step();  // nothing ended: nothing new starts, nothing starts twice
  EXPECT_EQ(TasksOfRun(run.id), 2);
}

TEST_F(RunEngineTest, AStepEndsWithItsTaskAndItsOutputFeedsTheNextWave) {
  RunRecord run = StartFlow(kTwoWaves);
  Step();
  EndStep(run.id, "a", "made a");
  Step();
  EXPECT_EQ(Steps(run.id)["a"].status, StepState::kCompleted);
  EXPECT_EQ(Steps(run.id)["a"].output, "made a");
  EXPECT_EQ(Steps(run.id)["c"].status, StepState::kPending);  // b still runs
  EndStep(run.id, "b", "made b");
  Step();
  auto steps = Steps(run.id);
  ASSERT_EQ(steps["c"].status, StepState::kRunning);
  EXPECT_EQ(store_->GetTask(*steps["c"].task_id)->body, "after made a");
  EndStep(run.id, "c", "made c");
  Step();
  EXPECT_EQ(Run(run.id).status, RunStatus::kCompleted);
  EXPECT_THAT(Run(run.id).report, HasSubstr("orch/run-" + std::to_string(run.id)));
}

TEST_F(RunEngineTest, AFailedStepSkipsWhatNeedsItAndFailsTheRun) {
  RunRecord run = StartFlow(kTwoWaves);
  Step();
  EndStep(run.id, "a", "could not", /*done=*/false);
  EndStep(run.id, "b", "made b");
  Step();
  auto steps = Steps(run.id);
  EXPECT_EQ(steps["a"].status, StepState::kFailed);
  EXPECT_THAT(steps["a"].output, HasSubstr("the agent gave up"));
  EXPECT_EQ(steps["c"].status, StepState::kSkipped);
  EXPECT_EQ(Run(run.id).status, RunStatus::kFailed);
}

TEST_F(RunEngineTest, AReviewAskingForChangesSendsTheWorkBackUpToMaxCycles) {
  RunRecord run = StartFlow(R"(name: loop
steps:
  - id: code
    agent: claude
    prompt: "code {{input}}"
  - id: review
    needs: [code]
    agent: codex
    read_only: true
    prompt: "review"
    loop_to: code
    max_cycles: 1
)");
  Step();
  EndStep(run.id, "code", "coded");
  Step();
  EndStep(run.id, "review", "Rename x.\nVERDICT: changes");
  Step();
  auto steps = Steps(run.id);
  ASSERT_EQ(steps["code"].status, StepState::kRunning);  // again, with the review's words
  EXPECT_EQ(steps["code"].cycle, 1);
  EXPECT_THAT(store_->GetTask(*steps["code"].task_id)->body, HasSubstr("Rename x."));
  EndStep(run.id, "code", "renamed");
  Step();
  EndStep(run.id, "review", "Still not.\nVERDICT: changes");
  Step();  // the cap is reached: the run ends and says so
  EXPECT_EQ(Run(run.id).status, RunStatus::kCompleted);
  EXPECT_THAT(Run(run.id).report, HasSubstr("review still asked for changes after 1 cycle"));
  EXPECT_EQ(TasksOfRun(run.id), 4);
}

TEST_F(RunEngineTest, CodeStepsRunTheirCommandAndTheirExitDecides) {
  RunRecord run = StartFlow(R"(name: code
steps:
  - id: ok
    kind: code
    command: ["sh", "-c", "echo fine"]
  - id: bad
    needs: [ok]
    kind: code
    command: ["sh", "-c", "echo broken >&2; exit 3"]
)");
  Step();  // starts ok; its job runs now, its result waits for the next Step
  EXPECT_EQ(Steps(run.id)["ok"].status, StepState::kRunning);
  Step();
  auto steps = Steps(run.id);
  EXPECT_EQ(steps["ok"].status, StepState::kCompleted);
  EXPECT_THAT(steps["ok"].output, HasSubstr("fine"));
  EXPECT_EQ(steps["bad"].status, StepState::kRunning);
  Step();
  steps = Steps(run.id);
  EXPECT_EQ(steps["bad"].status, StepState::kFailed);
  EXPECT_THAT(steps["bad"].output, HasSubstr("(exit 3)"));
  EXPECT_THAT(steps["bad"].output, HasSubstr("broken"));
  EXPECT_EQ(Run(run.id).status, RunStatus::kFailed);
}

TEST_F(RunEngineTest, TheDebugOrchestratorRunsOnceAfterEverySession) {
  Result<RunRecord> run =
      CreateDebugRun(*store_, config_,
                     {.project = project_, .title = "It crashes", .agents = {"claude", "codex"}});
  ASSERT_TRUE(run.ok()) << run.status().message();
  Step();
  auto steps = Steps(run->id);
  ASSERT_EQ(steps.size(), 2u);
  std::vector<std::string> sessions;
  for (const auto& [id, s] : steps) sessions.push_back(id);
  EndStep(run->id, sessions[0], "found it in parse()");
  Step();
  EXPECT_EQ(Steps(run->id).count(kOrchestratorStep), 0u);  // not before every session ended
  EndStep(run->id, sessions[1], "gave up", /*done=*/false);
  Step();
  Step();
  Step();
  steps = Steps(run->id);
  ASSERT_EQ(steps.count(kOrchestratorStep), 1u);
  ASSERT_EQ(steps[kOrchestratorStep].status, StepState::kRunning);
  EXPECT_EQ(TasksOfRun(run->id), 3);  // one orchestrator, however many passes
  Task o = *store_->GetTask(*steps[kOrchestratorStep].task_id);
  EXPECT_THAT(o.labels, ::testing::Contains("agent:codex"));
  EXPECT_THAT(o.body, HasSubstr("found it in parse()"));
  EndStep(run->id, kOrchestratorStep, "the fix is in parse()");
  Step();
  EXPECT_EQ(Run(run->id).status, RunStatus::kCompleted);
  EXPECT_THAT(Run(run->id).report, HasSubstr("the fix is in parse()"));
}

}  // namespace
}  // namespace orch
