#include "agents/agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/test_util.h"

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
  EXPECT_THAT(
      c.argv,
      ElementsAre("claude", "-p", "--output-format", "stream-json", "--verbose", "--model", "m1",
                  "--permission-mode", "acceptEdits", "--allowedTools", "Bash", "--disallowedTools",
                  "Bash(git push*)", "Read(//w/main/**)", "Edit(//w/main/**)", "Write(//w/main/**)",
                  "Bash(cd /w/main*)", "--append-system-prompt-file", "/p/agent_system.md"));
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
  EXPECT_THAT(c.argv,
              ElementsAre("codex", "exec", "--json", "-s", "workspace-write", "-c",
                          "sandbox_workspace_write.network_access=true", "-m", "m1", "-c",
                          "analytics.enabled=false", "-c", "check_for_update_on_startup=false",
                          "--disable", "plugins", "--disable", "unbounded_connection_retries", "-c",
                          "model_reasoning_effort=\"low\"", "-"));
  EXPECT_TRUE(c.system_prompt_in_prompt);
}

TEST_F(AgentBuildTest, CodexResumeTakesTheSandboxThroughConfig) {
  // `codex exec resume` has no -s.
  request_.resume_id = "0199-thread";
  AgentCommand c = Build("codex");
  EXPECT_THAT(
      std::vector<std::string>(c.argv.begin(), c.argv.begin() + 6),
      ElementsAre("codex", "exec", "resume", "--json", "-c", "sandbox_mode=\"workspace-write\""));
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

TEST_F(AgentBuildTest, CodexWorkspaceWriteHasNetworkUnlessConfiguredOff) {
  // Regression (issue 15 g): codex's workspace-write sandbox has no network by default, so
  // installs and tests that fetch failed. agents.codex.network (default on) says otherwise.
  const std::string kNetwork = "sandbox_workspace_write.network_access=true";
  EXPECT_THAT(Build("codex").argv, Contains(kNetwork));
  request_.resume_id = "0199-thread";
  EXPECT_THAT(Build("codex").argv, Contains(kNetwork));  // resume takes -c as well
  request_.resume_id = "";
  request_.sandbox = Sandbox::kReadOnly;
  EXPECT_THAT(Build("codex").argv, Not(Contains(kNetwork)));
  request_.sandbox = std::nullopt;
  auto parsed = ParseConfig({{"config.yml", "agents:\n  codex: {network: false}\n"}},
                            [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->agents.at("codex").network, false);
  config_.agents["codex"].network = false;
  EXPECT_THAT(Build("codex").argv, Not(Contains(kNetwork)));
}

TEST_F(AgentBuildTest, EachAgentInheritsOnlyItsOwnVariables) {
  EXPECT_THAT(Build("claude").env_inherit, Contains("ANTHROPIC_*"));
  EXPECT_THAT(Build("codex").env_inherit, Contains("OPENAI_*"));
  EXPECT_THAT(Build("codex").env_inherit, Not(Contains("ANTHROPIC_*")));
  EXPECT_THAT(Build("opencode").env_inherit, Contains("OPENCODE_*"));
  for (const char* agent : {"claude", "codex", "opencode"}) {
    for (const std::string& name : Build(agent).env_inherit) {
      EXPECT_NE(name.rfind("ORCH_", 0), 0u) << agent;
      EXPECT_NE(name.rfind("GITHUB", 0), 0u) << agent;
      EXPECT_NE(name.rfind("GH_", 0), 0u) << agent;
    }
  }
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
  auto parsed = ParseConfig({{"config.yml",
                              "agents:\n  codex: {sandbox: full-auto}\n"
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
  EXPECT_THAT(Build("opencode").argv, ElementsAre("opencode", "run", "--format", "json", "-m", "m1",
                                                  "--session", "ses_1", "--dir", "/w/tree"));
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

// ---------------------------------------------------------------------------------------------
// Parse: real output of the real CLIs, captured by tests/real_cli_test.cc against orch-model-sim
// (see tests/data/agent-output/README.md for how).

std::string Capture(const std::string& name) {
  return test::ReadFile(std::string(ORCH_SOURCE_DIR) + "/tests/data/agent-output/" + name);
}

AgentOutput Output(const std::string& capture, int exit_code) {
  return AgentOutput{exit_code, false, Capture(capture), ""};
}

struct Expected {
  std::string capture;
  OutputFormat format;
  std::string session_id;
  int64_t input_tokens;
  int64_t output_tokens;
  std::vector<std::string> files_changed;
};

class AgentParseRealTest : public ::testing::TestWithParam<Expected> {};

TEST_P(AgentParseRealTest, ReadsASuccessfulRun) {
  const Expected& e = GetParam();
  AgentResult r = ParseAgentOutput(e.format, Output(e.capture, 0));
  ASSERT_TRUE(r.ok()) << AgentErrorName(r.error) << ": " << r.error_message;
  ASSERT_TRUE(r.contract.has_value());
  EXPECT_EQ(r.contract->status, ContractStatus::kDone);
  EXPECT_EQ(r.contract->files_changed, e.files_changed);
  EXPECT_EQ(r.contract->accomplished, std::vector<std::string>{"took the steps"});
  EXPECT_EQ(r.session_id, e.session_id);
  EXPECT_EQ(r.input_tokens, e.input_tokens);
  EXPECT_EQ(r.output_tokens, e.output_tokens);
  EXPECT_TRUE(r.error_message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Captures, AgentParseRealTest,
    ::testing::Values(
        Expected{"claude-stream-json-ok.jsonl",
                 OutputFormat::kClaudeStreamJson,
                 "91c5625d-dc05-4f78-b300-e1119b71764c",
                 16886,
                 71,
                 {"hello.txt"}},
        Expected{"claude-stream-json-resume.jsonl",
                 OutputFormat::kClaudeStreamJson,
                 "91c5625d-dc05-4f78-b300-e1119b71764c",
                 16998,
                 70,
                 {"second.txt"}},
        Expected{"claude-json-ok.jsonl",
                 OutputFormat::kClaudeJson,
                 "7e066c86-d058-43a4-b2b4-e6519f228ad0",
                 16848,
                 71,
                 {"hello.txt"}},
        Expected{"claude-json-verbose-ok.jsonl",
                 OutputFormat::kClaudeJson,
                 "93c025c6-1136-4a95-b668-4343c1bb3d22",
                 16848,
                 71,
                 {"hello.txt"}},
        Expected{"codex-ok.jsonl",
                 OutputFormat::kCodexJsonl,
                 "01a1fd39-8b70-7dd0-85f3-bd051fad9694",
                 13862,
                 77,
                 {"hello.txt"}},
        Expected{"codex-resume.jsonl",
                 OutputFormat::kCodexJsonl,
                 "01a1fd39-8b70-7dd0-85f3-bd051fad9694",
                 27834,
                 152,
                 {"second.txt"}},
        // Two steps (the write, then the answer): tokens are summed over step_finish events.
        Expected{"opencode-ok.jsonl",
                 OutputFormat::kOpencodeJsonl,
                 "ses_e02c659e4ffeKgDTqTJIr2nkLC",
                 4684,
                 71,
                 {"hello.txt"}},
        Expected{"opencode-resume.jsonl",
                 OutputFormat::kOpencodeJsonl,
                 "ses_e02c659e4ffeKgDTqTJIr2nkLC",
                 4794,
                 69,
                 {"second.txt"}}),
    [](const auto& info) {
      std::string n = info.param.capture.substr(0, info.param.capture.find('.'));
      for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return n;
    });

TEST(AgentParseTest, ClaudeCostIsTheResultsTotal) {
  AgentResult r =
      ParseAgentOutput(OutputFormat::kClaudeStreamJson, Output("claude-stream-json-ok.jsonl", 0));
  EXPECT_NEAR(r.cost_usd, 0.051723, 1e-9);
  // Codex prints no cost.
  EXPECT_EQ(ParseAgentOutput(OutputFormat::kCodexJsonl, Output("codex-ok.jsonl", 0)).cost_usd, 0);
}

TEST(AgentParseTest, DeniedToolsWithAContractAreStillOk) {
  // The main-checkout write and the git push were refused, but the agent answered.
  for (auto [capture, format] :
       {std::pair{"claude-stream-json-denied.jsonl", OutputFormat::kClaudeStreamJson},
        std::pair{"opencode-denied.jsonl", OutputFormat::kOpencodeJsonl}}) {
    AgentResult r = ParseAgentOutput(format, Output(capture, 0));
    EXPECT_TRUE(r.ok()) << capture << ": " << r.error_message;
  }
}

TEST(AgentParseTest, ClaudeDeniedThenAskingIsWaitingForInput) {
  AgentResult r = ParseAgentOutput(OutputFormat::kClaudeStreamJson,
                                   Output("claude-stream-json-waiting.jsonl", 0));
  EXPECT_EQ(r.error, AgentError::kWaitingForInput);
  EXPECT_EQ(r.final_text, "May I write outside the worktree?");
  EXPECT_THAT(r.error_message, HasSubstr("Write"));
  EXPECT_FALSE(r.contract.has_value());
}

TEST(AgentParseTest, UnparseableFinalMessageKeepsTheText) {
  struct Case {
    const char* capture;
    OutputFormat format;
    const char* text;
  };
  for (const Case& c : {Case{"claude-stream-json-unparseable.jsonl",
                             OutputFormat::kClaudeStreamJson, "All done, I think."},
                        Case{"codex-unparseable.jsonl", OutputFormat::kCodexJsonl, "Finished."}}) {
    AgentResult r = ParseAgentOutput(c.format, Output(c.capture, 0));
    EXPECT_EQ(r.error, AgentError::kUnparseable) << c.capture;
    EXPECT_EQ(r.final_text, c.text);
    EXPECT_FALSE(r.session_id.empty());
    EXPECT_FALSE(r.error_message.empty());
  }
}

struct ErrorCapture {
  std::string capture;
  OutputFormat format;
  AgentError error;
};

class AgentParseErrorTest : public ::testing::TestWithParam<ErrorCapture> {};

TEST_P(AgentParseErrorTest, ClassifiesFromStructuredFields) {
  const ErrorCapture& e = GetParam();
  AgentResult r = ParseAgentOutput(e.format, Output(e.capture, 1));
  EXPECT_EQ(r.error, e.error) << AgentErrorName(r.error) << ": " << r.error_message;
  EXPECT_FALSE(r.error_message.empty());
  EXPECT_FALSE(r.contract.has_value());
  EXPECT_FALSE(r.session_id.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Captures, AgentParseErrorTest,
    ::testing::Values(
        ErrorCapture{"claude-stream-json-429.jsonl", OutputFormat::kClaudeStreamJson,
                     AgentError::kRateLimit},
        ErrorCapture{"claude-stream-json-529.jsonl", OutputFormat::kClaudeStreamJson,
                     AgentError::kRateLimit},
        ErrorCapture{"claude-stream-json-401.jsonl", OutputFormat::kClaudeStreamJson,
                     AgentError::kAuth},
        ErrorCapture{"claude-stream-json-404.jsonl", OutputFormat::kClaudeStreamJson,
                     AgentError::kModelUnavailable},
        ErrorCapture{"claude-stream-json-400.jsonl", OutputFormat::kClaudeStreamJson,
                     AgentError::kContextOverflow},
        ErrorCapture{"codex-429.jsonl", OutputFormat::kCodexJsonl, AgentError::kRateLimit},
        ErrorCapture{"codex-401.jsonl", OutputFormat::kCodexJsonl, AgentError::kAuth},
        ErrorCapture{"codex-400.jsonl", OutputFormat::kCodexJsonl, AgentError::kContextOverflow},
        // Codex prints a 404's API message without its status, and its own words for a 500.
        ErrorCapture{"codex-404.jsonl", OutputFormat::kCodexJsonl, AgentError::kFailed},
        ErrorCapture{"codex-500.jsonl", OutputFormat::kCodexJsonl, AgentError::kFailed},
        ErrorCapture{"opencode-429.jsonl", OutputFormat::kOpencodeJsonl, AgentError::kRateLimit},
        ErrorCapture{"opencode-401.jsonl", OutputFormat::kOpencodeJsonl, AgentError::kAuth}),
    [](const auto& info) {
      std::string n = info.param.capture.substr(0, info.param.capture.find('.'));
      for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return n;
    });

TEST(AgentParseTest, TextOutputIsTheFinalMessage) {
  AgentResult r = ParseAgentOutput(OutputFormat::kText, Output("claude-text-ok.txt", 0));
  ASSERT_TRUE(r.ok()) << r.error_message;
  EXPECT_EQ(r.contract->files_changed, std::vector<std::string>{"text.txt"});
  AgentResult failed =
      ParseAgentOutput(OutputFormat::kText, AgentOutput{3, false, "oops", "it broke\n"});
  EXPECT_EQ(failed.error, AgentError::kFailed);
  EXPECT_THAT(failed.error_message, HasSubstr("exit 3"));
  EXPECT_THAT(failed.error_message, HasSubstr("it broke"));
  EXPECT_EQ(failed.final_text, "oops");
}

// --- Exit-level classes, for every format.

TEST(AgentParseTest, TimeoutAndMissingToolWinOverOutput) {
  for (OutputFormat f : {OutputFormat::kClaudeStreamJson, OutputFormat::kCodexJsonl,
                         OutputFormat::kOpencodeJsonl, OutputFormat::kText}) {
    SCOPED_TRACE(OutputFormatName(f));
    AgentResult t = ParseAgentOutput(f, AgentOutput{-1, true, "", ""});
    EXPECT_EQ(t.error, AgentError::kTimeout);
    AgentResult m =
        ParseAgentOutput(f, AgentOutput{127, false, "", "sh: 1: exec: claude: not found\n"});
    EXPECT_EQ(m.error, AgentError::kMissingTool);
  }
  // A timed-out run keeps what it said so far, to resume.
  AgentOutput partial = Output("codex-ok.jsonl", -1);
  partial.timed_out = true;
  AgentResult r = ParseAgentOutput(OutputFormat::kCodexJsonl, partial);
  EXPECT_EQ(r.error, AgentError::kTimeout);
  EXPECT_EQ(r.session_id, "01a1fd39-8b70-7dd0-85f3-bd051fad9694");
  // An agent ended for its silence (engine.stuck_timeout) says so.
  AgentOutput stuck = Output("codex-ok.jsonl", -1);
  stuck.stuck_after = 120;
  AgentResult st = ParseAgentOutput(OutputFormat::kCodexJsonl, stuck);
  EXPECT_EQ(st.error, AgentError::kTimeout);
  EXPECT_THAT(st.error_message, HasSubstr("stuck: no output for 120s"));
}

TEST(AgentParseTest, NonZeroExitWithoutStructuredErrorIsFailed) {
  // Codex killed mid-turn: it started, no turn.completed, no error event.
  std::string out =
      "{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n{\"type\":\"turn.started\"}\n";
  AgentResult r = ParseAgentOutput(OutputFormat::kCodexJsonl, AgentOutput{1, false, out, ""});
  EXPECT_EQ(r.error, AgentError::kFailed);
  EXPECT_EQ(r.session_id, "t1");
  AgentResult claude = ParseAgentOutput(OutputFormat::kClaudeStreamJson,
                                        AgentOutput{1, false, "", "Error: unknown option\n"});
  EXPECT_EQ(claude.error, AgentError::kFailed);
  EXPECT_THAT(claude.error_message, HasSubstr("unknown option"));
}

TEST(AgentParseTest, WorkOutputMentioningErrorsDoesNotClassify) {
  // The agent's own message talks about a 429 and an expired key: it is still a done contract.
  nlohmann::json contract = {{"status", "done"},
                             {"summary", "Handle HTTP 429 rate limit and 401 Unauthorized"}};
  nlohmann::json item = {{"type", "item.completed"},
                         {"item", {{"type", "agent_message"}, {"text", contract.dump()}}}};
  nlohmann::json cmd = {{"type", "item.completed"},
                        {"item",
                         {{"type", "command_execution"},
                          {"aggregated_output", "error: unexpected status 429 Too Many Requests"},
                          {"exit_code", 1}}}};
  std::string out = cmd.dump() + "\n" + item.dump() + "\n";
  AgentResult r = ParseAgentOutput(OutputFormat::kCodexJsonl, AgentOutput{0, false, out, ""});
  EXPECT_TRUE(r.ok()) << r.error_message;
}

TEST(AgentParseTest, CodexErrorsBeforeACompletedTurnWereRetries) {
  std::string out =
      R"j({"type":"thread.started","thread_id":"t1"})j"
      "\n"
      R"j({"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion)"})j"
      "\n"
      R"j({"type":"item.completed","item":{"type":"agent_message","text":"{\"status\":\"done\"}"}})j"
      "\n"
      R"j({"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":2}})j"
      "\n";
  AgentResult r = ParseAgentOutput(OutputFormat::kCodexJsonl, AgentOutput{0, false, out, ""});
  EXPECT_TRUE(r.ok()) << r.error_message;
  EXPECT_EQ(r.input_tokens, 5);
}

TEST(AgentParseTest, OpencodeFinalMessageIsTheLastStepsText) {
  // A contract-looking text in an earlier step does not count when the last step said nothing.
  std::string out =
      R"j({"type":"step_start","sessionID":"ses_1","part":{}})j"
      "\n"
      R"j({"type":"text","sessionID":"ses_1","part":{"text":"{\"status\":\"done\"}"}})j"
      "\n"
      R"j({"type":"step_finish","sessionID":"ses_1","part":{"reason":"tool-calls","tokens":{"input":3,"output":1}}})j"
      "\n"
      R"j({"type":"step_start","sessionID":"ses_1","part":{}})j"
      "\n"
      R"j({"type":"step_finish","sessionID":"ses_1","part":{"reason":"tool-calls","tokens":{"input":4,"output":1}}})j"
      "\n";
  AgentResult r = ParseAgentOutput(OutputFormat::kOpencodeJsonl, AgentOutput{0, false, out, ""});
  EXPECT_EQ(r.error, AgentError::kUnparseable);
  EXPECT_EQ(r.session_id, "ses_1");
  EXPECT_EQ(r.input_tokens, 7);
  EXPECT_EQ(r.output_tokens, 2);
}

TEST(AgentParseTest, ClaudeErrorResultWithoutStatusIsFailed) {
  // is_error with subtype "success" and no api_error_status (e.g. max turns).
  std::string out =
      R"({"type":"result","subtype":"error_max_turns","is_error":true,"session_id":"s","result":""})";
  AgentResult r = ParseAgentOutput(OutputFormat::kClaudeJson, AgentOutput{1, false, out, ""});
  EXPECT_EQ(r.error, AgentError::kFailed);
  EXPECT_THAT(r.error_message, HasSubstr("error_max_turns"));
  EXPECT_EQ(r.session_id, "s");
}

// ---------------------------------------------------------------------------------------------
// ParseContract

TEST(ParseContractTest, ReadsEveryField) {
  Result<AgentContract> c = ParseContract(R"({
    "status": "needs_review", "summary": "s", "accomplished": ["a"], "remaining": ["r"],
    "files_changed": ["f1", "f2"], "blockers": ["b"], "reason": "why",
    "delegations": [{"title": "t", "body": "bd", "labels": ["l1"]}]})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->status, ContractStatus::kNeedsReview);
  EXPECT_EQ(c->summary, "s");
  EXPECT_THAT(c->accomplished, ElementsAre("a"));
  EXPECT_THAT(c->remaining, ElementsAre("r"));
  EXPECT_THAT(c->files_changed, ElementsAre("f1", "f2"));
  EXPECT_THAT(c->blockers, ElementsAre("b"));
  EXPECT_EQ(c->reason, "why");
  ASSERT_EQ(c->delegations.size(), 1u);
  EXPECT_EQ(c->delegations[0].title, "t");
  EXPECT_EQ(c->delegations[0].body, "bd");
  EXPECT_THAT(c->delegations[0].labels, ElementsAre("l1"));
}

TEST(ParseContractTest, EveryStatusAndItsName) {
  for (auto [name, status] : {std::pair{"done", ContractStatus::kDone},
                              std::pair{"in_progress", ContractStatus::kInProgress},
                              std::pair{"blocked", ContractStatus::kBlocked},
                              std::pair{"needs_review", ContractStatus::kNeedsReview}}) {
    Result<AgentContract> c = ParseContract(std::string(R"({"status":")") + name + "\"}");
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_EQ(c->status, status);
    EXPECT_STREQ(ContractStatusName(status), name);
  }
}

TEST(ParseContractTest, FindsTheLastFencedBlockThenTheLastObject) {
  Result<AgentContract> fenced = ParseContract(
      "Here is an example: ```json\n{\"status\":\"blocked\"}\n```\nand the answer:\n"
      "```json\n{\"status\":\"done\",\"summary\":\"fenced\"}\n```\n");
  ASSERT_TRUE(fenced.ok()) << fenced.status().message();
  EXPECT_EQ(fenced->summary, "fenced");
  Result<AgentContract> bare = ParseContract(
      "I changed {a few} things. {\"status\":\"blocked\"} then\n"
      "{\"status\":\"in_progress\",\"summary\":\"has } and { in a "
      "string\",\"delegations\":[]}\nbye");
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  EXPECT_EQ(bare->status, ContractStatus::kInProgress);
  EXPECT_EQ(bare->summary, "has } and { in a string");
}

TEST(ParseContractTest, ALoneStringCountsAsAList) {
  Result<AgentContract> c = ParseContract(R"({"status":"done","files_changed":"a.txt"})");
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->files_changed, ElementsAre("a.txt"));
}

