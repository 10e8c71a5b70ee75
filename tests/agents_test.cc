// The agent loop with real parts: `orch serve`, the GitHub simulator, a real git repository
// with a local bare `origin`, tmux on the test's own socket, and the agent stand-ins
// (tools/agent-standin) answering as claude, codex and opencode with their real flags and
// output formats. Each test scripts the stand-in through `standin:` lines in the issue body.
#include <gmock/gmock.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "github_fixture.h"
#include "store/sql.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class AgentLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }

  // Config for agents: round robin over `agents`, quick ticks, `extra` appended.
  void ConfigureAgents(const std::string& agents = "[claude]", const std::string& extra = "") {
    // Retries at once and no circuit breaker in the way: each has its own test.
    Configure("router:\n  mode: round_robin\n  agents: " + agents +
              "\n  breaker_failures: 100\n"
              "workflow:\n  max_attempts: 3\n  timeout_seconds: 30\n  retry_base_delay: 0\n" +
              extra);
  }

  int OpenIssueWith(const std::string& body, const std::string& title = "Add a greeting") {
    return Sim("POST", "/_sim/repos/acme/widgets/issues",
               {{"user", "alice"}, {"title", title}, {"body", body}})["issue"]["number"];
  }

  Json Pulls() { return Sim("GET", "/repos/acme/widgets/pulls?state=all"); }
  Json Comments(int number) {
    return Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(number) + "/comments");
  }
  std::string RemoteBranches() {
    return test::Run({"git", "-C", dir_.Sub("origin.git"), "branch", "--list"}).out;
  }
  std::string Worktrees() {
    return test::Run({"git", "-C", dir_.Sub("work"), "worktree", "list"}).out;
  }
  std::string LocalBranches() { return test::Run({"git", "-C", dir_.Sub("work"), "branch"}).out; }
  std::string Tmux(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"tmux", "-L", tmux_socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Run(argv).out;
  }
};

TEST_F(AgentLoopTest, ALabelledIssueBecomesAPullRequest) {
  ConfigureAgents();
  StartOrch();
  auto [number, id] = LabelledIssue(
      "Say hello.\n\nstandin: say working on it\nstandin: write hello.txt hello world\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();

  Json task = Task(id);
  std::string branch = task["branch"];
  EXPECT_EQ(branch, "orch/" + std::to_string(number) + "-add-a-greeting");
  // The branch is on the bare remote, with the agent's file, committed by orch.
  EXPECT_THAT(RemoteBranches(), HasSubstr(branch));
  ProcessResult file =
      test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":hello.txt"});
  EXPECT_EQ(file.out, "hello world\n");
  ProcessResult author =
      test::Run({"git", "-C", dir_.Sub("origin.git"), "log", "-1", "--format=%an", branch});
  EXPECT_EQ(author.out, "orch\n");
  // One open PR for that branch, closing the issue; the task knows its number.
  Json pulls = Pulls();
  ASSERT_EQ(pulls.size(), 1u) << pulls.dump();
  EXPECT_EQ(pulls[0]["head"]["ref"], branch);
  EXPECT_EQ(pulls[0]["base"]["ref"], "main");
  EXPECT_THAT(pulls[0]["body"].get<std::string>(), HasSubstr("Closes #" + std::to_string(number)));
  EXPECT_EQ(task["pr_number"], pulls[0]["number"]);
  // The route is stored and projected as labels.
  EXPECT_EQ(task["route"]["agent"], "claude");
  Json issue = Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(number));
  EXPECT_THAT(issue["labels"].dump(), HasSubstr("agent:claude"));
  EXPECT_THAT(issue["labels"].dump(), HasSubstr("complexity:medium"));
  // One comment for the attempt, with its numbers.
  Json comments = Comments(number);
  ASSERT_EQ(comments.size(), 1u);
  std::string comment = comments[0]["body"];
  EXPECT_THAT(comment, HasSubstr("attempt 1 by `claude`"));
  EXPECT_THAT(comment, HasSubstr("**done**"));
  // The run's log and the pane both show the agent's output.
  ASSERT_EQ(task["runs"].size(), 1u);
  std::string log = ReadFile(task["runs"][0]["run_dir"].get<std::string>() + "/output.log");
  EXPECT_THAT(log, HasSubstr("working on it"));
  std::string pane = Tmux({"capture-pane", "-p", "-J", "-S", "-", "-t",
                           "=" + task["runs"][0]["tmux_session"].get<std::string>() + ":"});
  EXPECT_THAT(pane, HasSubstr("working on it"));
  EXPECT_EQ(task["runs"][0]["outcome"], "done");
  EXPECT_EQ(task["runs"][0]["command"][0], "claude");
  EXPECT_THAT(task["runs"][0]["command"].dump(), HasSubstr("stream-json"));
  EXPECT_GT(task["runs"][0]["input_tokens"].get<int64_t>(), 0);
  EXPECT_FALSE(task["agent_session"].get<std::string>().empty());
}

