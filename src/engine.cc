#include "engine.h"

#include <spdlog/spdlog.h>

#include <string>

namespace orch {

Result<TickReport> Engine::Tick() {
  TickReport report;
  Status first;
  Result<int> unblocked = UnblockFinishedParents();
  if (unblocked.ok()) {
    report.parents_unblocked = *unblocked;
  } else {
    spdlog::error("engine: unblocking parents: {}", unblocked.status().message());
    first = unblocked.status();
  }
  Status beat = store_.SetKv(kHeartbeatKey, std::to_string(clock_.NowUnix()));
  if (!beat.ok() && first.ok()) first = beat;
  if (!first.ok()) return first;
  return report;
}

Result<int> Engine::UnblockFinishedParents() {
  Result<std::vector<Task>> blocked = store_.ListTasks({.status = TaskStatus::kBlocked});
  if (!blocked.ok()) return blocked.status();
  int moved = 0;
  for (const Task& parent : *blocked) {
    Result<std::vector<Task>> children = store_.ListTasks({.parent_id = parent.id});
    if (!children.ok()) return children.status();
    if (children->empty()) continue;  // blocked on something other than children
    bool all_done = true;
    for (const Task& c : *children) all_done = all_done && c.status == TaskStatus::kDone;
    if (!all_done) continue;
    Status s = store_.Transition(
        parent.id, TaskStatus::kBlocked, TaskStatus::kNew,
        {"engine", "all " + std::to_string(children->size()) + " child tasks are done"});
    if (s.IsConflict()) continue;  // someone moved it meanwhile; their move stands
    if (!s.ok()) return s;
    spdlog::info("engine: task {} unblocked, its children are done", parent.id);
    ++moved;
  }
  return moved;
}

}  // namespace orch
