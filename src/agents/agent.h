// Agent adapters: how orch drives one coding-agent CLI.
//
// An adapter builds the argv for one run (never a shell string) and reads the CLI's own output
// format back into one AgentResult. The prompt never travels on the command line: the runner
// hands it to the agent as stdin from a file (every CLI here reads its prompt from stdin when
// none is given as an argument), so issue text cannot reach a shell or `ps`.
//
//   claude    `claude -p --output-format stream-json --verbose ...`: JSONL events ending in one
//             `result` object (is_error, result, session_id, total_cost_usd, usage).
//   codex     `codex exec --json ... -`: JSONL (thread.started, item.completed, turn.completed,
//             turn.failed, error).
//   opencode  `opencode run --format json ...`: JSONL (step_start, text, tool_use, step_finish,
//             error).
//   generic   agents.<name>.command + args, its output read as one of the formats above or as
//             plain text (for wrappers like kimi, minimax or goose).
//
// The agent's final message must be the JSON contract of prompts/agent_system.md; a final
// message that does not parse is a failed run with the raw text kept (kUnparseable), never
// "done". Errors are classified from structured fields only (exit code, is_error,
// api_error_status, error events and their HTTP status), never from the agent's work output.
//
// Pure: values in, values out; thread-safe.
#ifndef ORCH_AGENTS_AGENT_H_
#define ORCH_AGENTS_AGENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace orch {

// What went wrong with a run, from structured fields. kNone: the run itself worked (the
// contract's status may still be blocked or needs_review).
enum class AgentError {
  kNone,
  kRateLimit,
  kAuth,
  kModelUnavailable,
  kContextOverflow,
  kTimeout,
  kMissingTool,      // the CLI is not installed (exit 127 from the shim)
  kWaitingForInput,  // it stopped to ask a person (permission denied, a question)
  kUnparseable,      // exited, but its final message is not the contract
  kFailed,           // anything else: a non-zero exit, an error event without a known class
};
const char* AgentErrorName(AgentError e);

// The contract's statuses (prompts/agent_system.md).
// kNeedsInput: the agent asks a person a question (`question`) and goes on with the answer, in
// the same session (agents/questions.h).
enum class ContractStatus { kDone, kInProgress, kBlocked, kNeedsReview, kNeedsInput };
const char* ContractStatusName(ContractStatus s);

struct Delegation {
  std::string title;
  std::string body;
  std::vector<std::string> labels;
};

// The agent's final answer, every field of the contract.
struct AgentContract {
  ContractStatus status = ContractStatus::kDone;
  std::string summary;
  std::vector<std::string> accomplished;
  std::vector<std::string> remaining;
  std::vector<std::string> files_changed;
  std::vector<std::string> blockers;
  std::string reason;
  std::string question;  // kNeedsInput: what to ask
  std::vector<Delegation> delegations;
};

// Reads the contract from an agent's final message: the whole text as JSON, else the last
// fenced ```json block, else the last balanced {...} that parses. InvalidArgument saying why
// when none does, or when `status` is missing or not one of the five (needs_input without a
// `question` included).
Result<AgentContract> ParseContract(std::string_view final_text);

// One run's result, whatever the CLI.
struct AgentResult {
  AgentError error = AgentError::kFailed;
  std::string error_message;              // for people; empty when error == kNone
  std::optional<AgentContract> contract;  // set when error == kNone
  std::string final_text;  // the agent's last message, raw (kept when it does not parse)
  std::string session_id;  // to resume: Claude session id, Codex thread id, OpenCode session
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;  // 0 when the CLI does not say (Codex)
  bool ok() const { return error == AgentError::kNone; }
};

// How a run is to be made.
struct AgentRequest {
  std::string model;               // empty: the CLI's default
  std::string workdir;             // the worktree the agent works in (its cwd)
  std::string main_checkout;       // the user's own checkout, off limits (empty: none)
  std::string system_prompt_file;  // prompts/agent_system.md, or empty
  std::string resume_id;           // a session to resume; empty: a new one
  // Overrides the adapter's configured sandbox for this run (e.g. read-only for a review);
  // nullopt: agents.<name>.sandbox, else workflow.sandbox.
  std::optional<Sandbox> sandbox;
  // Claude: --allowedTools in workspace-write (empty: Bash Edit Write).
  std::vector<std::string> allowed_tools;
};

// What to start. The runner adds the environment it owns (ORCH_AGENT, ORCH_MODEL,
// ORCH_TASK_ID) and removes orch's GitHub token variables.
struct AgentCommand {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env_set;
  // The CLI's own variables it may take from orch's environment (its API keys and endpoints;
  // "ANTHROPIC_*" names a prefix), besides the runner's base allowlist and env_set. Nothing
  // else of orch's environment reaches the agent.
  std::vector<std::string> env_inherit;
  // True when the CLI has no system-prompt switch: the runner puts the system prompt at the
  // top of the prompt file instead.
  bool system_prompt_in_prompt = false;
};

// How a run ended, as the shim recorded it.
struct AgentOutput {
  int exit_code = 0;
  bool timed_out = false;
  std::string stdout_text;  // the CLI's stdout only (stderr goes to the log, not here)
  std::string stderr_text;
  int64_t stuck_after = 0;  // >0: ended after this many seconds without output
};

// What every agent CLI may take from orch's environment besides its own AgentCommand::env_inherit:
// PATH, HOME, user, shell, locale, TERM, TZ, TMPDIR, XDG_*, proxies and CA bundles.
const std::vector<std::string>& AgentBaseEnvironment();
// The whole allowlist for `cmd`: AgentBaseEnvironment() and cmd.env_inherit.
std::vector<std::string> AgentEnvironment(const AgentCommand& cmd);

class AgentAdapter {
 public:
  virtual ~AgentAdapter() = default;
  const std::string& name() const { return name_; }
  virtual AgentCommand Build(const AgentRequest& request) const = 0;
  virtual AgentResult Parse(const AgentOutput& output) const = 0;
  // argv that prints the CLI's version (for `orch agents`).
  virtual std::vector<std::string> VersionArgv() const;
  // The executable (argv[0]).
  const std::string& command() const { return command_; }

 protected:
  AgentAdapter(std::string name, std::string command, std::vector<std::string> extra_args)
      : name_(std::move(name)), command_(std::move(command)), extra_args_(std::move(extra_args)) {}
  std::string name_;
  std::string command_;
  std::vector<std::string> extra_args_;  // agents.<name>.args, inserted after the built flags
};

// The adapter for agent `name`, configured by `config.agents[name]` when present. Built-in
// names get their own adapter; any other name needs agents.<name>.command and output_format
// (InvalidArgument otherwise). The sandbox is AgentRequest::sandbox, else
// agents.<name>.sandbox, else workflow.sandbox. `env` is orch's own environment:
//   CODEX_SANDBOX            for codex, overrides all of those (any config sandbox name, e.g.
//                            `none` inside a container where codex's own sandbox cannot work);
//                            InvalidArgument when it names no sandbox.
//   OPENCODE_CONFIG_CONTENT  for opencode, merged over orch's permission settings, and
//                            agents.opencode.env's over both; InvalidArgument if not an object.
Result<std::unique_ptr<AgentAdapter>> MakeAgentAdapter(const std::string& name,
                                                       const Config& config,
                                                       const EnvLookup& env = ProcessEnv());

// Parses one of the known output formats, for adapters and generic agents alike.
AgentResult ParseAgentOutput(OutputFormat format, const AgentOutput& output);

}  // namespace orch

#endif  // ORCH_AGENTS_AGENT_H_
