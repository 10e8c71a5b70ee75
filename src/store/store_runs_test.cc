// The store's agent-run API and the task columns of migration 3.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runs/runs.h"
#include "store/migrations.h"
#include "store/sql.h"
#include "store/store.h"
#include "testing/store_backends.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class StoreRunsTest : public ::testing::TestWithParam<test::Backend> {
 protected:
  void SetUp() override {
    location_ = test::StoreLocation(GetParam(), dir_);
    Result<std::unique_ptr<Store>> s = Store::Open(location_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Result<Project> p = store_->AddProject({.name = "acme/widgets", .path = "/src/widgets"});
    ASSERT_TRUE(p.ok()) << p.status().message();
    project_ = *p;
  }
  std::string db_path() const { return location_; }

  Task AddTask(const std::string& title) {
    NewTask t;
    t.project_id = project_.id;
    t.title = title;
    Result<Task> r = store_->AddTask(t, {"test", "setup"});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Task{};
  }

  Attempt Start(int64_t task_id, const std::string& agent = "claude") {
    Attempt run;
    run.task_id = task_id;
    run.agent = agent;
    run.model = "sonnet";
    run.command = {"claude", "-p", "--model", "sonnet"};
    run.tmux_session = "orch-acme_widgets-" + std::to_string(task_id);
    run.run_dir = "/home/runs/" + std::to_string(task_id);
    run.worktree = "/home/worktrees/acme/widgets/orch/t1-x";
    Result<Attempt> r = store_->StartAttempt(run);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Attempt{};
  }

  test::TempDir dir_;
  std::string location_;  // the SQLite file, or the PostgreSQL URL
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
};

// Every test of StoreRunsTest runs on SQLite and on PostgreSQL; StoreRunsFileTest's are about
// SQLite's file (its pragmas, its payload log beside it, its corruption) and run there only.
class StoreRunsFileTest : public StoreRunsTest {};
INSTANTIATE_TEST_SUITE_P(Engines, StoreRunsTest, test::StoreBackends(), test::BackendName);
INSTANTIATE_TEST_SUITE_P(Engines, StoreRunsFileTest, ::testing::Values(test::Backend::kSqlite),
                         test::BackendName);

TEST_P(StoreRunsTest, StartRunNumbersAttemptsPerTask) {
  Task a = AddTask("a");
  Task b = AddTask("b");
  EXPECT_EQ(Start(a.id).attempt, 1);
  EXPECT_EQ(Start(a.id).attempt, 2);
  EXPECT_EQ(Start(b.id).attempt, 1);
  Attempt third = Start(a.id, "codex");
  EXPECT_EQ(third.attempt, 3);
  // What was started comes back as stored.
  EXPECT_EQ(third.task_id, a.id);
  EXPECT_EQ(third.agent, "codex");
  EXPECT_EQ(third.model, "sonnet");
  EXPECT_THAT(third.command, ElementsAre("claude", "-p", "--model", "sonnet"));
  EXPECT_EQ(third.tmux_session, "orch-acme_widgets-" + std::to_string(a.id));
  EXPECT_EQ(third.worktree, "/home/worktrees/acme/widgets/orch/t1-x");
  EXPECT_EQ(third.started_at, clock_.NowUnix());
  EXPECT_FALSE(third.finished_at.has_value());
  Result<std::vector<Attempt>> runs = store_->ListAttempts(a.id);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].attempt, 1);
  EXPECT_EQ((*runs)[2].agent, "codex");
}

TEST_P(StoreRunsTest, StartRunForAMissingTaskFails) {
  Attempt run;
  run.task_id = 999;
  run.agent = "claude";
  EXPECT_FALSE(store_->StartAttempt(run).ok());
}

