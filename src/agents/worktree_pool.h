// WorktreePool: work trees of done tasks kept per project for the next task, so a task in a
// big repository starts by switching a tree it is lent (only the files that differ are
// written) instead of checking out a whole one.
//
// The sweep (housekeeping.h) hands it the work tree of a done task that nothing will use any
// more: Release() parks it (index, files and branch reset, untracked files removed, ignored ones
// too unless workflow.keep_ignored, moved to worktrees/<project>/.pool/<n>) while the project
// has fewer than engine.worktree_pool trees, and removes it otherwise. The dispatcher calls Lend()
// for a task that has no work tree yet; the runner moves the lent tree to the task's path and
// switches it to the task's branch from its base (WorktreeGit::ReuseWorktree), and Returned()
// then forgets it: it is the task's now, or the runner removed it.
//
// The pool's state is the store's worktree_pool table, written before each step on disk, so a
// restart finds a park or a lending that a crash cut short: Adopt() discards its tree (from
// both places it may be), unless the lent-to task's attempt got as far as its session, which
// finishes the lending. No half-switched tree goes back to the pool. Trim() (each sweep) removes
// trees beyond the pool's size, rows whose tree is gone and directories in .pool/ no row names.
//
// Thread safety: the engine's thread only. Release() does its git work synchronously (as the
// removal it replaces did): a reset and clean of the tree, then a rename.
#ifndef ORCH_AGENTS_WORKTREE_POOL_H_
#define ORCH_AGENTS_WORKTREE_POOL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agents/runner.h"
#include "base/file_system.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

class WorktreePool {
 public:
  // A project's settings (workflow.keep_ignored); the pool's size is the global engine's.
  using ConfigFor = std::function<std::shared_ptr<const Config>(const Project&)>;

  WorktreePool(Store& store, const Config& config, Runner& runner, FileSystem& files);
  void set_config_for(ConfigFor config_for) { config_for_ = std::move(config_for); }

  // The done task's work tree at `path` (on `branch`) is no longer needed: parked when the
  // project's pool has room, else removed with its branch. A park that fails removes the tree.
  // Fails only on store errors.
  Status Release(const Project& project, const std::string& path, const std::string& branch);
  // A pooled tree of `project`, now lent to `task_id` to become its work tree at `target`, or ""
  // when there is none to lend (empty pool, or `target` exists already). Store errors are
  // logged and lend nothing.
  std::string Lend(const Project& project, int64_t task_id, const std::string& target);
  // The runner is done with the tree lent from `slot` ("" is ignored).
  void Returned(const std::string& slot);
  // After a restart: finishes or discards what a crash left half done. `started_worktrees`: the
  // work trees of unfinished attempts that got as far as their session (Runner::Start writes
  // spec.json only once the work tree is ready).
  Status Adopt(const std::set<std::string>& started_worktrees);
  // Removes `project`'s trees beyond engine.worktree_pool, rows whose tree is gone, and
  // directories in its .pool/ that no row names.
  Status Trim(const Project& project);
  // Every project's pooled trees (orch doctor).
  Result<std::vector<PooledWorktree>> List() { return store_.ListPooledWorktrees(); }

 private:
  // Where a new tree of `project` goes: .pool/<n>, the lowest n no row or directory has.
  std::string FreeSlot(const Project& project, const std::vector<PooledWorktree>& rows) const;
  // Removes the tree of `row` wherever it may be and forgets the row.
  Status Discard(const Project& project, const PooledWorktree& row);
  bool KeepIgnored(const Project& project) const;
  // The branch whose work tree is at `path` (worktrees/<project>/<branch>).
  std::string BranchAt(const Project& project, const std::string& path) const;

  Store& store_;
  const Config& config_;
  Runner& runner_;
  FileSystem& files_;
  ConfigFor config_for_ = {};
};

}  // namespace orch

#endif  // ORCH_AGENTS_WORKTREE_POOL_H_
