// The offline demo (`orch demo start`, what `make run` shows a newcomer without GitHub
// credentials), run headless end to end: the GitHub simulator, the sample repository with a
// bare origin, the agent stand-in as claude, and `orch serve`, all started by orch itself.
// Every step of the loop is checked where it really happens: the store, the simulator's pull
// requests, and the bare remote's branches.
#include <gmock/gmock.h>
#include <signal.h>

#include <chrono>
#include <sstream>

#include "orch_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class DemoTest : public OrchTest {
 protected:
  void TearDown() override {
    if (demo_) {
      demo_->Signal(SIGTERM);
      demo_->Wait(std::chrono::seconds(10));
    }
    test::Run({"tmux", "-L", tmux_socket_ + "-demo", "kill-server"});
  }
  std::string DemoHome() const { return home() + "/demo"; }
  // The output of the latest start (each start its own file).
  std::string Output() const {
    return ReadFile(dir_.Sub("demo" + std::to_string(starts_) + ".out"));
  }
  // Starts `orch demo start`, waits for its banner, and points later commands at the demo.
  void StartDemo() {
    ++starts_;
    demo_ =
        std::make_unique<Background>(std::vector<std::string>{ORCH_BINARY, "demo", "start"}, Env(),
                                     dir_.Sub("demo" + std::to_string(starts_) + ".out"));
    ASSERT_TRUE(Eventually([&] { return Output().find("demo label 1") != std::string::npos; },
                           std::chrono::seconds(30)))
        << Output();
    extra_env_["ORCH_HOME"] = DemoHome();
    extra_env_["ORCH_TMUX_SOCKET"] = tmux_socket_ + "-demo";
  }
  bool Settles(int64_t id, const std::string& status) {
    return Reaches(id, status, std::chrono::seconds(60));
  }
  std::string OnBranch(const std::string& branch, const std::string& file) {
    return test::Run({"git", "-C", DemoHome() + "/origin.git", "show", branch + ":" + file}).out;
  }

  std::unique_ptr<Background> demo_;
  int starts_ = 0;
};

TEST_F(DemoTest, TheWholeLoopRunsHeadlessFromLabelToApproval) {
  auto began = std::chrono::steady_clock::now();
  StartDemo();
  // The banner says it is the demo and what to do next, with the demo's home.
  EXPECT_THAT(Output(), HasSubstr("orch DEMO"));
  EXPECT_THAT(Output(), HasSubstr("export ORCH_HOME=" + DemoHome()));
  EXPECT_THAT(Output(), HasSubstr("demo review 1 --request-changes"));

  // Label: the simulator sends the signed webhook, orch answers 202 and makes task 1.
  ProcessResult label = Orch({"demo", "label", "1"});
  ASSERT_EQ(label.exit_code, 0) << label.err;
  EXPECT_THAT(label.out, HasSubstr("orch answered 202"));
  // Routed to the stand-in claude, run in tmux, pushed, PR opened: in_review.
  ASSERT_TRUE(Settles(1, "in_review")) << ReadFile(DemoHome() + "/state/orch.log");
  Json task = Task(1);
  EXPECT_EQ(task["route"]["agent"], "claude");
  ASSERT_TRUE(task["pr_number"].is_number());
  std::string branch = task["branch"];
  EXPECT_EQ(OnBranch(branch, "hello.py"), "print(\"Hello, world!\")\n");

  // The agent's output, replayed by the local API: what `orch stream 1` shows live.
  // It is for people: the stand-in's text, its write and the footer, no raw JSON line.
  ProcessResult stream = Orch({"stream", "1"});
  EXPECT_EQ(stream.exit_code, 0) << stream.err;
  EXPECT_THAT(stream.out, HasSubstr("\nReading hello.py and the README\n"));
  EXPECT_THAT(stream.out, HasSubstr("\n✎ hello.py +1\n"));
  EXPECT_THAT(stream.out, HasSubstr("\nChanged hello.py to print a greeting\n"));
  EXPECT_THAT(stream.out, ::testing::ContainsRegex("── done · [0-9.hms]+ · .* · \\$0\\.0123\n$"));
  std::istringstream stream_lines(stream.out);
  for (std::string line; std::getline(stream_lines, line);) {
    EXPECT_NE(line.rfind("{", 0), 0u) << "a raw JSON line: " << line;
  }

  // Changes requested with two comments: two follow-ups on the same branch, parent waits.
  ProcessResult review = Orch({"demo", "review", "1", "--request-changes"});
  ASSERT_EQ(review.exit_code, 0) << review.err;
  EXPECT_THAT(review.out, HasSubstr("orch answered 202"));
  std::vector<int> followups;
  ASSERT_TRUE(Eventually(
      [&] {
        followups.clear();
        for (const Json& t : OrchJson({"task", "list", "--json"})) {
          if (t["parent_id"] == 1) followups.push_back(t["id"]);
        }
        return followups.size() == 2;
      },
      std::chrono::seconds(30)));
  for (int id : followups) {
    ASSERT_TRUE(Settles(id, "done")) << ReadFile(DemoHome() + "/state/orch.log");
    EXPECT_EQ(Task(id)["branch"], branch);
  }
  EXPECT_EQ(OnBranch(branch, "bonjour.py"), "print(\"Bonjour, le monde !\")\n");
  EXPECT_THAT(OnBranch(branch, "README.md"), HasSubstr("python3 bonjour.py"));
  EXPECT_EQ(Task(1)["status"], "in_review");
  EXPECT_EQ(Task(1)["pr_number"], task["pr_number"]);  // still the one PR

  // Approved: done.
  ProcessResult approve = Orch({"demo", "review", "1", "--approve"});
  ASSERT_EQ(approve.exit_code, 0) << approve.err;
  ASSERT_TRUE(Settles(1, "done"));
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::minutes(3));

  // Ctrl-C (here SIGTERM) stops orch, the simulator and the demo's agents.
  std::string sim_port = ReadFile(DemoHome() + "/state/sim.port");
  demo_->Signal(SIGINT);
  EXPECT_EQ(demo_->Wait(std::chrono::seconds(15)), 0) << Output();
  demo_.reset();
  EXPECT_NE(test::Run({"tmux", "-L", tmux_socket_ + "-demo", "ls"}).exit_code, 0);
  ProcessResult gone = Orch({"demo", "label", "1"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.err, HasSubstr("is `orch demo start` running?"));
}