TEST_F(AgentLoopTest, TheAgentsEnvironmentHasItsIdentityAndNoGitHubToken) {
  extra_env_["GH_TOKEN"] = "must-not-leak";
  ConfigureAgents();
  StartOrch();
  auto [number, id] = LabelledIssue(
      "standin: env ORCH_TASK_ID task.txt\nstandin: env GH_TOKEN gh.txt\n"
      "standin: env ORCH_AGENT agent.txt\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  std::string branch = Task(id)["branch"];
  auto show = [&](const std::string& f) {
    return test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":" + f}).out;
  };
  EXPECT_EQ(show("task.txt"), std::to_string(id));
  EXPECT_EQ(show("gh.txt"), "<unset>");
  EXPECT_EQ(show("agent.txt"), "claude");
}

TEST_F(AgentLoopTest, TheAgentsEnvironmentIsAnAllowlistWithoutAnyVariableConfigYmlNames) {
  // Regression (issue 15 e): only the GitHub token was removed from the agent's environment;
  // the webhook secret given as ${ORCH_WEBHOOK_SECRET} (as config.example.yml suggests) and
  // every other variable orch's environment held reached the agent, which could sign webhooks.
  extra_env_["ORCH_WEBHOOK_SECRET"] = kSecret;
  extra_env_["ORCH_GH_TOKEN"] = kToken;
  extra_env_["ORCH_TEST_FOR_AGENT"] = "given-to-the-agent";
  extra_env_["UNRELATED_SECRET"] = "not-on-any-list";
  ConfigureAgents("[claude]",
                  "agents:\n  claude:\n    env:\n      AGENT_KEY: ${ORCH_TEST_FOR_AGENT}\n");
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("secret: s3cret"), 14, "secret: ${ORCH_WEBHOOK_SECRET}");
  cfg.replace(cfg.find("token: t0ken"), 12, "token: ${ORCH_GH_TOKEN}");
  WriteFile(home() + "/config.yml", cfg);
  std::vector<std::string> named;
  for (size_t at = cfg.find("${"); at != std::string::npos; at = cfg.find("${", at + 2)) {
    named.push_back(cfg.substr(at + 2, cfg.find('}', at) - at - 2));
  }
  ASSERT_EQ(named.size(), 3u) << cfg;
  std::string script;
  for (const std::string& n : named) script += "standin: env " + n + " " + n + ".txt\n";
  script +=
      "standin: env UNRELATED_SECRET unrelated.txt\nstandin: env AGENT_KEY key.txt\n"
      "standin: env ORCH_TASK_ID task.txt\nstandin: env HOME home.txt\n";
  StartOrch();
  auto [number, id] = LabelledIssue(script);
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  std::string branch = Task(id)["branch"];
  auto show = [&](const std::string& f) {
    return test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":" + f}).out;
  };
  for (const std::string& n : named) EXPECT_EQ(show(n + ".txt"), "<unset>") << n;
  EXPECT_EQ(show("unrelated.txt"), "<unset>");
  EXPECT_EQ(show("key.txt"), "given-to-the-agent");  // agents.claude.env is the agent's own
  EXPECT_EQ(show("task.txt"), std::to_string(id));
  EXPECT_EQ(show("home.txt"), dir_.path());
}

