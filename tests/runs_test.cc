// Orchestrated runs with real parts: `orch serve`, the GitHub simulator, real git repositories
// with bare origins, tmux on the test's socket, and the agent stand-ins as claude, codex and
// opencode. Each test scripts the stand-ins through `standin[<agent>]:` lines.
#include <gmock/gmock.h>
#include <signal.h>

#include <filesystem>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RunsTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }

  void ConfigureRuns(const std::string& extra = "",
                     const std::string& agents = "[claude, codex, opencode]") {
    // Retries at once and no circuit breaker in the way: each has its own test.
    Configure("router:\n  mode: round_robin\n  agents: " + agents +
              "\n"
              "  breaker_failures: 100\n"
              "workflow:\n  max_attempts: 2\n  timeout_seconds: 60\n  retry_base_delay: 0\n"
              "api:\n  port: 0\n" +
              extra);
  }

  Json Run(int64_t id) { return OrchJson({"run", "show", std::to_string(id), "--json"}); }
  bool RunEnds(int64_t id, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return Eventually([&] { return Run(id)["status"] != "running"; }, timeout);
  }
  Json Runs() { return OrchJson({"run", "list", "--json"}); }
  // $ORCH_HOME/flows/<name>.yml.
  void WriteFlow(const std::string& name, const std::string& yaml) {
    std::filesystem::create_directories(home() + "/flows");
    WriteFile(home() + "/flows/" + name + ".yml", yaml);
  }
  // The id of the first run once there is one; 0 if none came.
  int64_t FirstRun() {
    int64_t id = 0;
    Eventually([&] {
      Json runs = Runs();
      if (!runs.empty()) id = runs[0]["id"];
      return id != 0;
    });
    return id;
  }
  Json StepOf(const Json& run, const std::string& id) {
    for (const Json& s : run["steps"]) {
      if (s["step_id"] == id) return s;
    }
    ADD_FAILURE() << "no step " << id << " in " << run.dump(2);
    return Json::object();
  }
  // The prompt orch gave the agent of `task`'s first attempt.
  std::string PromptOf(int64_t task) {
    Json t = Task(task);
    if (t["runs"].empty()) return "";
    return ReadFile(t["runs"][0]["run_dir"].get<std::string>() + "/prompt.md");
  }
  int TasksTitled(const std::string& part) {
    int n = 0;
    for (const Json& t : Tasks())
      n += t["title"].get<std::string>().find(part) != std::string::npos;
    return n;
  }
  void RestartOrch(int signal) {
    orch_->Signal(signal);
    orch_->Wait(std::chrono::seconds(10));
    StartOrch();
  }
  // Only `agent` is installed: the other stand-ins are removed, and no directory of PATH holds a
  // real one.
  void OnlyInstalled(const std::string& agent) {
    std::vector<std::string> others;
    for (const char* a : {"claude", "codex", "opencode"}) {
      if (a == agent) continue;
      others.push_back(a);
      std::filesystem::remove(dir_.Sub("bin/") + a);
    }
    extra_env_["PATH"] = PathWithout(others, dir_.Sub("bin"));
  }
  // A second project with its own repository and bare origin.
  // Another project `name`, its repository work-<dir> with the bare origin origin-<dir>.git;
  // its GitHub repository `repo` (none: a local-only project).
  std::string AddProject(const std::string& name, const std::string& dir,
                         std::optional<std::string> repo) {
    std::string work = dir_.Sub("work-" + dir);
    MakeRepoWithOrigin(dir_.Sub("origin-" + dir + ".git"), work);
    SystemClock clock;
    auto store = std::move(Store::Open(home() + "/orch.db", clock)).value();
    EXPECT_TRUE(store->AddProject({.name = name, .repo = repo, .path = work}).ok());
    return work;
  }
};

