// The run engine's decisions, driven in-process one Step() at a time over a real store file:
// which steps start in a wave, how a step's end is read back from its task, the review loop,
// code steps (real commands through the process runner), and the debug orchestrator that runs
// exactly once. Agent steps' tasks are finished by hand, as the dispatcher would finish them;
// the work queue has no workers, so a code step's result is applied at the next Step().
#include "runs/run_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/breaker.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class RunEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.router.agents = {"claude", "codex"};
    config_.runs.orchestrator_agent = "codex";
    // Every agent "installed" as a real executable, until Uninstall.
    for (const char* a : {"claude", "codex", "opencode"}) config_.agents[a].command = "/bin/sh";
    Result<std::unique_ptr<Store>> s = Store::Open(dir_.Sub("orch.db"), clock_);
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
                              const std::string& branch) { return dir_.Sub("trees/" + branch); },
        .agent_check = Check()});
  }

  RunRecord StartFlow(const std::string& yaml) {
    Result<Flow> flow = ParseFlow(yaml, "test.yml", [](const std::string&) { return true; });
    EXPECT_TRUE(flow.ok()) << flow.status().message();
    Result<RunRecord> run =
        CreateFlowRun(*store_, *flow, project_, config_, Check(), "\"the change\"");
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
  // The real check: each agent's command in PATH, its breaker in the store.
  AgentRunCheck Check() { return MakeAgentCheck(config_, *store_, clock_); }
  void Uninstall(const std::string& agent) {
    config_.agents[agent].command = dir_.Sub("bin/" + agent);  // no such file
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
  std::unique_ptr<Store> store_;
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
  Result<RunRecord> run = CreateDebugRun(
      *store_, config_, {.project = project_, .title = "It crashes", .agents = {"claude", "codex"}},
      Check());
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

TEST_F(RunEngineTest, WithItsOwnAgentNotInstalledAnotherOrchestratesAndTheReportSaysWhich) {
  // Given runs.orchestrator_agent codex, which is not installed, and claude, which is,
  // the orchestrator is claude, and the report says it stood in for codex and why.
  Uninstall("codex");
  Result<RunRecord> run =
      CreateDebugRun(*store_, config_,
                     {.project = project_, .title = "It crashes", .agents = {"claude"}}, Check());
  ASSERT_TRUE(run.ok()) << run.status().message();
  Step();
  EndStep(run->id, "claude", "found it in parse()");
  Step();
  Step();
  auto steps = Steps(run->id);
  ASSERT_EQ(steps.count(kOrchestratorStep), 1u);
  EXPECT_EQ(steps[kOrchestratorStep].agent, "claude");
  Task o = *store_->GetTask(*steps[kOrchestratorStep].task_id);
  EXPECT_THAT(o.labels, ::testing::Contains("agent:claude"));
  EndStep(run->id, kOrchestratorStep, "the fix is in parse()");
  Step();
  EXPECT_EQ(Run(run->id).status, RunStatus::kCompleted);
  EXPECT_THAT(Run(run->id).report,
              HasSubstr("Orchestrator (claude, in place of runs.orchestrator_agent codex, which is "
                        "not installed"));
}

TEST_F(RunEngineTest, AnOrchestratorWithItsBreakerOpenGivesWayToo) {
  Breakers breakers(*store_, config_.router, clock_);
  for (int i = 0; i < config_.router.breaker_failures; ++i) breakers.Failed("codex");
  AgentChoice choice = ChooseAgent("codex", "runs.orchestrator_agent", config_, Check());
  EXPECT_EQ(choice.agent, "claude");
  EXPECT_THAT(choice.note, HasSubstr("circuit breaker is open"));
  EXPECT_THAT(choice.note, HasSubstr("claude takes its place"));
  // With nothing else able to run, the configured one stays, and the note says so.
  Uninstall("claude");
  choice = ChooseAgent("codex", "runs.orchestrator_agent", config_, Check());
  EXPECT_EQ(choice.agent, "codex");
  EXPECT_THAT(choice.note, HasSubstr("no other of router.agents can run"));
}

TEST_F(RunEngineTest, ADebugRunRefusesAnAgentThatCannotRunAndMakesNoRun) {
  Uninstall("codex");
  Result<RunRecord> run =
      CreateDebugRun(*store_, config_,
                     {.project = project_, .title = "x", .agents = {"claude", "codex"}}, Check());
  ASSERT_FALSE(run.ok());
  EXPECT_TRUE(run.status().IsUsageError());
  EXPECT_THAT(run.status().message(), HasSubstr("agent \"codex\": is not installed"));
  run = CreateDebugRun(*store_, config_, {.project = project_, .title = "x", .agents = {"nosuch"}},
                       Check());
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("agent \"nosuch\": is not configured"));
  config_.runs.debug_agents = {"codex"};
  run = CreateDebugRun(*store_, config_, {.project = project_, .title = "x"}, Check());
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("runs.debug.agents: agent \"codex\""));
  EXPECT_TRUE(store_->ListRunRecords(std::nullopt)->empty());

  // By default (router.agents: claude, codex) only those that can run take part.
  config_.runs.debug_agents.clear();
  run = CreateDebugRun(*store_, config_, {.project = project_, .title = "x"}, Check());
  ASSERT_TRUE(run.ok()) << run.status().message();
  auto steps = Steps(run->id);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps.begin()->second.agent, "claude");
  Uninstall("claude");
  run = CreateDebugRun(*store_, config_, {.project = project_, .title = "x"}, Check());
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("none of router.agents can run"));
}