TEST_F(AgentLoopTest, ASilentAgentIsEndedAfterStuckTimeoutAndItsTaskSaysWhy) {
  // Regression (issue 15 f): engine.stuck_timeout was parsed and unused, so an agent that
  // printed nothing held its slot until workflow.timeout_seconds (here 30 s).
  ConfigureAgents("[claude]", "");
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("max_attempts: 3"), 15, "max_attempts: 1");
  cfg.replace(cfg.find("sync_interval: 3600\n"), 20, "sync_interval: 3600\n  stuck_timeout: 2s\n");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  std::string pids = dir_.Sub("hang.pids");
  auto [number, id] = LabelledIssue("standin: say starting\nstandin: hang " + pids + "\n");
  ASSERT_TRUE(Reaches(id, "needs_review", std::chrono::seconds(15))) << Log();
  Json task = Task(id);
  EXPECT_THAT(task["status_reason"].get<std::string>(), HasSubstr("no output for 2s"));
  EXPECT_THAT(task["runs"][0]["summary"].get<std::string>(), HasSubstr("stuck"));
  std::ifstream in(pids);
  int agent = 0, child = 0;
  in >> agent >> child;
  ASSERT_GT(agent, 0);
  EXPECT_TRUE(Eventually([&] { return kill(agent, 0) != 0 && kill(child, 0) != 0; },
                         std::chrono::seconds(5)));
}

TEST_F(AgentLoopTest, AFinishedAgentsSessionGoesOnceKeepFinishedSessionsHasPassed) {
  // Regression (issue 15 c): finished agents' tmux sessions stayed until the task's next start.
  ConfigureAgents("[claude]", "");
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("sync_interval: 3600\n"), 20,
              "sync_interval: 3600\n  keep_finished_sessions: 1s\n");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write hello.txt hi\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  std::string session = Task(id)["runs"][0]["tmux_session"];
  EXPECT_TRUE(Eventually(
      [&] {
        return test::Run({"tmux", "-L", tmux_socket_, "has-session", "-t", "=" + session})
                   .exit_code != 0;
      },
      std::chrono::seconds(10)))
      << Tmux({"list-sessions"}) << Log();
  EXPECT_THAT(Log(), HasSubstr("removed the finished session " + session));
}

TEST_F(AgentLoopTest, UnparseableOutputIsAFailedAttemptNeverDone) {
  ConfigureAgents("[claude]", "");
  WriteFile(home() + "/config.yml", ReadFile(home() + "/config.yml") + "");
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write a.txt x\nstandin: final I think I am done!\n");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  Json task = Task(id);
  ASSERT_EQ(task["runs"].size(), 3u);  // every attempt failed the same way
  for (const Json& r : task["runs"]) {
    EXPECT_EQ(r["outcome"], "failed");
    EXPECT_EQ(r["error_class"], "unparseable");
    EXPECT_THAT(r["summary"].get<std::string>(), HasSubstr("I think I am done!"));  // raw kept
  }
  EXPECT_TRUE(Pulls().empty());
}

TEST_F(AgentLoopTest, AFailingAgentFailsOverThenNeedsReviewAfterMaxAttempts) {
  ConfigureAgents("[claude, codex]");
  StartOrch();
  auto [number, id] = LabelledIssue("standin: error rate_limit\n");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  Json task = Task(id);
  ASSERT_EQ(task["runs"].size(), 3u);
  EXPECT_EQ(task["runs"][0]["agent"], "claude");
  EXPECT_EQ(task["runs"][1]["agent"], "codex");  // failover to the next agent
  for (const Json& r : task["runs"]) EXPECT_EQ(r["error_class"], "rate_limit") << r.dump();
  EXPECT_EQ(task["attempts"], 3);
  EXPECT_THAT(task["status_reason"].get<std::string>(), HasSubstr("attempt 3 of 3"));
  EXPECT_EQ(Comments(number).size(), 3u);  // one per attempt
  EXPECT_TRUE(Pulls().empty());
}

