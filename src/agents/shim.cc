#include "agents/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "agents/tmux.h"
#include "base/subprocess.h"

namespace orch {
namespace {

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path, strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `text` to `path` through a temporary file and rename.
Status WriteAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(tmp, strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return Status::IOError(tmp, strerror(errno));
    }
    done += n;
  }
  fsync(fd);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError(path, strerror(errno));
  return Status::OK();
}

void WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed pane must not stop the agent or the log
    data += n;
    len -= n;
  }
}

volatile sig_atomic_t g_stop_signal = 0;
void OnStopSignal(int sig) { g_stop_signal = sig; }

// tmux kill-session sends SIGHUP; orch task kill the same. Either ends the agent's group.
void CatchStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Where the shim's text goes: the pane (the shim's stdout) and output.log, and the agent's
// stdout also to the stdout file, which is parsed. A file that cannot be opened is skipped.
class ShimOutput {
 public:
  explicit ShimOutput(const std::string& run_dir)
      : log_(open((run_dir + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0600)),
        stdout_file_(
            open((run_dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) {}
  ~ShimOutput() { Close(); }
  ShimOutput(const ShimOutput&) = delete;
  ShimOutput& operator=(const ShimOutput&) = delete;

  void Emit(const char* data, size_t len, bool is_stdout) {
    WriteAll(STDOUT_FILENO, data, len);
    if (log_ >= 0) WriteAll(log_, data, len);
    if (is_stdout && stdout_file_ >= 0) WriteAll(stdout_file_, data, len);
  }
  // orch's own words: the pane and the log, never the stdout file.
  void Say(const std::string& text) { Emit(text.data(), text.size(), false); }
  // Bold in the pane; plain in the log, which is read as text.
  void Banner(const std::string& banner) {
    if (banner.empty()) return;
    std::string bold = "\033[1m" + banner + "\033[0m\n";
    WriteAll(STDOUT_FILENO, bold.data(), bold.size());
    std::string plain = banner + "\n";
    if (log_ >= 0) WriteAll(log_, plain.data(), plain.size());
  }
  // The agent's stdout is complete: on disk before exit.json says so.
  void FinishStdout() {
    if (stdout_file_ >= 0) fsync(stdout_file_);
    CloseFd(stdout_file_);
  }
  void Close() {
    CloseFd(stdout_file_);
    CloseFd(log_);
  }

 private:
  static void CloseFd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  int log_;
  int stdout_file_;
};

// The read ends of the agent's stdout and stderr, copied to the output as bytes arrive.
class AgentPipes {
 public:
  AgentPipes(int out, int err)
      : fds_{{out, POLLIN, 0}, {err, POLLIN, 0}}, last_output_(std::chrono::steady_clock::now()) {}
  int open() const { return open_; }
  // When the agent last wrote anything (or started).
  std::chrono::steady_clock::time_point last_output() const { return last_output_; }
  // Waits up to `ms` for output and copies what came, closing a pipe at its end. False when
  // poll() fails.
  bool Copy(ShimOutput& output, int ms) {
    int n = poll(fds_, 2, ms);
    if (n < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds_[i].fd < 0 || !(fds_[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds_[i].fd, buf_, sizeof buf_);
      if (got > 0) {
        output.Emit(buf_, got, i == 0);
        last_output_ = std::chrono::steady_clock::now();
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds_[i].fd);
        fds_[i].fd = -1;
        --open_;
      }
    }
    return true;
  }

 private:
  pollfd fds_[2];
  std::chrono::steady_clock::time_point last_output_;
  int open_ = 2;
  char buf_[65536];
};

// Stopping the agent's process group: SIGTERM first, SIGKILL 3 s later if it is still there.
class GroupStopper {
  using Clock = std::chrono::steady_clock;

 public:
  explicit GroupStopper(pid_t pid) : pid_(pid) {}
  bool started() const { return kill_at_ != Clock::time_point::max(); }
  void Terminate(Clock::time_point now) {
    kill(-pid_, SIGTERM);
    kill_at_ = now + std::chrono::seconds(3);
  }
  void KillIfDue(Clock::time_point now) {
    if (now >= kill_at_) kill(-pid_, SIGKILL);
  }

 private:
  pid_t pid_;
  Clock::time_point kill_at_ = Clock::time_point::max();  // max: not stopping
};

// Starts the agent from the spec: stdin from `stdin_fd`, stdout and stderr into the pipes'
// write ends, in its own process group.
Result<pid_t> StartAgent(const ShimSpec& spec, int stdin_fd, int out_fd, int err_fd) {
  std::vector<std::string> env =
      spec.env_keep.empty() ? ChildEnvironment(spec.env_set, spec.env_unset)
                            : AllowedEnvironment(spec.env_keep, spec.env_set, spec.env_unset);
  // PATH lookup with the agent's PATH, not ours.
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) setenv("PATH", e.c_str() + 5, 1);
  }
  return Spawn({.argv = spec.argv,
                .env = std::move(env),
                .cwd = spec.cwd.empty() ? std::nullopt : std::optional<std::string>(spec.cwd),
                .fds = {{0, stdin_fd}, {1, out_fd}, {2, err_fd}}});
}

// Copies the agent's output until it exits and its pipes are drained, stopping its group on a
// stop signal or at the timeout, and records how it ended in `result`.
void Supervise(const ShimSpec& spec, pid_t pid, AgentPipes& pipes, ShimOutput& output,
               ShimExit& result) {
  auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::seconds(spec.timeout_seconds > 0 ? spec.timeout_seconds : 100LL * 365 * 86400);
  GroupStopper stopper(pid);
  bool exited = false;
  int status = 0;
  std::chrono::steady_clock::time_point drain_until;
  while (true) {
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      // Output still buffered in the pipes comes next; a grandchild holding them open
      // does not keep the run alive for more than a moment.
      drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    }
    auto now = std::chrono::steady_clock::now();
    if (exited && (pipes.open() == 0 || now >= drain_until)) break;
    if (!exited && !stopper.started() && g_stop_signal != 0) {
      stopper.Terminate(now);
    } else if (!exited && !stopper.started() && now >= deadline) {
      result.timed_out = true;
      output.Say("\norch: timed out after " + std::to_string(spec.timeout_seconds) +
                 "s, killing the agent's process group\n");
      stopper.Terminate(now);
    } else if (!exited && !stopper.started() && spec.stuck_seconds > 0 &&
               now - pipes.last_output() >= std::chrono::seconds(spec.stuck_seconds)) {
      result.stuck_after = spec.stuck_seconds;
      output.Say("\norch: no output for " + std::to_string(spec.stuck_seconds) +
                 "s (engine.stuck_timeout), killing the agent's process group\n");
      stopper.Terminate(now);
    }
    stopper.KillIfDue(now);
    if (!pipes.Copy(output, pipes.open() == 0 ? 50 : 100)) break;
  }
  kill(-pid, SIGKILL);  // whatever the agent left running in its group
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = -1;
  }
}

