// The argv orch builds, run through the real agent CLIs (claude-code, codex, opencode as
// installed by scripts/install-agent-clis), against orch-model-sim on 127.0.0.1.
//
// Each run is made the way the runner makes it: the adapter's argv and environment, the prompt
// on stdin from a file, cwd a git worktree whose main checkout is off limits, and its own HOME,
// TMPDIR and CODEX_HOME. The model-sim is told in the prompt what to do (tools/model-sim/
// script.h): write a file with the CLI's own tool, run a command, fail with an HTTP status.
// Every test checks the CLI accepted the argv (exit 0), what it did on disk, and that Parse()
// reads its real output.
//
// When the CLIs are not installed (no npm, no registry) every test skips, saying so.
// ORCH_CAPTURE_AGENT_OUTPUT=DIR saves each run's stdout as DIR/<name>.jsonl: that is how
// tests/data/agent-output/ was made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agents/agent.h"
#include "base/subprocess.h"
#include "testing/test_util.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string CliDir() {
  std::string dir = Env("ORCH_AGENT_CLIS");
  return dir.empty() ? Env("HOME") + "/.cache/orch/agent-clis" : dir;
}

std::string CliPath(const std::string& name) { return CliDir() + "/node_modules/.bin/" + name; }

// The model server, one per test binary run (each CTest test is its own run).
class ModelSim {
 public:
  // Started on first use; stopped (and its directory removed) when the test binary exits.
  static ModelSim& Get() {
    static ModelSim sim;
    return sim;
  }
  const std::string& url() const { return url_; }
  const std::string& log() const { return log_path_; }

 private:
  ModelSim() {
    std::string port_file = dir_.Sub("port");
    log_path_ = dir_.Sub("requests.log");
    proc_ = std::make_unique<test::Background>(
        std::vector<std::string>{ORCH_MODEL_SIM, "--port", "0", "--port-file", port_file, "--log",
                                 log_path_},
        std::map<std::string, std::string>{}, dir_.Sub("sim.out"));
    bool up = test::Eventually([&] { return fs::exists(port_file); });
    EXPECT_TRUE(up) << "orch-model-sim did not start";
    if (up) url_ = "http://127.0.0.1:" + Trim(test::ReadFile(port_file));
  }
  static std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  test::TempDir dir_;
  std::unique_ptr<test::Background> proc_;
  std::string url_;
  std::string log_path_;
};

// How one run went.
struct AgentRun {
  AgentCommand command;
  ProcessResult process;
  AgentResult result;
};