TEST_F(AgentLoopTest, ATimeoutKillsTheAgentsProcessGroup) {
  ConfigureAgents("[claude]", "");
  // One attempt, two seconds.
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("max_attempts: 3"), 15, "max_attempts: 1");
  cfg.replace(cfg.find("timeout_seconds: 30"), 19, "timeout_seconds: 2");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  std::string pids = dir_.Sub("hang.pids");
  auto [number, id] = LabelledIssue("standin: hang " + pids + "\n");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  Json run = Task(id)["runs"][0];
  EXPECT_EQ(run["error_class"], "timeout") << run.dump();
  std::ifstream in(pids);
  int agent = 0, child = 0;
  in >> agent >> child;
  ASSERT_GT(agent, 0);
  ASSERT_GT(child, 0);
  // Both the agent and the child it forked are gone.
  EXPECT_TRUE(Eventually([&] { return kill(agent, 0) != 0 && kill(child, 0) != 0; },
                         std::chrono::seconds(5)));
}

TEST_F(AgentLoopTest, ARestartMidRunAdoptsTheSessionAndAppliesTheResultOnce) {
  ConfigureAgents();
  StartOrch();
  auto [number, id] =
      LabelledIssue("standin: say started\nstandin: sleep 3000\nstandin: write late.txt done\n");
  ASSERT_TRUE(Reaches(id, "in_progress")) << Log();
  ASSERT_TRUE(Eventually([&] {
    Json runs = Task(id)["runs"];
    return !runs.empty() &&
           ReadFile(runs[0]["run_dir"].get<std::string>() + "/output.log").find("started") !=
               std::string::npos;
  })) << Log();
  Json status = OrchJson({"status", "--json"});
  EXPECT_EQ(status["running"], true);
  EXPECT_EQ(status["tasks"]["in_progress"], 1);
  ASSERT_EQ(status["live_sessions"].size(), 1u);
  EXPECT_EQ(status["live_sessions"][0]["alive"], true);
  EXPECT_GE(status["uptime_seconds"].get<int64_t>(), 0);
  // The daemon dies hard while the agent works; the agent lives on in tmux.
  orch_->Signal(SIGKILL);
  orch_->Wait(std::chrono::seconds(5));
  orch_.reset();
  StartOrch();
  EXPECT_TRUE(Eventually([&] { return Log().find("adopted task") != std::string::npos; })) << Log();
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  Json task = Task(id);
  EXPECT_EQ(task["runs"].size(), 1u);  // no second attempt
  EXPECT_EQ(OrchJson({"status", "--json"})["tasks"]["in_review"], 1);
  EXPECT_EQ(Pulls().size(), 1u);
  EXPECT_EQ(Comments(number).size(), 1u);
}

TEST_F(AgentLoopTest, KillNineWithFiveAgentsRunningLosesNoneAndRunsNoneTwice) {
  ConfigureAgents();
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("engine:\n"), 8, "engine:\n  max_parallel: 5\n");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    int n = OpenIssueWith("standin: say started\nstandin: sleep 5000\nstandin: write f" +
                              std::to_string(i) + ".txt x\n",
                          "Task " + std::to_string(i));
    Label(n, "bob");
  }
  ASSERT_TRUE(Eventually([&] {
    int running = 0;
    for (const Json& t : Tasks()) running += t["status"] == "in_progress";
    return running == 5;
  })) << Log();
  for (const Json& t : Tasks()) ids.push_back(t["id"]);
  // Every agent is running (it has printed), then the daemon dies hard.
  ASSERT_TRUE(Eventually([&] {
    for (int64_t id : ids) {
      Json runs = Task(id)["runs"];
      if (runs.empty() ||
          ReadFile(runs[0]["run_dir"].get<std::string>() + "/output.log").find("started") ==
              std::string::npos) {
        return false;
      }
    }
    return true;
  })) << Log();
  orch_->Signal(SIGKILL);
  orch_->Wait(std::chrono::seconds(5));
  orch_.reset();
  StartOrch();
  for (int64_t id : ids) {
    ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << id << "\n" << Log();
    EXPECT_EQ(Task(id)["runs"].size(), 1u) << id << ": " << Task(id)["runs"].dump();
  }
  EXPECT_EQ(Pulls().size(), 5u);
  size_t adopted = 0;
  for (size_t at = Log().find("adopted task"); at != std::string::npos;
       at = Log().find("adopted task", at + 1)) {
    ++adopted;
  }
  EXPECT_EQ(adopted, 5u);
}