TEST_F(RunsTest, ADebugRunOrchestratesOnceWithEverySessionsOutputEvenAfterRestarts) {
  ConfigureRuns("runs:\n  orchestrator_agent: codex\n  session_output_budget: 300\n");
  StartOrch();
  // claude answers at length (one accomplished line per directive), codex briefly, opencode
  // fails on every attempt.
  std::string body = "The frobnicator breaks on Tuesdays.\n";
  for (int i = 0; i < 12; ++i) {
    body += "standin[claude]: say claude looked at frobnicator part " + std::to_string(i) + "\n";
  }
  body += "standin[codex]: say codex found the Tuesday check\nstandin[opencode]: error other\n";
  int number =
      Sim("POST", "/_sim/repos/acme/widgets/issues",
          {{"user", "alice"}, {"title", "Frobnicator breaks"}, {"body", body}})["issue"]["number"];
  Label(number, "bob", "orch:debug");
  int64_t id = FirstRun();
  ASSERT_NE(id, 0) << Log();
  ASSERT_TRUE(RunEnds(id, std::chrono::seconds(90))) << Log();

  Json run = Run(id);
  EXPECT_EQ(run["kind"], "debug");
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  EXPECT_EQ(run["issue"], std::to_string(number));
  EXPECT_EQ(StepOf(run, "claude")["status"], "completed");
  EXPECT_EQ(StepOf(run, "codex")["status"], "completed");
  EXPECT_EQ(StepOf(run, "opencode")["status"], "failed");
  EXPECT_EQ(StepOf(run, "opencode")["agent"], "opencode");  // never failed over to another
  Json orchestrator = StepOf(run, "orchestrator");
  EXPECT_EQ(orchestrator["status"], "completed");
  EXPECT_EQ(orchestrator["agent"], "codex");
  EXPECT_EQ(orchestrator["attempt"], 1);
  EXPECT_EQ(TasksTitled("orchestrate"), 1);

  // The orchestrator saw all three sessions, the failure included, claude's cut to the budget.
  std::string prompt = PromptOf(orchestrator["task_id"]);
  EXPECT_THAT(prompt, HasSubstr("Session claude (agent claude): completed"));
  EXPECT_THAT(prompt, HasSubstr("Session codex (agent codex): completed"));
  EXPECT_THAT(prompt, HasSubstr("Session opencode (agent opencode): failed"));
  EXPECT_THAT(prompt, HasSubstr("codex found the Tuesday check"));
  EXPECT_THAT(prompt, HasSubstr("[... truncated:"));
  // Claude's list is cut after 300 characters (the problem above still has every line).
  EXPECT_THAT(prompt, HasSubstr("- say claude looked at frobnicator part 1\n"));
  EXPECT_THAT(prompt, Not(HasSubstr("- say claude looked at frobnicator part 11")));
  // The report is stored and posted on the issue; the sessions published nothing.
  EXPECT_THAT(run["report"].get<std::string>(), HasSubstr("Orchestrator (codex): completed"));
  Json comments = Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(number) + "/comments");
  ASSERT_EQ(comments.size(), 1u) << comments.dump(2);
  EXPECT_THAT(comments[0]["body"].get<std::string>(), HasSubstr("debug run " + std::to_string(id)));
  EXPECT_TRUE(Sim("GET", "/repos/acme/widgets/pulls?state=all").empty());

  // The failed session's task is not started again on its own: the run went on without it.
  int64_t failed_task = StepOf(run, "opencode")["task_id"];
  ProcessResult unblock = Orch({"task", "unblock", std::to_string(failed_task)});
  EXPECT_NE(unblock.exit_code, 0);
  EXPECT_THAT(unblock.err, HasSubstr("is step opencode of run " + std::to_string(id)));
  ProcessResult all = Orch({"task", "unblock", "all"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.err, HasSubstr("skipped task " + std::to_string(failed_task)));
  EXPECT_EQ(Task(failed_task)["status"], "needs_review");

  // A second trigger, by hand and by label, and a restart: never a second orchestrator.
  ProcessResult again = Orch({"run", "orchestrate", std::to_string(id)});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("orchestrated already"));
  Label(number, "bob", "orch:debug");
  RestartOrch(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few ticks
  EXPECT_EQ(Runs().size(), 1u);
  EXPECT_EQ(TasksTitled("orchestrate"), 1);
  EXPECT_EQ(Run(id)["orchestrated_at"], run["orchestrated_at"]);

  // Someone without write access cannot start a run.
  int other = OpenIssue()["issue"]["number"];
  Label(other, "eve", "orch:debug");
  ASSERT_TRUE(Eventually([&] {
    for (const Json& d : Deliveries()) {
      if (d["result"].get<std::string>().find("untrusted") != std::string::npos) return true;
    }
    return false;
  })) << Deliveries().dump(2);
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_F(RunsTest, WithWebhooksOffTheSyncStartsARunForATrustedLabelOnly) {
  ConfigureRuns("runs:\n  orchestrator_agent: codex\n");
  // Polling only, every second.
  std::string config = ReadFile(home() + "/config.yml");
  size_t webhook = config.find("webhook:\n");
  config.replace(webhook, config.find("github:\n") - webhook, "webhook:\n  enabled: false\n");
  config.replace(config.find("sync_interval: 3600"), 19, "sync_interval: 1");
  WriteFile(home() + "/config.yml", config);
  StartOrch();
  int untrusted = OpenIssue()["issue"]["number"];
  Label(untrusted, "eve", "orch:plan");
  int number = OpenIssue()["issue"]["number"];
  Label(number, "bob", "orch:debug");
  int64_t id = FirstRun();
  ASSERT_NE(id, 0) << Log();
  ASSERT_TRUE(RunEnds(id, std::chrono::seconds(90))) << Log();
  Json run = Run(id);
  EXPECT_EQ(run["kind"], "debug");
  EXPECT_EQ(run["issue"], std::to_string(number));
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  // It asked who added each label; eve has read access only.
  EXPECT_FALSE(
      Requests("/repos/acme/widgets/issues/" + std::to_string(number) + "/events").empty());
  EXPECT_THAT(
      Log(), HasSubstr("sync: acme/widgets#" + std::to_string(untrusted) + ": ignored: untrusted"));
  // Later syncs (the report's comment updates the issue) start nothing more.
  Label(untrusted, "alice", "bug");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(Runs().size(), 1u) << Runs().dump(2);
}

TEST_F(RunsTest, APlanAcrossTwoRepositoriesHasAChildEachAndAReportOfBoth) {
  AddProject("acme/gadgets", "2", "acme/gadgets");
  WriteFile(dir_.Sub("work/.orch.yml"), "plan:\n  repos: [acme/widgets, acme/gadgets]\n");
  ConfigureRuns();
  StartOrch();
  Json made = OrchJson({"run", "plan", "Add a frobnicator\nstandin: say planned it", "-p",
                        "acme/widgets", "--json"});
  int64_t id = made["id"];
  ASSERT_TRUE(RunEnds(id)) << Log();
  Json run = Run(id);
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  ASSERT_EQ(run["steps"].size(), 2u);
  std::set<std::string> agents;
  for (const Json& s : run["steps"]) {
    EXPECT_EQ(s["status"], "completed");
    EXPECT_THAT(s["output"].get<std::string>(), HasSubstr("say planned it"));
    // A read-only session in that repository's own work tree.
    Json task = Task(s["task_id"]);
    EXPECT_EQ(task["project"], s["project"]);
    std::string command = task["runs"][0]["command"].dump();
    std::string agent = task["runs"][0]["agent"];
    agents.insert(agent);
    if (agent == "claude") {
      EXPECT_THAT(command, HasSubstr(R"("--permission-mode","plan")"));
    }
    if (agent == "codex") {
      EXPECT_THAT(command, HasSubstr(R"("-s","read-only")"));
    }
  }
  EXPECT_EQ(StepOf(run, "acme/widgets")["label"], "plan for acme/widgets");
  EXPECT_EQ(StepOf(run, "acme/gadgets")["label"], "plan for acme/gadgets");
  std::string report = run["report"];
  EXPECT_THAT(report, HasSubstr("## acme/widgets"));
  EXPECT_THAT(report, HasSubstr("## acme/gadgets"));
  // `orch run show` prints the hierarchy.
  ProcessResult show = Orch({"run", "show", std::to_string(id)});
  EXPECT_THAT(show.out, HasSubstr("plan for acme/gadgets  completed"));

  // No repository: the error, and no run.
  WriteFile(dir_.Sub("work/.orch.yml"), "plan:\n  repos: []\n");
  ProcessResult none = Orch({"run", "plan", "Anything", "-p", "acme/widgets"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("plan mode requires at least one repository"));
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_F(RunsTest, KillNineMidFlowRerunsNoCompletedStepAndTheFlowFinishes) {
  std::string counter = dir_.Sub("counter.txt");
  WriteFlow(
      "five",
      "name: five\nsteps:\n"
      "  - id: a\n    agent: claude\n    prompt: \"standin: write a.txt A\"\n"
      "  - id: b\n    kind: code\n    needs: [a]\n"
      "    command: [sh, -c, \"cat a.txt >> " +
          counter +
          "\"]\n"
          "  - id: c\n    agent: codex\n    needs: [b]\n"
          "    prompt: \"standin: sleep 4000\\nstandin: write c.txt C\\n{{steps.b.output}}\"\n"
          "  - id: d\n    kind: code\n    needs: [c]\n"
          "    command: [sh, -c, \"cat c.txt >> " +
          counter +
          "\"]\n"
          "  - id: e\n    agent: claude\n    needs: [d]\n    prompt: \"standin: say all done\"\n");
  ConfigureRuns();
  StartOrch();
  Json made = OrchJson({"flow", "run", "five", "--input", "go", "--json"});
  int64_t id = made["id"];
  // c is running: a and b are done.
  ASSERT_TRUE(Eventually([&] { return StepOf(Run(id), "c")["status"] == "running"; },
                         std::chrono::seconds(30)))
      << Log();
  ASSERT_EQ(StepOf(Run(id), "b")["status"], "completed");
  RestartOrch(SIGKILL);
  ASSERT_TRUE(RunEnds(id)) << Log();

  Json run = Run(id);
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  for (const char* s : {"a", "b", "c", "d", "e"}) {
    EXPECT_EQ(StepOf(run, s)["status"], "completed") << s;
    EXPECT_EQ(StepOf(run, s)["attempt"], 1) << s << " ran again";
  }
  // b ran once before the kill, d once after; c's session was adopted, not started again.
  EXPECT_EQ(ReadFile(counter), "A\nC\n");
  EXPECT_EQ(Task(StepOf(run, "c")["task_id"])["runs"].size(), 1u);
  EXPECT_EQ(TasksTitled("flow run " + std::to_string(id)), 3);
  std::string report = run["report"];
  EXPECT_THAT(report, HasSubstr("# Flow five: completed"));
  for (const char* s : {"## a: completed", "## b: completed", "## e: completed"}) {
    EXPECT_THAT(report, HasSubstr(s));
  }
  // The agent steps' work is committed on the flow's branch.
  ProcessResult file = test::Run(
      {"git", "-C", dir_.Sub("work"), "show", "orch/run-" + std::to_string(id) + ":c.txt"});
  EXPECT_EQ(file.out, "C\n");
}

TEST_F(RunsTest, AFlowWithPullRequestPushesItsBranchAndOpensOneWithTheReport) {
  WriteFlow("ship",
            "name: ship\npull_request: true\nsteps:\n"
            "  - id: code\n    agent: claude\n    prompt: \"{{input}}\\nstandin: write a.txt A\"\n"
            "  - id: review\n    agent: codex\n    needs: [code]\n    read_only: true\n"
            "    prompt: \"standin: say VERDICT: approve\"\n");
  WriteFlow(
      "look",
      "name: look\npull_request: true\nsteps:\n"
      "  - id: look\n    agent: codex\n    read_only: true\n    prompt: \"standin: say fine\"\n");
  ConfigureRuns();
  StartOrch();
  int64_t id = OrchJson({"flow", "run", "ship", "--input", "Add a", "--json"})["id"];
  ASSERT_TRUE(RunEnds(id)) << Log();
  Json run = Run(id);
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  std::string branch = "orch/run-" + std::to_string(id);
  Json pulls = Sim("GET", "/repos/acme/widgets/pulls?state=all");
  ASSERT_EQ(pulls.size(), 1u) << pulls.dump(2);
  EXPECT_EQ(pulls[0]["head"]["ref"], branch);
  EXPECT_EQ(pulls[0]["base"]["ref"], "main");
  EXPECT_EQ(pulls[0]["draft"], false);  // the review approved
  EXPECT_EQ(pulls[0]["title"], "ship: Add a");
  std::string body = pulls[0]["body"];
  EXPECT_THAT(body, HasSubstr("flow run " + std::to_string(id)));
  EXPECT_THAT(body, HasSubstr("# Flow ship: completed"));
  EXPECT_THAT(run["report"].get<std::string>(),
              HasSubstr("Pull request #" + std::to_string(pulls[0]["number"].get<int>()) +
                        " (branch " + branch + ")"));
  // The branch, with the coder's commit, is on origin.
  ProcessResult file =
      test::Run({"git", "--git-dir", dir_.Sub("origin.git"), "show", branch + ":a.txt"});
  EXPECT_EQ(file.out, "A\n") << file.err;

  // A flow that committed nothing opens nothing.
  int64_t look = OrchJson({"flow", "run", "look", "--input", "x", "--json"})["id"];
  ASSERT_TRUE(RunEnds(look)) << Log();
  EXPECT_EQ(Run(look)["status"], "completed");
  EXPECT_THAT(Run(look)["report"].get<std::string>(), HasSubstr("Nothing was committed"));
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);

  // A project with no GitHub repository keeps the work on its branch, and says why.
  AddProject("local", "local", std::nullopt);
  int64_t local =
      OrchJson({"flow", "run", "ship", "-p", "local", "--input", "Add a", "--json"})["id"];
  ASSERT_TRUE(RunEnds(local)) << Log();
  EXPECT_EQ(Run(local)["status"], "completed") << Run(local).dump(2);
  EXPECT_THAT(Run(local)["report"].get<std::string>(),
              HasSubstr("No pull request: project local has no GitHub repository. The work is "
                        "on branch orch/run-" +
                        std::to_string(local)));
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);
}

TEST_F(RunsTest, AReviewOfAFlowsPullRequestLoopsBackToItsCoderOnTheSameBranch) {
  // Issue 15 ("Also"): the flow's PR used to be opened and never followed. Its coder step's
  // task owns it now, so a review requesting changes makes a follow-up that resumes the coder
  // on the flow's branch and pushes to the same PR.
  WriteFlow("ship",
            "name: ship\npull_request: true\nsteps:\n"
            "  - id: code\n    agent: claude\n    prompt: \"{{input}}\\nstandin: write a.txt A\"\n"
            "  - id: review\n    agent: codex\n    needs: [code]\n    read_only: true\n"
            "    prompt: \"standin: say VERDICT: approve\"\n");
  ConfigureRuns();
  StartOrch();
  int64_t id = OrchJson({"flow", "run", "ship", "--input", "Add a", "--json"})["id"];
  ASSERT_TRUE(RunEnds(id)) << Log();
  ASSERT_EQ(Run(id)["status"], "completed") << Run(id).dump(2);
  Json pulls = Sim("GET", "/repos/acme/widgets/pulls?state=all");
  ASSERT_EQ(pulls.size(), 1u) << pulls.dump(2);
  int pr = pulls[0]["number"];
  std::string branch = "orch/run-" + std::to_string(id);
  int64_t coder = StepOf(Run(id), "code")["task_id"];
  EXPECT_EQ(Task(coder)["pr_number"], pr);

  Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/reviews",
      {{"user", "alice"},
       {"state", "CHANGES_REQUESTED"},
       {"body", "One more file."},
       {"comments",
        Json::array(
            {{{"path", "a.txt"}, {"line", 1}, {"body", "Add b\nstandin: write b.txt B"}}})}});
  int64_t child = 0;
  ASSERT_TRUE(Eventually([&] {
    for (const Json& t : Tasks()) {
      if (t["parent_id"] == coder) child = t["id"];
    }
    return child != 0;
  })) << Log();
  ASSERT_TRUE(Reaches(child, "done")) << Log() << Task(child).dump(2);
  Json follow_up = Task(child);
  EXPECT_EQ(follow_up["branch"], branch);
  EXPECT_EQ(follow_up["route"]["agent"], "claude");  // the coder's agent
  ProcessResult b =
      test::Run({"git", "--git-dir", dir_.Sub("origin.git"), "show", branch + ":b.txt"});
  EXPECT_EQ(b.out, "B\n") << b.err;
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);
}

