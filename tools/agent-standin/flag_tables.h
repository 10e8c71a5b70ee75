// The flags each real agent CLI accepts, one table per (sub)command, copied by hand from the
// --help of the pinned versions: claude-code 2.1.197, codex-cli 0.169.0, opencode 1.18.33.
// A few hidden claude options (present in the binary, absent from --help) are marked hidden.
// Update these with the pinned versions; FlagTablesTest compares them with the real CLIs.
//
// The returned objects live for the whole program. Thread-safe.
#ifndef ORCH_AGENT_STANDIN_FLAG_TABLES_H_
#define ORCH_AGENT_STANDIN_FLAG_TABLES_H_

#include "arg_parser.h"

namespace orch::standin {

inline constexpr char kClaudeVersion[] = "2.1.197";
inline constexpr char kCodexVersion[] = "0.169.0";
inline constexpr char kOpencodeVersion[] = "1.18.33";

const CommandSpec& ClaudeCommand();       // claude [options] [prompt]
const CommandSpec& CodexCommand();        // codex [OPTIONS] <COMMAND>: only to reach exec
const CommandSpec& CodexExecCommand();    // codex exec [OPTIONS] [PROMPT]
const CommandSpec& CodexResumeCommand();  // codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]
const CommandSpec& OpencodeRunCommand();  // opencode run [message..]

}  // namespace orch::standin

#endif  // ORCH_AGENT_STANDIN_FLAG_TABLES_H_
