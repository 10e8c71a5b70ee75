// The stand-in's script language. A test writes lines such as
//
//   standin: write src/a.txt hello
//   standin[codex]: error rate_limit
//
// into an issue; orch puts the issue text into the agent's prompt, and the stand-in pulls the
// lines back out and runs them. A line may sit anywhere in the prompt, indented or not (orch
// fences the issue text); "standin[<agent>]:" lines apply only when running as that agent.
//
// Pure functions over values. Thread-safe.
#ifndef ORCH_AGENT_STANDIN_DIRECTIVES_H_
#define ORCH_AGENT_STANDIN_DIRECTIVES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orch::standin {

struct Directive {
  std::string verb;  // "write", "say", ...
  std::string rest;  // everything after the verb, with outer blanks trimmed
  std::string text;  // "<verb> <rest>", for the contract's accomplished list
};

// The directives in `prompt` that apply to `agent` ("claude", "codex", "opencode"), in order.
// Lines that are not directives are skipped; so are directives for other agents.
std::vector<Directive> ParseDirectives(std::string_view prompt, std::string_view agent);

// The classes of model-API failure a script can ask for with "error <class>".
enum class ErrorClass { kRateLimit, kAuth, kModel, kContext, kOther };

std::optional<ErrorClass> ParseErrorClass(std::string_view name);

// The HTTP status the model API answers with for that class: 429, 401, 404, 400, 500.
int HttpStatusOf(ErrorClass error);

// "Too Many Requests" and so on, as codex prints them beside the status.
const char* HttpReasonOf(ErrorClass error);

// Splits "first rest of line" into "first" and "rest of line" (blanks trimmed).
std::pair<std::string, std::string> SplitFirstWord(std::string_view text);

}  // namespace orch::standin

#endif  // ORCH_AGENT_STANDIN_DIRECTIVES_H_