TEST_P(StoreRunsTest, FinishRunRecordsTheEndOnce) {
  Task t = AddTask("a");
  Attempt run = Start(t.id);
  clock_.Advance(90);
  run.exit_code = 0;
  run.outcome = "done";
  run.summary = "added the flag";
  run.agent_session = "sess-1";
  run.input_tokens = 1200;
  run.output_tokens = 300;
  run.cost_usd = 0.25;
  ASSERT_TRUE(store_->FinishAttempt(run).ok());

  Result<std::vector<Attempt>> runs = store_->ListAttempts(t.id);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  const Attempt& got = (*runs)[0];
  EXPECT_EQ(got.finished_at, clock_.NowUnix());
  EXPECT_EQ(got.exit_code, 0);
  EXPECT_EQ(got.outcome, "done");
  EXPECT_EQ(got.error_class, "");
  EXPECT_EQ(got.summary, "added the flag");
  EXPECT_EQ(got.agent_session, "sess-1");
  EXPECT_EQ(got.input_tokens, 1200);
  EXPECT_EQ(got.output_tokens, 300);
  EXPECT_DOUBLE_EQ(got.cost_usd, 0.25);

  // A second finish (a late watcher, a second engine) loses and changes nothing.
  run.outcome = "failed";
  run.error_class = "timeout";
  Status again = store_->FinishAttempt(run);
  EXPECT_TRUE(again.IsConflict()) << again.ToString();
  EXPECT_EQ(store_->ListAttempts(t.id)->at(0).outcome, "done");
  // So does finishing a run that does not exist.
  Attempt ghost;
  ghost.id = 12345;
  EXPECT_TRUE(store_->FinishAttempt(ghost).IsConflict());
}

TEST_P(StoreRunsTest, FinishRunWithoutExitCodeStoresNull) {
  Task t = AddTask("a");
  Attempt run = Start(t.id);
  run.outcome = "failed";
  run.error_class = "missing_tool";
  run.finished_at = 42;
  ASSERT_TRUE(store_->FinishAttempt(run).ok());
  Attempt got = store_->ListAttempts(t.id)->at(0);
  EXPECT_FALSE(got.exit_code.has_value());
  EXPECT_EQ(got.finished_at, 42);
  EXPECT_EQ(got.error_class, "missing_tool");
}

TEST_P(StoreRunsTest, UnfinishedRunsAreTheOnesStillRunningOldestFirst) {
  Task a = AddTask("a");
  Task b = AddTask("b");
  Attempt a1 = Start(a.id);
  Attempt b1 = Start(b.id);
  Attempt a2 = Start(a.id);
  a1.outcome = "failed";
  ASSERT_TRUE(store_->FinishAttempt(a1).ok());
  Result<std::vector<Attempt>> running = store_->UnfinishedAttempts();
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->size(), 2u);
  EXPECT_EQ((*running)[0].id, b1.id);
  EXPECT_EQ((*running)[1].id, a2.id);
  EXPECT_EQ((*running)[1].attempt, 2);
}

TEST_P(StoreRunsTest, RouteBranchAndAgentSessionRoundTrip) {
  Task t = AddTask("a");
  EXPECT_FALSE(t.route.has_value());
  EXPECT_EQ(t.branch, "");
  EXPECT_EQ(t.agent_session, "");
  clock_.Advance(5);
  ASSERT_TRUE(store_->SetTaskRoute(t.id, R"({"agent":"codex"})").ok());
  ASSERT_TRUE(store_->SetTaskBranch(t.id, "orch/t1-a").ok());
  ASSERT_TRUE(store_->SetTaskAgentSession(t.id, "thread-9").ok());
  Result<Task> got = store_->GetTask(t.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->route, R"({"agent":"codex"})");
  EXPECT_EQ(got->branch, "orch/t1-a");
  EXPECT_EQ(got->agent_session, "thread-9");
  EXPECT_EQ(got->updated_at, clock_.NowUnix());
  // Clearing the session (a new route) stores an empty one.
  ASSERT_TRUE(store_->SetTaskAgentSession(t.id, "").ok());
  EXPECT_EQ(store_->GetTask(t.id)->agent_session, "");
  EXPECT_TRUE(store_->SetTaskBranch(999, "x").IsNotFound());
}

