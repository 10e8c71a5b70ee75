// Runs a prompt's directives (directives.h) in the working directory and gathers what the
// final answer will say. How each step shows on stdout depends on the CLI being imitated, so
// the runner reports steps to a Reporter that each CLI's output format implements.
//
// Single-threaded: the runner sleeps, writes files and may never return ("hang").
#ifndef ORCH_AGENT_STANDIN_SCRIPT_H_
#define ORCH_AGENT_STANDIN_SCRIPT_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "directives.h"
#include "standin_io.h"

namespace orch::standin {

// Receives each visible step as it happens; implementations print it at once.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // An assistant message that is not the final answer ("say").
  virtual void Said(const std::string& text) = 0;
  // A file the agent wrote ("write"): its path as given, its absolute path, its new content,
  // and whether it existed before.
  virtual void Wrote(const std::string& relpath, const std::string& abspath,
                     const std::string& content, bool existed) = 0;
};

struct ScriptResult {
  int done = 0;  // directives carried out
  std::string status = "done";
  std::string reason;
  std::string question;  // "ask": status needs_input with this question
  std::vector<std::string> accomplished;
  std::vector<std::string> files_changed;
  Json delegations = Json::array();
  std::optional<std::string> final_raw;  // "final": the final message verbatim
  std::optional<ErrorClass> error;       // "error": stop and fail like the real CLI
  std::optional<int> exit_code;          // "exit": the exit code after normal output
};

// Runs `directives` in order in the current directory. Stops at the first "error", and at an
// "ask" that `prompt` holds no answer to. A directive it cannot carry out (unknown verb, bad
// argument, unwritable path) is reported on stderr and skipped. "hang" never returns.
ScriptResult RunScript(const std::vector<Directive>& directives, Reporter& reporter,
                       std::string_view prompt = {});

// The files orch's prompt lists as left in conflict by a merge ("Conflicting files (...):"
// then "- path" lines). RunScript resolves them first, keeping both sides, unless a file says
// "standin: unresolvable".
std::vector<std::string> ConflictsInPrompt(std::string_view prompt);

// The first line of the answer orch put in `prompt` to a question the agent asked (the fenced
// block after "The answer, from @..."), or nullopt when it holds none.
std::optional<std::string> AnswerInPrompt(std::string_view prompt);

// The final message: the "final" text, or the JSON contract of prompts/agent_system.md.
std::string FinalMessage(const ScriptResult& result, const std::string& agent);

}  // namespace orch::standin

#endif  // ORCH_AGENT_STANDIN_SCRIPT_H_
