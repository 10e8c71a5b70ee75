// Logging: spdlog set up for orch, and the reading side behind `orch log`.
//
// The daemon logs to $ORCH_HOME/state/orch.log, rotated at 5 MB with 3 old files kept, and in
// the foreground also to stderr. Secrets never go into log lines (callers' duty; config is
// never logged whole). spdlog's loggers are thread-safe (the _mt sinks).
#ifndef ORCH_BASE_LOG_H_
#define ORCH_BASE_LOG_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace orch {

constexpr size_t kLogFileBytes = 5 * 1024 * 1024;
constexpr size_t kLogFilesKept = 3;

// Makes the default spdlog logger write to `log_path` (creating its directory) and, when
// `to_stderr`, to stderr. IOError when the file cannot be opened.
Status InitLogging(const std::string& log_path, bool to_stderr);

// The last `n` lines of `path` (fewer if it is shorter). NotFound when there is no file.
Result<std::vector<std::string>> TailLines(const std::string& path, size_t n);

// Calls `emit` with bytes appended to `path` from byte `offset` on, polling every
// `poll_ms`, until `stop` is set. A file that shrinks or is replaced (rotation) is read again
// from its start. Returns when stopped.
void FollowFile(const std::string& path, uint64_t offset, int poll_ms,
                const std::atomic<bool>& stop, const std::function<void(std::string_view)>& emit);

}  // namespace orch

#endif  // ORCH_BASE_LOG_H_
