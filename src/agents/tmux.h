// Tmux: orch's own tmux server (`tmux -L <socket> -f /dev/null`), where agents run, one session
// per task, so a person can attach and watch and agents outlive a daemon restart.
//
// Every call starts `tmux` with an argv vector. A session's command is given as separate
// arguments, which tmux runs without a shell. Sessions keep their pane after the command exits
// (remain-on-exit), so `pane_dead` is a reliable backstop for noticing the end; the exit status
// itself is never taken from tmux (`#{pane_dead_status}` was lost for 3 of 20 panes here):
// the shim (shim.h) records it in a file.
//
// Thread-safe: each call is its own tmux client.
#ifndef ORCH_AGENTS_TMUX_H_
#define ORCH_AGENTS_TMUX_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/subprocess.h"

namespace orch {

// The tmux server orch uses: $ORCH_TMUX_SOCKET, else "orch".
inline std::string TmuxSocketName(
    const std::function<std::optional<std::string>(const std::string&)>& env) {
  std::optional<std::string> s = env("ORCH_TMUX_SOCKET");
  return s && !s->empty() ? *s : "orch";
}

class Tmux {
 public:
  // `socket` is the -L name (orch's is "orch"; tests use their own).
  Tmux(ProcessRunner& runner, std::string socket) : runner_(runner), socket_(std::move(socket)) {}

  const std::string& socket() const { return socket_; }

  // Starts a detached session `name` in `cwd` running `argv` with `env` added. A live or dead
  // session of the same name is killed first. NotFound when tmux is not installed.
  Status NewSession(const std::string& name, const std::string& cwd,
                    const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env);
  // Session names on the server (none when the server is not running).
  Result<std::vector<std::string>> ListSessions();
  // True when the session exists and its command has exited.
  Result<bool> PaneDead(const std::string& name);
  Result<bool> HasSession(const std::string& name);
  // OK when there was no such session.
  Status KillSession(const std::string& name);
  // The visible pane text (for tests and `orch task show`).
  Result<std::string> CapturePane(const std::string& name);
  // The argv that attaches a terminal to session `name`.
  std::vector<std::string> AttachArgv(const std::string& name) const;
  // Signals `tmux wait-for -S channel`.
  Status Signal(const std::string& channel);

 private:
  std::vector<std::string> Base() const;
  Result<ProcessResult> Run(std::vector<std::string> args);

  ProcessRunner& runner_;
  std::string socket_;
};

}  // namespace orch

#endif  // ORCH_AGENTS_TMUX_H_