TEST_F(AgentLoopTest, TaskKillStopsTheAgentAndAPersonLooksNext) {
  ConfigureAgents();
  StartOrch();
  std::string pids = dir_.Sub("hang.pids");
  auto [number, id] = LabelledIssue("standin: hang " + pids + "\n");
  ASSERT_TRUE(Eventually([&] { return !ReadFile(pids).empty(); })) << Log();
  ProcessResult killed = Orch({"task", "kill", std::to_string(id)});
  EXPECT_EQ(killed.exit_code, 0) << killed.err;
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  EXPECT_EQ(Task(id)["runs"].size(), 1u);  // not retried
  EXPECT_THAT(Task(id)["status_reason"].get<std::string>(), HasSubstr("killed"));
  EXPECT_EQ(Orch({"task", "kill", std::to_string(id)}).exit_code, 1);  // nothing running now
}

TEST_F(AgentLoopTest, AFailedPullRequestIsNeverSuccess) {
  ConfigureAgents();
  StartOrch();
  Sim("POST", "/_sim/faults",
      {{"method", "POST"},
       {"path_prefix", "/repos/acme/widgets/pulls"},
       {"status", 500},
       {"count", 1000}});
  auto [number, id] = LabelledIssue("standin: write a.txt x\n");
  ASSERT_TRUE(Reaches(id, "needs_review", std::chrono::seconds(40))) << Log();
  Json task = Task(id);
  ASSERT_EQ(task["runs"].size(), 3u);
  for (const Json& r : task["runs"]) {
    EXPECT_EQ(r["error_class"], "publish") << r.dump();
    EXPECT_THAT(r["summary"].get<std::string>(), HasSubstr("opening the pull request failed"));
  }
  EXPECT_TRUE(task["pr_number"].is_null());
  // The work itself was pushed, once, and kept: a person can open the PR by hand.
  EXPECT_THAT(RemoteBranches(), HasSubstr(task["branch"].get<std::string>()));
}

TEST_F(AgentLoopTest, MaxParallelBoundsTheAgentsRunningAtOnce) {
  ConfigureAgents();
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("engine:\n"), 8, "engine:\n  max_parallel: 1\n");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  auto [n1, first] = LabelledIssue("standin: sleep 1500\nstandin: write a.txt x\n");
  int n2 = OpenIssueWith("standin: sleep 300\nstandin: write b.txt y\n", "Second");
  Label(n2, "bob");
  bool overlapped = false;
  int64_t second = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        int running = 0, reviewed = 0;
        for (const Json& t : Tasks()) {
          if (t["external_id"] == std::to_string(n2)) second = t["id"];
          running += t["status"] == "in_progress";
          reviewed += t["status"] == "in_review";
        }
        overlapped = overlapped || running > 1;
        return reviewed == 2;
      },
      std::chrono::seconds(30)))
      << Log();
  EXPECT_FALSE(overlapped);
  // The second started only after the first finished.
  Json a = Task(first)["runs"][0], b = Task(second)["runs"][0];
  EXPECT_GE(b["started_at"].get<std::string>(), a["finished_at"].get<std::string>());
}

TEST_F(AgentLoopTest, AFailedSpawnLeavesNoWorktreeOrBranch) {
  // tmux that cannot start sessions: the work tree is made, then the session fails.
  std::filesystem::create_directories(dir_.Sub("badbin"));
  std::filesystem::create_symlink("/bin/false", dir_.Sub("badbin/tmux"));
  extra_env_["PATH"] = dir_.Sub("badbin") + ":" + extra_env_["PATH"];
  ConfigureAgents();
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("max_attempts: 3"), 15, "max_attempts: 1");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write a.txt x\n");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  Json task = Task(id);
  EXPECT_EQ(task["runs"][0]["error_class"], "spawn");
  EXPECT_THAT(Worktrees(), ::testing::Not(HasSubstr("orch/")));
  EXPECT_THAT(LocalBranches(), ::testing::Not(HasSubstr("orch/")));
  EXPECT_FALSE(std::filesystem::exists(task["runs"][0]["worktree"].get<std::string>()));
}

