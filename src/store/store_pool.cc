// The work tree pool: the `worktree_pool` table (agents/worktree_pool.h says what the rows mean).
#include "store/sql.h"
#include "store/store.h"

namespace orch {
namespace {

const char* kPoolColumns = "slot, project_id, state, other_path, task_id, head, updated_at";

PoolState ParseState(const std::string& s) {
  if (s == "parking") return PoolState::kParking;
  if (s == "lending") return PoolState::kLending;
  return PoolState::kReady;
}

PooledWorktree ReadRow(sql::Statement& q) {
  PooledWorktree r;
  r.slot = q.getColumn(0).getString();
  r.project_id = q.getColumn(1).getInt64();
  r.state = ParseState(q.getColumn(2).getString());
  r.other_path = q.getColumn(3).getString();
  r.task_id = sql::OptInt(q.getColumn(4));
  r.head = q.getColumn(5).getString();
  r.updated_at = q.getColumn(6).getInt64();
  return r;
}

}  // namespace

const char* PoolStateName(PoolState state) {
  switch (state) {
    case PoolState::kParking:
      return "parking";
    case PoolState::kLending:
      return "lending";
    case PoolState::kReady:
      break;
  }
  return "ready";
}

Result<std::vector<PooledWorktree>> Store::ListPooledWorktrees() {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kPoolColumns +
                               " FROM worktree_pool ORDER BY project_id, slot");
    std::vector<PooledWorktree> out;
    while (q.executeStep()) out.push_back(ReadRow(q));
    return out;
  } catch (const std::exception& e) {
    return Error(e, "listing the work tree pool");
  }
}

Status Store::SavePooledWorktree(const PooledWorktree& row) {
  try {
    sql::Statement q(*db_,
                     "INSERT INTO worktree_pool(slot, project_id, state, other_path, "
                     "task_id, head, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT(slot) DO UPDATE SET project_id = excluded.project_id, "
                     "state = excluded.state, other_path = excluded.other_path, "
                     "task_id = excluded.task_id, head = excluded.head, "
                     "updated_at = excluded.updated_at");
    q.bind(1, row.slot);
    q.bind(2, static_cast<int64_t>(row.project_id));
    q.bind(3, PoolStateName(row.state));
    q.bind(4, row.other_path);
    sql::BindOpt(q, 5, row.task_id);
    q.bind(6, row.head);
    q.bind(7, static_cast<int64_t>(clock_.NowUnix()));
    q.exec();
    return Status::OK();
  } catch (const std::exception& e) {
    return Error(e, "saving a pooled work tree");
  }
}

Status Store::DeletePooledWorktree(const std::string& slot) {
  try {
    sql::Statement q(*db_, "DELETE FROM worktree_pool WHERE slot = ?");
    q.bind(1, slot);
    q.exec();
    return Status::OK();
  } catch (const std::exception& e) {
    return Error(e, "deleting a pooled work tree");
  }
}

Result<std::optional<PooledWorktree>> Store::LendPooledWorktree(int64_t project_id, int64_t task_id,
                                                                const std::string& target) {
  try {
    sql::Transaction txn(*db_);
    sql::Statement q(*db_, std::string("SELECT ") + kPoolColumns +
                               " FROM worktree_pool WHERE project_id = ? AND state = 'ready'"
                               " ORDER BY updated_at DESC, slot LIMIT 1");
    q.bind(1, static_cast<int64_t>(project_id));
    if (!q.executeStep()) return std::optional<PooledWorktree>();
    PooledWorktree row = ReadRow(q);
    row.state = PoolState::kLending;
    row.other_path = target;
    row.task_id = task_id;
    row.updated_at = clock_.NowUnix();
    sql::Statement up(*db_,
                      "UPDATE worktree_pool SET state = 'lending', other_path = ?, task_id = ?, "
                      "updated_at = ? WHERE slot = ? AND state = 'ready'");
    up.bind(1, target);
    up.bind(2, static_cast<int64_t>(task_id));
    up.bind(3, static_cast<int64_t>(row.updated_at));
    up.bind(4, row.slot);
    if (up.exec() != 1) return Status::Conflict("lending " + row.slot, "no longer ready");
    txn.commit();
    return std::optional<PooledWorktree>(row);
  } catch (const std::exception& e) {
    return Error(e, "lending a pooled work tree");
  }
}

}  // namespace orch
