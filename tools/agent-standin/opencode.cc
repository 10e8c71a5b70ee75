// `opencode run` (opencode 1.18.33): JSONL events with --format json, else plain text.
#include <unistd.h>

#include "agents.h"
#include "flag_tables.h"
#include "script.h"
#include "standin_io.h"

namespace orch::standin {
namespace {

// opencode prints its own errors in bold red, even into a pipe.
constexpr char kErrorPrefix[] = "\x1b[91m\x1b[1mError: \x1b[0m";

struct OpencodeRun {
  bool json = false;
  std::string session_id;
  std::string prompt;
};

// Each step of the model is a message: step_start, its parts, step_finish.
class OpencodeReporter : public Reporter {
 public:
  explicit OpencodeReporter(const OpencodeRun& run) : run_(run) {}

  void Said(const std::string& text) override { Text(text); }

  void Wrote(const std::string& relpath, const std::string& abspath, const std::string& content,
             bool) override {
    ++tools_;
    if (!run_.json) {
      Out("|  Write    " + relpath + "\n");
      return;
    }
    int64_t now = NowMs();
    Emit("tool_use", Part("tool", {{"callID", "call_" + RandomBase62(24)},
                                   {"tool", "write"},
                                   {"state",
                                    {{"status", "completed"},
                                     {"input", {{"filePath", abspath}, {"content", content}}},
                                     {"output", "Wrote file successfully."},
                                     {"title", relpath},
                                     {"metadata", {{"filepath", abspath}, {"exists", false}}},
                                     {"time", {{"start", now}, {"end", now}}}}}}));
  }

  void Text(const std::string& text) {
    if (!run_.json) {
      Out(text + "\n");
      return;
    }
    int64_t now = NowMs();
    Emit("text", Part("text", {{"text", text}, {"time", {{"start", now}, {"end", now}}}}));
  }

  void StepStart() {
    message_id_ = "msg_" + RandomHex(12) + RandomBase62(14);
    tools_ = 0;
    if (run_.json) Emit("step_start", Part("step-start", {{"snapshot", RandomHex(40)}}));
  }

  // Ends the step; a step that used tools ends with "tool-calls" and the model goes on.
  void StepFinish(bool last, int input, int output) {
    if (!run_.json) return;
    std::string reason = last ? "stop" : "tool-calls";
    Emit("step_finish", Part("step-finish", {{"reason", reason},
                                             {"snapshot", RandomHex(40)},
                                             {"cost", 0.001},
                                             {"tokens",
                                              {{"input", input},
                                               {"output", output},
                                               {"reasoning", 0},
                                               {"cache", {{"read", 0}, {"write", 0}}}}}}));
  }

  void Error(const Json& error) {
    if (run_.json) {
      EmitJson({{"type", "error"},
                {"timestamp", NowMs()},
                {"sessionID", run_.session_id},
                {"error", error}});
    } else {
      Err(kErrorPrefix + error["data"]["message"].get<std::string>() + "\n");
    }
  }

  int tools() const { return tools_; }

 private:
  Json Part(const std::string& type, const Json& fields) const {
    Json part = {{"id", "prt_" + RandomHex(12) + RandomBase62(14)},
                 {"sessionID", run_.session_id},
                 {"messageID", message_id_},
                 {"type", type}};
    for (auto& [key, value] : fields.items()) part[key] = value;
    return part;
  }

  void Emit(const std::string& type, const Json& part) {
    EmitJson(
        {{"type", type}, {"timestamp", NowMs()}, {"sessionID", run_.session_id}, {"part", part}});
  }