TEST(ParseContractTest, RejectsWhatIsNotTheContract) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : {Case{"", "empty"}, Case{"All done!", "no JSON object"},
                        Case{R"({"summary":"no status"})", "status: missing"},
                        Case{"I did {it}.", "no JSON object with a status"},
                        Case{R"({"status":"finished"})", "\"finished\" is not one of"},
                        Case{R"({"status":""})", "status: missing"},
                        Case{R"({"status":"done","accomplished":[1]})", "accomplished"},
                        Case{R"({"status":"done","summary":{}})", "summary"},
                        Case{R"({"status":"done","delegations":[{"body":"b"}]})", "no title"},
                        Case{R"({"status":"done","delegations":"x"})", "delegations"},
                        Case{"[1,2]", "no JSON object"}}) {
    Result<AgentContract> r = ParseContract(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.why)) << c.text;
  }
}

TEST(AgentErrorNameTest, EveryClassHasAName) {
  for (AgentError e :
       {AgentError::kNone, AgentError::kRateLimit, AgentError::kAuth, AgentError::kModelUnavailable,
        AgentError::kContextOverflow, AgentError::kTimeout, AgentError::kMissingTool,
        AgentError::kWaitingForInput, AgentError::kUnparseable, AgentError::kFailed}) {
    EXPECT_STRNE(AgentErrorName(e), "?");
  }
}

}  // namespace
}  // namespace orch
