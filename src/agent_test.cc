#include "agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace orch {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// Build: the argv and environment of each adapter.

class AgentBuildTest : public ::testing::Test {
 protected:
  std::unique_ptr<AgentAdapter> Make(const std::string& name) {
    auto a = MakeAgentAdapter(name, config_, env_);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? std::move(*a) : nullptr;
  }
  AgentCommand Build(const std::string& name) { return Make(name)->Build(request_); }

  Config config_;
  void SetUp() override {
    request_.model = "m1";
    request_.workdir = "/w/tree";
    request_.main_checkout = "/w/main";
  }

  AgentRequest request_;
  std::map<std::string, std::string> vars_;
  EnvLookup env_ = [this](const std::string& n) -> std::optional<std::string> {
    auto it = vars_.find(n);
    if (it == vars_.end()) return std::nullopt;
    return it->second;
  };
};

TEST_F(AgentBuildTest, ClaudeNewSessionInWorkspaceWrite) {
  // Given the default sandbox, claude streams JSON, edits in its cwd, runs Bash, and is denied
  // the main checkout and git push. No prompt argument: it reads stdin.
  request_.system_prompt_file = "/p/agent_system.md";
  AgentCommand c = Build("claude");
  EXPECT_THAT(c.argv,
              ElementsAre("claude", "-p", "--output-format", "stream-json", "--verbose", "--model",
                          "m1", "--permission-mode", "acceptEdits", "--allowedTools", "Bash",
                          "--disallowedTools", "Bash(git push*)", "Read(//w/main/**)",
                          "Edit(//w/main/**)", "Write(//w/main/**)", "Bash(cd /w/main*)",
                          "--append-system-prompt-file", "/p/agent_system.md"));
  EXPECT_FALSE(c.system_prompt_in_prompt);
  EXPECT_EQ(c.env_set.at("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"), "1");
  EXPECT_EQ(c.env_set.count("IS_SANDBOX"), 0u);
}

TEST_F(AgentBuildTest, ClaudeResumeWithAllowedToolsAndNoModel) {
  request_.model.clear();
  request_.resume_id = "sess-1";
  request_.allowed_tools = {"Bash(make:*)", "Write"};
  AgentCommand c = Build("claude");
  EXPECT_THAT(c.argv, Not(Contains("--model")));
  std::vector<std::string> tail(c.argv.end() - 2, c.argv.end());
  EXPECT_THAT(tail, ElementsAre("--resume", "sess-1"));
  auto allowed = std::find(c.argv.begin(), c.argv.end(), "--allowedTools");
  ASSERT_NE(allowed, c.argv.end());
  EXPECT_EQ(*(allowed + 1), "Bash(make:*)");
  EXPECT_EQ(*(allowed + 2), "Write");
  EXPECT_EQ(*(allowed + 3), "--disallowedTools");
}

TEST_F(AgentBuildTest, ClaudeSandboxModes) {
  request_.sandbox = Sandbox::kReadOnly;
  AgentCommand ro = Build("claude");
  EXPECT_THAT(ro.argv, Contains("plan"));
  EXPECT_THAT(ro.argv, Not(Contains("--allowedTools")));
  request_.sandbox = Sandbox::kFullAccess;
  AgentCommand full = Build("claude");
  EXPECT_THAT(full.argv, Contains("bypassPermissions"));
  // As root claude refuses bypassPermissions unless told it is in a sandbox.
  EXPECT_EQ(full.env_set.at("IS_SANDBOX"), "1");
}

TEST_F(AgentBuildTest, ConfiguredSandboxAppliesWhenTheRequestHasNone) {
  config_.workflow.sandbox = Sandbox::kReadOnly;
  EXPECT_THAT(Build("claude").argv, Contains("plan"));
  config_.agents["claude"].sandbox = Sandbox::kFullAccess;
  EXPECT_THAT(Build("claude").argv, Contains("bypassPermissions"));
  request_.sandbox = Sandbox::kWorkspaceWrite;
  EXPECT_THAT(Build("claude").argv, Contains("acceptEdits"));
}

TEST_F(AgentBuildTest, ClaudeSkipsMainCheckoutDenialsWhenTheWorktreeIsInsideIt) {
  // Denying the main checkout would deny the worktree too; deny rules beat allow rules.
  request_.workdir = "/w/main/.worktrees/t1";
  AgentCommand c = Build("claude");
  EXPECT_THAT(c.argv, Not(Contains("Read(//w/main/**)")));
  EXPECT_THAT(c.argv, Contains("Bash(git push*)"));
}