TEST_F(RunEngineTest, AFlowThatRunsTheTestCommandIsRefusedAtCreationWithoutOne) {
  Result<Flow> flow = ParseFlow(R"(name: checked
steps:
  - id: code
    role: coder
    prompt: "{{input}}"
  - id: test
    kind: code
    needs: [code]
    command: ["{{test_command}}"]
)",
                                "checked.yml", [](const std::string&) { return true; });
  ASSERT_TRUE(flow.ok()) << flow.status().message();
  Result<RunRecord> run = CreateFlowRun(*store_, *flow, project_, config_, Check(), "\"go\"");
  ASSERT_FALSE(run.ok());
  EXPECT_TRUE(run.status().IsUsageError());
  EXPECT_THAT(run.status().message(),
              HasSubstr("flow checked: step test runs {{test_command}}: workflow.test_command is "
                        "not set for project acme/widgets"));
  EXPECT_TRUE(store_->ListRunRecords(std::nullopt)->empty());
  config_.workflow.test_command = {"make", "test"};
  run = CreateFlowRun(*store_, *flow, project_, config_, Check(), "\"go\"");
  EXPECT_TRUE(run.ok()) << run.status().message();

  // A step that names an agent that cannot run is refused the same way.
  Result<Flow> named =
      ParseFlow("name: named\nsteps:\n  - id: a\n    agent: codex\n    prompt: go\n", "named.yml",
                [](const std::string&) { return true; });
  ASSERT_TRUE(named.ok()) << named.status().message();
  Uninstall("codex");
  run = CreateFlowRun(*store_, *named, project_, config_, Check(), "\"go\"");
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("flow named: step a: agent \"codex\": is not "
                                                "installed"));
}

TEST_F(RunEngineTest, ARoleWhoseAgentCannotRunGoesToAnotherAndTheReportSaysSo) {
  config_.runs.roles = {{"coder", "codex"}};
  Uninstall("codex");
  RunRecord run = StartFlow("name: role\nsteps:\n  - id: code\n    role: coder\n    prompt: go\n");
  Step();
  auto steps = Steps(run.id);
  ASSERT_TRUE(steps["code"].task_id);
  EXPECT_THAT(store_->GetTask(*steps["code"].task_id)->labels, ::testing::Contains("agent:claude"));
  EndStep(run.id, "code", "done it");
  Step();
  EXPECT_EQ(Run(run.id).status, RunStatus::kCompleted);
  EXPECT_THAT(Run(run.id).report,
              HasSubstr("step code: runs.roles.coder codex is not installed (no executable"));
  EXPECT_THAT(Run(run.id).report, HasSubstr("claude took its place"));
}

}  // namespace
}  // namespace orch
