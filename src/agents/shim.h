// The shim: what runs inside an agent's tmux session (`orch shim <run-dir>`).
//
// It reads <run-dir>/spec.json (written by the runner), starts the agent from its argv with
// stdin from the prompt file, in its own process group, and copies everything the agent
// writes to the pane (its own stdout) and to <run-dir>/output.log as it arrives, stdout alone
// also to <run-dir>/stdout for parsing. When the agent exits it writes <run-dir>/exit.json
// (write, then rename, so a reader sees all of it or nothing) and signals
// `tmux wait-for -S <channel>`. It enforces the timeout itself on a monotonic clock, killing
// the agent's whole process group, so the limit holds even while the daemon is down; so it does
// when the agent has written nothing for stuck_seconds (engine.stuck_timeout).
//
// The agent's environment: with env_keep given, only the variables of the shim's own
// environment it names (an entry ending in '*' names a prefix), then env_set; without it (a spec
// written by an older orch), the shim's environment without env_unset, then env_set.
//
//   spec.json: {argv, env_set, env_unset, env_keep, cwd, stdin, timeout_seconds, stuck_seconds,
//               tmux_socket, channel, banner}
//   exit.json: {exit_code, signal, timed_out, stuck_after, started_at, finished_at}
#ifndef ORCH_AGENTS_SHIM_H_
#define ORCH_AGENTS_SHIM_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace orch {

struct ShimSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env_set;
  std::vector<std::string> env_unset;
  std::vector<std::string> env_keep = {};  // the allowlist; empty: keep all but env_unset
  std::string cwd;
  std::string stdin_path;       // the prompt file; empty: /dev/null
  int64_t timeout_seconds = 0;  // 0: none
  int64_t stuck_seconds = 0;    // no output for this long ends the agent; 0: never
  std::string tmux_socket;      // empty: no signal
  std::string channel;
  std::string banner;  // printed at the top of the pane and log
};

struct ShimExit {
  int exit_code = -1;  // 127: could not start; -1: killed by a signal
  int signal = 0;
  bool timed_out = false;
  int64_t stuck_after = 0;  // >0: ended after this many seconds without output
  int64_t started_at = 0;
  int64_t finished_at = 0;
};

Status WriteShimSpec(const std::string& run_dir, const ShimSpec& spec);
Result<ShimSpec> ReadShimSpec(const std::string& run_dir);
// NotFound while the run has not finished.
Result<ShimExit> ReadShimExit(const std::string& run_dir);
Status WriteShimExit(const std::string& run_dir, const ShimExit& exit);

// Runs the shim for `run_dir`; returns the process exit code (the agent's, or 1 when the
// spec cannot be read).
int RunShim(const std::string& run_dir);

}  // namespace orch

#endif  // ORCH_AGENTS_SHIM_H_