TEST_F(AgentLoopTest, DelegationsBecomeChildTasksAndBlockTheParent) {
  ConfigureAgents();
  StartOrch();
  auto [number, id] = LabelledIssue("standin[claude]: delegate Write the docs\n");
  ASSERT_TRUE(Reaches(id, "blocked")) << Log();
  bool found = false;
  for (const Json& t : Tasks()) {
    if (t["parent_id"] == id) {
      found = true;
      EXPECT_EQ(t["title"], "Write the docs");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(AgentLoopTest, AMergedPullRequestsWorkTreeIsRemovedAndOrphansAreReported) {
  ConfigureAgents("[claude]", "api:\n  port: 0\n");  // `orch stream` below; any free port
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write a.txt x\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  std::string worktree = Task(id)["runs"][0]["worktree"];
  ASSERT_TRUE(std::filesystem::exists(worktree));
  int pr = Task(id)["pr_number"];
  Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/merge",
      {{"user", "alice"}});
  ASSERT_TRUE(Reaches(id, "done")) << Log();
  // A work tree no task owns.
  std::string orphan = std::filesystem::path(worktree).parent_path().string() + "/stray";
  std::filesystem::create_directories(orphan);
  // Run logs: this task's, as if done 31 days ago; those of a task that is gone, as old; and
  // a task gone only yesterday.
  std::string logs = std::filesystem::path(Task(id)["runs"][0]["run_dir"].get<std::string>())
                         .parent_path()
                         .string();
  ASSERT_TRUE(std::filesystem::exists(logs + "/1/output.log"));
  std::string runs = std::filesystem::path(logs).parent_path().string();
  for (const char* gone : {"/9001/1", "/9002/1"}) {
    std::filesystem::create_directories(runs + gone);
  }
  auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(24 * 31);
  std::filesystem::last_write_time(runs + "/9001", old);
  orch_->Signal(SIGTERM);
  orch_->Wait(std::chrono::seconds(5));
  {
    std::unique_ptr<sql::Connection> db = sql::OpenSqlite(home() + "/orch.db", 5000);
    db->exec("UPDATE tasks SET updated_at = updated_at - 31 * 86400 WHERE id = " +
             std::to_string(id));
  }
  // The sweep runs at start and then every minute, the pruning every hour: restart to see
  // them now.
  StartOrch();
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(worktree); })) << Log();
  EXPECT_THAT(Worktrees(), ::testing::Not(HasSubstr(worktree)));
  // It went to the project's work tree pool (engine.worktree_pool), which orch doctor lists.
  EXPECT_THAT(
      Orch({"doctor"}).out,
      ::testing::ContainsRegex("work tree pool: up to 2 per project; [^;]+: 1 [0-9a-f]{12}"))
      << Log();
  EXPECT_TRUE(Eventually([&] {
    return Log().find("orphan work tree " + orphan) != std::string::npos;
  })) << Log();
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(logs); })) << Log();
  EXPECT_FALSE(std::filesystem::exists(runs + "/9001"));
  EXPECT_TRUE(std::filesystem::exists(runs + "/9002"));
  EXPECT_THAT(Log(), HasSubstr("deleted the run logs of 2 old task(s)"));
  // The task and its attempts stay.
  EXPECT_EQ(Task(id)["runs"].size(), 1u);
  ProcessResult stream = Orch({"stream", std::to_string(id)});
  EXPECT_NE(stream.exit_code, 0);
  EXPECT_THAT(stream.err, HasSubstr("was deleted with its run directories"));
}