TEST_F(RunsTest, TheShippedCodeReviewTestFlowLoopsBackToTheCoderAtMostMaxCycles) {
  WriteFile(dir_.Sub("work/.orch.yml"),
            "workflow:\n  test_command: [sh, -c, \"test -f feature.txt && echo tests pass\"]\n");
  // origin's default branch is trunk: the flow's branch starts there, and its pull request
  // goes there, though later steps' tasks only reuse the work tree.
  ASSERT_EQ(test::Run({"git", "--git-dir", dir_.Sub("origin.git"), "branch", "-m", "main", "trunk"})
                .exit_code,
            0);
  // The coder's role goes to codex; so would the reviewer's, but it is never the coder's agent.
  ConfigureRuns("runs:\n  roles: {coder: codex, reviewer: codex}\n", "[claude, codex]");
  StartOrch();
  // Every review asks for changes: the coder runs 1 + max_cycles (2) times, then the tests.
  Json made = OrchJson({"flow", "run", "code-review-test", "--input",
                        "Add the feature.\nstandin: write feature.txt yes\n"
                        "standin: say VERDICT: changes",
                        "--json"});
  int64_t id = made["id"];
  ASSERT_TRUE(RunEnds(id, std::chrono::seconds(90))) << Log();
  Json run = Run(id);
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  Json code = StepOf(run, "code"), review = StepOf(run, "review"), tests = StepOf(run, "test");
  EXPECT_EQ(code["cycle"], 2);
  EXPECT_EQ(code["attempt"], 3);
  EXPECT_EQ(review["attempt"], 3);
  EXPECT_EQ(code["agent"], "codex");
  EXPECT_EQ(review["agent"], "claude");  // the reviewer is never the coder's agent
  EXPECT_EQ(tests["attempt"], 1);
  EXPECT_THAT(tests["output"].get<std::string>(), HasSubstr("tests pass"));
  EXPECT_THAT(run["report"].get<std::string>(), HasSubstr("still asked for changes after 2"));
  // The tests passed, so the branch went up as a pull request: a draft, with the review open.
  Json pulls = Sim("GET", "/repos/acme/widgets/pulls?state=all");
  ASSERT_EQ(pulls.size(), 1u) << pulls.dump(2);
  EXPECT_EQ(pulls[0]["draft"], true);
  EXPECT_EQ(pulls[0]["head"]["ref"], "orch/run-" + std::to_string(id));
  EXPECT_EQ(pulls[0]["base"]["ref"], "trunk");
  EXPECT_THAT(pulls[0]["body"].get<std::string>(), HasSubstr("still asked for changes after 2"));
  // The coder's second run was told what the review asked for.
  std::string second = PromptOf(code["task_id"]);
  EXPECT_THAT(second, HasSubstr("asked for changes"));
}