TEST(StoreMigrationTest, Migration3AppliesOnAVersion2Database) {
  test::TempDir dir;
  test::FakeClock clock;
  std::string path = dir.Sub("orch.db");
  {
    // A database as orch left it before the agent loop: migrations 1 and 2, with a task and a
    // finished run in it.
    std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(path, 5000);
    sql::Connection& db = *db_conn;
    std::vector<Migration> v2;
    for (const Migration& m : Migrations()) {
      if (m.version <= 2) v2.push_back(m);
    }
    ASSERT_EQ(v2.size(), 2u);
    ASSERT_TRUE(ApplyMigrations(db, v2, 1).ok());
    ASSERT_EQ(*AppliedVersion(db), 2);
    db.exec(
        "INSERT INTO projects(name, path, kind, created_at) VALUES ('acme/w', '/w', 'local', 1)");
    db.exec(
        "INSERT INTO tasks(project_id, external_id, source, title, created_at, updated_at) "
        "VALUES (1, '7', 'github', 'old task', 1, 1)");
    db.exec(
        "INSERT INTO task_runs(task_id, attempt, agent, started_at, finished_at, outcome) "
        "VALUES (1, 1, 'claude', 1, 2, 'done')");
    ASSERT_FALSE(db.tableExists("nonsense"));
  }
  Result<std::unique_ptr<Store>> s = Store::Open(path, clock);
  ASSERT_TRUE(s.ok()) << s.status().message();
  Store& store = **s;
  EXPECT_EQ(*store.SchemaVersion(), Migrations().back().version);
  EXPECT_GE(*store.SchemaVersion(), 3);

  // The old rows read with the new columns empty.
  Result<Task> t = store.GetTask(1);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->title, "old task");
  EXPECT_FALSE(t->route.has_value());
  EXPECT_EQ(t->branch, "");
  EXPECT_EQ(t->agent_session, "");
  Result<std::vector<Attempt>> runs = store.ListAttempts(1);
  ASSERT_TRUE(runs.ok()) << runs.status().message();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->at(0).outcome, "done");
  EXPECT_EQ(runs->at(0).run_dir, "");
  EXPECT_TRUE(store.UnfinishedAttempts()->empty());

  // And the new columns work.
  ASSERT_TRUE(store.SetTaskBranch(1, "orch/7-old-task").ok());
  EXPECT_EQ(store.GetTask(1)->branch, "orch/7-old-task");
  Attempt next;
  next.task_id = 1;
  next.agent = "codex";
  next.run_dir = "/runs/1/2";
  Result<Attempt> started = store.StartAttempt(next);
  ASSERT_TRUE(started.ok()) << started.status().message();
  EXPECT_EQ(started->attempt, 2);
  EXPECT_EQ(started->run_dir, "/runs/1/2");
}

// Orchestrated runs (the runs and run_steps tables).
TEST_P(StoreRunsTest, ARunAndItsStepsAreStoredInOneGo) {
  Task source = AddTask("the bug");
  RunRecord r{.kind = RunKind::kDebug,
              .project_id = project_.id,
              .source_task_id = source.id,
              .issue = "7",
              .input = R"({"agents":["claude","codex","opencode"]})"};
  std::vector<RunStepRecord> steps;
  for (const char* agent : {"claude", "codex", "opencode"}) {
    steps.push_back({.step_id = agent, .agent = agent});
  }
  Result<RunRecord> run = store_->CreateRun(r, steps);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->source_task_id, source.id);
  EXPECT_FALSE(run->orchestrated_at);
  Result<std::vector<RunStepRecord>> got = store_->ListRunSteps(run->id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[1].step_id, "codex");
  EXPECT_EQ((*got)[1].status, StepState::kPending);

  // A step's progress, whole output kept.
  RunStepRecord codex = (*got)[1];
  codex.status = StepState::kFailed;
  codex.task_id = source.id;
  codex.output = std::string(100000, 'x');
  codex.attempt = 2;
  codex.finished_at = clock_.NowUnix();
  ASSERT_TRUE(store_->UpdateRunStep(codex).ok());
  got = store_->ListRunSteps(run->id);
  EXPECT_EQ((*got)[1].status, StepState::kFailed);
  EXPECT_EQ((*got)[1].output.size(), 100000u);
  EXPECT_EQ((*got)[1].attempt, 2);
  EXPECT_TRUE(store_->UpdateRunStep({.run_id = run->id, .step_id = "gemini"}).IsNotFound());

  EXPECT_EQ(store_->ListRunRecords(project_.id)->size(), 1u);
  EXPECT_EQ(store_->ListRunRecords(std::nullopt)->size(), 1u);
  EXPECT_TRUE(store_->ListRunRecords(project_.id + 1)->empty());
}

