// `codex exec` and `codex exec resume` (codex-cli 0.169.0): JSONL with --json, else the human
// transcript on stderr and the final message on stdout.
#include <unistd.h>

#include <filesystem>

#include "agents.h"
#include "flag_tables.h"
#include "script.h"
#include "standin_io.h"

namespace orch::standin {
namespace {

struct CodexRun {
  bool json = false;
  std::string last_message_file;  // -o
  std::string model = "gpt-5.5";
  std::string thread_id;
  std::string prompt;
};

class CodexReporter : public Reporter {
 public:
  explicit CodexReporter(const CodexRun& run) : run_(run) {}

  // The last agent_message is codex's final answer, so interim text goes out as reasoning.
  void Said(const std::string& text) override {
    if (!run_.json) {
      Err("thinking\n" + text + "\n");
      return;
    }
    Completed({{"id", NextId()}, {"type", "reasoning"}, {"text", text}});
  }

  void Wrote(const std::string& relpath, const std::string& abspath, const std::string&,
             bool existed) override {
    std::string kind = existed ? "update" : "add";
    if (!run_.json) {
      Err("file update\n" + std::string(existed ? "M " : "A ") + relpath + "\n");
      return;
    }
    Completed({{"id", NextId()},
               {"type", "file_change"},
               {"changes", Json::array({{{"path", abspath}, {"kind", kind}}})},
               {"status", "completed"}});
  }

  void Completed(const Json& item) { EmitJson({{"type", "item.completed"}, {"item", item}}); }
  std::string NextId() { return "item_" + std::to_string(items_++); }

 private:
  const CodexRun& run_;
  int items_ = 0;
};

// The message codex gives for each failure class; the status travels inside the text.
std::string ErrorMessage(ErrorClass error, const std::string& model) {
  std::string status = std::to_string(HttpStatusOf(error)) + " " + HttpReasonOf(error);
  std::string request = ", request id: req_" + RandomHex(32);
  std::string url = ", url: https://api.openai.com/v1/responses";
  switch (error) {
    case ErrorClass::kRateLimit:
    case ErrorClass::kOther:
      // Retryable statuses are retried first; what is left is the retry limit.
      return "exceeded retry limit, last status: " + status + request;
    case ErrorClass::kAuth:
      return "unexpected status " + status +
             ": {\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
             "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}" +
             url + request;
    case ErrorClass::kModel:
      return "unexpected status " + status + ": {\"error\":{\"message\":\"The model `" + model +
             "` does not exist or you do not have access to it.\",\"type\":"
             "\"invalid_request_error\",\"code\":\"model_not_found\"}}" +
             url + request;
    case ErrorClass::kContext:
      // codex maps context_length_exceeded to its own text, which carries no status.
      return "Codex ran out of room in the model's context window. Start a new thread or clear "
             "earlier history before retrying.";
  }
  return status;
}

// codex exec refuses to run outside a Git repository (a worktree's .git is a file).
bool InsideGitRepo() {
  std::error_code ec;
  for (auto dir = std::filesystem::current_path(ec); !ec; dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / ".git", ec)) return true;
    if (dir == dir.parent_path()) break;
  }
  return false;
}

// Reads the prompt as codex does: the argument, or stdin when there is none or it is "-";
// with both, stdin is appended as a <stdin> block. Returns false after printing the error.
bool ReadPrompt(const std::string* argument, CodexRun& run) {
  if (argument == nullptr || *argument == "-") {
    Err("Reading prompt from stdin...\n");
    run.prompt = ReadStdin();
    if (run.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
      Err("No prompt provided via stdin.\n");
      return false;
    }
    return true;
  }
  run.prompt = *argument;
  std::string piped = StdinIsTerminal() ? "" : ReadStdin();
  if (!piped.empty()) run.prompt += "\n\n<stdin>\n" + piped + "\n</stdin>";
  return true;
}

void PrintHeader(const CodexRun& run) {
  Err("OpenAI Codex v" + std::string(kCodexVersion) + " (research preview)\n--------\nworkdir: " +
      CurrentDir() + "\nmodel: " + run.model + "\nprovider: openai\nsession id: " + run.thread_id +
      "\n--------\nuser\n" + run.prompt + "\n");
}

int Finish(const CodexRun& run, const ScriptResult& result, CodexReporter& reporter) {
  if (result.error) {
    std::string message = ErrorMessage(*result.error, run.model);
    if (run.json) {
      EmitJson({{"type", "error"}, {"message", message}});
      EmitJson({{"type", "turn.failed"}, {"error", {{"message", message}}}});
    } else {
      Err("ERROR: " + message + "\n");
    }
    return 1;
  }
  std::string text = FinalMessage(result, "codex");
  int input = static_cast<int>(run.prompt.size() / 4) + 1;
  int output = static_cast<int>(text.size() / 4) + 1;
  if (run.json) {
    reporter.Completed({{"id", reporter.NextId()}, {"type", "agent_message"}, {"text", text}});
    EmitJson({{"type", "turn.completed"},
              {"usage",
               {{"input_tokens", input}, {"cached_input_tokens", 0}, {"output_tokens", output}}}});
  } else {
    Err("codex\n" + text + "\ntokens used\n" + std::to_string(input + output) + "\n");
    Out(text + "\n");
  }
  if (!run.last_message_file.empty()) WriteFile(run.last_message_file, text);
  return result.exit_code.value_or(0);
}