TEST_F(RunsTest, TheLocalApiStartsAFlowListsItAndStreamsItsStepsToTheEnd) {
  WriteFlow("two",
            "name: two\nsteps:\n"
            "  - id: first\n    agent: claude\n    prompt: \"{{input}}\\nstandin: say one\"\n"
            "  - id: second\n    kind: code\n    needs: [first]\n    command: [echo, two]\n");
  ConfigureRuns();
  StartOrch();
  std::unique_ptr<httplib::Client> client = Api(60);
  httplib::Client& api = *client;
  httplib::Headers auth = {{"Authorization", "Bearer " + Token()}};

  // Bad requests first: no token, bad JSON, an unknown flow.
  EXPECT_EQ(api.Post("/api/runs", "{}", "application/json")->status, 401);
  EXPECT_EQ(api.Post("/api/runs", auth, "{", "application/json")->status, 400);
  EXPECT_EQ(api.Post("/api/runs", auth, R"({"project": "acme/widgets", "flow": "nope"})",
                     "application/json")
                ->status,
            404);
  httplib::Result made =
      api.Post("/api/runs", auth,
               R"({"project": "acme/widgets", "flow": "two", "input": "go", "model": "opus"})",
               "application/json");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 201) << made->body;
  Json run = Json::parse(made->body);
  int64_t id = run["id"];
  EXPECT_EQ(run["flow_name"], "two");
  EXPECT_EQ(run["steps"].size(), 2u);

  // The events, from run_started to the last update with the run's end and report.
  std::string events;
  httplib::Result stream =
      api.Get("/api/runs/" + std::to_string(id) + "/events", auth, [&](const char* data, size_t n) {
        events.append(data, n);
        return true;
      });
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 200);
  EXPECT_EQ(events.rfind("event: run_started\ndata: ", 0), 0u) << events;
  EXPECT_THAT(events, HasSubstr(R"("step_id":"first")"));
  EXPECT_THAT(events, HasSubstr(R"("label":"second")"));
  EXPECT_THAT(events, HasSubstr("event: run_step_updated"));
  EXPECT_THAT(events, HasSubstr(R"("run_status":"completed")"));
  EXPECT_THAT(events, HasSubstr("# Flow two: completed"));

  Json listed = Json::parse(api.Get("/api/runs?project=acme/widgets", auth)->body);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], id);
  Json shown = Json::parse(api.Get("/api/runs/" + std::to_string(id), auth)->body);
  EXPECT_EQ(shown["status"], "completed");
  EXPECT_THAT(StepOf(shown, "second")["output"].get<std::string>(), HasSubstr("two"));
  // The model reached the agent step's route.
  EXPECT_EQ(Task(StepOf(shown, "first")["task_id"])["route"]["model"], "opus");
  EXPECT_EQ(api.Get("/api/runs/999", auth)->status, 404);
}

