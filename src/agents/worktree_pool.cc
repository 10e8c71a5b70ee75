#include "agents/worktree_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace orch {

WorktreePool::WorktreePool(Store& store, const Config& config, Runner& runner, FileSystem& files)
    : store_(store), config_(config), runner_(runner), files_(files) {}

bool WorktreePool::KeepIgnored(const Project& project) const {
  if (config_for_) return config_for_(project)->workflow.keep_ignored;
  return config_.workflow.keep_ignored;
}

std::string WorktreePool::BranchAt(const Project& project, const std::string& path) const {
  std::string prefix = runner_.WorktreePath(project.name, "");
  return path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : "";
}

std::string WorktreePool::FreeSlot(const Project& project,
                                   const std::vector<PooledWorktree>& rows) const {
  for (int n = 1;; ++n) {
    std::string slot = runner_.PoolDir(project.name) + "/" + std::to_string(n);
    bool taken = files_.Exists(slot) || std::any_of(rows.begin(), rows.end(),
                                                    [&](const auto& r) { return r.slot == slot; });
    if (!taken) return slot;
  }
}

Status WorktreePool::Discard(const Project& project, const PooledWorktree& row) {
  Status s = runner_.RemoveWorktree(project, row.slot, "");
  if (!row.other_path.empty() && row.state == PoolState::kParking) {
    // A park cut short: the done task's tree and branch go, as the sweep would have removed them.
    Status t = runner_.RemoveWorktree(project, row.other_path, BranchAt(project, row.other_path));
    if (s.ok()) s = t;
  } else if (!row.other_path.empty()) {
    // A lending cut short: the task's branch stays (it may hold an earlier attempt's work).
    Status t = runner_.RemoveWorktree(project, row.other_path, "");
    if (s.ok()) s = t;
  }
  if (!s.ok()) {
    spdlog::warn("dispatch: discarding the pooled work tree {}: {}", row.slot, s.message());
  }
  return store_.DeletePooledWorktree(row.slot);
}

Status WorktreePool::Release(const Project& project, const std::string& path,
                             const std::string& branch) {
  Result<std::vector<PooledWorktree>> rows = store_.ListPooledWorktrees();
  if (!rows.ok()) return rows.status();
  int pooled = static_cast<int>(std::count_if(rows->begin(), rows->end(), [&](const auto& r) {
    return r.project_id == project.id && r.state != PoolState::kLending;
  }));
  if (pooled >= config_.engine.worktree_pool) {
    Status s = runner_.RemoveWorktree(project, path, branch);
    if (!s.ok()) spdlog::warn("dispatch: removing {}: {}", path, s.message());
    return Status::OK();
  }
  PooledWorktree row{.slot = FreeSlot(project, *rows),
                     .project_id = project.id,
                     .state = PoolState::kParking,
                     .other_path = path};
  ORCH_RETURN_IF_ERROR(store_.SavePooledWorktree(row));  // before the tree is touched
  Result<std::string> head =
      runner_.ParkWorktree(project, path, branch, row.slot, KeepIgnored(project));
  if (!head.ok()) {
    spdlog::warn("dispatch: pooling {}: {}; removing it", path, head.status().message());
    return Discard(project, row);
  }
  row.state = PoolState::kReady;
  row.other_path.clear();
  row.head = *head;
  ORCH_RETURN_IF_ERROR(store_.SavePooledWorktree(row));
  spdlog::info("dispatch: pooled the work tree {} as {} (at {})", path, row.slot,
               row.head.substr(0, 12));
  return Status::OK();
}

std::string WorktreePool::Lend(const Project& project, int64_t task_id, const std::string& target) {
  if (config_.engine.worktree_pool <= 0 || files_.Exists(target + "/.git")) return "";
  for (;;) {
    Result<std::optional<PooledWorktree>> lent =
        store_.LendPooledWorktree(project.id, task_id, target);
    if (!lent.ok()) {
      spdlog::error("dispatch: lending a pooled work tree: {}", lent.status().message());
      return "";
    }
    if (!*lent) return "";
    if (files_.Exists((*lent)->slot + "/.git")) return (*lent)->slot;
    // Deleted by hand: forget it and take the next.
    spdlog::warn("dispatch: the pooled work tree {} is gone", (*lent)->slot);
    if (!store_.DeletePooledWorktree((*lent)->slot).ok()) return "";
  }
}

void WorktreePool::Returned(const std::string& slot) {
  if (slot.empty()) return;
  Status s = store_.DeletePooledWorktree(slot);
  if (!s.ok()) spdlog::error("dispatch: {}", s.message());
}

Status WorktreePool::Adopt(const std::set<std::string>& started_worktrees) {
  Result<std::vector<PooledWorktree>> rows = store_.ListPooledWorktrees();
  if (!rows.ok()) return rows.status();
  for (const PooledWorktree& row : *rows) {
    if (row.state == PoolState::kReady) continue;
    Result<Project> project = store_.FindProject(std::to_string(row.project_id));
    if (!project.ok()) return project.status();
    if (row.state == PoolState::kLending && started_worktrees.count(row.other_path)) {
      spdlog::info("dispatch: the pooled work tree lent to task {} is its work tree now",
                   row.task_id.value_or(0));
      ORCH_RETURN_IF_ERROR(store_.DeletePooledWorktree(row.slot));
      continue;
    }
    spdlog::warn("dispatch: discarding the work tree {} cut short while {} ({})", row.slot,
                 PoolStateName(row.state), row.other_path);
    ORCH_RETURN_IF_ERROR(Discard(*project, row));
  }
  return Status::OK();
}

Status WorktreePool::Trim(const Project& project) {
  Result<std::vector<PooledWorktree>> rows = store_.ListPooledWorktrees();
  if (!rows.ok()) return rows.status();
  std::vector<PooledWorktree> ready;
  std::set<std::string> named;
  for (const PooledWorktree& row : *rows) {
    if (row.project_id != project.id) continue;
    named.insert(row.slot);
    if (row.state != PoolState::kReady) continue;
    if (!files_.Exists(row.slot + "/.git")) {
      spdlog::warn("dispatch: the pooled work tree {} is gone", row.slot);
      ORCH_RETURN_IF_ERROR(store_.DeletePooledWorktree(row.slot));
      continue;
    }
    ready.push_back(row);
  }
  // The newest stay: their files are nearest to the next task's base.
  std::sort(ready.begin(), ready.end(),
            [](const auto& a, const auto& b) { return a.updated_at > b.updated_at; });
  for (size_t i = std::max(0, config_.engine.worktree_pool); i < ready.size(); ++i) {
    spdlog::info("dispatch: the work tree pool of {} is over its size; removing {}", project.name,
                 ready[i].slot);
    ORCH_RETURN_IF_ERROR(Discard(project, ready[i]));
  }
  std::string dir = runner_.PoolDir(project.name);
  for (const std::string& name : files_.List(dir)) {
    std::string path = dir + "/" + name;
    if (named.count(path)) continue;
    spdlog::warn("dispatch: removing {}, a pooled work tree no record names", path);
    Status s = runner_.RemoveWorktree(project, path, "");
    if (!s.ok()) spdlog::warn("dispatch: removing {}: {}", path, s.message());
  }
  return Status::OK();
}

}  // namespace orch
