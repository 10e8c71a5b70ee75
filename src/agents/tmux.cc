#include "agents/tmux.h"

#include <sstream>
#include <thread>

namespace orch {
namespace {

constexpr auto kTmuxTimeout = std::chrono::seconds(10);

bool NoServer(const ProcessResult& r) {
  // "no server running on /tmp/tmux-0/x", or "error connecting to ..." when the socket is stale.
  return r.err.find("no server running") != std::string::npos ||
         r.err.find("error connecting") != std::string::npos;
}

}  // namespace

std::vector<std::string> Tmux::Base() const { return {"tmux", "-L", socket_, "-f", "/dev/null"}; }

Result<ProcessResult> Tmux::Run(std::vector<std::string> args) {
  std::vector<std::string> argv = Base();
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions opts{.argv = argv, .timeout = kTmuxTimeout};
  // tmux refuses to nest; the daemon may have been started from inside a tmux session.
  opts.env_unset = {"TMUX", "TMUX_PANE"};
  Result<ProcessResult> r = runner_.Run(opts);
  if (!r.ok() && r.status().IsNotFound()) {
    return Status::NotFound("tmux", "not installed (apt-get install tmux / brew install tmux)");
  }
  return r;
}

Status Tmux::NewSession(const std::string& name, const std::string& cwd,
                        const std::vector<std::string>& argv,
                        const std::map<std::string, std::string>& env) {
  ORCH_RETURN_IF_ERROR(KillSession(name));
  // Options first, in the same client as the session, so remain-on-exit holds even for a
  // command that exits at once. The session's command comes last, as separate arguments.
  // exit-empty off: killing a task's last session must not take the server down while the
  // next new-session connects to it ("server exited unexpectedly").
  std::vector<std::string> args = {"start-server", ";",  "set-option",  "-s", "exit-empty",
                                   "off",          ";",  "set-option",  "-g", "remain-on-exit",
                                   "on",           ";",  "set-option",  "-g", "history-limit",
                                   "50000",        ";",  "new-session", "-d", "-s",
                                   name,           "-c", cwd,           "-x", "200",
                                   "-y",           "50"};
  for (const auto& [k, v] : env) {
    args.push_back("-e");
    args.push_back(k + "=" + v);
  }
  args.insert(args.end(), argv.begin(), argv.end());
  Result<ProcessResult> r = Run(args);
  if (r.ok() && r->exit_code != 0 && r->err.find("server exited") != std::string::npos) {
    // A server from before exit-empty was set, exiting as we connected: once more.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = Run(args);
  }
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status::IOError("tmux new-session " + name, r->err.empty() ? r->out : r->err);
  }
  return Status::OK();
}

Result<std::vector<std::string>> Tmux::ListSessions() {
  Result<ProcessResult> r = Run({"list-sessions", "-F", "#{session_name}"});
  if (!r.ok()) return r.status();
  std::vector<std::string> names;
  if (r->exit_code != 0) {
    if (NoServer(*r)) return names;
    return Status::IOError("tmux list-sessions", r->err);
  }
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

Result<bool> Tmux::HasSession(const std::string& name) {
  Result<std::vector<std::string>> names = ListSessions();
  if (!names.ok()) return names.status();
  for (const auto& n : *names) {
    if (n == name) return true;
  }
  return false;
}

Result<bool> Tmux::PaneDead(const std::string& name) {
  // "=name" matches the name exactly, not as a prefix.
  Result<ProcessResult> r = Run({"display-message", "-p", "-t", "=" + name + ":", "#{pane_dead}"});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::NotFound("tmux session " + name, "does not exist");
  return r->out.rfind("1", 0) == 0;
}

Status Tmux::KillSession(const std::string& name) {
  Result<ProcessResult> r = Run({"kill-session", "-t", "=" + name});
  if (!r.ok()) return r.status();
  return Status::OK();  // a missing session or server is what we wanted
}

Result<std::string> Tmux::CapturePane(const std::string& name) {
  Result<ProcessResult> r = Run({"capture-pane", "-p", "-J", "-S", "-", "-t", "=" + name + ":"});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::NotFound("tmux session " + name, r->err);
  return r->out;
}

std::vector<std::string> Tmux::AttachArgv(const std::string& name) const {
  std::vector<std::string> argv = Base();
  argv.insert(argv.end(), {"attach-session", "-t", "=" + name});
  return argv;
}

Status Tmux::Signal(const std::string& channel) {
  Result<ProcessResult> r = Run({"wait-for", "-S", channel});
  if (!r.ok()) return r.status();
  return Status::OK();
}

}  // namespace orch