class RealCliTest : public ::testing::Test {
 protected:
  // Skips unless `name` is installed; sets up the repo, the worktree and the config that points
  // the CLI at the model-sim.
  void Use(const std::string& name) {
    name_ = name;
    if (access(CliPath(name).c_str(), X_OK) != 0) {
      GTEST_SKIP() << CliPath(name) << " is not installed (scripts/install-agent-clis installs "
                   << "it; it needs npm and the npm registry)";
    }
    ASSERT_FALSE(ModelSim::Get().url().empty());
    for (const char* d : {"home", "tmp", "codex-home"}) fs::create_directories(dir_.Sub(d));
    test::MakeRepoWithOrigin(dir_.Sub("origin.git"), main_);
    test::Run({"git", "-C", main_, "worktree", "add", "-q", "-b", "orch/task-1", workdir_});
    ASSERT_TRUE(fs::exists(workdir_ + "/README.md"));

    AgentConfig& ac = config_.agents[name];
    ac.command = CliPath(name);
    const std::string url = ModelSim::Get().url();
    if (name == "claude") {
      ac.env = {{"ANTHROPIC_BASE_URL", url},
                {"ANTHROPIC_API_KEY", "sim-key"},
                {"CLAUDE_CODE_MAX_RETRIES", "0"}};
      model_ = "claude-sonnet-4-5";
    } else if (name == "codex") {
      // The provider travels as agents.codex.args, which proves extra args land before "-".
      ac.args = {"-c", "model_provider=sim", "-c",
                 "model_providers.sim={name=\"sim\",base_url=\"" + url +
                     "/v1\",env_key=\"SIM_KEY\",wire_api=\"responses\",request_max_retries=0,"
                     "stream_max_retries=0}"};
      ac.env = {{"SIM_KEY", "sim-key"}};
      model_ = "gpt-5.5";  // a model codex knows, so it offers apply_patch
    } else {
      // Merged by the adapter with orch's permission settings.
      ac.env = {{"OPENCODE_CONFIG_CONTENT",
                 R"({"provider":{"sim":{"npm":"@ai-sdk/anthropic","options":{"baseURL":")" + url +
                     R"(/v1","apiKey":"sim-key"},"models":{"claude-sonnet-4-5":{}}}}})"},
                {"OPENCODE_DISABLE_MODELS_FETCH", "1"},
                {"OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"}};
      model_ = "sim/claude-sonnet-4-5";
    }
  }

  AgentRequest Request() const {
    AgentRequest r;
    r.model = model_;
    r.workdir = workdir_;
    r.main_checkout = main_;
    return r;
  }

  // Builds with the adapter and runs it as the runner does: stdin from a prompt file (the
  // shell only redirects; argv is passed through "$@", never pasted into the script).
  AgentRun RunAgent(const AgentRequest& request, const std::string& prompt,
                    const std::string& capture = "",
                    const std::map<std::string, std::string>& orch_env = {}) {
    AgentRun run;
    EnvLookup lookup = [&](const std::string& k) -> std::optional<std::string> {
      auto it = orch_env.find(k);
      if (it == orch_env.end()) return std::nullopt;
      return it->second;
    };
    auto adapter = MakeAgentAdapter(name_, config_, lookup);
    EXPECT_TRUE(adapter.ok()) << adapter.status().message();
    if (!adapter.ok()) return run;
    run.command = (*adapter)->Build(request);
    std::string prompt_file = dir_.Sub("prompt-" + std::to_string(++runs_) + ".md");
    test::WriteFile(prompt_file, prompt);
    ProcessOptions opts;
    opts.argv = {"/bin/sh", "-c", "exec \"$@\" < \"$ORCH_PROMPT_FILE\"", "sh"};
    opts.argv.insert(opts.argv.end(), run.command.argv.begin(), run.command.argv.end());
    opts.cwd = workdir_;
    opts.env_set = run.command.env_set;
    opts.env_set["ORCH_PROMPT_FILE"] = prompt_file;
    opts.env_set["HOME"] = dir_.Sub("home");
    opts.env_set["TMPDIR"] = dir_.Sub("tmp");
    opts.env_set["CODEX_HOME"] = dir_.Sub("codex-home");
    opts.env_unset = {"XDG_CONFIG_HOME", "XDG_DATA_HOME",        "XDG_CACHE_HOME",
                      "XDG_STATE_HOME",  "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY",
                      "OPENAI_BASE_URL", "CLAUDE_CONFIG_DIR",    "OPENCODE_CONFIG",
                      "IS_SANDBOX"};
    opts.timeout = std::chrono::seconds(120);
    PosixProcessRunner runner;
    Result<ProcessResult> p = runner.Run(opts);
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (!p.ok()) return run;
    run.process = *p;
    run.result = (*adapter)->Parse({p->exit_code, p->timed_out, p->out, p->err});
    if (std::string dir = Env("ORCH_CAPTURE_AGENT_OUTPUT"); !dir.empty() && !capture.empty()) {
      test::WriteFile(dir + "/" + name_ + "-" + capture + ".jsonl", p->out);
    }
    return run;
  }

  // Expects a run that worked and wrote `file` (relative to the worktree) with `text`.
  void ExpectWrote(const AgentRun& run, const std::string& file, const std::string& text) {
    EXPECT_EQ(run.process.exit_code, 0) << Describe(run);
    EXPECT_EQ(Read(workdir_ + "/" + file), text + "\n") << Describe(run);
    ExpectOk(run);
  }

  void ExpectOk(const AgentRun& run) {
    ASSERT_TRUE(run.result.ok()) << AgentErrorName(run.result.error) << ": "
                                 << run.result.error_message << "\n"
                                 << Describe(run);
    ASSERT_TRUE(run.result.contract.has_value());
    EXPECT_EQ(run.result.contract->status, ContractStatus::kDone);
    EXPECT_FALSE(run.result.session_id.empty());
    EXPECT_GT(run.result.input_tokens, 0);
    EXPECT_GT(run.result.output_tokens, 0);
  }

  static std::string Read(const std::string& path) {
    return fs::exists(path) ? test::ReadFile(path) : "<missing>";
  }

  static std::string Describe(const AgentRun& run) {
    std::string argv;
    for (const std::string& a : run.command.argv) argv += " '" + a + "'";
    return "argv:" + argv + "\nexit " + std::to_string(run.process.exit_code) + "\nstdout:\n" +
           run.process.out.substr(0, 4000) + "\nstderr:\n" + run.process.err.substr(0, 2000);
  }

  test::TempDir dir_;
  std::string main_ = dir_.Sub("main");
  std::string workdir_ = dir_.Sub("worktrees/task-1");
  Config config_;
  std::string name_;
  std::string model_;
  int runs_ = 0;
};

