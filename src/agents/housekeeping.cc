#include "agents/housekeeping.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <map>
#include <set>

namespace orch {

namespace {
constexpr int64_t kSweepEvery = 60;
constexpr int64_t kPruneEvery = 3600;

// A task in these states may still run an agent in its branch's work tree.
bool StillWorking(TaskStatus s) {
  return s == TaskStatus::kNew || s == TaskStatus::kRouted || s == TaskStatus::kInProgress ||
         s == TaskStatus::kBlocked;
}
}  // namespace

Housekeeping::Housekeeping(Store& store, const Config& config, const Clock& clock, Runner& runner,
                           FileSystem& files)
    : store_(store),
      config_(config),
      clock_(clock),
      runner_(runner),
      files_(files),
      pool_(store, config, runner, files) {}

void Housekeeping::SessionFinished(const std::string& session) {
  if (session.empty()) return;
  sessions_due_[session] = clock_.NowUnix() + config_.engine.keep_finished_sessions.count();
}

Status Housekeeping::RemoveFinishedSessions() {
  int64_t now = clock_.NowUnix();
  bool due = false;
  for (const auto& [name, at] : sessions_due_) due = due || at <= now;
  if (!due) return Status::OK();
  Result<std::vector<Attempt>> running = store_.UnfinishedAttempts();
  if (!running.ok()) return running.status();
  std::set<std::string> in_use;  // a retry of the same task runs in a session of the same name
  for (const Attempt& a : *running) in_use.insert(a.tmux_session);
  for (auto it = sessions_due_.begin(); it != sessions_due_.end();) {
    const std::string& name = it->first;
    if (it->second > now) {
      ++it;
      continue;
    }
    // Only a pane whose shim has exited: never a running agent.
    Result<bool> dead = runner_.tmux().PaneDead(name);
    if (!in_use.count(name) && dead.ok() && *dead) {
      Status s = runner_.tmux().KillSession(name);
      if (s.ok()) {
        spdlog::info("dispatch: removed the finished session {}", name);
      } else {
        spdlog::warn("dispatch: removing the session {}: {}", name, s.message());
      }
    }
    it = sessions_due_.erase(it);
  }
  return Status::OK();
}

Status Housekeeping::Step(const std::function<bool(int64_t)>& busy) {
  Status first = RemoveFinishedSessions().Prefixed("removing finished sessions");
  if (clock_.NowUnix() >= next_sweep_) {
    next_sweep_ = clock_.NowUnix() + kSweepEvery;
    Status s = SweepWorktrees(busy).status().Prefixed("sweeping work trees");
    if (first.ok()) first = s;
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
  for (const Project& p : *projects) {
    ORCH_RETURN_IF_ERROR(SweepProject(p, busy, &orphans));
    ORCH_RETURN_IF_ERROR(pool_.Trim(p));
  }
  return orphans;
}

Status Housekeeping::SweepProject(const Project& p, const std::function<bool(int64_t)>& busy,
                                  std::vector<std::string>* orphans) {
  std::string dir = runner_.WorktreePath(p.name, "orch");
  if (!files_.IsDirectory(dir)) return Status::OK();
  Result<std::vector<Task>> tasks = store_.ListTasks({.project_id = p.id});
  if (!tasks.ok()) return tasks.status();
  Result<std::vector<Attempt>> running = store_.UnfinishedAttempts();
  if (!running.ok()) return running.status();
  std::set<std::string> in_use;  // work trees of attempts not finished
  for (const Attempt& a : *running) in_use.insert(a.worktree);
  std::map<std::string, const Task*> by_branch;
  std::set<std::string> keep;
  for (const Task& t : *tasks) {
    // Follow-ups share their parent's branch; the parent decides when it goes.
    if (!t.branch.empty() && !IsFollowUp(t)) by_branch[t.branch] = &t;
    // A run's steps that may write keep their work trees: a flow's branch holds its work,
    // a debug session's its fix. Read-only ones (plans, reviews) go like any other.
    if (!t.branch.empty() && t.run_id && !t.read_only) keep.insert(t.branch);
    // So does a branch some task will still work on (a follow-up of an approved parent),
    // and any task with a job in flight.
    if (!t.branch.empty() && (StillWorking(t.status) || busy(t.id))) keep.insert(t.branch);
  }
  for (const std::string& name : files_.List(dir)) {
    std::string path = dir + "/" + name;
    std::string branch = "orch/" + name;
    if (keep.count(branch) || in_use.count(path)) continue;
    auto it = by_branch.find(branch);
    if (it == by_branch.end()) {
      spdlog::warn(
          "dispatch: orphan work tree {} (no task has branch {}); remove it with "
          "git -C {} worktree remove {}",
          path, branch, p.path, path);
      orphans->push_back(path);
    } else if (it->second->status == TaskStatus::kDone && !busy(it->second->id)) {
      spdlog::info("dispatch: releasing the work tree of done task {}", it->second->id);
      ORCH_RETURN_IF_ERROR(pool_.Release(p, path, branch));
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
