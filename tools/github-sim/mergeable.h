// Whether an open pull request merges cleanly into its base, worked out as GitHub does: from
// the repository's git objects. A repository is given a bare git directory with
// `POST /_sim/repos/{o}/{r}/git {"dir": PATH}` (the tests' local `origin`); its pull requests'
// `mergeable` and `mergeable_state` then follow the branches there. As on GitHub, the first read
// after the base or the head moved answers `mergeable: null`, `mergeable_state: "unknown"` (the
// merge is being computed) and later reads give the result: true and "clean", or false and
// "dirty" (the conflicting paths are kept for the `/_sim` view). Without a git directory an
// open pull request is always mergeable and clean.
//
// libgit2 (git_merge_trees on the merge base), nothing else. Thread safety: the caller holds
// the simulator's lock.
#ifndef ORCH_GITHUB_SIM_MERGEABLE_H_
#define ORCH_GITHUB_SIM_MERGEABLE_H_

#include <optional>
#include <string>
#include <vector>

namespace orch::sim {

struct MergeCheck {
  bool ok = false;                     // false: a branch is missing, or git failed
  std::string key;                     // "<base sha> <head sha>"
  bool clean = false;                  // no conflicting path
  std::vector<std::string> conflicts;  // the paths that conflict
  std::string error;                   // why not ok
};

// Merges refs/heads/`head` into refs/heads/`base` in memory in the repository at `git_dir`.
MergeCheck CheckMerge(const std::string& git_dir, const std::string& base, const std::string& head);

}  // namespace orch::sim

#endif  // ORCH_GITHUB_SIM_MERGEABLE_H_
