// The dispatcher's decisions, driven in-process one Step() at a time: a real store file, real
// git work trees on a local bare origin, real tmux on a private socket running `orch shim` and
// the agent stand-in (tools/agent-standin) as claude and codex, and a fake GitHub that records
// the pull requests and comments. The work queue has no workers: each job runs when submitted
// and its result is applied at the next Step(), so every decision is observable in order.
#include "agents/dispatch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agents/git.h"
#include "agents/tmux.h"
#include "testing/fake_github.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::MakeRepoWithOrigin(dir_.Sub("origin.git"), dir_.Sub("work"));
    std::filesystem::create_directories(dir_.Sub("bin"));
    for (const char* agent : {"claude", "codex"}) {
      std::filesystem::create_symlink(ORCH_AGENT_STANDIN, dir_.Sub(std::string("bin/") + agent));
      config_.agents[agent].command = dir_.Sub(std::string("bin/") + agent);
    }
    config_.router.mode = RouterMode::kRoundRobin;
    config_.router.agents = {"claude", "codex"};
    config_.engine.max_parallel = 2;
    config_.workflow.retry_base_delay = Seconds(0);
    Result<std::unique_ptr<Store>> s = Store::Open(dir_.Sub("orch.db"), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Result<Project> p = store_->AddProject(
        {.name = "acme/widgets", .repo = "acme/widgets", .path = dir_.Sub("work")});
    ASSERT_TRUE(p.ok()) << p.status().message();
    project_ = *p;
    tmux_ = std::make_unique<Tmux>(processes_, "orch-dispatch-test-" + std::to_string(getpid()));
    runner_ = std::make_unique<Runner>(config_, git_, *tmux_,
                                       RunnerOptions{.orch_home = dir_.Sub("home"),
                                                     .worktrees_base = dir_.Sub("trees"),
                                                     .orch_binary = ORCH_BINARY});
    router_ = std::make_unique<Router>(
        config_, store_.get(), processes_, [](const std::string&) { return true; }, dir_.path());
    publisher_ =
        std::make_unique<Publisher>(*runner_, &github_, [](std::chrono::seconds) {});  // no waiting
    MakeDispatcher();
  }
  // The dispatcher takes a copy of config_ when it is made: a test that changes config_ makes
  // it again.
  void MakeDispatcher() {
    dispatcher_ = std::make_unique<Dispatcher>(
        DispatchParts{.store = *store_,
                      .configs = config_,
                      .clock = clock_,
                      .router = *router_,
                      .runner = *runner_,
                      .publisher = *publisher_,
                      .work = work_,
                      .files = files_,
                      .installed = [](const std::string&) { return true; }});
  }
  void TearDown() override { (void)test::Run({"tmux", "-L", tmux_->socket(), "kill-server"}); }

  Task AddIssueTask(const std::string& number, const std::string& body,
                    std::vector<std::string> labels = {}) {
    Result<Task> t = store_->AddTask({.project_id = project_.id,
                                      .external_id = number,
                                      .source = TaskSource::kGithub,
                                      .title = "Issue " + number,
                                      .body = body,
                                      .labels = std::move(labels)},
                                     {"test", "added"});
    EXPECT_TRUE(t.ok()) << t.status().message();
    return *t;
  }
  Task Get(int64_t id) { return *store_->GetTask(id); }
  std::vector<Attempt> Attempts(int64_t id) { return *store_->ListAttempts(id); }
  DispatchReport Step() {
    Result<DispatchReport> r = dispatcher_->Step();
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : DispatchReport{};
  }
  // Waits for the agent of `id`'s last attempt to exit (the shim writes exit.json).
  void WaitForAgent(int64_t id) {
    std::string run_dir = Attempts(id).back().run_dir;
    ASSERT_TRUE(test::Eventually([&] { return files_.Exists(run_dir + "/exit.json"); },
                                 std::chrono::seconds(20)))
        << "the agent in " << run_dir << " did not exit";
  }
  // Steps until task `id` leaves in_progress: one Step reaps (its job runs at once), the next
  // applies the outcome.
  void Reap(int64_t id) {
    WaitForAgent(id);
    for (int i = 0; i < 3 && Get(id).status == TaskStatus::kInProgress; ++i) Step();
  }
  std::string OriginHas(const std::string& branch) {
    ProcessResult r =
        test::Run({"git", "-C", dir_.Sub("origin.git"), "log", "--format=%s", branch, "--"});
    return r.exit_code == 0 ? r.out : "";
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  Config config_;
  PosixProcessRunner processes_;
  Libgit2Git git_;
  RealFileSystem files_;
  WorkQueue work_{0};
  test::FakeGitHub github_;
  std::unique_ptr<Store> store_;
  Project project_;
  std::unique_ptr<Tmux> tmux_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, RoutesStartsReapsAndOpensThePullRequest) {
  // Given a new issue task whose agent writes a file, one Step routes it and starts its agent
  // in tmux; once the agent exits orch commits, pushes, opens the PR and comments.
  Task t = AddIssueTask("7", "standin: write hello.txt hi\n");
  DispatchReport first = Step();
  EXPECT_EQ(first.routed, 1);
  EXPECT_EQ(first.started, 1);
  EXPECT_EQ(Get(t.id).status, TaskStatus::kInProgress);
  Result<bool> live = tmux_->HasSession(Attempts(t.id)[0].tmux_session);
  EXPECT_TRUE(live.ok() && *live);
  ASSERT_EQ(Attempts(t.id).size(), 1u);
  EXPECT_EQ(Attempts(t.id)[0].agent, "claude");  // round robin starts at the first agent
  Reap(t.id);
  EXPECT_EQ(Get(t.id).status, TaskStatus::kInReview);
  EXPECT_EQ(Get(t.id).pr_number, 100);
  ASSERT_EQ(github_.opened.size(), 1u);
  EXPECT_EQ(github_.opened[0].head, "orch/7-issue-7");
  EXPECT_THAT(github_.opened[0].body, HasSubstr("Closes #7"));
  EXPECT_THAT(OriginHas("orch/7-issue-7"), HasSubstr("Issue 7 (#7)"));
  ASSERT_EQ(github_.comments.size(), 1u);
  EXPECT_THAT(github_.comments[0], HasSubstr("attempt 1 by `claude`"));
  EXPECT_EQ(Attempts(t.id)[0].outcome, "done");
}

