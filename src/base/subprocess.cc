#include "base/subprocess.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace orch {
namespace {

// Owns a pipe's two ends and closes what is left open.
struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { CloseBoth(); }
  // Both ends close-on-exec (atomically where the system can), blocking. 0 or a libuv error.
  int Open() { return uv_pipe(fd, 0, 0); }
  void Close(int i) {
    if (fd[i] >= 0) close(fd[i]);
    fd[i] = -1;
  }
  void CloseBoth() { Close(0), Close(1); }
};

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Owns a posix_spawn_file_actions_t: the spec's cwd and fd mapping.
class FileActions {
 public:
  explicit FileActions(const SpawnSpec& spec) {
    posix_spawn_file_actions_init(&actions_);
    for (const auto& [child_fd, parent_fd] : spec.fds) {
      posix_spawn_file_actions_adddup2(&actions_, parent_fd, child_fd);
    }
    if (spec.cwd) posix_spawn_file_actions_addchdir_np(&actions_, spec.cwd->c_str());
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// Owns a posix_spawnattr_t: the process group, and the signal state the child starts with.
class SpawnAttributes {
 public:
  explicit SpawnAttributes(const SpawnSpec& spec) {
    posix_spawnattr_init(&attr_);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (spec.new_process_group) flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setflags(&attr_, flags);
    posix_spawnattr_setpgroup(&attr_, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    // The daemon blocks signals and the shim catches some: the child must start clean.
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &all);
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// The child's stdin (written), stdout and stderr (read), from Run()'s side.
struct ChildPipes {
  Pipe in, out, err;
};

constexpr std::chrono::milliseconds kCancelCheck(100);

bool Cancelled(const ProcessOptions& o) { return o.cancel != nullptr && o.cancel->load(); }

// How long one poll() may wait: until the deadline (-1: there is none), and no longer than
// kCancelCheck while there is a cancel flag to look at.
int PollTimeoutMs(const ProcessOptions& o, std::chrono::steady_clock::time_point deadline) {
  int64_t ms = -1;
  if (o.timeout) {
    ms = std::max<int64_t>(
        0, std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
               .count());
  }
  // int64_t, not the rep: milliseconds::rep is long in libstdc++ and long long in libc++.
  if (o.cancel != nullptr) {
    ms = ms < 0 ? kCancelCheck.count() : std::min<int64_t>(ms, kCancelCheck.count());
  }
  return static_cast<int>(ms);
}

// Writes what of o.stdin_data the pipe takes now; closes stdin once all of it is written or the
// child stopped reading.
void FeedStdin(const ProcessOptions& o, Pipe& in, size_t& written) {
  ssize_t w = write(in.fd[1], o.stdin_data.data() + written, o.stdin_data.size() - written);
  if (w > 0) written += static_cast<size_t>(w);
  if (w < 0 || written == o.stdin_data.size()) in.Close(1);
}

// Appends what `from` has to `to`; closes `from` at its end.
void Drain(Pipe& from, std::string& to) {
  char buf[65536];
  ssize_t r = read(from.fd[0], buf, sizeof buf);
  if (r > 0) {
    to.append(buf, static_cast<size_t>(r));
  } else if (r == 0 || errno != EINTR) {
    from.Close(0);
  }
}

// Feeds the child's stdin and collects its stdout and stderr until both are closed. A timeout
// (no output for the rest of it) or the cancel flag kills the child's process group instead.
void Exchange(const ProcessOptions& o, pid_t pid, ChildPipes& p, ProcessResult& result) {
  size_t written = 0;
  if (o.stdin_data.empty()) p.in.Close(1);
  auto deadline = o.timeout ? std::chrono::steady_clock::now() + *o.timeout
                            : std::chrono::steady_clock::time_point::max();
  while (p.out.fd[0] >= 0 || p.err.fd[0] >= 0) {
    pollfd fds[3];
    int n = 0;
    for (int fd : {p.out.fd[0], p.err.fd[0]}) {
      if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
    }
    if (p.in.fd[1] >= 0) fds[n++] = {p.in.fd[1], POLLOUT, 0};
    int ready = poll(fds, static_cast<nfds_t>(n), PollTimeoutMs(o, deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (Cancelled(o)) {
      result.cancelled = true;
      kill(-pid, SIGKILL);
      return;
    }
    if (ready == 0 && std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == p.in.fd[1]) {
        FeedStdin(o, p.in, written);
      } else if (fds[i].fd == p.out.fd[0]) {
        Drain(p.out, result.out);
      } else {
        Drain(p.err, result.err);
      }
    }
  }
}

// Waits for the child to end and records how. A child may close its output and run on: while
// there is a cancel flag, it is looked at between short waits.
void Reap(const ProcessOptions& o, pid_t pid, ProcessResult& result) {
  int wstatus = 0;
  if (o.cancel == nullptr) {
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
  } else {
    // Most children are gone by now: look again soon, then less often.
    std::chrono::milliseconds nap(1);
    while (true) {
      pid_t done = waitpid(pid, &wstatus, WNOHANG);
      if (done == pid || (done < 0 && errno != EINTR)) break;
      if (!result.cancelled && Cancelled(o)) {
        result.cancelled = true;
        kill(-pid, SIGKILL);
      }
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, kCancelCheck);
    }
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.term_signal = WTERMSIG(wstatus);
  }
}

}  // namespace

Result<pid_t> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("spawn", "empty argv");
  FileActions actions(spec);
  SpawnAttributes attr(spec);
  std::vector<std::string> argv_copy = spec.argv;
  std::vector<std::string> env_copy = spec.env;
  std::vector<char*> argv = CStrings(argv_copy);
  std::vector<char*> envp = CStrings(env_copy);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], actions.get(), attr.get(), argv.data(), envp.data());
  if (rc != 0) return Status::NotFound("cannot start " + spec.argv[0], std::strerror(rc));
  return pid;
}