TEST_F(AgentBuildTest, ExtraArgsAndEnvComeFromConfig) {
  config_.agents["claude"].args = {"--effort", "high"};
  config_.agents["claude"].env = {{"ANTHROPIC_BASE_URL", "http://127.0.0.1:1"}};
  request_.resume_id = "s";
  AgentCommand c = Build("claude");
  std::vector<std::string> tail(c.argv.end() - 2, c.argv.end());
  EXPECT_THAT(tail, ElementsAre("--effort", "high"));
  EXPECT_EQ(c.env_set.at("ANTHROPIC_BASE_URL"), "http://127.0.0.1:1");
  config_.agents["claude"].command = "/opt/bin/claude";
  EXPECT_EQ(Build("claude").argv[0], "/opt/bin/claude");
}

TEST_F(AgentBuildTest, CodexNewSession) {
  config_.agents["codex"].args = {"-c", "model_reasoning_effort=\"low\""};
  AgentCommand c = Build("codex");
  EXPECT_THAT(c.argv, ElementsAre("codex", "exec", "--json", "-s", "workspace-write", "-m", "m1",
                                  "-c", "analytics.enabled=false", "-c",
                                  "check_for_update_on_startup=false", "--disable", "plugins",
                                  "--disable", "unbounded_connection_retries", "-c",
                                  "model_reasoning_effort=\"low\"", "-"));
  EXPECT_TRUE(c.system_prompt_in_prompt);
}

TEST_F(AgentBuildTest, CodexResumeTakesTheSandboxThroughConfig) {
  // `codex exec resume` has no -s.
  request_.resume_id = "0199-thread";
  AgentCommand c = Build("codex");
  EXPECT_THAT(std::vector<std::string>(c.argv.begin(), c.argv.begin() + 6),
              ElementsAre("codex", "exec", "resume", "--json", "-c",
                          "sandbox_mode=\"workspace-write\""));
  EXPECT_THAT(c.argv, Not(Contains("-s")));
  std::vector<std::string> tail(c.argv.end() - 2, c.argv.end());
  EXPECT_THAT(tail, ElementsAre("0199-thread", "-"));
}

TEST_F(AgentBuildTest, CodexSandboxModes) {
  auto sandbox_args = [&](Sandbox s) {
    request_.sandbox = s;
    AgentCommand c = Build("codex");
    return std::vector<std::string>(c.argv.begin() + 3, c.argv.begin() + 5);
  };
  EXPECT_THAT(sandbox_args(Sandbox::kReadOnly), ElementsAre("-s", "read-only"));
  EXPECT_THAT(sandbox_args(Sandbox::kWorkspaceWrite), ElementsAre("-s", "workspace-write"));
  EXPECT_THAT(sandbox_args(Sandbox::kFullAccess), ElementsAre("-s", "danger-full-access"));
  request_.sandbox = Sandbox::kNone;
  AgentCommand none = Build("codex");
  EXPECT_EQ(none.argv[3], "--dangerously-bypass-approvals-and-sandbox");
  EXPECT_THAT(none.argv, Not(Contains("-s")));
}

TEST_F(AgentBuildTest, CodexSandboxFromEnvironmentOverridesEverything) {
  vars_["CODEX_SANDBOX"] = "danger-full-access";
  request_.sandbox = Sandbox::kReadOnly;
  EXPECT_THAT(Build("codex").argv, Contains("danger-full-access"));
  vars_["CODEX_SANDBOX"] = "none";
  EXPECT_THAT(Build("codex").argv, Contains("--dangerously-bypass-approvals-and-sandbox"));
  vars_["CODEX_SANDBOX"] = "yolo";
  auto bad = MakeAgentAdapter("codex", config_, env_);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("CODEX_SANDBOX"));
}

