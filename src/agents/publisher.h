// Publisher: what orch does with an agent's work once the agent has ended. It commits what the
// agent left (as orch, not as the agent), counts the commits beyond the base, pushes the branch,
// finds or opens its pull request, labels and comments on the issue. Task attempts (dispatch.h)
// and flows (runs/run_engine.h) publish through it the same way.
//
// Every call waits on git or GitHub: call it on a WorkQueue worker, never on the engine's
// thread. A retryable failure (network, 5xx, a rate limit) is tried again, kTries times in all,
// 1 s then 2 s apart; other failures return at once. Publishing twice (after a crash) pushes the
// same branch again and finds the pull request the first time opened.
//
// Thread safety: as safe as the Runner and GitHubClient it is given (both are, for different
// work trees; the daemon's GitHubClient is a LockedGitHubClient).
#ifndef ORCH_AGENTS_PUBLISHER_H_
#define ORCH_AGENTS_PUBLISHER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agents/runner.h"
#include "base/status.h"
#include "github/github.h"
#include "store/store.h"

namespace orch {

class Publisher {
 public:
  static constexpr int kTries = 3;
  using Sleep = std::function<void(std::chrono::seconds)>;

  // `github` may be null: branches are pushed, and no pull request, label or comment is made.
  // `sleep` waits between tries (a test passes one that returns at once).
  Publisher(Runner& runner, GitHubClient* github, Sleep sleep = {});

  // True when orch has GitHub credentials at all.
  bool has_github() const { return github_ != nullptr; }
  // True when pull requests can be opened for `project` (GitHub, and a repository to open on).
  bool OnGitHub(const Project& project) const { return github_ && project.repo; }

  // Commits what is uncommitted in `worktree` as orch. True when there was something to commit.
  Result<bool> Commit(const std::string& worktree, const std::string& message);
  // Commits on the work tree's branch beyond the base task `task_id`'s work started from.
  Result<int> Ahead(const std::string& worktree, int64_t task_id);
  // Ends a base update's merge or rebase of `branch` in `worktree` (git.h FinishMerge): the
  // paths still in conflict.
  Result<std::vector<std::string>> FinishMerge(const Project& project, const std::string& worktree,
                                               const std::string& branch,
                                               const std::vector<std::string>& conflicted) {
    return runner_.FinishMerge(project, worktree, branch, conflicted);
  }
  // The base branch task `task_id`'s work started from.
  std::string Base(int64_t task_id) const { return runner_.Base(task_id); }

  // Pushes `pr.head` from `worktree`, then returns the branch's open pull request, opening one
  // from `pr` when there is none. nullopt when !OnGitHub(project): pushed only. The failure
  // says which step failed ("push failed: ...", "looking for the branch's pull request failed:
  // ...", "opening the pull request failed: ...") and keeps its code (retryable or not).
  Result<std::optional<PullRequest>> Publish(const Project& project, const std::string& worktree,
                                             const NewPullRequest& pr);

  // Comments on issue or pull request `number` with `text` (secrets redacted first). A failure
  // is logged: a comment never fails the work it reports. With a `key` (e.g. "attempt 42"),
  // once: the comment carries it in a hidden marker, and a thread that has one already gets no
  // second (an attempt reaped again after a restart, or by another host of a fleet).
  void Comment(const Project& project, int64_t number, const std::string& text,
               const std::string& key = "");
  // Asks `question` on issue or pull request `number`, addressed to `to` (empty: the issue's
  // author, unless that is orch): the comment made, with retries; NotFound without GitHub.
  Result<orch::Comment> Ask(const Project& project, int64_t number, const std::string& to,
                            const std::string& text);
  // Adds `labels` to issue `number`; a failure is logged.
  void Label(const Project& project, int64_t number, const std::vector<std::string>& labels);

 private:
  template <typename F>
  auto WithRetries(F f) -> decltype(f());

  Runner& runner_;
  GitHubClient* github_;
  Sleep sleep_;
};

}  // namespace orch

#endif  // ORCH_AGENTS_PUBLISHER_H_