TEST_F(DispatcherTest, AKeyedCommentIsPostedOncePerThread) {
  // An attempt's comment carries its key; reaped again (a restart, another host of a fleet),
  // the thread that shows the key gets no second comment.
  publisher_->Comment(project_, 7, "done: #8", "attempt 3");
  ASSERT_EQ(github_.comments.size(), 1u);
  EXPECT_NE(github_.comments[0].find("<!-- orch: attempt 3 -->"), std::string::npos);
  Comment posted;  // what GitHub lists on the thread now
  posted.id = 1;
  posted.body = github_.comments[0];
  github_.threads[7].push_back(posted);
  publisher_->Comment(project_, 7, "done: #8", "attempt 3");
  EXPECT_EQ(github_.comments.size(), 1u);
  publisher_->Comment(project_, 7, "done: #9", "attempt 4");
  publisher_->Comment(project_, 8, "done: #8", "attempt 3");  // another thread
  EXPECT_EQ(github_.comments.size(), 3u);
  publisher_->Comment(project_, 7, "unkeyed");  // no key: always posted
  publisher_->Comment(project_, 7, "unkeyed");
  EXPECT_EQ(github_.comments.size(), 5u);
}

TEST_F(DispatcherTest, StartsNoMoreThanMaxParallelAgents) {
  for (const char* n : {"1", "2", "3"}) AddIssueTask(n, "standin: sleep 5000\n");
  DispatchReport first = Step();
  EXPECT_EQ(first.routed, 3);
  EXPECT_EQ(first.started, 2);
  EXPECT_EQ(store_->ListTasks({.status = TaskStatus::kRouted})->size(), 1u);
  EXPECT_EQ(Step().started, 0);  // both slots still taken
}

TEST_F(DispatcherTest, ARateLimitedAttemptFailsOverToTheNextAgentAndIsRetried) {
  // Claude is rate limited: the attempt counts, codex takes the task (in the same Step that
  // applies the failure), and its attempt works.
  Task t = AddIssueTask("8", "standin[claude]: error rate_limit\nstandin: write a.txt x\n",
                        {"agent:claude"});
  Step();
  Reap(t.id);
  ASSERT_EQ(Attempts(t.id).size(), 2u);
  EXPECT_EQ(Attempts(t.id)[0].error_class, "rate_limit");
  EXPECT_EQ(Attempts(t.id)[1].agent, "codex");
  Task after = Get(t.id);
  EXPECT_EQ(after.attempts, 1);
  EXPECT_THAT(*after.route, HasSubstr("\"by\":\"failover\""));
  EXPECT_THAT(*after.route, HasSubstr("claude failed: rate_limit"));
  Reap(t.id);
  EXPECT_EQ(Get(t.id).status, TaskStatus::kInReview);
  EXPECT_EQ(github_.opened.size(), 1u);
}

