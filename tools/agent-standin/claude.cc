// `claude` (claude-code 2.1.197) in print mode: text, json and stream-json output.
#include <unistd.h>

#include <cstdlib>

#include "agents.h"
#include "flag_tables.h"
#include "script.h"
#include "standin_io.h"

namespace orch::standin {
namespace {

constexpr char kDefaultModel[] = "claude-sonnet-4-5";
constexpr double kCost = 0.0123;

struct ClaudeRun {
  std::string format;  // text | json | stream-json
  std::string model;
  std::string session_id;
  std::string prompt;
  int64_t started_ms = 0;
};

// Prints the stream-json events of the steps; json and text show nothing until the end.
class ClaudeReporter : public Reporter {
 public:
  explicit ClaudeReporter(const ClaudeRun& run) : run_(run) {}

  void Said(const std::string& text) override {
    Assistant(Json::array({{{"type", "text"}, {"text", text}}}));
  }

  void Wrote(const std::string&, const std::string& abspath, const std::string& content,
             bool existed) override {
    std::string id = "toolu_" + RandomBase62(24);
    Assistant(Json::array({{{"type", "tool_use"},
                            {"id", id},
                            {"name", "Write"},
                            {"input", {{"file_path", abspath}, {"content", content}}}}}));
    std::string note = (existed ? "The file " + abspath + " has been updated successfully."
                                : "File created successfully at: " + abspath);
    if (!streaming()) return;
    EmitJson(
        {{"type", "user"},
         {"message",
          {{"role", "user"},
           {"content",
            Json::array({{{"tool_use_id", id}, {"type", "tool_result"}, {"content", note}}})}}},
         {"parent_tool_use_id", nullptr},
         {"session_id", run_.session_id},
         {"uuid", NewUuid()}});
  }

  void Assistant(const Json& content) {
    ++turns_;
    if (!streaming()) return;
    EmitJson({{"type", "assistant"},
              {"message",
               {{"id", "msg_" + RandomBase62(24)},
                {"type", "message"},
                {"role", "assistant"},
                {"model", run_.model},
                {"content", content},
                {"stop_reason", nullptr},
                {"usage", {{"input_tokens", 8}, {"output_tokens", 16}}}}},
              {"parent_tool_use_id", nullptr},
              {"session_id", run_.session_id},
              {"uuid", NewUuid()}});
  }

  int turns() const { return turns_; }

 private:
  bool streaming() const { return run_.format == "stream-json"; }