TEST_P(StoreRunsTest, OrchestrationIsClaimedOnceAndARunEndsOnce) {
  Result<RunRecord> run =
      store_->CreateRun({.kind = RunKind::kDebug, .project_id = project_.id}, {});
  ASSERT_TRUE(run.ok());
  RunStepRecord orchestrator{.step_id = "orchestrator", .agent = "codex"};
  Result<bool> first = store_->ClaimOrchestration(run->id, orchestrator);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  // The claim added the orchestrator's step, pending.
  ASSERT_EQ(store_->ListRunSteps(run->id)->size(), 1u);
  EXPECT_EQ((*store_->ListRunSteps(run->id))[0].status, StepState::kPending);
  // A second trigger, or the same store opened again after a restart: never twice.
  EXPECT_FALSE(*store_->ClaimOrchestration(run->id, orchestrator));
  auto again = std::move(Store::Open(db_path(), clock_)).value();
  EXPECT_FALSE(*again->ClaimOrchestration(run->id, orchestrator));
  EXPECT_TRUE(again->GetRun(run->id)->orchestrated_at.has_value());
  EXPECT_EQ(store_->ListRunSteps(run->id)->size(), 1u);

  ASSERT_TRUE(store_->FinishRunRecord(run->id, RunStatus::kCompleted, "# Report").ok());
  EXPECT_TRUE(store_->FinishRunRecord(run->id, RunStatus::kFailed, "").IsConflict());
  Result<RunRecord> done = store_->GetRun(run->id);
  EXPECT_EQ(done->status, RunStatus::kCompleted);
  EXPECT_EQ(done->report, "# Report");
  EXPECT_TRUE(done->finished_at.has_value());
  // An ended run is never orchestrated.
  Result<RunRecord> other =
      store_->CreateRun({.kind = RunKind::kPlan, .project_id = project_.id}, {});
  ASSERT_TRUE(store_->FinishRunRecord(other->id, RunStatus::kCancelled, "").ok());
  EXPECT_FALSE(*store_->ClaimOrchestration(other->id, orchestrator));
  EXPECT_TRUE(store_->ListRunRecords(std::nullopt, RunStatus::kRunning)->empty());
  EXPECT_EQ(store_->ListRunRecords(std::nullopt, RunStatus::kCancelled)->size(), 1u);
  EXPECT_EQ(store_->ListRunRecords(project_.id, RunStatus::kCompleted)->front().id, run->id);
  EXPECT_TRUE(store_->GetRun(999).status().IsNotFound());
}

TEST_P(StoreRunsFileTest, BadRunsAreRefusedByNamedConstraints) {
  Result<RunRecord> not_json = store_->CreateRun({.project_id = project_.id, .input = "{nope"}, {});
  EXPECT_THAT(not_json.status().message(), ::testing::HasSubstr("is not JSON"));
  // A step id twice: nothing of the run is kept.
  Result<RunRecord> twice =
      store_->CreateRun({.kind = RunKind::kFlow, .project_id = project_.id, .flow_name = "f"},
                        {{.step_id = "a"}, {.step_id = "a"}});
  EXPECT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), ::testing::HasSubstr("run_steps"));
  EXPECT_TRUE(store_->ListRunRecords(std::nullopt)->empty());
  std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(db_path(), 5000);
  sql::Connection& db = *db_conn;
  try {
    db.exec(
        "INSERT INTO runs(kind, status, project_id, created_at, updated_at) "
        "VALUES ('debug', 'paused', 1, 0, 0)");
    ADD_FAILURE() << "a status outside the CHECK was stored";
  } catch (const sql::Exception& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("runs_status_valid"));
  }
}