constexpr char kWrite[] = "Do the task.\nmodel-sim: write hello.txt hello from the agent\n";

// --- Claude Code

TEST_F(RealCliTest, ClaudeNewSessionThenResume) {
  Use("claude");
  if (IsSkipped()) return;
  AgentRequest req = Request();
  req.system_prompt_file = dir_.Sub("system.md");
  test::WriteFile(req.system_prompt_file, "You are a coding agent working for orch.\n");
  AgentRun first = RunAgent(req, kWrite, "stream-json-ok");
  ExpectWrote(first, "hello.txt", "hello from the agent");
  EXPECT_GT(first.result.cost_usd, 0);
  EXPECT_EQ(first.result.contract->files_changed, std::vector<std::string>{"hello.txt"});

  req.resume_id = first.result.session_id;
  AgentRun second =
      RunAgent(req, "model-sim: write second.txt after resume\n", "stream-json-resume");
  ExpectWrote(second, "second.txt", "after resume");
  EXPECT_EQ(second.result.session_id, first.result.session_id);
}

TEST_F(RealCliTest, ClaudeIsKeptOutOfTheMainCheckoutAndFromPushing) {
  // Given the workspace-write sandbox, a write into the main checkout and a git push are
  // denied by the deny rules; writing in the worktree still works.
  Use("claude");
  if (IsSkipped()) return;
  AgentRun run = RunAgent(Request(),
                          "model-sim: write " + main_ + "/evil.txt nope\n" + "model-sim: run cd " +
                              main_ + " && touch evil2.txt\n" +
                              "model-sim: run git push origin HEAD:refs/heads/pushed\n" +
                              "model-sim: write ok.txt fine\n",
                          "stream-json-denied");
  ExpectWrote(run, "ok.txt", "fine");
  EXPECT_FALSE(fs::exists(main_ + "/evil.txt"));
  EXPECT_FALSE(fs::exists(main_ + "/evil2.txt"));
  ProcessResult branches = test::Run({"git", "-C", dir_.Sub("origin.git"), "branch"});
  EXPECT_THAT(branches.out, ::testing::Not(HasSubstr("pushed")));
}

TEST_F(RealCliTest, ClaudeReadOnlyAndFullAccess) {
  Use("claude");
  if (IsSkipped()) return;
  AgentRequest req = Request();
  req.sandbox = Sandbox::kReadOnly;
  AgentRun ro = RunAgent(req, "model-sim: write ro.txt no\n");
  ExpectOk(ro);
  EXPECT_FALSE(fs::exists(workdir_ + "/ro.txt"));
  // Full access (as root too, through IS_SANDBOX) may write outside the worktree.
  req.sandbox = Sandbox::kFullAccess;
  config_.agents["claude"].args = {"--effort", "low"};
  AgentRun full = RunAgent(req, "model-sim: write " + dir_.Sub("outside.txt") + " out\n");
  ExpectOk(full);
  EXPECT_EQ(Read(dir_.Sub("outside.txt")), "out\n") << Describe(full);
}

TEST_F(RealCliTest, ClaudeJsonOutputParses) {
  // agents.claude.args may switch to --output-format json (commander takes the last one); with
  // --verbose claude then prints one JSON array of every event, which the parser reads too.
  Use("claude");
  if (IsSkipped()) return;
  config_.agents["claude"].args = {"--output-format", "json"};
  AgentRun run = RunAgent(Request(), kWrite, "json-verbose-ok");
  ExpectWrote(run, "hello.txt", "hello from the agent");
  EXPECT_EQ(run.process.out.substr(0, 2), "[{");
}

TEST_F(RealCliTest, GenericAgentsWrappingClaudeReadJsonAndText) {
  // A custom agent is its command and args, read by output_format: here claude itself, once
  // with --output-format json (one object without --verbose) and once as plain text.
  Use("claude");
  if (IsSkipped()) return;
  config_.agents["claude-json"] = config_.agents["claude"];
  AgentConfig& json_agent = config_.agents["claude-json"];
  json_agent.args = {"-p",   "--output-format",   "json",       "--model",
                     model_, "--permission-mode", "acceptEdits"};
  json_agent.output_format = OutputFormat::kClaudeJson;
  name_ = "claude-json";
  AgentRun run = RunAgent(Request(), kWrite, "ok");
  ExpectWrote(run, "hello.txt", "hello from the agent");
  EXPECT_EQ(run.process.out.substr(0, 1), "{");

  config_.agents["claude-text"] = json_agent;
  config_.agents["claude-text"].args[2] = "text";
  config_.agents["claude-text"].output_format = OutputFormat::kText;
  name_ = "claude-text";
  AgentRun text = RunAgent(Request(), "model-sim: write text.txt plain\n", "ok");
  EXPECT_EQ(text.process.exit_code, 0);
  EXPECT_EQ(Read(workdir_ + "/text.txt"), "plain\n");
  ASSERT_TRUE(text.result.ok()) << text.result.error_message << Describe(text);
  EXPECT_EQ(text.result.contract->files_changed, std::vector<std::string>{"text.txt"});
}