// Picks the thread: a known id for resume (--last: the latest), else a new one. Returns false
// after printing the error for an unknown id.
bool ChooseThread(const ParsedArgs* resume, CodexRun& run) {
  run.thread_id = NewUuid();
  if (resume == nullptr) return true;
  std::string id = resume->Has("--last")         ? LatestSession("codex")
                   : resume->positionals.empty() ? ""
                                                 : resume->positionals.front();
  if (id.empty()) return true;
  if (!SessionExists("codex", id)) {
    Err("Error: thread/resume: thread/resume failed: no rollout found for thread id " + id +
        " (code -32600)\n");
    return false;
  }
  run.thread_id = id;
  return true;
}

int Exec(const ParsedArgs& exec, const ParsedArgs* resume) {
  CodexRun run;
  // Options given before "resume" belong to exec and still apply; resume's own come after.
  auto value = [&](const std::string& name) {
    return resume && resume->Has(name) ? resume->Value(name) : exec.Value(name);
  };
  auto has = [&](const std::string& name) {
    return exec.Has(name) || (resume && resume->Has(name));
  };
  run.json = has("--json");
  run.last_message_file = value("--output-last-message");
  if (has("--model")) run.model = value("--model");
  if (exec.Has("--cd") && chdir(exec.Value("--cd").c_str()) != 0) {
    Err("Error: failed to change directory to " + exec.Value("--cd") + "\n");
    return 1;
  }
  if (!has("--skip-git-repo-check") && !InsideGitRepo()) {
    Err("Not inside a trusted directory and --skip-git-repo-check was not specified.\n");
    return 1;
  }
  // resume: [SESSION_ID] [PROMPT]; with --last the one positional is the prompt.
  const std::vector<std::string>& positionals = resume ? resume->positionals : exec.positionals;
  size_t prompt_at = resume && !resume->Has("--last") ? 1 : 0;
  if (!ReadPrompt(positionals.size() > prompt_at ? &positionals[prompt_at] : nullptr, run)) {
    return 1;
  }
  if (!ChooseThread(resume, run)) return 1;
  if (!has("--ephemeral")) SaveSession("codex", run.thread_id, run.prompt);
  if (run.json) {
    EmitJson({{"type", "thread.started"}, {"thread_id", run.thread_id}});
    EmitJson({{"type", "turn.started"}});
  } else {
    PrintHeader(run);
  }
  CodexReporter reporter(run);
  ScriptResult result = RunScript(ParseDirectives(run.prompt, "codex"), reporter, run.prompt);
  return Finish(run, result, reporter);
}

bool Failed(const ParseOutcome& parsed) {
  if (parsed.error) Err(parsed.error->message);
  return parsed.error.has_value();
}

}  // namespace

int RunCodex(const std::vector<std::string>& argv) {
  ParseOutcome top = ParseArgs(CodexCommand(), argv);
  if (Failed(top)) return top.error->exit_code;
  if (top.args.Has("--version")) {
    Out("codex-cli " + std::string(kCodexVersion) + "\n");
    return 0;
  }
  if (top.args.Has("--help") || !top.args.subcommand) {
    Out("Codex CLI\n\norch-agent-standin imitating codex-cli " + std::string(kCodexVersion) +
        ": only `codex exec [OPTIONS] [PROMPT]` and `codex exec resume` are emulated.\n");
    return top.args.subcommand || top.args.Has("--help") ? 0 : 2;
  }
  ParseOutcome exec = ParseArgs(CodexExecCommand(), top.args.rest);
  if (Failed(exec)) return exec.error->exit_code;
  if (exec.args.Has("--version")) {
    Out("codex-cli-exec " + std::string(kCodexVersion) + "\n");
    return 0;
  }
  if (exec.args.Has("--help")) {
    Out("Run Codex non-interactively\n\n" + CodexExecCommand().usage);
    return 0;
  }
  if (!exec.args.subcommand) return Exec(exec.args, nullptr);
  ParseOutcome resume = ParseArgs(CodexResumeCommand(), exec.args.rest);
  if (Failed(resume)) return resume.error->exit_code;
  if (resume.args.Has("--help")) {
    Out("Resume a previous session by id or pick the most recent with --last\n\n" +
        CodexResumeCommand().usage);
    return 0;
  }
  return Exec(exec.args, &resume.args);
}

}  // namespace orch::standin