  const ClaudeRun& run_;
  int turns_ = 0;
};

void EmitInit(const ClaudeRun& run, const ParsedArgs& args) {
  EmitJson({{"type", "system"},
            {"subtype", "init"},
            {"cwd", CurrentDir()},
            {"session_id", run.session_id},
            {"tools", {"Bash", "Edit", "Glob", "Grep", "Read", "TodoWrite", "Write"}},
            {"mcp_servers", Json::array()},
            {"model", run.model},
            {"permissionMode", args.Value("--permission-mode", "default")},
            {"slash_commands", Json::array()},
            {"apiKeySource", "ANTHROPIC_API_KEY"},
            {"claude_code_version", kClaudeVersion},
            {"output_style", "default"},
            {"agents", Json::array()},
            {"skills", Json::array()},
            {"plugins", Json::array()},
            {"uuid", NewUuid()}});
}

// The text claude puts in `result` for a failed API call; the status is also in
// api_error_status.
std::string ApiErrorText(ErrorClass error, const std::string& model) {
  std::string type, message;
  switch (error) {
    case ErrorClass::kRateLimit:
      type = "rate_limit_error";
      message = "Number of request tokens has exceeded your per-minute rate limit";
      break;
    case ErrorClass::kAuth:
      type = "authentication_error";
      message = "invalid x-api-key";
      break;
    case ErrorClass::kModel:
      type = "not_found_error";
      message = "model: " + model;
      break;
    case ErrorClass::kContext:
      type = "invalid_request_error";
      message = "prompt is too long: 212345 tokens > 200000 maximum";
      break;
    case ErrorClass::kOther:
      type = "api_error";
      message = "Internal server error";
      break;
  }
  Json body = {{"type", "error"},
               {"error", {{"type", type}, {"message", message}}},
               {"request_id", "req_" + RandomBase62(24)}};
  return "API Error: " + std::to_string(HttpStatusOf(error)) + " " + body.dump();
}

Json Usage(int input, int output) {
  return {{"input_tokens", input},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", 0},
          {"output_tokens", output},
          {"service_tier", "standard"}};
}

Json ResultEvent(const ClaudeRun& run, const std::string& text, int turns,
                 std::optional<ErrorClass> error) {
  int input = static_cast<int>(run.prompt.size() / 4) + 1;
  int output = static_cast<int>(text.size() / 4) + 1;
  Json model_usage = {{run.model,
                       {{"inputTokens", input},
                        {"outputTokens", output},
                        {"cacheReadInputTokens", 0},
                        {"cacheCreationInputTokens", 0},
                        {"webSearchRequests", 0},
                        {"costUSD", kCost},
                        {"contextWindow", 200000}}}};
  int64_t elapsed = NowMs() - run.started_ms;
  // "subtype" stays "success" on an API error: is_error is what tells.
  return {{"type", "result"},
          {"subtype", "success"},
          {"is_error", error.has_value()},
          {"api_error_status", error ? Json(HttpStatusOf(*error)) : Json(nullptr)},
          {"duration_ms", elapsed},
          {"duration_api_ms", elapsed},
          {"num_turns", turns},
          {"result", text},
          {"stop_reason", error ? Json(nullptr) : Json("end_turn")},
          {"session_id", run.session_id},
          {"total_cost_usd", error ? 0.0 : kCost},
          {"usage", Usage(input, output)},
          {"modelUsage", error ? Json::object() : model_usage},
          {"permission_denials", Json::array()},
          {"uuid", NewUuid()}};
}

// The result line of a --resume whose session does not exist (stream-json only).
void EmitMissingSession(const std::string& id) {
  EmitJson({{"type", "result"},
            {"subtype", "error_during_execution"},
            {"duration_ms", 0},
            {"duration_api_ms", 0},
            {"is_error", true},
            {"num_turns", 0},
            {"stop_reason", nullptr},
            {"session_id", id},
            {"total_cost_usd", 0},
            {"usage", Usage(0, 0)},
            {"modelUsage", Json::object()},
            {"permission_denials", Json::array()},
            {"uuid", NewUuid()},
            {"errors", {"No conversation found with session ID: " + id}}});
}

// The refusals claude makes after parsing its flags, in print mode. Returns the exit code, or
// -1 to go on.
int CheckCombination(const ParsedArgs& args, const std::string& format) {
  if (format == "stream-json" && !args.Has("--verbose")) {
    Err("Error: When using --print, --output-format=stream-json requires --verbose\n");
    return 1;
  }
  bool bypass = args.Has("--dangerously-skip-permissions") ||
                args.Value("--permission-mode") == "bypassPermissions";
  const char* sandbox = std::getenv("IS_SANDBOX");
  if (bypass && geteuid() == 0 && !(sandbox && std::string(sandbox) == "1")) {
    Err("--dangerously-skip-permissions cannot be used with root/sudo privileges for security "
        "reasons\n");
    return 1;
  }
  if (args.Has("--session-id")) {
    if (!IsUuid(args.Value("--session-id"))) {
      Err("Error: Invalid session ID. Must be a valid UUID.\n");
      return 1;
    }
    if ((args.Has("--resume") || args.Has("--continue")) && !args.Has("--fork-session")) {
      Err("Error: --session-id can only be used with --continue or --resume if --fork-session "
          "is also specified.\n");
      return 1;
    }
  }
  if (args.Has("--resume")) {
    std::string id = args.Value("--resume");
    if (id.empty()) {
      Err("Error: --resume requires a valid session ID or session title when used with "
          "--print. Usage: claude -p --resume <session-id|title>\n");
      return 1;
    }
    if (!IsUuid(id)) {
      Err("Error: --resume requires a valid session ID or session title when used with "
          "--print. Usage: claude -p --resume <session-id|title>. Provided value \"" +
          id + "\" is not a UUID and does not match any session title.\n");
      return 1;
    }
  }
  return -1;
}

// Picks the session id: --resume keeps a known one, --continue the latest, --fork-session and
// new sessions get a fresh one (--session-id if given). Returns false after printing the
// error for an unknown --resume id.
bool ChooseSession(const ParsedArgs& args, ClaudeRun& run) {
  std::string resumed;
  if (args.Has("--resume")) {
    resumed = args.Value("--resume");
    if (!SessionExists("claude", resumed)) {
      if (run.format == "stream-json") EmitMissingSession(resumed);
      Err("No conversation found with session ID: " + resumed + "\n");
      return false;
    }
  } else if (args.Has("--continue")) {
    resumed = LatestSession("claude");
  }
  if (!resumed.empty() && !args.Has("--fork-session")) {
    run.session_id = resumed;
  } else {
    run.session_id = args.Has("--session-id") ? args.Value("--session-id") : NewUuid();
  }
  return true;
}

int Finish(const ClaudeRun& run, const ScriptResult& result, ClaudeReporter& reporter) {
  if (result.error) {
    std::string text = ApiErrorText(*result.error, run.model);
    reporter.Assistant(Json::array({{{"type", "text"}, {"text", text}}}));
    if (run.format == "text") {
      Out(text + "\n");
    } else {
      EmitJson(ResultEvent(run, text, reporter.turns(), result.error));
    }
    return 1;
  }
  std::string text = FinalMessage(result, "claude");
  reporter.Assistant(Json::array({{{"type", "text"}, {"text", text}}}));
  if (run.format == "text") {
    Out(text + "\n");
  } else {
    EmitJson(ResultEvent(run, text, reporter.turns(), std::nullopt));
  }
  return result.exit_code.value_or(0);
}

}  // namespace

int RunClaude(const std::vector<std::string>& argv) {
  ParseOutcome parsed = ParseArgs(ClaudeCommand(), argv);
  if (parsed.error) {
    Err(parsed.error->message);
    return parsed.error->exit_code;
  }
  const ParsedArgs& args = parsed.args;
  if (args.Has("--version")) {
    Out(std::string(kClaudeVersion) + " (Claude Code)\n");
    return 0;
  }
  if (args.Has("--help")) {
    Out("Usage: claude [options] [command] [prompt]\n\n"
        "orch-agent-standin imitating Claude Code " +
        std::string(kClaudeVersion) + " in print mode (-p); see tools/agent-standin/README.md.\n");
    return 0;
  }
  ClaudeRun run;
  run.started_ms = NowMs();
  // Without -p the real claude opens its TUI; the stand-in answers as in print mode, so a
  // test that runs it in tmux still gets an answer.
  run.format = args.Has("--print") ? args.Value("--output-format", "text") : "text";
  run.model = args.Value("--model", kDefaultModel);
  if (int code = CheckCombination(args, run.format); code >= 0) return code;
  run.prompt = args.positionals.empty() ? ReadStdin() : args.positionals.front();
  if (run.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    Err("Error: Input must be provided either through stdin or as a prompt argument when using "
        "--print\n");
    return 1;
  }
  if (!ChooseSession(args, run)) return 1;
  if (!args.Has("--no-session-persistence")) SaveSession("claude", run.session_id, run.prompt);
  if (run.format == "stream-json") EmitInit(run, args);
  ClaudeReporter reporter(run);
  ScriptResult result = RunScript(ParseDirectives(run.prompt, "claude"), reporter, run.prompt);
  return Finish(run, result, reporter);
}

}  // namespace orch::standin
