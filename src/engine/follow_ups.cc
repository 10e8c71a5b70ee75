#include "engine/follow_ups.h"

#include <spdlog/spdlog.h>

namespace orch {

Result<std::optional<Task>> PullRequestOwner(Store& store, const Project& project, int64_t pr,
                                             const std::string& head) {
  Result<std::vector<Task>> found = store.ListTasks({.project_id = project.id, .pr_number = pr});
  if (!found.ok()) return found.status();
  for (const Task& t : *found) {
    if (!IsFollowUp(t)) return std::optional<Task>(t);
  }
  if (head.empty()) return std::optional<Task>();
  found = store.ListTasks({.project_id = project.id});
  if (!found.ok()) return found.status();
  for (const Task& t : *found) {
    if (IsFollowUp(t) || t.branch != head || t.pr_number) continue;
    ORCH_RETURN_IF_ERROR(store.SetTaskPullRequest(t.id, pr));
    spdlog::info("reviews: {} #{}: tied to task {} by its branch {}", project.name, pr, t.id, head);
    Task tied = t;
    tied.pr_number = pr;
    return std::optional<Task>(tied);
  }
  return std::optional<Task>();
}

}  // namespace orch