TEST_F(RunsTest, ADebugRunFromTheCliWaitsForOrchRunOrchestrateAndCancelStopsAnother) {
  ConfigureRuns("runs:\n  orchestrator_agent: claude\n  debug:\n    auto_orchestrate: false\n");
  StartOrch();
  ProcessResult added = Orch({"task", "add", "Fix the frobnicator", "--body",
                              "standin[codex]: say codex was here", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  int64_t task = Json::parse(added.out)["id"];
  Json made =
      OrchJson({"run", "debug", std::to_string(task), "--agents", "claude,codex", "--json"});
  int64_t id = made["id"];
  ASSERT_TRUE(Eventually(
      [&] {
        Json run = Run(id);
        return StepOf(run, "claude")["status"] == "completed" &&
               StepOf(run, "codex")["status"] == "completed";
      },
      std::chrono::seconds(30)))
      << Log();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // ticks: nothing starts by itself
  Json waiting = Run(id);
  EXPECT_EQ(waiting["status"], "running");
  EXPECT_EQ(waiting["steps"].size(), 2u);
  EXPECT_EQ(waiting["source_task_id"], task);
  ProcessResult go = Orch({"run", "orchestrate", std::to_string(id)});
  ASSERT_EQ(go.exit_code, 0) << go.err;
  ASSERT_TRUE(RunEnds(id)) << Log();
  Json run = Run(id);
  EXPECT_EQ(run["status"], "completed");
  EXPECT_EQ(StepOf(run, "orchestrator")["agent"], "claude");
  EXPECT_THAT(PromptOf(StepOf(run, "orchestrator")["task_id"]), HasSubstr("codex was here"));

  // A long session, cancelled: its agent stops and the run ends cancelled.
  ProcessResult long_task =
      Orch({"task", "add", "Slow", "--body", "standin[codex]: sleep 30000", "--json"});
  ASSERT_EQ(long_task.exit_code, 0) << long_task.err;
  std::string slow_task = std::to_string(Json::parse(long_task.out)["id"].get<int64_t>());
  Json slow = OrchJson({"run", "debug", slow_task, "--agents", "codex", "--json"});
  int64_t slow_id = slow["id"];
  ASSERT_TRUE(Eventually([&] {
    Json step = StepOf(Run(slow_id), "codex");
    return !step["task_id"].is_null() && Task(step["task_id"])["status"] == "in_progress";
  })) << Log();
  int64_t session_task = StepOf(Run(slow_id), "codex")["task_id"];
  ProcessResult cancel = Orch({"run", "cancel", std::to_string(slow_id)});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  Json cancelled = Run(slow_id);
  EXPECT_EQ(cancelled["status"], "cancelled");
  EXPECT_EQ(StepOf(cancelled, "codex")["status"], "skipped");
  EXPECT_NE(Orch({"run", "cancel", std::to_string(slow_id)}).exit_code, 0);  // ended already
  EXPECT_TRUE(Reaches(session_task, "needs_review")) << Log();  // stopped, not finished
  EXPECT_EQ(Run(slow_id)["status"], "cancelled");
}

TEST_F(RunsTest, WithOnlyClaudeInstalledClaudeOrchestratesADebugRunAndSaysItStoodIn) {
  // A user with one agent CLI, claude, and the default runs.orchestrator_agent, codex.
  OnlyInstalled("claude");
  ConfigureRuns();
  // orch doctor warns about the orchestrator before any run.
  Json checks = Json::parse(Orch({"doctor", "--json"}).out, nullptr, false);
  Json orchestrator_check;
  for (const Json& c : checks) {
    if (c.value("check", "") == "runs.orchestrator_agent") orchestrator_check = c;
  }
  ASSERT_TRUE(orchestrator_check.is_object()) << checks.dump(2);
  EXPECT_EQ(orchestrator_check["warning"], true);
  EXPECT_THAT(orchestrator_check["detail"].get<std::string>(), HasSubstr("codex cannot run"));

  ProcessResult added = Orch({"task", "add", "Fix the frobnicator", "--body",
                              "standin: say claude found the Tuesday check", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::string task = std::to_string(Json::parse(added.out)["id"].get<int64_t>());
  // Agents that cannot run are refused when the run is made, with the reason; no run is made.
  ProcessResult nosuch = Orch({"run", "debug", task, "--agents", "nosuch"});
  EXPECT_EQ(nosuch.exit_code, 2);
  EXPECT_THAT(nosuch.err, HasSubstr("agent \"nosuch\": is not configured"));
  ProcessResult codex = Orch({"run", "debug", task, "--agents", "claude,codex"});
  EXPECT_EQ(codex.exit_code, 2);
  EXPECT_THAT(codex.err, HasSubstr("agent \"codex\": is not installed"));
  EXPECT_TRUE(Runs().empty());

  // By default the sessions are router.agents that can run: claude alone; claude orchestrates.
  StartOrch();
  int64_t id = OrchJson({"run", "debug", task, "--json"})["id"];
  ASSERT_TRUE(RunEnds(id)) << Log();
  Json run = Run(id);
  EXPECT_EQ(run["status"], "completed") << run.dump(2);
  ASSERT_EQ(run["steps"].size(), 2u) << run.dump(2);
  EXPECT_EQ(StepOf(run, "claude")["status"], "completed");
  Json orchestrator = StepOf(run, "orchestrator");
  EXPECT_EQ(orchestrator["status"], "completed");
  EXPECT_EQ(orchestrator["agent"], "claude");
  EXPECT_EQ(orchestrator["attempt"], 1);
  EXPECT_THAT(PromptOf(orchestrator["task_id"]), HasSubstr("claude found the Tuesday check"));
  EXPECT_THAT(run["report"].get<std::string>(),
              HasSubstr("Orchestrator (claude, in place of runs.orchestrator_agent codex, which "
                        "is not installed"));
  EXPECT_THAT(Log(), HasSubstr("runs.orchestrator_agent codex is not installed"));
  EXPECT_THAT(Log(), HasSubstr("claude takes its place"));
}

TEST_F(RunsTest, AFlowThatNeedsATestCommandIsRefusedAtCreationWhereThereIsNone) {
  // The project has no workflow.test_command; the shipped flow's last step runs it.
  ConfigureRuns();
  ProcessResult cli = Orch({"flow", "run", "code-review-test", "--input", "Add a feature"});
  EXPECT_EQ(cli.exit_code, 2);
  EXPECT_THAT(cli.err, HasSubstr("step test runs {{test_command}}: workflow.test_command is not "
                                 "set for project acme/widgets"));
  EXPECT_TRUE(Runs().empty());
  // The local API answers the same, before any agent works.
  StartOrch();
  std::unique_ptr<httplib::Client> client = Api(10);
  httplib::Result made = client->Post(
      "/api/runs", {{"Authorization", "Bearer " + Token()}},
      R"({"project": "acme/widgets", "flow": "code-review-test", "input": "Add a feature"})",
      "application/json");
  ASSERT_TRUE(made);
  EXPECT_EQ(made->status, 400) << made->body;
  EXPECT_THAT(Json::parse(made->body).value("error", ""),
              HasSubstr("workflow.test_command is not set for project acme/widgets"));
  EXPECT_TRUE(Runs().empty());
  EXPECT_TRUE(Tasks().empty());
}

TEST_F(RunsTest, ACodeStepCutShortByAStopRunsAgainAndNeverHoldsTheStopUp) {
  // The first run sleeps long; the one after the restart finds its marker and ends at once.
  WriteFlow("slow",
            "name: slow\nsteps:\n"
            "  - id: x\n    kind: code\n"
            "    command: [sh, -c, \"if [ -f marker ]; then echo second; else touch marker; "
            "sleep 30; fi\"]\n");
  ConfigureRuns();
  StartOrch();
  int64_t id = OrchJson({"flow", "run", "slow", "--json"})["id"];
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(dir_.Sub("work/marker")); }))
      << Log();
  auto stopping = std::chrono::steady_clock::now();
  orch_->Signal(SIGTERM);
  ASSERT_NE(orch_->Wait(std::chrono::seconds(10)), -1) << "the stop waited for the step";
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(8));
  EXPECT_EQ(StepOf(Run(id), "x")["status"], "running");
  StartOrch();
  ASSERT_TRUE(RunEnds(id)) << Log();
  Json x = StepOf(Run(id), "x");
  EXPECT_EQ(x["status"], "completed");
  EXPECT_EQ(x["attempt"], 2);
  EXPECT_THAT(x["output"].get<std::string>(), HasSubstr("second"));
}

