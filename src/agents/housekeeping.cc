#include "agents/housekeeping.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <map>
#include <set>

namespace orch {

namespace {
constexpr int64_t kSweepEvery = 60;
constexpr int64_t kPruneEvery = 3600;
}  // namespace

Housekeeping::Housekeeping(SqliteStore& store, const Config& config, const Clock& clock,
                           Runner& runner, FileSystem& files)
    : store_(store), config_(config), clock_(clock), runner_(runner), files_(files) {}

Status Housekeeping::Step(const std::function<bool(int64_t)>& busy) {
  Status first;
  if (clock_.NowUnix() >= next_sweep_) {
    next_sweep_ = clock_.NowUnix() + kSweepEvery;
    first = SweepWorktrees(busy).status().Prefixed("sweeping work trees");
  }
  if (clock_.NowUnix() >= next_prune_) {
    next_prune_ = clock_.NowUnix() + kPruneEvery;
    Status s = PruneRunLogs(busy).status().Prefixed("pruning run logs");
    if (first.ok()) first = s;
  }
  return first;
}

Result<std::vector<std::string>> Housekeeping::SweepWorktrees(
    const std::function<bool(int64_t)>& busy) {
  std::vector<std::string> orphans;
  Result<std::vector<Project>> projects = store_.ListProjects();
  if (!projects.ok()) return projects.status();
  for (const Project& p : *projects) ORCH_RETURN_IF_ERROR(SweepProject(p, busy, &orphans));
  return orphans;
}

Status Housekeeping::SweepProject(const Project& p, const std::function<bool(int64_t)>& busy,
                                  std::vector<std::string>* orphans) {
  std::string dir = runner_.WorktreePath(p.name, "orch");
  if (!files_.IsDirectory(dir)) return Status::OK();
  Result<std::vector<Task>> tasks = store_.ListTasks({.project_id = p.id});
  if (!tasks.ok()) return tasks.status();
  std::map<std::string, const Task*> by_branch;
  std::set<std::string> keep;
  for (const Task& t : *tasks) {
    // Follow-ups share their parent's branch; the parent decides when it goes.
    if (!t.branch.empty() && !IsReviewFollowUp(t)) by_branch[t.branch] = &t;
    // A run's steps that may write keep their work trees: a flow's branch holds its work,
    // a debug session's its fix. Read-only ones (plans, reviews) go like any other.
    if (!t.branch.empty() && t.run_id && !t.read_only) keep.insert(t.branch);
  }
  for (const std::string& name : files_.List(dir)) {
    std::string path = dir + "/" + name;
    std::string branch = "orch/" + name;
    if (keep.count(branch)) continue;
    auto it = by_branch.find(branch);
    if (it == by_branch.end()) {
      spdlog::warn(
          "dispatch: orphan work tree {} (no task has branch {}); remove it with "
          "git -C {} worktree remove {}",
          path, branch, p.path, path);
      orphans->push_back(path);
    } else if (it->second->status == TaskStatus::kDone && !busy(it->second->id)) {
      Status s = runner_.RemoveWorktree(p, path, branch);
      if (s.ok()) {
        spdlog::info("dispatch: removed the work tree of done task {}", it->second->id);
      } else {
        spdlog::warn("dispatch: removing {}: {}", path, s.message());
      }
    }
  }
  return Status::OK();
}

Result<int> Housekeeping::PruneRunLogs(const std::function<bool(int64_t)>& busy) {
  int days = config_.engine.run_log_retention_days;
  if (days <= 0) return 0;
  int64_t before = clock_.NowUnix() - int64_t{days} * 86400;
  int removed = 0;
  for (const std::string& name : files_.List(runner_.AttemptsDir())) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int64_t id = std::atoll(name.c_str());
    if (busy(id)) continue;
    std::string path = runner_.AttemptsDir() + "/" + name;
    Result<Task> task = store_.GetTask(id);
    if (!task.ok() && !task.status().IsNotFound()) return task.status();
    if (task.ok()) {
      if (task->status != TaskStatus::kDone || task->updated_at >= before) continue;
    } else {
      // No such task (its project was removed): by the directory's age.
      Result<int64_t> changed = files_.ModifiedAt(path);
      if (!changed.ok() || *changed >= before) continue;
    }
    if (Status s = files_.RemoveAll(path); !s.ok()) {
      spdlog::warn("dispatch: {}", s.message());
      continue;
    }
    ++removed;
  }
  if (removed > 0) spdlog::info("dispatch: deleted the run logs of {} old task(s)", removed);
  return removed;
}

}  // namespace orch
