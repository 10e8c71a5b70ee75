// Hosts and leases: the `hosts` and `leases` tables and tasks' lease columns (migration 10), for
// several orch hosts sharing one PostgreSQL store.
#include "store/sql.h"
#include "store/store.h"

namespace orch {

void Store::SetHost(const std::string& id, std::chrono::seconds lease_ttl) {
  host_ = id;
  lease_ttl_ = lease_ttl;
}

Status Store::Heartbeat(const std::string& version, int running, int max_parallel) {
  if (host_.empty()) return Status::OK();
  try {
    int64_t now = clock_.NowUnix();
    sql::Transaction txn(*db_);
    sql::Statement beat(*db_,
                        "INSERT INTO hosts(id, started_at, heartbeat_at, version, running, "
                        "max_parallel) VALUES (?1, ?2, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE "
                        "SET heartbeat_at = excluded.heartbeat_at, version = excluded.version, "
                        "running = excluded.running, max_parallel = excluded.max_parallel");
    beat.bind(1, host_);
    beat.bind(2, now);
    beat.bind(3, version);
    beat.bind(4, running);
    beat.bind(5, max_parallel);
    beat.exec();
    sql::Statement renew(*db_,
                         "UPDATE tasks SET lease_until = ? WHERE lease_owner = ? AND "
                         "status = 'in_progress'");
    renew.bind(1, now + lease_ttl_.count());
    renew.bind(2, host_);
    renew.exec();
    txn.commit();
    return Status::OK();
  } catch (const std::exception& e) {
    return Error(e, "recording the host's heartbeat");
  }
}

Result<std::vector<HostRecord>> Store::ListHosts() {
  try {
    sql::Statement q(*db_,
                     "SELECT h.id, h.started_at, h.heartbeat_at, h.version, h.running, "
                     "h.max_parallel, (SELECT COUNT(*) FROM tasks t WHERE t.lease_owner = h.id "
                     "AND t.status = 'in_progress') FROM hosts h ORDER BY h.id");
    std::vector<HostRecord> out;
    while (q.executeStep()) {
      out.push_back({.id = q.getColumn(0).getString(),
                     .started_at = q.getColumn(1).getInt64(),
                     .heartbeat_at = q.getColumn(2).getInt64(),
                     .version = q.getColumn(3).getString(),
                     .running = q.getColumn(4).getInt(),
                     .max_parallel = q.getColumn(5).getInt(),
                     .leases = q.getColumn(6).getInt()});
    }
    return out;
  } catch (const std::exception& e) {
    return Error(e, "listing hosts");
  }
}

Result<bool> Store::HoldLease(const std::string& name) {
  if (host_.empty()) return true;  // one machine: it holds everything
  try {
    int64_t now = clock_.NowUnix();
    // Taken when free or run out, renewed when ours; left alone while another's holds.
    sql::Statement take(*db_,
                        "INSERT INTO leases(name, owner, until_at) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, "
                        "until_at = excluded.until_at "
                        "WHERE leases.owner = excluded.owner OR leases.until_at < ?4");
    take.bind(1, name);
    take.bind(2, host_);
    take.bind(3, now + lease_ttl_.count());
    take.bind(4, now);
    return take.exec() == 1;
  } catch (const std::exception& e) {
    return Error(e, "taking a lease");
  }
}

Result<std::optional<std::pair<std::string, int64_t>>> Store::LeaseHolder(const std::string& name) {
  using Holder = std::optional<std::pair<std::string, int64_t>>;
  try {
    sql::Statement q(*db_, "SELECT owner, until_at FROM leases WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return Holder();
    return Holder(std::make_pair(q.getColumn(0).getString(), q.getColumn(1).getInt64()));
  } catch (const std::exception& e) {
    return Error(e, "reading a lease");
  }
}

Result<std::vector<Task>> Store::ExpiredLeases() {
  Result<std::vector<Task>> active = ListTasks({.status = TaskStatus::kInProgress});
  if (!active.ok()) return active.status();
  int64_t now = clock_.NowUnix();
  std::vector<Task> out;
  for (Task& t : *active) {
    if (!t.lease_owner.empty() && t.lease_until && *t.lease_until < now) {
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace orch