TEST_F(DispatcherTest, TheLastAllowedAttemptEndsInNeedsReview) {
  config_.workflow.max_attempts = 1;
  MakeDispatcher();
  Task t = AddIssueTask("9", "standin: error other\n", {"agent:claude"});
  Step();
  Reap(t.id);
  EXPECT_EQ(Get(t.id).status, TaskStatus::kNeedsReview);
  EXPECT_THAT(Get(t.id).status_reason, HasSubstr("attempt 1 of 1 failed"));
  EXPECT_TRUE(github_.opened.empty());
}

TEST_F(DispatcherTest, ARunsStepCommitsOnItsBranchAndPublishesNothing) {
  Result<RunRecord> run =
      store_->CreateRun({.kind = RunKind::kFlow, .project_id = project_.id}, {});
  ASSERT_TRUE(run.ok()) << run.status().message();
  Result<Task> t = store_->AddTask({.project_id = project_.id,
                                    .title = "flow run 1: code",
                                    .body = "standin: write step.txt done\n",
                                    .labels = {"agent:claude"},
                                    .run_id = run->id,
                                    .branch = "orch/run-1"},
                                   {"test", "added"});
  ASSERT_TRUE(t.ok()) << t.status().message();
  Step();
  Reap(t->id);
  EXPECT_EQ(Get(t->id).status, TaskStatus::kDone);
  EXPECT_TRUE(github_.opened.empty());
  EXPECT_TRUE(github_.comments.empty());
  EXPECT_EQ(OriginHas("orch/run-1"), "");  // committed in its work tree, not pushed
  ProcessResult log = test::Run(
      {"git", "-C", runner_->WorktreePath(project_.name, "orch/run-1"), "log", "--format=%s"});
  EXPECT_THAT(log.out, HasSubstr("flow run 1: code"));
}

TEST_F(DispatcherTest, AReviewFollowUpIsRoutedToItsParentsAgentOnTheParentsBranch) {
  Task parent = AddIssueTask("10", "standin: write a.txt x\n", {"agent:codex"});
  Step();
  Reap(parent.id);
  ASSERT_EQ(Get(parent.id).status, TaskStatus::kInReview);
  Result<Task> child = store_->AddTask({.project_id = project_.id,
                                        .parent_id = parent.id,
                                        .source = TaskSource::kReview,
                                        .title = "Review: rename a.txt",
                                        .body = "standin: write b.txt y\n"},
                                       {"test", "review"});
  ASSERT_TRUE(child.ok());
  Step();
  Task routed = Get(child->id);
  EXPECT_EQ(routed.status, TaskStatus::kInProgress);
  EXPECT_THAT(*routed.route, HasSubstr("\"agent\":\"codex\""));
  EXPECT_THAT(*routed.route, HasSubstr("\"by\":\"follow-up\""));
  Reap(child->id);
  EXPECT_EQ(Get(child->id).status, TaskStatus::kDone);
  EXPECT_EQ(github_.opened.size(), 1u);  // pushed to the parent's pull request, no second one
  EXPECT_THAT(OriginHas("orch/10-issue-10"), HasSubstr("Review: rename a.txt"));
}

TEST_F(DispatcherTest, ApprovingWhileAFollowUpRunsKeepsItsWorkTreeAndItsCommitReachesThePr) {
  // Regression (issue 15 a): the approval marked the parent done, the minute sweep removed the
  // work tree the running follow-up shared with it, and the follow-up then failed "committing
  // the agent's work: not a git repository". A work tree goes only when nothing uses it.
  Task parent = AddIssueTask("12", "standin: write a.txt x\n", {"agent:claude"});
  Step();
  Reap(parent.id);
  ASSERT_EQ(Get(parent.id).status, TaskStatus::kInReview);
  Result<Task> child = store_->AddTask({.project_id = project_.id,
                                        .parent_id = parent.id,
                                        .source = TaskSource::kReview,
                                        .title = "Review: add b.txt",
                                        .body = "standin: sleep 1500\nstandin: write b.txt y\n"},
                                       {"test", "review"});
  ASSERT_TRUE(child.ok());
  Step();
  ASSERT_EQ(Get(child->id).status, TaskStatus::kInProgress);
  // The approval (auto_close_task_on_approval) while the follow-up runs, then the sweep.
  ASSERT_TRUE(
      store_->Transition(parent.id, TaskStatus::kInReview, TaskStatus::kDone, {"t", "approved"})
          .ok());
  clock_.Advance(120);
  Step();
  std::string tree = runner_->WorktreePath(project_.name, "orch/12-issue-12");
  EXPECT_TRUE(files_.IsDirectory(tree));
  Reap(child->id);
  EXPECT_EQ(Get(child->id).status, TaskStatus::kDone) << Attempts(child->id).back().summary;
  EXPECT_THAT(OriginHas("orch/12-issue-12"), HasSubstr("Review: add b.txt"));
  // Once nothing uses it, the next sweep removes it.
  clock_.Advance(120);
  Step();
  EXPECT_FALSE(files_.IsDirectory(tree));
}

