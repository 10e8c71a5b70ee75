// End-to-end tests of orch-agent-standin: each runs the built binary under the name of one
// CLI, in a temporary working directory and HOME, and checks what it prints and writes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "standin_fixture.h"

namespace orch::standin::test {
namespace {

using nlohmann::json;

json Contract(const std::string& text) { return json::parse(text); }

// The events of `events` whose "type" is `type`.
std::vector<json> OfType(const std::vector<json>& events, const std::string& type) {
  std::vector<json> out;
  for (const json& e : events) {
    if (e.value("type", "") == type) out.push_back(e);
  }
  return out;
}

bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  // A zombie waiting for its reaper has stopped running too.
  std::string stat = ReadFileText("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'Z';
}

const char kScript[] =
    "Fix the widget.\n"
    "```\n"
    "  standin: write src/a.txt hello world\n"
    "  standin: say working on it\n"
    "  standin: status needs_review\n"
    "  standin: reason check the wording\n"
    "  standin: delegate Write the docs\n"
    "  standin[codex]: write codex-only.txt x\n"
    "```\n";

void ExpectContract(const json& contract, const std::string& agent) {
  EXPECT_EQ(contract["status"], "needs_review");
  EXPECT_EQ(contract["summary"], "standin " + agent + " 5 directive(s) done");
  EXPECT_EQ(contract["files_changed"], json::array({"src/a.txt"}));
  EXPECT_EQ(contract["reason"], "check the wording");
  EXPECT_EQ(contract["remaining"], json::array());
  EXPECT_EQ(contract["blockers"], json::array());
  ASSERT_EQ(contract["delegations"].size(), 1u);
  EXPECT_EQ(contract["delegations"][0]["title"], "Write the docs");
  EXPECT_EQ(contract["delegations"][0]["body"], "delegated by standin");
  EXPECT_EQ(contract["delegations"][0]["labels"], json::array());
  EXPECT_EQ(contract["accomplished"].size(), 5u);
}

// ---- claude

TEST_F(StandinTest, ClaudeVersionIsTheRealOne) {
  RunResult r = Run("claude", {"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "2.1.197 (Claude Code)\n");
}

TEST_F(StandinTest, ClaudeJsonPrintsOneResultWithTheContract) {
  // Given a prompt on stdin with directives inside a fenced block, -p --output-format json
  // writes the file and prints one result line whose result is the contract.
  RunResult r = Run("claude",
                    {"-p", "--output-format", "json", "--permission-mode", "acceptEdits",
                     "--allowedTools", "Write", "Bash"},
                    kScript);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileText(cwd() + "/src/a.txt"), "hello world\n");
  EXPECT_FALSE(std::filesystem::exists(cwd() + "/codex-only.txt"));
  std::vector<json> events = r.Events();
  ASSERT_EQ(events.size(), 1u);
  const json& result = events[0];
  EXPECT_EQ(result["type"], "result");
  EXPECT_EQ(result["subtype"], "success");
  EXPECT_EQ(result["is_error"], false);
  EXPECT_TRUE(result["api_error_status"].is_null());
  EXPECT_GT(result["total_cost_usd"].get<double>(), 0);
  EXPECT_TRUE(result["usage"].contains("output_tokens"));
  EXPECT_TRUE(result["permission_denials"].is_array());
  EXPECT_EQ(result["session_id"].get<std::string>().size(), 36u);
  ExpectContract(Contract(result["result"]), "claude");
}

TEST_F(StandinTest, ClaudeStreamJsonShowsInitToolUseTextAndResult) {
  RunResult r = Run(
      "claude", {"-p", "--output-format", "stream-json", "--verbose", "--model", "opus"}, kScript);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> events = r.Events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front()["type"], "system");
  EXPECT_EQ(events.front()["subtype"], "init");
  EXPECT_EQ(events.front()["model"], "opus");
  EXPECT_EQ(events.front()["cwd"], cwd());
  const json write = OfType(events, "assistant").at(0)["message"]["content"][0];
  EXPECT_EQ(write["type"], "tool_use");
  EXPECT_EQ(write["name"], "Write");
  EXPECT_EQ(write["input"]["file_path"], cwd() + "/src/a.txt");
  EXPECT_EQ(OfType(events, "assistant").at(1)["message"]["content"][0]["text"], "working on it");
  EXPECT_EQ(OfType(events, "user").size(), 1u);
  EXPECT_EQ(events.back()["type"], "result");
  EXPECT_EQ(events.back()["session_id"], events.front()["session_id"]);
}

TEST_F(StandinTest, ClaudeStreamJsonWithoutVerboseIsRefused) {
  RunResult r = Run("claude", {"-p", "--output-format", "stream-json"}, kScript);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "Error: When using --print, --output-format=stream-json requires --verbose\n");
}

TEST_F(StandinTest, ClaudeUnknownFlagMissingValueAndBadChoiceAreRefused) {
  RunResult unknown = Run("claude", {"-p", "--bogus", "hi"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.err, "error: unknown option '--bogus'\n");
  RunResult missing = Run("claude", {"-p", "--model"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "error: option '--model <model>' argument missing\n");
  RunResult choice = Run("claude", {"-p", "--output-format", "xml", "hi"});
  EXPECT_EQ(choice.exit_code, 1);
  EXPECT_EQ(choice.err,
            "error: option '--output-format <format>' argument 'xml' is invalid. Allowed "
            "choices are text, json, stream-json.\n");
}

TEST_F(StandinTest, ClaudeTextPrintsTheFinalTextOnly) {
  RunResult r = Run("claude", {"-p"}, "standin: final not json at all\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "not json at all\n");
}

TEST_F(StandinTest, ClaudePromptArgumentIsUsedAndAnEmptyPromptIsRefused) {
  RunResult arg = Run("claude", {"-p", "standin: final from argv", "--output-format", "json"});
  EXPECT_EQ(arg.Events().at(0)["result"], "from argv");
  RunResult empty = Run("claude", {"-p", "--output-format", "json"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_EQ(empty.err,
            "Error: Input must be provided either through stdin or as a prompt argument when "
            "using --print\n");
}

TEST_F(StandinTest, ClaudeResumesAKnownSessionAndRefusesAnUnknownOne) {
  const std::string id = "5b8a3c1e-1111-4222-8333-444455556666";
  RunResult first = Run("claude", {"-p", "--output-format", "json", "--session-id", id}, "hi");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.Events().at(0)["session_id"], id);
  RunResult again = Run("claude", {"-p", "--output-format", "json", "--resume", id}, "more");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.Events().at(0)["session_id"], id);

  const std::string unknown = "5b8a3c1e-1111-4222-8333-444455556667";
  RunResult missing = Run("claude", {"-p", "--output-format", "json", "--resume", unknown}, "x");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "No conversation found with session ID: " + unknown + "\n");
}

TEST_F(StandinTest, ClaudeBadSessionIdIsRefused) {
  RunResult r = Run("claude", {"-p", "--session-id", "nope"}, "hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Invalid session ID. Must be a valid UUID.\n");
}

TEST_F(StandinTest, ClaudeErrorsCarryTheApiStatus) {
  const std::map<std::string, int> statuses = {
      {"rate_limit", 429}, {"auth", 401}, {"model", 404}, {"context", 400}, {"other", 500}};
  for (const auto& [name, status] : statuses) {
    RunResult r = Run("claude", {"-p", "--output-format", "json"},
                      "standin: write before.txt x\nstandin: error " + name + "\n");
    EXPECT_EQ(r.exit_code, 1) << name;
    const json result = r.Events().at(0);
    EXPECT_EQ(result["is_error"], true) << name;
    EXPECT_EQ(result["api_error_status"], status) << name;
    EXPECT_NE(result["result"].get<std::string>().find("API Error: " + std::to_string(status)),
              std::string::npos);
  }
}

TEST_F(StandinTest, ClaudeSayIsPrintedAtOnce) {
  // Given "say" then a long sleep, the say event reaches the reader long before the end.
  int fd = -1;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = Start("claude", {"-p", "--output-format", "stream-json", "--verbose"},
                    "standin: say early\nstandin: sleep 1500\n", &fd);
  ASSERT_GT(pid, 0);
  std::string seen;
  char buf[4096];
  while (seen.find("early") == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  auto first = std::chrono::steady_clock::now() - start;
  while (read(fd, buf, sizeof buf) > 0) {
  }
  auto total = std::chrono::steady_clock::now() - start;
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_NE(seen.find("early"), std::string::npos);
  EXPECT_LT(first, std::chrono::milliseconds(1000));
  EXPECT_GE(total, std::chrono::milliseconds(1500));
}

// ---- directives common to all agents

TEST_F(StandinTest, HangWritesBothPidsAndDiesWithItsProcessGroup) {
  const std::string pidfile = root() + "/hang.pids";
  int fd = -1;
  pid_t pid = Start("codex", {"exec", "--json"}, "standin: hang " + pidfile + "\n", &fd);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 200 && !std::filesystem::exists(pidfile); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::istringstream pids(ReadFileText(pidfile));
  pid_t own = 0, child = 0;
  pids >> own >> child;
  EXPECT_EQ(own, pid);
  ASSERT_GT(child, 0);
  EXPECT_FALSE(ProcessGone(child));
  kill(-pid, SIGKILL);  // what a timeout does: the whole group
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ProcessGone(child);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone);
}

TEST_F(StandinTest, EnvWritesTheValueOrUnset) {
  RunResult r = Run("opencode", {"run", "--format", "json"},
                    "standin: env ORCH_TASK_ID task.txt\nstandin: env GH_TOKEN gh.txt\n",
                    {{"ORCH_TASK_ID", "42"}, {"GH_TOKEN", std::nullopt}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileText(cwd() + "/task.txt"), "42");
  EXPECT_EQ(ReadFileText(cwd() + "/gh.txt"), "<unset>");
}

TEST_F(StandinTest, ExitCodeComesAfterTheNormalOutput) {
  RunResult r = Run("claude", {"-p", "--output-format", "json"}, "standin: exit 3\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.Events().at(0)["is_error"], false);
}

TEST_F(StandinTest, WriteOutsideTheWorkingDirectoryIsSkipped) {
  RunResult r = Run("claude", {"-p"}, "standin: write ../escape.txt x\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(root() + "/escape.txt"));
  EXPECT_NE(r.err.find("skipped directive"), std::string::npos);
  EXPECT_EQ(Contract(r.out)["summary"], "standin claude 0 directive(s) done");
}

TEST_F(StandinTest, OrchStandinAsPicksTheAgent) {
  RunResult r = Run("claude", {"--version"}, "", {{"ORCH_STANDIN_AS", "codex"}});
  EXPECT_EQ(r.out, "codex-cli 0.169.0\n");
}

// ---- codex

TEST_F(StandinTest, CodexVersionIsTheRealOne) {
  EXPECT_EQ(Run("codex", {"--version"}).out, "codex-cli 0.169.0\n");
}

TEST_F(StandinTest, CodexExecJsonPrintsItemsAndTheLastMessage) {
  const std::string last = root() + "/last.txt";
  RunResult r = Run("codex",
                    {"exec", "--json", "-s", "workspace-write", "--skip-git-repo-check", "-c",
                     "model_provider=p", "-o", last},
                    kScript);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileText(cwd() + "/codex-only.txt"), "x\n");
  std::vector<json> events = r.Events();
  ASSERT_GE(events.size(), 5u);
  EXPECT_EQ(events[0]["type"], "thread.started");
  EXPECT_EQ(events[0]["thread_id"].get<std::string>().size(), 36u);
  EXPECT_EQ(events[1]["type"], "turn.started");
  std::vector<json> items = OfType(events, "item.completed");
  EXPECT_EQ(items.at(0)["item"]["type"], "file_change");
  EXPECT_EQ(items.at(0)["item"]["changes"][0]["path"], cwd() + "/src/a.txt");
  EXPECT_EQ(items.at(0)["item"]["changes"][0]["kind"], "add");
  EXPECT_EQ(items.at(1)["item"]["type"], "reasoning");
  EXPECT_EQ(items.back()["item"]["type"], "agent_message");
  EXPECT_EQ(events.back()["type"], "turn.completed");
  EXPECT_TRUE(events.back()["usage"].contains("cached_input_tokens"));
  json contract = Contract(items.back()["item"]["text"]);
  EXPECT_EQ(contract["summary"], "standin codex 6 directive(s) done");
  EXPECT_EQ(ReadFileText(last), items.back()["item"]["text"].get<std::string>());
}

TEST_F(StandinTest, CodexWithoutJsonPrintsTheFinalMessageOnStdout) {
  RunResult r = Run("codex", {"exec", "-"}, "standin: final plain\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "plain\n");
  EXPECT_NE(r.err.find("Reading prompt from stdin..."), std::string::npos);
}

TEST_F(StandinTest, CodexRefusesFullAutoAndUnknownFlagsWithExitTwo) {
  for (const std::string flag : {"--full-auto", "--bogus"}) {
    RunResult r = Run("codex", {"exec", flag, "--json", "hi"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("error: unexpected argument '" + flag + "' found\n", 0), 0u) << r.err;
  }
  RunResult sandbox = Run("codex", {"exec", "-s", "bad", "hi"});
  EXPECT_EQ(sandbox.exit_code, 2);
  EXPECT_EQ(sandbox.err.rfind("error: invalid value 'bad' for '--sandbox <SANDBOX_MODE>'", 0), 0u);
}

TEST_F(StandinTest, CodexWithNoPromptAndEmptyStdinIsRefused) {
  RunResult r = Run("codex", {"exec", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Reading prompt from stdin...\nNo prompt provided via stdin.\n");
}

TEST_F(StandinTest, CodexOutsideAGitRepositoryIsRefused) {
  std::filesystem::remove_all(cwd() + "/.git");
  RunResult r = Run("codex", {"exec", "--json", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Not inside a trusted directory and --skip-git-repo-check was not specified.\n");
  EXPECT_EQ(Run("codex", {"exec", "--json", "--skip-git-repo-check", "hi"}).exit_code, 0);
}

TEST_F(StandinTest, CodexResumesAKnownThreadAndRefusesAnUnknownOne) {
  RunResult first = Run("codex", {"exec", "--json", "hi"});
  std::string id = first.Events().at(0)["thread_id"];
  RunResult again = Run("codex", {"exec", "--json", "resume", id, "-"}, "more");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.Events().at(0)["thread_id"], id);
  RunResult resume_json = Run("codex", {"exec", "resume", "--json", id, "more"});
  EXPECT_EQ(resume_json.Events().at(0)["thread_id"], id);

  const std::string unknown = "5b8a3c1e-1111-4222-8333-444455556666";
  RunResult missing = Run("codex", {"exec", "--json", "resume", unknown, "hi"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err,
            "Error: thread/resume: thread/resume failed: no rollout found for "
            "thread id " +
                unknown + " (code -32600)\n");
  // exec's sandbox flag is not one of resume's.
  EXPECT_EQ(Run("codex", {"exec", "resume", "-s", "workspace-write", id, "hi"}).exit_code, 2);
}

TEST_F(StandinTest, CodexErrorsFailTheTurn) {
  const std::map<std::string, std::string> texts = {{"rate_limit", "429 Too Many Requests"},
                                                    {"auth", "401 Unauthorized"},
                                                    {"model", "404 Not Found"},
                                                    {"context", "context window"},
                                                    {"other", "500 Internal Server Error"}};
  for (const auto& [name, text] : texts) {
    RunResult r = Run("codex", {"exec", "--json", "-"}, "standin[codex]: error " + name + "\n");
    EXPECT_EQ(r.exit_code, 1) << name;
    std::vector<json> events = r.Events();
    ASSERT_EQ(OfType(events, "error").size(), 1u) << name;
    ASSERT_EQ(events.back()["type"], "turn.failed") << name;
    std::string message = events.back()["error"]["message"];
    EXPECT_NE(message.find(text), std::string::npos) << message;
    EXPECT_TRUE(OfType(events, "turn.completed").empty());
  }
}

// ---- opencode

TEST_F(StandinTest, OpencodeVersionIsTheRealOne) {
  EXPECT_EQ(Run("opencode", {"--version"}).out, "1.18.33\n");
}

TEST_F(StandinTest, OpencodeRunJsonPrintsStepsToolUseAndText) {
  RunResult r = Run("opencode", {"run", "--format", "json", "-m", "p/m", "Fix", "it"}, kScript);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> events = r.Events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front()["type"], "step_start");
  std::string session = events.front()["sessionID"];
  EXPECT_EQ(session.rfind("ses_", 0), 0u);
  std::vector<json> tools = OfType(events, "tool_use");
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0]["part"]["tool"], "write");
  EXPECT_EQ(tools[0]["part"]["state"]["input"]["filePath"], cwd() + "/src/a.txt");
  std::vector<json> texts = OfType(events, "text");
  EXPECT_EQ(texts.front()["part"]["text"], "working on it");
  ExpectContract(Contract(texts.back()["part"]["text"]), "opencode");
  EXPECT_EQ(events.back()["type"], "step_finish");
  EXPECT_EQ(events.back()["part"]["reason"], "stop");
  EXPECT_TRUE(events.back()["part"]["tokens"].contains("cache"));
  for (const json& e : events) EXPECT_EQ(e["sessionID"], session);
}

TEST_F(StandinTest, OpencodeJoinsMessageWordsAndStdin) {
  RunResult r = Run("opencode", {"run", "standin:", "final", "from", "args"}, "");
  EXPECT_EQ(r.out, "from args\n");
  RunResult both = Run("opencode", {"run", "--format", "json", "hello"}, "standin: final piped\n");
  EXPECT_EQ(OfType(both.Events(), "text").back()["part"]["text"], "piped");
}

TEST_F(StandinTest, OpencodeSessionsAndErrors) {
  RunResult first = Run("opencode", {"run", "--format", "json", "hi"});
  std::string session = first.Events().at(0)["sessionID"];
  RunResult again = Run("opencode", {"run", "--format", "json", "--session", session, "more"});
  EXPECT_EQ(again.Events().at(0)["sessionID"], session);
  RunResult missing = Run("opencode", {"run", "--format", "json", "-s", "ses_nope", "hi"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "\x1b[91m\x1b[1mError: \x1b[0mSession not found\n");
  RunResult empty = Run("opencode", {"run", "--format", "json"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("You must provide a message or a command"), std::string::npos);
}

TEST_F(StandinTest, OpencodeErrorIsAnApiErrorEvent) {
  RunResult r = Run("opencode", {"run", "--format", "json", "go"}, "standin: error rate_limit\n");
  EXPECT_EQ(r.exit_code, 1);
  const json error = OfType(r.Events(), "error").at(0)["error"];
  EXPECT_EQ(error["name"], "APIError");
  EXPECT_EQ(error["data"]["statusCode"], 429);
  EXPECT_EQ(error["data"]["isRetryable"], true);
  EXPECT_TRUE(error["data"]["message"].is_string());
}

TEST_F(StandinTest, OpencodeUnknownFlagPrintsUsage) {
  RunResult r = Run("opencode", {"run", "--bogus", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("opencode run [message..]\n", 0), 0u);
}

}  // namespace
}  // namespace orch::standin::test