TEST_P(StoreRunsTest, StartingAnAgentStepAddsItsTaskAndMarksItRunningInOneGo) {
  Result<RunRecord> run =
      store_->CreateRun({.kind = RunKind::kFlow,
                         .project_id = project_.id,
                         .flow_name = "f",
                         .definition = R"({"name": "f", "steps": []})"},
                        {{.step_id = "code"}, {.step_id = "test", .kind = StepKind::kCode}});
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->definition, R"({"name": "f", "steps": []})");
  NewTask t{.project_id = project_.id,
            .title = "flow run: code",
            .run_id = run->id,
            .read_only = true,
            .branch = "orch/run-1"};
  Result<Task> task = store_->StartAgentStep(run->id, "code", t, {"engine", "test"});
  ASSERT_TRUE(task.ok()) << task.status().message();
  EXPECT_EQ(task->run_id, run->id);
  EXPECT_TRUE(task->read_only);
  EXPECT_EQ(task->branch, "orch/run-1");
  std::vector<RunStepRecord> steps = *store_->ListRunSteps(run->id);
  EXPECT_EQ(steps[0].status, StepState::kRunning);
  EXPECT_EQ(steps[0].task_id, task->id);
  EXPECT_EQ(steps[0].attempt, 1);
  // A second start of the same step adds no task.
  size_t tasks = store_->ListTasks({})->size();
  EXPECT_TRUE(
      store_->StartAgentStep(run->id, "code", t, {"engine", "again"}).status().IsConflict());
  EXPECT_EQ(store_->ListTasks({})->size(), tasks);
  // Several steps change together or not at all.
  RunStepRecord done = steps[0], bad = steps[1];
  done.status = StepState::kCompleted;
  done.agent = "claude";
  done.cycle = 1;
  bad.step_id = "nope";
  EXPECT_TRUE(store_->UpdateRunSteps({done, bad}).IsNotFound());
  EXPECT_EQ((*store_->ListRunSteps(run->id))[0].status, StepState::kRunning);
  ASSERT_TRUE(store_->UpdateRunSteps({done}).ok());
  RunStepRecord after = (*store_->ListRunSteps(run->id))[0];
  EXPECT_EQ(after.status, StepState::kCompleted);
  EXPECT_EQ(after.agent, "claude");
  EXPECT_EQ(after.cycle, 1);
  EXPECT_TRUE(
      store_
          ->CreateRun(
              {.kind = RunKind::kFlow, .project_id = project_.id, .definition = "{not json"}, {})
          .status()
          .IsUsageError());
}

TEST_P(StoreRunsTest, AStepsTaskMayStartAgainOnlyWhileItsStepRuns) {
  Result<RunRecord> run = store_->CreateRun(
      {.kind = RunKind::kDebug, .project_id = project_.id, .definition = R"({"steps": []})"},
      {{.step_id = "claude"}});
  ASSERT_TRUE(run.ok()) << run.status().message();
  Result<Task> task = store_->StartAgentStep(
      run->id, "claude", {.project_id = project_.id, .title = "debug: claude", .run_id = run->id},
      {"engine", "test"});
  ASSERT_TRUE(task.ok()) << task.status().message();
  // Blocked while its step runs (a missing work tree, say): unblocking it is the way on.
  EXPECT_TRUE(CheckStepTaskRestartable(*store_, *task).ok());
  EXPECT_TRUE(CheckStepTaskRestartable(*store_, AddTask("not a run's")).ok());
  RunStepRecord step = (*store_->ListRunSteps(run->id))[0];
  step.status = StepState::kFailed;
  ASSERT_TRUE(store_->UpdateRunStep(step).ok());
  Status failed = CheckStepTaskRestartable(*store_, *task);
  EXPECT_TRUE(failed.IsConflict());
  EXPECT_THAT(failed.message(), HasSubstr("is step claude of run " + std::to_string(run->id)));
  EXPECT_THAT(failed.message(), HasSubstr("has gone on without it"));
  ASSERT_TRUE(store_->FinishRunRecord(run->id, RunStatus::kCompleted, "report").ok());
  EXPECT_THAT(CheckStepTaskRestartable(*store_, *task).message(), HasSubstr("is completed"));
}

