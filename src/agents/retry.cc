#include "agents/retry.h"

#include <algorithm>

namespace orch {

int64_t RetryDelay(int attempt, int64_t base, int64_t cap, std::mt19937_64& rng) {
  int64_t ceiling = std::min(cap, base << std::clamp(attempt - 1, 0, 20));
  if (ceiling <= 0) return 0;
  return std::uniform_int_distribution<int64_t>(0, ceiling)(rng);
}

bool IsTransient(AgentError e) {
  return e == AgentError::kRateLimit || e == AgentError::kModelUnavailable ||
         e == AgentError::kTimeout || e == AgentError::kFailed;
}

std::string RetryKey(int64_t task_id) { return "retry.not_before." + std::to_string(task_id); }

RetryPolicy::RetryPolicy(Store& store, ConfigSet configs, const Clock& clock, Breakers* breakers,
                         std::function<bool(const std::string&)> installed)
    : store_(store),
      configs_(std::move(configs)),
      clock_(clock),
      breakers_(breakers),
      installed_(std::move(installed)) {}

std::string RetryPolicy::NextAgent(const Task& task, const std::string& failed) const {
  std::shared_ptr<const Config> config = configs_.ForProject(task.project_id);
  const auto& agents = config->router.agents;
  int64_t now = clock_.NowUnix();
  auto it = std::find(agents.begin(), agents.end(), failed);
  size_t start = it == agents.end() ? 0 : static_cast<size_t>(it - agents.begin()) + 1;
  for (size_t i = 0; i < agents.size(); ++i) {
    const std::string& a = agents[(start + i) % agents.size()];
    if (a == failed) continue;
    bool cooling = false;
    for (const auto& [key, until] : cooldown_until_) {
      cooling = cooling || (key.rfind(a + ":", 0) == 0 && until > now);
    }
    if (cooling || (breakers_ && !breakers_->Available(a))) continue;
    if (installed_(a)) return a;
  }
  return failed;
}

Result<Route> RetryPolicy::SwitchAgent(const Task& task, const std::string& next,
                                       const std::string& why) {
  Result<Route> route = RouteFromJson(task.route.value_or("{}"));
  if (!route.ok()) return route;
  route->agent = next;
  route->by = "failover";
  route->reason = why;
  route->model =
      ModelFor(*configs_.ForProject(task.project_id), route->complexity, next, IsFollowUp(task));
  ORCH_RETURN_IF_ERROR(store_.SetTaskRoute(task.id, RouteToJson(*route).dump()));
  ORCH_RETURN_IF_ERROR(store_.SetTaskAgentSession(task.id, ""));
  return route;
}

Status RetryPolicy::Fail(const Task& task, const std::string& agent, const std::string& model,
                         const std::string& why, AgentError error) {
  if (error == AgentError::kRateLimit) {
    cooldown_until_[agent + ":" + model] = clock_.NowUnix() + kRateLimitCooldown;
  }
  Result<Task> now = store_.GetTask(task.id);
  if (!now.ok()) return now.status();
  if (now->status != TaskStatus::kInProgress) return Status::OK();  // moved meanwhile
  std::shared_ptr<const Config> config = configs_.ForProject(task.project_id);
  const WorkflowConfig& workflow = config->workflow;
  if (now->attempts + 1 >= workflow.max_attempts) {
    return store_.Transition(
        task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
        {"engine", "attempt " + std::to_string(now->attempts + 1) + " of " +
                       std::to_string(workflow.max_attempts) + " failed: " + why},
        AttemptEffect::kCount);
  }
  std::string next = now->run_id ? agent : NextAgent(*now, agent);  // a run's step keeps its agent
  if (next != agent) {
    Result<Route> switched = SwitchAgent(*now, next, agent + " failed: " + why);
    // A route that does not parse is routed afresh when the task starts (StartRouted).
    if (!switched.ok() && switched.status().code() != StatusCode::kCorruption) {
      return switched.status();
    }
  }
  std::string wait;
  if (IsTransient(error) && workflow.retry_base_delay.count() > 0) {
    int64_t delay = RetryDelay(now->attempts + 1, workflow.retry_base_delay.count(),
                               workflow.retry_max_delay.count(), rng_);
    ORCH_RETURN_IF_ERROR(store_.SetKv(RetryKey(task.id), std::to_string(clock_.NowUnix() + delay)));
    wait = " in " + std::to_string(delay) + "s";
  }
  return store_.Transition(
      task.id, TaskStatus::kInProgress, TaskStatus::kRouted,
      {"engine",
       why + (next != agent ? "; failing over to " + next : "; retrying " + agent) + wait},
      AttemptEffect::kCount);
}

}  // namespace orch
