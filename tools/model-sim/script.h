// The model-sim's script: what the scripted "model" answers to one request, decided from the
// request alone (no state: every request carries the whole conversation).
//
// Directives are lines in the user's text (or in the --script file, read as if appended to every
// prompt), each `model-sim: <verb> <args>`:
//   write <path> <text...>   write <text> plus a newline to <path> (relative paths are taken
//                            from the agent's working directory, read from its system prompt or
//                            environment context) with the agent's own file-writing tool
//   run <command...>         run a shell command with the agent's shell tool
//   say <text...>            the final message is <text> instead of the contract JSON
//   status <status>          the contract's status (default done)
//   fail <http-status>       every request of this turn fails with that status (429, 401,
//                            403, 404, 500, 529; 400 says the prompt is too long)
// The step is the number of tool results since the last user prompt: step 0 calls the tool of
// the first `write` or `run`, step 1 the next, ..., then the final message. Requests that offer no
// tools (title generation) get a short text; requests that demand a JSON schema get a value fitting
// it.
//
// Pure; thread-safe.
#ifndef ORCH_TOOLS_MODEL_SIM_SCRIPT_H_
#define ORCH_TOOLS_MODEL_SIM_SCRIPT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace model_sim {

// One tool call: write `text` to `path`, or run the shell `command`.
struct Step {
  std::string path;
  std::string text;
  std::string command;  // non-empty: a shell command
};

struct Directives {
  std::vector<Step> steps;
  std::string say;  // empty: the contract
  std::string status = "done";
  int fail = 0;  // HTTP status to fail with, 0: none
};

// Reads `model-sim:` lines from `text` into `d` (later lines add writes, replace the rest).
void ReadDirectives(const std::string& text, Directives* d);

// The reply to one request, whatever the wire format.
struct Reply {
  int fail = 0;                // non-zero: answer with this HTTP error instead
  std::string text;            // a text answer (when tool is empty)
  std::string tool;            // the tool to call
  nlohmann::json tool_input;   // its arguments (an object; for freeform tools a string)
  bool freeform_tool = false;  // Responses API custom tool (codex apply_patch): input is text
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

// The wire formats served: Claude Code and OpenCode (through @ai-sdk/anthropic) speak the
// Messages API, Codex the Responses API.
enum class Api { kAnthropicMessages, kOpenAiResponses };

// Decides the reply to `request` (the parsed JSON body) in `api`; `script` holds the --script
// file's directives.
Reply Decide(Api api, const nlohmann::json& request, const std::string& script);

// A value that fits the JSON schema `schema` (objects get their properties, enums their first
// value, strings "model-sim").
nlohmann::json ValueForSchema(const nlohmann::json& schema);

// Error bodies as each API sends them.
nlohmann::json AnthropicError(int status);
nlohmann::json OpenAiError(int status);

}  // namespace model_sim

#endif  // ORCH_TOOLS_MODEL_SIM_SCRIPT_H_