TEST_F(DemoTest, TheShippedFlowAndADebugRunCompleteWithTheStandInAlone) {
  // The stand-in (as claude) is the only agent: no real CLI on PATH, so codex, the default
  // orchestrator, is not installed.
  extra_env_["PATH"] = PathWithout({"claude", "codex", "opencode"});
  StartDemo();
  // The banner offers one of each.
  EXPECT_THAT(Output(), HasSubstr(" run debug '#1'"));
  EXPECT_THAT(Output(), HasSubstr(" flow run code-review-test --input $'"));

  // The shipped flow: coder, reviewer, then the sample repository's own tests (test.sh, its
  // .orch.yml's workflow.test_command); it ends with a pull request on the simulator.
  int64_t flow = OrchJson({"flow", "run", "code-review-test", "--input",
                           "Add bye.py\nstandin: write bye.py print(\"Goodbye\")", "--json"})["id"];
  // A debug run on issue #1: one session (router.agents is claude alone), then claude
  // orchestrates in codex's place.
  int64_t debug = OrchJson({"run", "debug", "#1", "--json"})["id"];
  auto run = [&](int64_t id) { return OrchJson({"run", "show", std::to_string(id), "--json"}); };
  for (int64_t id : {flow, debug}) {
    ASSERT_TRUE(
        Eventually([&] { return run(id)["status"] != "running"; }, std::chrono::seconds(90)))
        << ReadFile(DemoHome() + "/state/orch.log");
  }
  Json flow_run = run(flow);
  ASSERT_EQ(flow_run["status"], "completed") << flow_run.dump(2);
  std::string tests;
  for (const Json& step : flow_run["steps"]) {
    if (step["step_id"] == "test") tests = step["output"];
  }
  EXPECT_THAT(tests, HasSubstr("sh ... (exit 0)"));
  EXPECT_THAT(tests, HasSubstr("ok   bye.py: Goodbye"));
  std::string branch = "orch/run-" + std::to_string(flow);
  EXPECT_EQ(OnBranch(branch, "bye.py"), "print(\"Goodbye\")\n");
  EXPECT_THAT(flow_run["report"].get<std::string>(), HasSubstr("Pull request #"));

  Json debug_run = run(debug);
  EXPECT_EQ(debug_run["status"], "completed") << debug_run.dump(2);
  EXPECT_THAT(debug_run["report"].get<std::string>(),
              HasSubstr("Orchestrator (claude, in place of runs.orchestrator_agent codex, which "
                        "is not installed"));
}

TEST_F(DemoTest, AStartAfterAnEarlierDemoBeginsAfreshAndOtherHomesAreNeverRemoved) {
  StartDemo();
  ASSERT_EQ(Orch({"demo", "label", "1"}).exit_code, 0);
  ASSERT_TRUE(Settles(1, "in_review"));
  demo_->Signal(SIGTERM);
  ASSERT_EQ(demo_->Wait(std::chrono::seconds(15)), 0);
  // A second start: issue #1 is fresh again and the store has no tasks.
  extra_env_.clear();
  StartDemo();
  EXPECT_TRUE(OrchJson({"task", "list", "--json"}).empty());
  demo_->Signal(SIGTERM);
  ASSERT_EQ(demo_->Wait(std::chrono::seconds(15)), 0);
  demo_.reset();

  // A directory named demo that orch did not make is left alone.
  extra_env_.clear();
  std::filesystem::remove_all(DemoHome());
  std::filesystem::create_directories(DemoHome());
  WriteFile(DemoHome() + "/mine.txt", "keep");
  ProcessResult r = Orch({"demo", "start"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("is not orch's demo"));
  EXPECT_EQ(ReadFile(DemoHome() + "/mine.txt"), "keep");
}

TEST_F(DemoTest, WithCredentialsMakeRunRunsTheRealServiceAndDemoCommandsNeedADemo) {
  ProcessResult no_demo = Orch({"demo", "label", "1"});
  EXPECT_EQ(no_demo.exit_code, 2);
  EXPECT_THAT(no_demo.err, HasSubstr("no demo is running"));

  int port = FreePort();
  std::filesystem::create_directories(home());
  WriteFile(home() + "/config.yml", "webhook:\n  secret: s3cret\n  port: " + std::to_string(port) +
                                        "\napi:\n  port: " + std::to_string(FreePort()) + "\n");
  extra_env_["GITHUB_TOKEN"] = "t0ken";
  Background serve({ORCH_BINARY, "demo", "start", "--or-serve"}, Env(), dir_.Sub("serve.out"));
  ASSERT_TRUE(Eventually([&] {
    return ReadFile(home() + "/state/orch.log").find("engine: ticking") != std::string::npos;
  })) << ReadFile(dir_.Sub("serve.out"));
  EXPECT_THAT(ReadFile(dir_.Sub("serve.out")), HasSubstr("running the service (orch serve)"));
  EXPECT_FALSE(std::filesystem::exists(DemoHome()));
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace orch::test