TEST_F(AgentLoopTest, TaskRunDispatchesInTheForegroundThroughTheSamePath) {
  ConfigureAgents();
  ProcessResult added = Orch(
      {"task", "add", "Add a file", "--body", "standin: say hi there\nstandin: write b.txt y\n"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ProcessResult ran = Orch({"task", "run", "1"});
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_THAT(ran.out, HasSubstr("hi there"));  // the agent's output, as it came
  // A CLI task has no issue: the branch is pushed and a PR opened on the project's repo.
  EXPECT_THAT(ran.out, HasSubstr("task 1: in_review"));
  EXPECT_THAT(RemoteBranches(), HasSubstr("orch/t1-add-a-file"));
  EXPECT_EQ(Pulls().size(), 1u);
}

TEST_F(AgentLoopTest, RouteIsADryRunAndAgentsListsTheInstalledClis) {
  ConfigureAgents("[claude, codex]");
  Json route = OrchJson(
      {"route", "--title", "Fix it", "--label", "agent:codex", "--label", "complexity:simple"});
  EXPECT_EQ(route["agent"], "codex");
  EXPECT_EQ(route["complexity"], "simple");
  EXPECT_EQ(route["by"], "label");
  // Round robin is not advanced by a dry run.
  EXPECT_EQ(OrchJson({"route", "--title", "A"})["agent"], "claude");
  EXPECT_EQ(OrchJson({"route", "--title", "B"})["agent"], "claude");
  // The LLM classification: router.agent (the claude stand-in) answers with the route.
  ConfigureAgents("[claude, codex]", "model_map:\n  complex: {codex: gpt-5.5}\n");
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("mode: round_robin"), 17, "mode: llm");
  WriteFile(home() + "/config.yml", cfg);
  Json llm = OrchJson({"route", "--title", "Refactor", "--body",
                       "standin: final {\"executor\": \"codex\", \"complexity\": \"complex\", "
                       "\"reason\": \"big\", \"profile\": {\"role\": \"refactorer\"}}"});
  EXPECT_EQ(llm["by"], "llm") << llm.dump();
  EXPECT_EQ(llm["agent"], "codex");
  EXPECT_EQ(llm["model"], "gpt-5.5");
  EXPECT_EQ(llm["profile"]["role"], "refactorer");
  // An answer that is not a route: round robin after router.max_route_attempts tries.
  Json bad = OrchJson({"route", "--title", "X", "--body", "standin: final no idea"});
  EXPECT_EQ(bad["by"], "round_robin") << bad.dump();
  Json agents = OrchJson({"agents", "--json"});
  ASSERT_EQ(agents.size(), 3u);
  for (const Json& a : agents) {
    EXPECT_TRUE(a["usable"].get<bool>()) << a.dump();  // the stand-ins print real versions
  }
  EXPECT_EQ(agents[0]["version"], "2.1.197 (Claude Code)");
}

TEST_F(AgentLoopTest, DoctorChecksEverythingAndSaysHowToFixFailures) {
  ConfigureAgents();
  Json checks = OrchJson({"doctor", "--json"});
  std::map<std::string, Json> by_name;
  for (const Json& c : checks) by_name[c["check"]] = c;
  for (const char* name : {"tmux", "git", "config", "agent claude", "github", "webhook secret",
                           "webhook port", "disk"}) {
    ASSERT_TRUE(by_name.count(name)) << name << " missing: " << checks.dump(2);
    EXPECT_EQ(by_name[name]["ok"], true) << by_name[name].dump();
  }
  EXPECT_THAT(by_name["github"]["detail"].get<std::string>(), HasSubstr("acting as orch-bot"));
  EXPECT_THAT(by_name["github"]["detail"].get<std::string>(), HasSubstr("scopes: repo"));
  // A classic token without the repo scope: FAIL, and how to get one.
  StartSim({{"oauth_scopes", "read:org, gist"}}, {});
  Configure();
  ProcessResult scoped = Orch({"doctor"});
  EXPECT_EQ(scoped.exit_code, 1);
  EXPECT_THAT(scoped.out, HasSubstr("FAIL  github"));
  EXPECT_THAT(scoped.out, HasSubstr("scopes: read:org, gist"));
  EXPECT_THAT(scoped.out, HasSubstr("lacks the repo scope"));
  // A fine-grained token reports no scopes: said, not failed.
  StartSim({{"oauth_scopes", ""}}, {});
  ConfigureAgents();
  EXPECT_THAT(Orch({"doctor"}).out, HasSubstr("scopes not reported"));
  // Without a secret, and with the webhook port taken by someone else: FAIL, with the fix.
  httplib::Server squatter;
  ASSERT_TRUE(squatter.bind_to_port("127.0.0.1", orch_port_));
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("  secret: "), 10 + std::string(kSecret).size(), "  secret: \"\"");
  WriteFile(home() + "/config.yml", cfg);
  ProcessResult r = Orch({"doctor"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAIL  webhook secret"));
  EXPECT_THAT(r.out, HasSubstr("FAIL  webhook port"));
  EXPECT_THAT(r.out, HasSubstr("fix: set webhook.secret"));
}

TEST_F(AgentLoopTest, TheBreakerOpensAfterKFailuresAndClosesAfterAGoodProbe) {
  Configure(
      "router:\n  mode: round_robin\n  agents: [claude, codex]\n"
      "  breaker_failures: 2\n  breaker_cooldown: 3s\n"
      "workflow:\n  max_attempts: 1\n  timeout_seconds: 30\n");
  StartOrch();
  auto breaker = [&](const std::string& agent) {
    for (const Json& a : OrchJson({"agents", "--json"})) {
      if (a["name"] == agent) return a["breaker"].get<std::string>();
    }
    return std::string("?");
  };
  auto labelled = [&](const std::string& body) {
    return LabelledIssue(body, "Add a greeting", "agent:claude").second;
  };
  // Two failures of claude in a row: its breaker opens.
  for (int i = 0; i < 2; ++i) {
    int64_t id = labelled("standin: error other\n");
    ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
    EXPECT_EQ(Task(id)["route"]["agent"], "claude");
  }
  EXPECT_EQ(breaker("claude"), "open");
  EXPECT_EQ(breaker("codex"), "closed");
  // While it is open the router skips claude, even for an agent:claude label.
  int64_t rerouted = labelled("standin: write a.txt a\n");
  ASSERT_TRUE(Reaches(rerouted, "in_review")) << Log();
  EXPECT_EQ(Task(rerouted)["route"]["agent"], "codex");
  // After the cooldown one run of claude is the probe; it succeeds and the breaker closes.
  std::this_thread::sleep_for(std::chrono::milliseconds(3200));
  int64_t probe = labelled("standin: write b.txt b\n");
  ASSERT_TRUE(Reaches(probe, "in_review")) << Log();
  EXPECT_EQ(Task(probe)["route"]["agent"], "claude");
  EXPECT_EQ(breaker("claude"), "closed");
  std::string log = Log();
  for (const char* line :
       {"breaker claude: open", "breaker claude: half-open", "breaker claude: closed"}) {
    EXPECT_NE(log.find(line), std::string::npos) << line;
  }
}

TEST_F(AgentLoopTest, ATransientErrorWaitsForAJitteredBackoffAndOthersRetryAtOnce) {
  Configure(
      "router:\n  mode: round_robin\n  agents: [claude]\n"
      "  breaker_failures: 10\n"  // three failures in a row would open claude's breaker
      "workflow:\n  max_attempts: 2\n  timeout_seconds: 30\n"
      "  retry_base_delay: 2s\n  retry_max_delay: 2s\n");
  StartOrch();
  // An API 500: transient. The retry is put off to a time within the cap, and waits for it.
  auto [number, id] = LabelledIssue("standin: error other\n");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  Json task = Task(id);
  ASSERT_EQ(task["runs"].size(), 2u);
  ASSERT_TRUE(task["retry_not_before"].is_string()) << task.dump();
  auto unix = [](const Json& iso) { return UtcFromIso(iso.get<std::string>()); };
  int64_t not_before = unix(task["retry_not_before"]);
  int64_t first_end = unix(task["runs"][0]["finished_at"]);
  EXPECT_GE(not_before, first_end);
  EXPECT_LE(not_before, first_end + 2);
  EXPECT_GE(unix(task["runs"][1]["started_at"]), not_before);
  EXPECT_THAT(OrchJson({"task", "log", std::to_string(id), "--json"}).dump(),
              HasSubstr("retrying claude in "));
  // Bad credentials are not transient: no backoff.
  auto [number2, auth] = LabelledIssue("standin: error auth\n");
  ASSERT_TRUE(Reaches(auth, "needs_review")) << Log();
  EXPECT_TRUE(Task(auth)["retry_not_before"].is_null());
}

}  // namespace
}  // namespace orch::test