TEST_P(StoreRunsTest, TheOrchestratorsPromptHasEverySessionCutToItsBudget) {
  RunRecord run{
      .id = 7, .kind = RunKind::kDebug, .input = R"({"title": "It breaks", "body": "b"})"};
  std::vector<RunStepRecord> sessions = {
      {.step_id = "claude",
       .agent = "claude",
       .status = StepState::kCompleted,
       .output = std::string(500, 'c')},
      {.step_id = "codex", .agent = "codex", .status = StepState::kFailed, .output = "boom"},
      {.step_id = "opencode",
       .agent = "opencode",
       .status = StepState::kCompleted,
       .output = std::string(90, 'o')}};
  // Each session gets min(400, 300 / 3) = 100 characters.
  std::string p = OrchestratorPrompt(run, sessions, 400, 300);
  EXPECT_THAT(p, HasSubstr("It breaks"));
  EXPECT_THAT(p, HasSubstr("## Session codex (agent codex): failed\n\nboom"));
  EXPECT_THAT(p, HasSubstr(std::string(100, 'c') + "\n[... truncated: 400 of 500 characters"));
  EXPECT_THAT(p, Not(HasSubstr(std::string(101, 'c'))));
  EXPECT_THAT(p, HasSubstr(std::string(90, 'o') + "\n\n"));  // within budget: whole
}

TEST_P(StoreRunsTest, APlanNeedsARepositoryAndMakesNoRunWithoutOne) {
  Config config;
  config.plan.repos = std::vector<std::string>{};
  Result<RunRecord> none = CreatePlanRun(*store_, config, {.project = project_, .goal = "g"});
  EXPECT_TRUE(none.status().IsUsageError());
  EXPECT_THAT(none.status().message(), HasSubstr("plan mode requires at least one repository"));
  config.plan.repos = std::vector<std::string>{"acme/nothing"};
  EXPECT_THAT(CreatePlanRun(*store_, config, {.project = project_, .goal = "g"}).status().message(),
              HasSubstr("plan.repos: \"acme/nothing\""));
  EXPECT_TRUE(store_->ListRunRecords(std::nullopt)->empty());
}

TEST_P(StoreRunsTest, ASequentialPlanRunsOneChildAtATimeAndAParallelOneAllAtOnce) {
  ASSERT_TRUE(store_->AddProject({.name = "acme/gadgets", .path = "/src/gadgets"}).ok());
  Config config;
  config.plan.repos = std::vector<std::string>{"acme/widgets", "acme/gadgets"};
  for (bool sequential : {false, true}) {
    config.plan.sequential = sequential;
    Result<RunRecord> run = CreatePlanRun(*store_, config, {.project = project_, .goal = "g"});
    ASSERT_TRUE(run.ok()) << run.status().message();
    Result<Flow> flow = FlowFromJson(nlohmann::json::parse(run->definition));
    ASSERT_TRUE(flow.ok());
    ASSERT_EQ(flow->steps.size(), 2u);
    EXPECT_EQ(flow->steps[1].project, "acme/gadgets");
    EXPECT_TRUE(flow->steps[1].read_only);
    FlowSchedule schedule(*flow);
    EXPECT_EQ(schedule.NextWave(8).size(), sequential ? 1u : 2u);
    // One child's failure does not stop the other.
    schedule.Finish(flow->steps[0].id, false);
    EXPECT_EQ(schedule.NextWave(8).size(), sequential ? 1u : 0u);
  }
}

}  // namespace
}  // namespace orch
