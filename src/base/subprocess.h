// ProcessRunner: starts child processes from an argv vector, never through a shell.
//
// Untrusted text (issue bodies, comments) may reach a child only as a separate argv element, in
// a file, or on stdin. The child gets its own process group so a timeout kills its children too.
// PosixProcessRunner is the real one (posix_spawn). Thread-safe: Run() may be called from any
// thread; each call is independent.
#ifndef ORCH_BASE_SUBPROCESS_H_
#define ORCH_BASE_SUBPROCESS_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace orch {

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::optional<std::string> cwd = std::nullopt;
  // Added to (or replacing in) the parent's environment.
  std::map<std::string, std::string> env_set = {};
  std::vector<std::string> env_unset = {};  // removed from the parent's environment
  // Written to the child's stdin, which is then closed (never a tty).
  std::string stdin_data = "";
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
};

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, or 0
  bool timed_out = false;
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

// The absolute path of the running orch binary (from /proc/self/exe, symlinks resolved), or ""
// when it cannot be known. Its directory is where the installed simulators and prompts are.
std::string ExecutablePath();

}  // namespace orch

#endif  // ORCH_BASE_SUBPROCESS_H_