// A step's question goes to the run's orchestrator (codex here), which answers from the run's
// context (its input) while the other step keeps running; the answer resumes the step's own
// session. An orchestrator that cannot answer leaves the question to a person.
TEST_F(RunsTest, AStepsQuestionIsAnsweredByTheOrchestratorWhileAnotherStepRuns) {
  WriteFlow("ask",
            "name: ask\nsteps:\n"
            "  - id: a\n    agent: claude\n"
            "    prompt: \"standin[claude]: ask Which port should the server use?\\n"
            "standin[claude]: write port.txt chosen\"\n"
            "  - id: b\n    agent: claude\n"
            "    prompt: \"standin[claude]: sleep 20000\\nstandin[claude]: write b.txt B\"\n");
  ConfigureRuns();
  StartOrch();
  Json made =
      OrchJson({"flow", "run", "ask", "--input",
                "standin[codex]: final {\"status\":\"done\",\"summary\":\"Port 8080\"}", "--json"});
  int64_t id = made["id"];
  // b runs (20 s) while the orchestrator answers a's question: the answer comes first. (The
  // two steps share the flow's work tree, so a resumes once b is done with it.)
  auto answered = [&] {
    Json step = StepOf(Run(id), "a");
    if (!step["task_id"].is_number()) return false;
    Json qs = Task(step["task_id"])["questions"];
    return !qs.empty() && qs[0]["answered_by"] == "orchestrator";
  };
  ASSERT_TRUE(Eventually(answered, std::chrono::seconds(15))) << Log();
  EXPECT_EQ(StepOf(Run(id), "b")["status"], "running");  // never waited on a's question
  ASSERT_TRUE(RunEnds(id)) << Log();
  Json run = Run(id);
  int64_t a = StepOf(run, "a")["task_id"];
  Json task = Task(a);
  ASSERT_EQ(task["runs"].size(), 2u);
  std::vector<std::string> argv = task["runs"][1]["command"];
  EXPECT_THAT(argv, ::testing::Contains("--resume"));
  EXPECT_THAT(argv, ::testing::Contains(task["runs"][0]["agent_session"].get<std::string>()));
  EXPECT_EQ(task["questions"][0]["answer"], "Port 8080");
  EXPECT_EQ(task["questions"][0]["answered_by"], "orchestrator");
  EXPECT_THAT(StepOf(run, "a")["output"].get<std::string>(), HasSubstr("answered: Port 8080"));
  // The orchestrator answered in a read-only task of its own, by codex.
  int answers = 0;
  for (const Json& t : Tasks()) {
    if (t["source_id"].is_string() &&
        t["source_id"].get<std::string>() == "answer " + std::to_string(a) + " 1") {
      ++answers;
      EXPECT_EQ(Task(t["id"])["runs"][0]["agent"], "codex");
    }
  }
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(run["status"], "completed");
}

