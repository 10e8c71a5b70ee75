// Cluster: this host's part in a fleet of orch hosts sharing one PostgreSQL store (issue 18).
//
// Each tick (Engine::Tick) starts with Step():
//   1. the heartbeat: this host's row in `hosts` and the leases of its tasks in progress, renewed
//      until now + cluster.lease_ttl (Store::Heartbeat);
//   2. the leader lease: held by one host at a time, taken over once it runs out. The leader
//      alone applies webhook deliveries, syncs, runs jobs, routes, advances runs, unblocks
//      parents and sends chat notifications; every host starts routed tasks up to its own
//      engine.max_parallel (the compare-and-set of routed -> in_progress is the claim) and
//      reaps its own agents;
//   3. the leader takes back the tasks of a host that stopped renewing its leases (killed, power
//      lost, cut off): their attempts end as failed ("host_lost"), the tasks go back to routed,
//      and whichever host starts one next works from its pushed branch.
// Why leases on hosts rather than rows locked for the length of a run: an agent runs for
// minutes, far longer than a transaction should stay open, and a heartbeat per host renews all
// of its leases in one statement.
//
// Thread safety: used by the engine's thread; leader() may be read from any thread.
#ifndef ORCH_ENGINE_CLUSTER_H_
#define ORCH_ENGINE_CLUSTER_H_

#include <atomic>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace orch {

class Cluster {
 public:
  // `store` has its host set (Store::SetHost).
  Cluster(Store& store, std::string version, int max_parallel);

  // The heartbeat, the leader lease, and (as leader) taking back lost hosts' tasks. Returns
  // whether this host leads now.
  Result<bool> Step();
  bool leader() const { return leader_.load(); }

  // The lease the leader holds.
  static constexpr const char* kLeaderLease = "leader";
  // The host whose leader lease has not run out at `now`; "" when none (for orch status and
  // the dashboard's Fleet page).
  static Result<std::string> CurrentLeader(Store& store, int64_t now);

 private:
  // Ends the unfinished attempts of tasks whose lease ran out, and sends them back to routed.
  Status TakeBackExpired();

  Store& store_;
  std::string version_;
  int max_parallel_;
  std::atomic<bool> leader_{false};
};

// The host id a fleet host goes by: cluster.host_id, else the machine's hostname.
std::string HostId(const std::string& configured);

}  // namespace orch

#endif  // ORCH_ENGINE_CLUSTER_H_
