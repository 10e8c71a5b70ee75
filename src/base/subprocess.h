// ProcessRunner: starts child processes from an argv vector, never through a shell.
//
// Untrusted text (issue bodies, comments) may reach a child only as a separate argv element, in
// a file, or on stdin. The child gets its own process group so a timeout kills its children too.
// PosixProcessRunner is the real one; it and `orch shim` both start their children through
// Spawn(), the one place that calls posix_spawn. Thread-safe: Run() and Spawn() may be called
// from any thread; each call is independent.
#ifndef ORCH_BASE_SUBPROCESS_H_
#define ORCH_BASE_SUBPROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/platform.h"  // ExecutablePath(), which most callers of Spawn() want too
#include "base/status.h"

namespace orch {

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::optional<std::string> cwd = std::nullopt;
  // Added to (or replacing in) the parent's environment.
  std::map<std::string, std::string> env_set = {};
  std::vector<std::string> env_unset = {};  // removed from the parent's environment
  // When given, an allowlist: only these of the parent's variables ("LC_*" names a prefix),
  // then env_set (AllowedEnvironment). For agent CLIs, which must not see orch's secrets.
  std::vector<std::string> env_keep = {};
  // Written to the child's stdin, which is then closed (never a tty).
  std::string stdin_data = "";
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
  // Read at least every 100 ms while the child runs; once it reads true, the child's process
  // group is killed (SIGKILL, as on a timeout) and Run() returns with `cancelled` set. Must
  // outlive the Run() call.
  const std::atomic<bool>* cancel = nullptr;
};

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, or 0
  bool timed_out = false;
  bool cancelled = false;  // killed because ProcessOptions::cancel read true
  std::string out;
  std::string err;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs to completion. Fails with NotFound when argv[0] cannot be started, IOError on pipe
  // trouble; a child that runs and exits non-zero is a success with that exit code.
  virtual Result<ProcessResult> Run(const ProcessOptions& options) = 0;
};

// Constructing one sets SIGPIPE to be ignored in this process: a child that exits before
// reading its stdin must give EPIPE on write, not kill orch.
class PosixProcessRunner : public ProcessRunner {
 public:
  PosixProcessRunner();
  Result<ProcessResult> Run(const ProcessOptions& options) override;
};

// What Spawn() starts.
struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in this process's PATH without a '/'
  std::vector<std::string> env;   // the child's whole environment, "NAME=value" each
  std::optional<std::string> cwd = std::nullopt;  // none: this process's
  // The child's file descriptors: child fd -> this process's fd, dup2'ed before exec. Other
  // descriptors are inherited unless they are close-on-exec.
  std::map<int, int> fds = {};
  // The child leads a new process group, so kill(-pid, ...) reaches its children too.
  bool new_process_group = true;
};

// Starts a child from `spec.argv` (never a shell) with an empty signal mask and every signal at
// its default action, and returns its pid; the caller reaps it. NotFound ("cannot start
// <argv[0]>: <why>") when it cannot be started, InvalidArgument for an empty argv.
Result<pid_t> Spawn(const SpawnSpec& spec);

// This process's environment (in its order) without the names in `unset` or `set`, then `set`.
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& unset);

// Only the variables of this process's environment that `keep` names and `unset` does not (in
// its order), then `set`. An entry of `keep` ending in '*' names a prefix ("LC_*"). For a child
// that must not see orch's secrets: an allowlist, never orch's environment minus a denylist.
std::vector<std::string> AllowedEnvironment(const std::vector<std::string>& keep,
                                            const std::map<std::string, std::string>& set,
                                            const std::vector<std::string>& unset = {});

}  // namespace orch

#endif  // ORCH_BASE_SUBPROCESS_H_
