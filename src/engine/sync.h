// Sync: the polling side of intake. For each project with a GitHub repository, lists the issues
// updated since its cursor with a conditional request, and applies the same rules as webhooks
// (intake.h), the runs `orch:debug` and `orch:plan` labels ask for included. When nothing
// changed GitHub answers 304, which costs no rate limit, so an idle sync is cheap. The cursor and
// the first page's ETag live in the store's kv table, written only after the issues were applied,
// so a failed sync is retried in full next time.
//
// Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_SYNC_H_
#define ORCH_ENGINE_SYNC_H_

#include <string>

#include "base/status.h"
#include "engine/intake.h"
#include "github/github.h"
#include "store/store.h"

namespace orch {

struct SyncReport {
  bool not_modified = false;
  int issues_seen = 0;
  int tasks_created = 0;
};

class Syncer {
 public:
  Syncer(SqliteStore& store, GitHubClient& github, Intake& intake)
      : store_(store), github_(github), intake_(intake) {}

  // One conditional listing of `project`'s repository and the intake of what changed.
  Result<SyncReport> SyncProject(const Project& project, const IntakeRules& rules);

 private:
  // Starts the debug or plan run an `orch:debug` or `orch:plan` label asks for, as its webhook
  // would: once per issue and kind, and only for a trusted person who added the label.
  Status StartLabelledRuns(const Project& project, const Issue& issue, const IntakeRules& rules);

  SqliteStore& store_;
  GitHubClient& github_;
  Intake& intake_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_SYNC_H_