TEST_F(RealCliTest, ClaudeAsksWhenDeniedAndDoesNotAnswer) {
  Use("claude");
  if (IsSkipped()) return;
  AgentRun run = RunAgent(Request(),
                          "model-sim: write " + dir_.Sub("outside.txt") +
                              " x\nmodel-sim: say May I write outside the worktree?\n",
                          "stream-json-waiting");
  EXPECT_EQ(run.process.exit_code, 0);
  EXPECT_EQ(run.result.error, AgentError::kWaitingForInput) << Describe(run);
  EXPECT_EQ(run.result.final_text, "May I write outside the worktree?");
}

TEST_F(RealCliTest, ClaudeUnparseableFinalMessage) {
  Use("claude");
  if (IsSkipped()) return;
  AgentRun run =
      RunAgent(Request(), "model-sim: say All done, I think.\n", "stream-json-unparseable");
  EXPECT_EQ(run.process.exit_code, 0);
  EXPECT_EQ(run.result.error, AgentError::kUnparseable) << Describe(run);
  EXPECT_EQ(run.result.final_text, "All done, I think.");
}

struct ErrorCase {
  int status;
  AgentError error;
};

TEST_F(RealCliTest, ClaudeApiErrorsAreClassified) {
  Use("claude");
  if (IsSkipped()) return;
  for (ErrorCase c :
       {ErrorCase{429, AgentError::kRateLimit}, ErrorCase{401, AgentError::kAuth},
        ErrorCase{404, AgentError::kModelUnavailable}, ErrorCase{400, AgentError::kContextOverflow},
        ErrorCase{529, AgentError::kRateLimit}}) {
    SCOPED_TRACE(c.status);
    AgentRun run = RunAgent(Request(), "model-sim: fail " + std::to_string(c.status) + "\n",
                            "stream-json-" + std::to_string(c.status));
    EXPECT_EQ(run.process.exit_code, 1);
    EXPECT_EQ(run.result.error, c.error) << Describe(run);
  }
}

// --- Codex

TEST_F(RealCliTest, CodexNewSessionThenResume) {
  Use("codex");
  if (IsSkipped()) return;
  AgentRun first = RunAgent(Request(), kWrite, "ok");
  ExpectWrote(first, "hello.txt", "hello from the agent");
  AgentRequest req = Request();
  req.resume_id = first.result.session_id;
  AgentRun second = RunAgent(req, "model-sim: write second.txt after resume\n", "resume");
  ExpectWrote(second, "second.txt", "after resume");
  EXPECT_EQ(second.result.session_id, first.result.session_id);
  // The sandbox reaches a resumed session too (through -c sandbox_mode).
  req.sandbox = Sandbox::kReadOnly;
  AgentRun ro = RunAgent(req, "model-sim: write third.txt blocked\n");
  ExpectOk(ro);
  EXPECT_FALSE(fs::exists(workdir_ + "/third.txt"));
}

TEST_F(RealCliTest, CodexSandboxModes) {
  Use("codex");
  if (IsSkipped()) return;
  AgentRequest req = Request();
  req.sandbox = Sandbox::kReadOnly;
  ExpectOk(RunAgent(req, "model-sim: write ro.txt no\n"));
  EXPECT_FALSE(fs::exists(workdir_ + "/ro.txt"));
  req.sandbox = Sandbox::kFullAccess;
  ExpectWrote(RunAgent(req, "model-sim: write full.txt yes\n"), "full.txt", "yes");
  req.sandbox = Sandbox::kNone;
  ExpectWrote(RunAgent(req, "model-sim: write none.txt yes\n"), "none.txt", "yes");
  // CODEX_SANDBOX in orch's environment beats the request.
  req.sandbox = Sandbox::kReadOnly;
  AgentRun env =
      RunAgent(req, "model-sim: write env.txt yes\n", "", {{"CODEX_SANDBOX", "full-auto"}});
  ExpectWrote(env, "env.txt", "yes");
}

