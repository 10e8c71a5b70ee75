// What reviews (reviews.h) and mentions (mentions.h) share about the pull requests their
// follow-ups work on: which task owns a pull request, how much of a diff hunk a follow-up
// carries, and how its title is cut.
//
// Thread safety: one thread (the engine's), as the store calls are.
#ifndef ORCH_ENGINE_FOLLOW_UPS_H_
#define ORCH_ENGINE_FOLLOW_UPS_H_

#include <cstddef>
#include <optional>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace orch {

// The diff hunk of a follow-up is cut past this many characters.
constexpr size_t kMaxDiffHunk = 2000;

// The task that owns pull request `pr`: the one whose work opened it, not a follow-up. The PR's
// number reaches the task only when the engine applies the attempt that opened it, a moment
// after GitHub has it; an event in between finds the task by the PR's branch (`head`, when
// known), and ties the PR to it.
Result<std::optional<Task>> PullRequestOwner(Store& store, const Project& project, int64_t pr,
                                             const std::string& head);

// A follow-up's title is made from the first line of what asked for it, cut past `max`
// characters with "...".
inline std::string FirstLine(const std::string& text, size_t max) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max) + "...";
  return line;
}

// orch names its branches orch/...: a PR on one that no task owns yet may be a race with the
// task's own bookkeeping, so its event is retried rather than dropped.
inline bool MayBeOurs(const std::string& head) { return head.rfind("orch/", 0) == 0; }

}  // namespace orch

#endif  // ORCH_ENGINE_FOLLOW_UPS_H_