  const OpencodeRun& run_;
  std::string message_id_;
  int tools_ = 0;
};

// opencode reports a failed provider call as an APIError with the provider's status.
Json ApiError(ErrorClass error) {
  int status = HttpStatusOf(error);
  std::string message;
  switch (error) {
    case ErrorClass::kRateLimit:
      message = "Rate limit reached for requests";
      break;
    case ErrorClass::kAuth:
      message = "Incorrect API key provided";
      break;
    case ErrorClass::kModel:
      message = "The model does not exist or you do not have access to it.";
      break;
    case ErrorClass::kContext:
      message = "This model's maximum context length is 128000 tokens.";
      break;
    case ErrorClass::kOther:
      message = "Internal server error";
      break;
  }
  Json body = {{"error", {{"message", message}, {"code", status}}}};
  return {{"name", "APIError"},
          {"data",
           {{"message", message},
            {"statusCode", status},
            {"isRetryable", status == 429 || status >= 500},
            {"responseHeaders", Json::object()},
            {"responseBody", body.dump()}}}};
}

int Finish(const OpencodeRun& run, const ScriptResult& result, OpencodeReporter& reporter) {
  if (result.error) {
    reporter.Error(ApiError(*result.error));
    return 1;
  }
  int input = static_cast<int>(run.prompt.size() / 4) + 1;
  if (reporter.tools() > 0) {
    reporter.StepFinish(false, input, 16);
    reporter.StepStart();
  }
  std::string text = FinalMessage(result, "opencode");
  reporter.Text(text);
  reporter.StepFinish(true, input, static_cast<int>(text.size() / 4) + 1);
  return result.exit_code.value_or(0);
}

// The message words joined, then stdin when it is not a terminal.
std::string ReadPrompt(const ParsedArgs& args) {
  std::string prompt;
  for (const std::string& word : args.positionals) prompt += (prompt.empty() ? "" : " ") + word;
  std::string piped = ReadStdin();
  if (!piped.empty()) prompt += (prompt.empty() ? "" : "\n") + piped;
  return prompt;
}

int Run(const ParsedArgs& args) {
  if (args.Has("--dir") && chdir(args.Value("--dir").c_str()) != 0) {
    Err(std::string(kErrorPrefix) + "Failed to change directory to " + args.Value("--dir") + "\n");
    return 1;
  }
  OpencodeRun run;
  run.json = args.Value("--format", "default") == "json";
  run.prompt = ReadPrompt(args);
  if (run.prompt.find_first_not_of(" \t\r\n") == std::string::npos && !args.Has("--command")) {
    Err(std::string(kErrorPrefix) + "You must provide a message or a command\n");
    return 1;
  }
  std::string session = args.Value("--session");
  if (!session.empty() && !SessionExists("opencode", session)) {
    Err(std::string(kErrorPrefix) + "Session not found\n");
    return 1;
  }
  if (session.empty() && args.Has("--continue")) session = LatestSession("opencode");
  run.session_id =
      session.empty() || args.Has("--fork") ? "ses_" + RandomHex(12) + RandomBase62(14) : session;
  SaveSession("opencode", run.session_id, run.prompt);
  OpencodeReporter reporter(run);
  reporter.StepStart();
  ScriptResult result = RunScript(ParseDirectives(run.prompt, "opencode"), reporter, run.prompt);
  return Finish(run, result, reporter);
}

}  // namespace

int RunOpencode(const std::vector<std::string>& argv) {
  if (!argv.empty() && (argv[0] == "-v" || argv[0] == "--version")) {
    Out(std::string(kOpencodeVersion) + "\n");
    return 0;
  }
  if (argv.empty() || argv[0] != "run") {
    Err("orch-agent-standin imitating opencode " + std::string(kOpencodeVersion) +
        ": only `opencode run [message..]` is emulated.\n");
    return 1;
  }
  ParseOutcome parsed = ParseArgs(OpencodeRunCommand(), {argv.begin() + 1, argv.end()});
  if (parsed.error) {
    Err(parsed.error->message);
    return parsed.error->exit_code;
  }
  if (parsed.args.Has("--help")) {
    Out(OpencodeRunCommand().usage + "\n");
    return 0;
  }
  if (parsed.args.Has("--version")) {
    Out(std::string(kOpencodeVersion) + "\n");
    return 0;
  }
  return Run(parsed.args);
}

}  // namespace orch::standin