TEST_F(RealCliTest, CodexUnparseableFinalMessage) {
  Use("codex");
  if (IsSkipped()) return;
  AgentRun run = RunAgent(Request(), "model-sim: say Finished.\n", "unparseable");
  EXPECT_EQ(run.process.exit_code, 0);
  EXPECT_EQ(run.result.error, AgentError::kUnparseable) << Describe(run);
  EXPECT_EQ(run.result.final_text, "Finished.");
}

TEST_F(RealCliTest, CodexApiErrorsAreClassified) {
  Use("codex");
  if (IsSkipped()) return;
  for (ErrorCase c : {ErrorCase{429, AgentError::kRateLimit}, ErrorCase{401, AgentError::kAuth},
                      ErrorCase{400, AgentError::kContextOverflow},
                      // codex passes a 404's message through without its status
                      ErrorCase{404, AgentError::kFailed}, ErrorCase{500, AgentError::kFailed}}) {
    SCOPED_TRACE(c.status);
    AgentRun run = RunAgent(Request(), "model-sim: fail " + std::to_string(c.status) + "\n",
                            std::to_string(c.status));
    EXPECT_EQ(run.process.exit_code, 1);
    EXPECT_EQ(run.result.error, c.error) << Describe(run);
    EXPECT_FALSE(run.result.session_id.empty());
  }
}

// --- OpenCode (5-7 s a run: the fewest runs that cover it)

TEST_F(RealCliTest, OpencodeNewSessionThenResume) {
  Use("opencode");
  if (IsSkipped()) return;
  config_.agents["opencode"].args = {"--title", "orch task 1"};
  AgentRun first = RunAgent(Request(), kWrite, "ok");
  ExpectWrote(first, "hello.txt", "hello from the agent");
  AgentRequest req = Request();
  req.resume_id = first.result.session_id;
  AgentRun second = RunAgent(req, "model-sim: write second.txt after resume\n", "resume");
  ExpectWrote(second, "second.txt", "after resume");
  EXPECT_EQ(second.result.session_id, first.result.session_id);
}

TEST_F(RealCliTest, OpencodeIsKeptInTheWorktreeAndFromPushing) {
  Use("opencode");
  if (IsSkipped()) return;
  AgentRun run = RunAgent(Request(),
                          "model-sim: write " + main_ + "/evil.txt nope\n" +
                              "model-sim: run git push origin HEAD:refs/heads/pushed\n" +
                              "model-sim: write ok.txt fine\n",
                          "denied");
  ExpectWrote(run, "ok.txt", "fine");
  EXPECT_FALSE(fs::exists(main_ + "/evil.txt"));
  ProcessResult branches = test::Run({"git", "-C", dir_.Sub("origin.git"), "branch"});
  EXPECT_THAT(branches.out, ::testing::Not(HasSubstr("pushed")));
}

TEST_F(RealCliTest, OpencodeReadOnly) {
  Use("opencode");
  if (IsSkipped()) return;
  AgentRequest req = Request();
  req.sandbox = Sandbox::kReadOnly;
  AgentRun run = RunAgent(req, "model-sim: write ro.txt no\n");
  ExpectOk(run);
  EXPECT_FALSE(fs::exists(workdir_ + "/ro.txt"));
}

TEST_F(RealCliTest, OpencodeRateLimit) {
  Use("opencode");
  if (IsSkipped()) return;
  AgentRun run = RunAgent(Request(), "model-sim: fail 429\n", "429");
  EXPECT_EQ(run.process.exit_code, 1);
  EXPECT_EQ(run.result.error, AgentError::kRateLimit) << Describe(run);
}

TEST_F(RealCliTest, OpencodeAuth) {
  Use("opencode");
  if (IsSkipped()) return;
  AgentRun run = RunAgent(Request(), "model-sim: fail 401\n", "401");
  EXPECT_EQ(run.process.exit_code, 1);
  EXPECT_EQ(run.result.error, AgentError::kAuth) << Describe(run);
}

// --- The shim's own failure

TEST_F(RealCliTest, MissingCliIsMissingTool) {
  Use("claude");
  if (IsSkipped()) return;
  config_.agents["claude"].command = dir_.Sub("not-installed/claude");
  AgentRun run = RunAgent(Request(), kWrite);
  EXPECT_EQ(run.process.exit_code, 127);
  EXPECT_EQ(run.result.error, AgentError::kMissingTool);
}

}  // namespace
}  // namespace orch
