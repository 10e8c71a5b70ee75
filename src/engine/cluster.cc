#include "engine/cluster.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <utility>

namespace orch {

Cluster::Cluster(Store& store, std::string version, int max_parallel)
    : store_(store), version_(std::move(version)), max_parallel_(max_parallel) {}

Result<bool> Cluster::Step() {
  Result<std::vector<Attempt>> running = store_.UnfinishedAttempts();  // this host's
  if (!running.ok()) return running.status();
  ORCH_RETURN_IF_ERROR(
      store_.Heartbeat(version_, static_cast<int>(running->size()), max_parallel_));
  Result<bool> leads = store_.HoldLease(kLeaderLease);
  if (!leads.ok()) {
    leader_ = false;
    return leads.status();
  }
  if (*leads != leader_.load()) {
    spdlog::info("cluster: host {} {} the leader", store_.host(),
                 *leads ? "is now" : "is no longer");
  }
  leader_ = *leads;
  if (*leads) ORCH_RETURN_IF_ERROR(TakeBackExpired());
  return *leads;
}

Status Cluster::TakeBackExpired() {
  Result<std::vector<Task>> expired = store_.ExpiredLeases();
  if (!expired.ok()) return expired.status();
  for (const Task& t : *expired) {
    std::string why = "host " + t.lease_owner + " stopped renewing its lease";
    Result<std::vector<Attempt>> attempts = store_.ListAttempts(t.id);  // every host's
    if (!attempts.ok()) return attempts.status();
    for (Attempt a : *attempts) {
      if (a.finished_at) continue;
      a.outcome = "failed";
      a.error_class = "host_lost";
      a.summary = why;
      Status s = store_.FinishAttempt(a);
      if (!s.ok() && !s.IsConflict()) return s;
    }
    Status moved = store_.Transition(
        t.id, TaskStatus::kInProgress, TaskStatus::kRouted,
        {"cluster:" + store_.host(), why + "; another host takes it from its pushed branch"});
    if (moved.ok()) {
      spdlog::warn("cluster: task {}: {}; back to routed", t.id, why);
    } else if (!moved.IsConflict()) {
      return moved;
    }
  }
  return Status::OK();
}

Result<std::string> Cluster::CurrentLeader(Store& store, int64_t now) {
  Result<std::optional<std::pair<std::string, int64_t>>> holder = store.LeaseHolder(kLeaderLease);
  if (!holder.ok()) return holder.status();
  return *holder && (*holder)->second >= now ? (*holder)->first : std::string();
}

std::string HostId(const std::string& configured) {
  if (!configured.empty()) return configured;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "orch";
  return name;
}

}  // namespace orch
