// Sync: the polling side of intake. For each project with a GitHub repository, lists the issues
// updated since its cursor with a conditional request, and applies the same rules as webhooks
// (intake.h), the runs `orch:debug` and `orch:plan` labels ask for included. When nothing
// changed GitHub answers 304, which costs no rate limit, so an idle sync is cheap. The cursor and
// the first page's ETag live in the store's kv table, written after the issues were applied. One
// issue whose intake fails (a 404 on its events, a 502 on a permission check) stops nothing: it
// is logged and kept in a retry list (kv `sync.retry.<repo>`) that the next syncs try first, by
// the issue's own request, until it works or has failed 10 times; the cursor moves on.
//
// Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_SYNC_H_
#define ORCH_ENGINE_SYNC_H_

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/intake.h"
#include "github/github.h"
#include "store/store.h"

namespace orch {

// An issue or pull request the listing showed as updated since the cursor (a label, a comment,
// its state...): the engine asks whether a webhook delivery brought it (delivery_watch.h).
struct SyncChange {
  int64_t number = 0;
  std::string updated_at;  // ISO-8601, GitHub's time of the change
};

struct SyncReport {
  bool not_modified = false;
  int issues_seen = 0;
  int tasks_created = 0;
  std::vector<SyncChange> changes;
};

class Syncer {
 public:
  Syncer(Store& store, GitHubClient& github, Intake& intake)
      : store_(store), github_(github), intake_(intake) {}

  // One conditional listing of `project`'s repository and the intake of what changed.
  Result<SyncReport> SyncProject(const Project& project, const IntakeRules& rules);

 private:
  // Starts the debug or plan run an `orch:debug` or `orch:plan` label asks for, as its webhook
  // would: once per issue and kind, and only for a trusted person who added the label.
  Status StartLabelledRuns(const Project& project, const Issue& issue, const IntakeRules& rules);
  // The intake of one listed issue: runs, a new task, a reopen, a close.
  Status SyncIssue(const Project& project, const Issue& issue, const IntakeRules& rules,
                   SyncReport* report);
  // The retry list: issue number -> failures so far.
  Result<std::map<int64_t, int>> LoadRetries(const std::string& repo);
  Status SaveRetries(const std::string& repo, const std::map<int64_t, int>& failed);
  void NoteFailure(const std::string& repo, int64_t number, const Status& why,
                   std::map<int64_t, int>* failed);
  Status RetryFailedIssues(const Project& project, const IntakeRules& rules,
                           std::map<int64_t, int>* failed, SyncReport* report);

  Store& store_;
  GitHubClient& github_;
  Intake& intake_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_SYNC_H_
