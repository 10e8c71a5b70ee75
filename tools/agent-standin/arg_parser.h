// A command-line parser that accepts exactly what one real agent CLI accepts and fails the way
// that CLI fails. The three CLIs are built on three argument libraries, so a CommandSpec names
// its dialect: Commander.js (claude), clap (codex) and yargs (opencode). They differ in how an
// option takes its value, what counts as an error, the error text and the exit code; the
// dialect rules below were measured against the pinned versions (see README.md).
//
// A flag is written as its --help prints it ("-m, --model <MODEL>", "--allowedTools,
// --allowed-tools <tools...>"): the names and the arity are read from that text, and the
// Commander and clap error messages quote it, as the real ones do.
//
// Pure functions over values; no I/O. Thread-safe.
#ifndef ORCH_AGENT_STANDIN_ARG_PARSER_H_
#define ORCH_AGENT_STANDIN_ARG_PARSER_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orch::standin {

enum class Dialect { kCommander, kClap, kYargs };

// How many values a flag takes: none (a switch), exactly one ("<x>"), one if the next word is
// not a flag ("[x]"), or every following word up to the next flag ("<x...>", clap's "<X>...").
enum class Arity { kNone, kOne, kOptional, kVariadic };

struct FlagSpec {
  FlagSpec(std::string spec_text, std::vector<std::string> allowed = {}, bool is_hidden = false)
      : spec(std::move(spec_text)), choices(std::move(allowed)), hidden(is_hidden) {}

  std::string spec;                  // as --help prints it
  std::vector<std::string> choices;  // allowed values; empty means any
  bool hidden = false;               // accepted by the real CLI but not listed in its --help
};

struct CommandSpec {
  std::string name;  // "claude", "codex exec", "opencode run"
  Dialect dialect;
  // clap's "Usage:" block or yargs' whole help text, quoted in errors.
  std::string usage;
  std::vector<FlagSpec> flags;
  // Words that, as the first positional, start a subcommand; the rest of argv is left to it.
  std::vector<std::string> subcommands;
  // clap refuses positionals beyond its declared ones; -1 means any number.
  int max_positionals = -1;
};

// The names and arity read from a FlagSpec::spec.
struct FlagShape {
  std::vector<std::string> names;  // "-m", "--model"
  std::string value_name;          // "<MODEL>", "<tools...>", "[value]", or ""
  Arity arity = Arity::kNone;
  std::string Primary() const;  // the first long name, else the first name
};
FlagShape ShapeOf(const FlagSpec& flag);

struct ParsedArgs {
  // Values by the flag's primary name; a switch maps to an empty vector once per use.
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> positionals;
  std::optional<std::string> subcommand;
  std::vector<std::string> rest;  // argv after the subcommand word

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // The last value given for `name`, or `fallback` when absent or valueless.
  std::string Value(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> Values(const std::string& name) const;
};

// A refusal: what the real CLI prints on stderr and its exit code.
struct ArgError {
  std::string message;  // ends with a newline
  int exit_code = 1;
};

struct ParseOutcome {
  ParsedArgs args;
  std::optional<ArgError> error;
};

// Parses `argv` (without the program or subcommand word) against `command`. Fails on an
// unknown flag, a missing value or a value outside the choices, with the dialect's message.
ParseOutcome ParseArgs(const CommandSpec& command, const std::vector<std::string>& argv);

}  // namespace orch::standin

#endif  // ORCH_AGENT_STANDIN_ARG_PARSER_H_