// A missing prompt is orch's failure, not a missing agent CLI: it gets its own exit code (125),
// an exit file, and no end line or tmux signal.
int PromptUnreadable(const std::string& run_dir, const std::string& path, int error,
                     ShimOutput& output, ShimExit& result) {
  output.Say("orch: cannot read the prompt " + path + ": " + strerror(error) + "\n");
  result.exit_code = 125;
  result.finished_at = NowUnix();
  output.Close();
  (void)WriteShimExit(run_dir, result);
  return result.exit_code;
}

// Ends the run: the stdout file on disk, the end line, exit.json, then the tmux signal that
// wakes a waiter. Returns the shim's exit code (the agent's, or 128 + its signal).
int Finish(const std::string& run_dir, const ShimSpec& spec, ShimOutput& output, ShimExit& result) {
  result.finished_at = NowUnix();
  output.FinishStdout();
  output.Say("\norch: agent exited (" +
             (result.signal ? std::string("signal ") + strsignal(result.signal)
                            : "code " + std::to_string(result.exit_code)) +
             (result.timed_out ? ", timed out" : "") + (result.stuck_after ? ", stuck" : "") +
             ")\n");
  output.Close();
  Status written = WriteShimExit(run_dir, result);
  if (!written.ok()) fprintf(stderr, "orch shim: %s\n", written.message().c_str());
  if (!spec.tmux_socket.empty() && !spec.channel.empty()) {
    PosixProcessRunner runner;
    (void)Tmux(runner, spec.tmux_socket).Signal(spec.channel);
  }
  return result.exit_code < 0 ? 128 + result.signal : result.exit_code;
}

}  // namespace