TEST_F(AgentBuildTest, CodexSandboxAliasesInConfig) {
  std::map<std::string, std::string> none;
  auto parsed = ParseConfig({{"config.yml", "agents:\n  codex: {sandbox: full-auto}\n"
                                            "  claude: {sandbox: danger-full-access}\n"
                                            "  opencode: {sandbox: none}\n"}},
                            [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->agents.at("codex").sandbox, Sandbox::kWorkspaceWrite);
  EXPECT_EQ(parsed->agents.at("claude").sandbox, Sandbox::kFullAccess);
  EXPECT_EQ(parsed->agents.at("opencode").sandbox, Sandbox::kNone);
  EXPECT_STREQ(SandboxName(Sandbox::kNone), "none");
  EXPECT_STREQ(SandboxName(Sandbox::kWorkspaceWrite), "workspace-write");
}

TEST_F(AgentBuildTest, OpencodeNewSessionAndResume) {
  AgentCommand c = Build("opencode");
  EXPECT_THAT(c.argv,
              ElementsAre("opencode", "run", "--format", "json", "-m", "m1", "--dir", "/w/tree"));
  EXPECT_TRUE(c.system_prompt_in_prompt);
  EXPECT_EQ(c.env_set.at("OPENCODE_DISABLE_AUTOUPDATE"), "1");
  request_.resume_id = "ses_1";
  EXPECT_THAT(Build("opencode").argv,
              ElementsAre("opencode", "run", "--format", "json", "-m", "m1", "--session", "ses_1",
                          "--dir", "/w/tree"));
}

TEST_F(AgentBuildTest, OpencodePermissionsFollowTheSandbox) {
  auto permission = [&](Sandbox s) {
    request_.sandbox = s;
    return nlohmann::json::parse(Build("opencode").env_set.at("OPENCODE_CONFIG_CONTENT"))
        .at("permission");
  };
  nlohmann::json ws = permission(Sandbox::kWorkspaceWrite);
  EXPECT_EQ(ws["edit"], "allow");
  EXPECT_EQ(ws["bash"]["*"], "allow");
  EXPECT_EQ(ws["bash"]["git push*"], "deny");
  EXPECT_EQ(ws["external_directory"], "deny");
  EXPECT_EQ(permission(Sandbox::kReadOnly)["edit"], "deny");
  EXPECT_EQ(permission(Sandbox::kFullAccess)["external_directory"], "allow");
}

TEST_F(AgentBuildTest, OpencodeUserConfigIsMergedOverOurs) {
  // The provider from orch's environment, a permission override from agents.opencode.env.
  vars_["OPENCODE_CONFIG_CONTENT"] = R"({"provider":{"p":{"npm":"x"}}})";
  config_.agents["opencode"].env = {{"OPENCODE_CONFIG_CONTENT", R"({"permission":{"bash":"ask"}})"},
                                    {"OTHER", "1"}};
  AgentCommand c = Build("opencode");
  auto j = nlohmann::json::parse(c.env_set.at("OPENCODE_CONFIG_CONTENT"));
  EXPECT_EQ(j["provider"]["p"]["npm"], "x");
  EXPECT_EQ(j["permission"]["bash"], "ask");
  EXPECT_EQ(j["permission"]["edit"], "allow");
  EXPECT_EQ(c.env_set.at("OTHER"), "1");
  config_.agents["opencode"].env["OPENCODE_CONFIG_CONTENT"] = "[1]";
  auto bad = MakeAgentAdapter("opencode", config_, env_);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("agents.opencode.env.OPENCODE_CONFIG_CONTENT"));
}

TEST_F(AgentBuildTest, GenericAgentRunsItsCommandWithItsArgs) {
  AgentConfig& kimi = config_.agents["kimi"];
  kimi.command = "/usr/bin/kimi";
  kimi.args = {"--print", "--yolo"};
  kimi.output_format = OutputFormat::kText;
  kimi.env = {{"KIMI_KEY", "k"}};
  AgentCommand c = Build("kimi");
  EXPECT_THAT(c.argv, ElementsAre("/usr/bin/kimi", "--print", "--yolo"));
  EXPECT_EQ(c.env_set.at("KIMI_KEY"), "k");
  EXPECT_TRUE(c.system_prompt_in_prompt);
  EXPECT_THAT(Make("kimi")->VersionArgv(), ElementsAre("/usr/bin/kimi", "--version"));
}

TEST_F(AgentBuildTest, UnknownAgentWithoutCommandIsAnError) {
  auto a = MakeAgentAdapter("goose", config_, env_);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("agents.goose"));
}

}  // namespace
}  // namespace orch
