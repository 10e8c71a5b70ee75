#include "agents/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
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

}  // namespace

Status WriteShimSpec(const std::string& run_dir, const ShimSpec& s) {
  nlohmann::json j = {{"argv", s.argv},
                      {"env_set", s.env_set},
                      {"env_unset", s.env_unset},
                      {"cwd", s.cwd},
                      {"stdin", s.stdin_path},
                      {"timeout_seconds", s.timeout_seconds},
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
    s.cwd = j.value("cwd", "");
    s.stdin_path = j.value("stdin", "");
    s.timeout_seconds = j.value("timeout_seconds", int64_t{0});
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
  nlohmann::json j = {{"exit_code", e.exit_code},
                      {"signal", e.signal},
                      {"timed_out", e.timed_out},
                      {"started_at", e.started_at},
                      {"finished_at", e.finished_at}};
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
  int log =
      open((run_dir + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int out_file =
      open((run_dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto emit = [&](const char* data, size_t len, bool is_stdout) {
    WriteAll(STDOUT_FILENO, data, len);
    if (log >= 0) WriteAll(log, data, len);
    if (is_stdout && out_file >= 0) WriteAll(out_file, data, len);
  };
  if (!spec->banner.empty()) {
    std::string b = "\033[1m" + spec->banner + "\033[0m\n";
    WriteAll(STDOUT_FILENO, b.data(), b.size());
    std::string plain = spec->banner + "\n";  // the log is read as text: no escapes
    if (log >= 0) WriteAll(log, plain.data(), plain.size());
  }

  // tmux kill-session sends SIGHUP; orch task kill the same. Either ends the agent's group.
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // A missing prompt is orch's failure, not a missing agent CLI: say so with its own code.
  std::string in_path = spec->stdin_path.empty() ? "/dev/null" : spec->stdin_path;
  int in_fd = open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) {
    std::string msg = "orch: cannot read the prompt " + in_path + ": " + strerror(errno) + "\n";
    emit(msg.data(), msg.size(), false);
    result.exit_code = 125;
    result.finished_at = NowUnix();
    if (log >= 0) close(log);
    if (out_file >= 0) close(out_file);
    (void)WriteShimExit(run_dir, result);
    return result.exit_code;
  }
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    fprintf(stderr, "orch shim: pipe: %s\n", strerror(errno));
    return 1;
  }
  std::vector<std::string> env = ChildEnvironment(spec->env_set, spec->env_unset);
  // PATH lookup with the agent's PATH, not ours.
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) setenv("PATH", e.c_str() + 5, 1);
  }
  Result<pid_t> spawned =
      Spawn({.argv = spec->argv,
             .env = std::move(env),
             .cwd = spec->cwd.empty() ? std::nullopt : std::optional<std::string>(spec->cwd),
             .fds = {{0, in_fd}, {1, out_pipe[1]}, {2, err_pipe[1]}}});
  close(in_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);

  if (!spawned.ok()) {
    std::string msg = "orch: " + spawned.status().message() + "\n";
    emit(msg.data(), msg.size(), false);
    result.exit_code = 127;
  } else {
    pid_t pid = *spawned;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::seconds(spec->timeout_seconds > 0 ? spec->timeout_seconds
                                                                   : 100LL * 365 * 86400);
    std::optional<std::chrono::steady_clock::time_point> kill_at;  // SIGKILL after SIGTERM
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    bool exited = false;
    int status = 0;
    std::optional<std::chrono::steady_clock::time_point> drain_until;
    char buf[65536];
    while (true) {
      if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        // Output still buffered in the pipes comes next; a grandchild holding them open
        // does not keep the run alive for more than a moment.
        drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      }
      auto now = std::chrono::steady_clock::now();
      if (exited && (open_fds == 0 || now >= *drain_until)) break;
      if (!exited && g_stop_signal != 0 && !kill_at) {
        kill(-pid, SIGTERM);
        kill_at = now + std::chrono::seconds(3);
      }
      if (!exited && now >= deadline && !kill_at) {
        result.timed_out = true;
        std::string msg = "\norch: timed out after " + std::to_string(spec->timeout_seconds) +
                          "s, killing the agent's process group\n";
        emit(msg.data(), msg.size(), false);
        kill(-pid, SIGTERM);
        kill_at = now + std::chrono::seconds(3);
      }
      if (kill_at && now >= *kill_at) kill(-pid, SIGKILL);
      int n = poll(fds, 2, open_fds == 0 ? 50 : 100);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = read(fds[i].fd, buf, sizeof buf);
        if (got > 0) {
          emit(buf, got, i == 0);
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    kill(-pid, SIGKILL);  // whatever the agent left running in its group
    if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result.signal = WTERMSIG(status);
      result.exit_code = -1;
    }
  }
  result.finished_at = NowUnix();
  if (out_file >= 0) {
    fsync(out_file);
    close(out_file);
  }
  std::string end = "\norch: agent exited (" +
                    (result.signal ? std::string("signal ") + strsignal(result.signal)
                                   : "code " + std::to_string(result.exit_code)) +
                    (result.timed_out ? ", timed out" : "") + ")\n";
  emit(end.data(), end.size(), false);
  if (log >= 0) close(log);
  Status written = WriteShimExit(run_dir, result);
  if (!written.ok()) fprintf(stderr, "orch shim: %s\n", written.message().c_str());
  if (!spec->tmux_socket.empty() && !spec->channel.empty()) {
    PosixProcessRunner runner;
    (void)Tmux(runner, spec->tmux_socket).Signal(spec->channel);
  }
  return result.exit_code < 0 ? 128 + result.signal : result.exit_code;
}

}  // namespace orch
