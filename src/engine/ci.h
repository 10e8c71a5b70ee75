// CiHandler: a failing check on orch's pull request becomes work on that pull request.
//
//   a check run on the PR's head commit completes as failure or timed_out
//       -> one follow-up per failing head commit (source review, source id "ci <sha>"), on the
//          PR's branch, resuming the agent that wrote it; its body holds the check's name and
//          conclusion, its annotations (file:line: message) and the last kLogTailLines lines of
//          its job's log (secrets redacted); the task's reason and a comment on the PR say so.
//          After workflow.max_ci_fix_attempts such follow-ups, the task goes to needs_review.
//   a check run on the head commit passes after a failure -> the task's reason says the checks
//          pass and it waits for review again.
//   a check on another commit (older than orch's last push), another branch, a PR orch does
//          not own, or a task not in review -> recorded, ignored.
// check_run deliveries say which check; check_suite and workflow_run deliveries name a commit,
// whose check runs are then listed. These events name as sender whoever pushed, orch itself
// for its own PRs, so intake does not drop them as orch's own. The sync asks the checks of every
// in_review task's PR head, so nothing depends on webhooks. The same check seen twice makes one
// follow-up (keyed by the commit).
//
// The same sync reads whether each PR still merges: a base that moved into conflict makes a
// follow-up too (ApplyMergeable).
//
// Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_CI_H_
#define ORCH_ENGINE_CI_H_

#include <string>

#include "base/status.h"
#include "config/config_set.h"
#include "github/github.h"
#include "store/store.h"

namespace orch {

// How much of a failed job's log a follow-up carries.
constexpr int kLogTailLines = 200;

class CiHandler {
 public:
  CiHandler(Store& store, GitHubClient& github, ConfigSet configs)
      : store_(store), github_(github), configs_(std::move(configs)) {}

  // A completed (or not) check run of `project`'s repository; says what it did. Fails only when
  // the store or GitHub did (the caller retries).
  Result<std::string> ApplyCheck(const Project& project, const CheckRun& check);
  // A commit whose checks completed (check_suite, workflow_run): applies each of its check runs.
  Result<std::string> ApplyCommit(const Project& project, const std::string& head_sha);
  // A pull request of orch's in review that GitHub says no longer merges (mergeable false,
  // mergeable_state "dirty"): one follow-up per pair of base and head commits, on its branch,
  // that brings the base in before its agent starts (workflow.update_strategy; agents/git.h
  // UpdateFromBase) and resolves the conflicts; a comment on the PR says so. "" when nothing
  // was made.
  Result<std::string> ApplyMergeable(const Project& project, const PullRequest& pr);
  // The checks of one open pull request orch has read already: the sync's, from
  // ReviewHandler::Sync, which reads each in_review task's PR once for its reviews and checks.
  // Returns how many made or changed something.
  Result<int> SyncPull(const Project& project, const PullRequest& pr);

 private:
  // ApplyCheck's work; `known`, when it is the owner's PR, spares reading it again.
  Result<std::string> Judge(const Project& project, const CheckRun& check,
                            const PullRequest* known);
  Result<std::string> Failed(const Project& project, const Task& parent, int64_t pr,
                             const CheckRun& check);
  std::string FollowUpBody(const Project& project, const Task& parent, int64_t pr,
                           const CheckRun& check);

  Store& store_;
  GitHubClient& github_;
  ConfigSet configs_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_CI_H_
