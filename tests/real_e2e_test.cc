// The whole loop with the real agent CLIs: `orch serve` starts the real `claude` and `codex`
// (installed by scripts/install-agent-clis) in tmux, each pointed at orch-model-sim, which
// makes them edit a file in the worktree with their own tools; orch then commits, pushes to the
// local bare origin and opens the PR on the GitHub simulator. Skips, saying why, when the CLIs
// could not be installed.
#include <gmock/gmock.h>
#include <unistd.h>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

std::string CliPath(const std::string& name) {
  const char* dir = std::getenv("ORCH_AGENT_CLIS");
  std::string base =
      dir && *dir ? dir : std::string(std::getenv("HOME")) + "/.cache/orch/agent-clis";
  return base + "/node_modules/.bin/" + name;
}

class RealAgentLoopTest : public GitHubLoopTest {
 protected:
  void SetUp() override {
    for (const char* cli : {"claude", "codex"}) {
      if (access(CliPath(cli).c_str(), X_OK) != 0) {
        GTEST_SKIP() << CliPath(cli) << " is not installed (scripts/install-agent-clis installs "
                     << "it; it needs npm and the npm registry)";
      }
    }
    GitHubLoopTest::SetUp();
    std::filesystem::create_directories(dir_.Sub("codex-home"));
    std::filesystem::create_directories(dir_.Sub("tmp"));
    model_ = std::make_unique<Background>(
        std::vector<std::string>{ORCH_MODEL_SIM, "--port", "0", "--port-file",
                                 dir_.Sub("model.port")},
        std::map<std::string, std::string>{}, dir_.Sub("model.out"));
    ASSERT_TRUE(Eventually([&] { return !ReadFile(dir_.Sub("model.port")).empty(); }));
    std::string port = ReadFile(dir_.Sub("model.port"));
    while (!port.empty() && (port.back() == '\n' || port.back() == ' ')) port.pop_back();
    url_ = "http://127.0.0.1:" + port;
  }
  std::string ProjectPath() override {
    MakeRepoWithOrigin(dir_.Sub("origin.git"), dir_.Sub("work"));
    return dir_.Sub("work");
  }
  void ConfigureRealAgents() {
    std::string provider = "model_providers.sim={name=\"sim\",base_url=\"" + url_ +
                           "/v1\",env_key=\"SIM_KEY\",wire_api=\"responses\","
                           "request_max_retries=0,stream_max_retries=0}";
    Json args = {"-c", "model_provider=sim", "-c", provider};
    Configure(
        "router:\n  mode: round_robin\n  agents: [claude, codex]\n"
        "workflow:\n  max_attempts: 1\n  timeout_seconds: 120\n"
        "model_map:\n  medium: {claude: claude-sonnet-4-5, codex: gpt-5.5}\n"
        "agents:\n"
        "  claude:\n    command: " +
        CliPath("claude") +
        "\n"
        "    env: {ANTHROPIC_BASE_URL: \"" +
        url_ +
        "\", ANTHROPIC_API_KEY: sim-key, "
        "CLAUDE_CODE_MAX_RETRIES: \"0\", TMPDIR: \"" +
        dir_.Sub("tmp") +
        "\"}\n"
        "  codex:\n    command: " +
        CliPath("codex") +
        "\n"
        "    args: " +
        args.dump() +
        "\n"
        "    env: {SIM_KEY: sim-key, CODEX_HOME: \"" +
        dir_.Sub("codex-home") + "\", TMPDIR: \"" + dir_.Sub("tmp") + "\"}\n");
  }
  void TearDown() override {
    GitHubLoopTest::TearDown();
    if (model_) model_->Signal(SIGTERM);
  }

  std::string url_;
  std::unique_ptr<Background> model_;
};

TEST_F(RealAgentLoopTest, RealClaudeAndCodexEditAFileAndOrchOpensThePullRequests) {
  ConfigureRealAgents();
  StartOrch();
  struct Case {
    std::string agent;
    int number = 0;
  };
  std::vector<Case> cases = {{"claude"}, {"codex"}};
  for (Case& c : cases) {
    c.number = Sim("POST", "/_sim/repos/acme/widgets/issues",
                   {{"user", "alice"},
                    {"title", "Greeting from " + c.agent},
                    {"body", "Please add a greeting.\n\nmodel-sim: write greeting-" + c.agent +
                                 ".txt hello from " + c.agent + "\n"}})["issue"]["number"];
    Label(c.number, "bob", "agent:" + c.agent);
  }
  for (const Case& c : cases) {
    int64_t id = 0;
    ASSERT_TRUE(Eventually([&] {
      for (const Json& t : Tasks()) {
        if (t["external_id"] == std::to_string(c.number)) id = t["id"];
      }
      return id != 0;
    })) << Log();
    Json task;
    ASSERT_TRUE(Eventually(
        [&] {
          task = OrchJson({"task", "show", std::to_string(id), "--json"});
          return task["status"] != "new" && task["status"] != "routed" &&
                 task["status"] != "in_progress";
        },
        std::chrono::seconds(120)))
        << Log();
    ASSERT_EQ(task["status"], "in_review") << task.dump(2) << "\n" << Log();
    EXPECT_EQ(task["route"]["agent"], c.agent);
    ASSERT_EQ(task["runs"].size(), 1u);
    EXPECT_EQ(task["runs"][0]["outcome"], "done");
    EXPECT_FALSE(task["runs"][0]["agent_session"].get<std::string>().empty());
    // The real CLI wrote the file with its own tool; orch committed and pushed it.
    std::string branch = task["branch"];
    ProcessResult file = test::Run(
        {"git", "-C", dir_.Sub("origin.git"), "show", branch + ":greeting-" + c.agent + ".txt"});
    EXPECT_THAT(file.out, HasSubstr("hello from " + c.agent)) << file.err;
    Json pull =
        Sim("GET", "/repos/acme/widgets/pulls/" + std::to_string(task["pr_number"].get<int64_t>()));
    EXPECT_EQ(pull["head"]["ref"], branch);
    EXPECT_THAT(pull["body"].get<std::string>(), HasSubstr("Closes #" + std::to_string(c.number)));
    // The pane showed the CLI's own output.
    std::string log = ReadFile(task["runs"][0]["run_dir"].get<std::string>() + "/output.log");
    EXPECT_FALSE(log.empty());
    if (std::getenv("ORCH_SHOW_AGENT_LOGS")) std::cerr << log << "\n";
  }
}

}  // namespace
}  // namespace orch::test