TEST_F(DispatcherTest, ADoneTasksWorkTreeIsPooledAndTheNextTaskStartsInIt) {
  // Issue 20: the sweep keeps a done task's work tree in the project's pool instead of deleting
  // it, and the next task starts in it: moved to its own branch from the base (the files that
  // did not change are not written again), with nothing of the first task's work.
  Task first = AddIssueTask("7", "standin: write hello.txt hi\n");
  Step();
  Reap(first.id);
  ASSERT_TRUE(
      store_->Transition(first.id, TaskStatus::kInReview, TaskStatus::kDone, {"t", "merged"}).ok());
  clock_.Advance(120);
  Step();
  EXPECT_FALSE(files_.IsDirectory(runner_->WorktreePath(project_.name, "orch/7-issue-7")));
  std::vector<PooledWorktree> pooled = *store_->ListPooledWorktrees();
  ASSERT_EQ(pooled.size(), 1u);
  EXPECT_EQ(pooled[0].state, PoolState::kReady);
  struct stat before {};
  ASSERT_EQ(stat((pooled[0].slot + "/README.md").c_str(), &before), 0);

  Task second = AddIssueTask("8", "standin: write other.txt x\n");
  Step();
  dispatcher_->Drain();
  ASSERT_EQ(Attempts(second.id).size(), 1u);
  std::string tree = runner_->WorktreePath(project_.name, "orch/8-issue-8");
  EXPECT_EQ(Attempts(second.id)[0].worktree, tree);
  EXPECT_THAT(*store_->ListPooledWorktrees(), ::testing::IsEmpty());
  EXPECT_FALSE(files_.Exists(pooled[0].slot));
  EXPECT_FALSE(files_.Exists(tree + "/hello.txt"));
  struct stat after {};
  ASSERT_EQ(stat((tree + "/README.md").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  Reap(second.id);
  EXPECT_EQ(Get(second.id).status, TaskStatus::kInReview) << Attempts(second.id).back().summary;
  EXPECT_THAT(OriginHas("orch/8-issue-8"), ::testing::Not(HasSubstr("Issue 7")));
}

TEST_F(DispatcherTest, AfterACrashMidLendingAdoptDiscardsATreeItsAttemptNeverStartedIn) {
  // orch died while a pooled tree was being switched for task 9's attempt: the tree sits at the
  // task's path, the store says it is being lent, and the attempt has no session and no spec.
  // Adopt discards the tree, so the retry gets a whole one, and the pool is empty.
  Task t = AddIssueTask("9", "standin: write a.txt x\n");
  std::string tree = runner_->WorktreePath(project_.name, "orch/9-issue-9");
  ASSERT_TRUE(
      git_.AddWorktree({.repo = dir_.Sub("work"), .branch = "orch/9-issue-9", .path = tree}).ok());
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"t", "t"}).ok());
  ASSERT_TRUE(
      store_->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"t", "t"}).ok());
  Attempt row;
  row.task_id = t.id;
  row.agent = "claude";
  row.tmux_session = SessionName(project_.name, t.id);
  row.run_dir = runner_->AttemptDir(t.id, 1);
  row.worktree = tree;
  ASSERT_TRUE(store_->StartAttempt(row).ok());
  ASSERT_TRUE(store_
                  ->SavePooledWorktree({.slot = runner_->PoolDir(project_.name) + "/1",
                                        .project_id = project_.id,
                                        .state = PoolState::kLending,
                                        .other_path = tree,
                                        .task_id = t.id})
                  .ok());
  ASSERT_TRUE(dispatcher_->Adopt().ok());
  EXPECT_FALSE(files_.Exists(tree));
  EXPECT_THAT(*store_->ListPooledWorktrees(), ::testing::IsEmpty());
}

TEST_F(DispatcherTest, AdoptSendsAnInProgressTaskWithoutARunBackToRouted) {
  // orch stopped between moving the task and recording its run.
  Task t = AddIssueTask("11", "x");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"t", "t"}).ok());
  ASSERT_TRUE(
      store_->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"t", "t"}).ok());
  ASSERT_TRUE(dispatcher_->Adopt().ok());
  EXPECT_EQ(Get(t.id).status, TaskStatus::kRouted);
}

}  // namespace
}  // namespace orch