TEST_F(RunsTest, AQuestionTheOrchestratorCannotAnswerWaitsForAPerson) {
  WriteFlow(
      "ask",
      "name: ask\nsteps:\n"
      "  - id: a\n    agent: claude\n"
      "    prompt: \"standin[claude]: ask Which port?\\nstandin[claude]: write port.txt p\"\n");
  ConfigureRuns();
  StartOrch();
  Json made =
      OrchJson({"flow", "run", "ask", "--input", "standin[codex]: status needs_input", "--json"});
  int64_t id = made["id"];
  int64_t a = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        Json step = StepOf(Run(id), "a");
        if (!step["task_id"].is_number()) return false;
        a = step["task_id"];
        return Task(a)["status_reason"].get<std::string>().find("could not answer") !=
               std::string::npos;
      },
      std::chrono::seconds(30)))
      << Log();
  EXPECT_EQ(StepOf(Run(id), "a")["status"], "running");  // waiting, not failed
  ProcessResult answered = Orch({"task", "answer", std::to_string(a), "Port 9090"});
  ASSERT_EQ(answered.exit_code, 0) << answered.err;
  ASSERT_TRUE(RunEnds(id)) << Log();
  EXPECT_EQ(Run(id)["status"], "completed");
  EXPECT_THAT(StepOf(Run(id), "a")["output"].get<std::string>(), HasSubstr("answered: Port 9090"));
}

}  // namespace
}  // namespace orch::test