Status WriteShimSpec(const std::string& run_dir, const ShimSpec& s) {
  nlohmann::json j = {{"argv", s.argv},
                      {"env_set", s.env_set},
                      {"env_unset", s.env_unset},
                      {"env_keep", s.env_keep},
                      {"cwd", s.cwd},
                      {"stdin", s.stdin_path},
                      {"timeout_seconds", s.timeout_seconds},
                      {"stuck_seconds", s.stuck_seconds},
                      {"tmux_socket", s.tmux_socket},
                      {"channel", s.channel},
                      {"banner", s.banner}};
  return WriteAtomically(run_dir + "/spec.json", j.dump(2) + "\n");
}

Result<ShimSpec> ReadShimSpec(const std::string& run_dir) {
  Result<std::string> text = Slurp(run_dir + "/spec.json");
  if (!text.ok()) return text.status();
  try {
    nlohmann::json j = nlohmann::json::parse(*text);
    ShimSpec s;
    s.argv = j.at("argv").get<std::vector<std::string>>();
    s.env_set = j.value("env_set", std::map<std::string, std::string>{});
    s.env_unset = j.value("env_unset", std::vector<std::string>{});
    s.env_keep = j.value("env_keep", std::vector<std::string>{});
    s.cwd = j.value("cwd", "");
    s.stdin_path = j.value("stdin", "");
    s.timeout_seconds = j.value("timeout_seconds", int64_t{0});
    s.stuck_seconds = j.value("stuck_seconds", int64_t{0});
    s.tmux_socket = j.value("tmux_socket", "");
    s.channel = j.value("channel", "");
    s.banner = j.value("banner", "");
    if (s.argv.empty()) return Status::Corruption(run_dir + "/spec.json", "empty argv");
    return s;
  } catch (const std::exception& e) {
    return Status::Corruption(run_dir + "/spec.json", e.what());
  }
}

Status WriteShimExit(const std::string& run_dir, const ShimExit& e) {
  nlohmann::json j = {{"exit_code", e.exit_code},   {"signal", e.signal},
                      {"timed_out", e.timed_out},   {"stuck_after", e.stuck_after},
                      {"started_at", e.started_at}, {"finished_at", e.finished_at}};
  return WriteAtomically(run_dir + "/exit.json", j.dump() + "\n");
}

Result<ShimExit> ReadShimExit(const std::string& run_dir) {
  Result<std::string> text = Slurp(run_dir + "/exit.json");
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return Status::Corruption(run_dir + "/exit.json", "not JSON");
  ShimExit e;
  e.exit_code = j.value("exit_code", -1);
  e.signal = j.value("signal", 0);
  e.timed_out = j.value("timed_out", false);
  e.stuck_after = j.value("stuck_after", int64_t{0});
  e.started_at = j.value("started_at", int64_t{0});
  e.finished_at = j.value("finished_at", int64_t{0});
  return e;
}

int RunShim(const std::string& run_dir) {
  Result<ShimSpec> spec = ReadShimSpec(run_dir);
  if (!spec.ok()) {
    fprintf(stderr, "orch shim: %s\n", spec.status().message().c_str());
    return 1;
  }
  ShimExit result;
  result.started_at = NowUnix();
  ShimOutput output(run_dir);
  output.Banner(spec->banner);
  CatchStopSignals();

  std::string in_path = spec->stdin_path.empty() ? "/dev/null" : spec->stdin_path;
  int in_fd = open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) return PromptUnreadable(run_dir, in_path, errno, output, result);
  int out_pipe[2], err_pipe[2];
  int rc = uv_pipe(out_pipe, 0, 0);  // close-on-exec, blocking
  if (rc == 0) rc = uv_pipe(err_pipe, 0, 0);
  if (rc != 0) {
    fprintf(stderr, "orch shim: pipe: %s\n", uv_strerror(rc));
    return 1;
  }
  Result<pid_t> pid = StartAgent(*spec, in_fd, out_pipe[1], err_pipe[1]);
  close(in_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!pid.ok()) {
    output.Say("orch: " + pid.status().message() + "\n");
    result.exit_code = 127;
  } else {
    AgentPipes pipes(out_pipe[0], err_pipe[0]);
    Supervise(*spec, *pid, pipes, output, result);
  }
  return Finish(run_dir, *spec, output, result);
}

}  // namespace orch