std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& unset) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::string name = kv.substr(0, kv.find('='));
    bool drop = set.count(name) > 0 || std::find(unset.begin(), unset.end(), name) != unset.end();
    if (!drop) env.push_back(std::move(kv));
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

std::vector<std::string> AllowedEnvironment(const std::vector<std::string>& keep,
                                            const std::map<std::string, std::string>& set,
                                            const std::vector<std::string>& unset) {
  auto kept = [&keep](const std::string& name) {
    for (const std::string& k : keep) {
      bool prefix = !k.empty() && k.back() == '*';
      if (prefix ? name.compare(0, k.size() - 1, k, 0, k.size() - 1) == 0 : name == k) {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::string name = kv.substr(0, kv.find('='));
    bool dropped = set.count(name) > 0 ||
                   std::find(unset.begin(), unset.end(), name) != unset.end() || !kept(name);
    if (!dropped) env.push_back(std::move(kv));
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

PosixProcessRunner::PosixProcessRunner() { signal(SIGPIPE, SIG_IGN); }

Result<ProcessResult> PosixProcessRunner::Run(const ProcessOptions& o) {
  if (o.argv.empty()) return Status::InvalidArgument("run", "empty argv");
  ChildPipes pipes;
  for (Pipe* p : {&pipes.in, &pipes.out, &pipes.err}) {
    if (int rc = p->Open(); rc != 0) return Status::IOError("pipe", uv_strerror(rc));
  }
  Result<pid_t> spawned =
      Spawn({.argv = o.argv,
             .env = o.env_keep.empty() ? ChildEnvironment(o.env_set, o.env_unset)
                                       : AllowedEnvironment(o.env_keep, o.env_set, o.env_unset),
             .cwd = o.cwd,
             .fds = {{0, pipes.in.fd[0]}, {1, pipes.out.fd[1]}, {2, pipes.err.fd[1]}}});
  if (!spawned.ok()) return spawned.status();
  pipes.in.Close(0);
  pipes.out.Close(1);
  pipes.err.Close(1);
  ProcessResult result;
  Exchange(o, *spawned, pipes, result);
  pipes.in.Close(1);
  Reap(o, *spawned, result);
  return result;
}

}  // namespace orch
