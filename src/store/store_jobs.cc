// Scheduled jobs' state: the `jobs` table, one row per job id with project_id NULL.
#include "store/sql.h"
#include "store/store.h"

namespace orch {
namespace {

const char* kJobColumns =
    "name, first_seen_at, last_slot_at, last_run_at, last_result, last_exit_code, last_output, "
    "last_task_id, enabled";

using sql::BindOpt;
using sql::OptInt;

JobState ReadJob(sql::Statement& q) {
  JobState j;
  j.id = q.getColumn(0).getString();
  j.first_seen_at = q.getColumn(1).getInt64();
  j.last_slot_at = OptInt(q.getColumn(2));
  j.last_run_at = OptInt(q.getColumn(3));
  j.last_result = q.getColumn(4).getString();
  if (auto code = OptInt(q.getColumn(5))) j.last_exit_code = static_cast<int>(*code);
  j.last_output = q.getColumn(6).getString();
  j.last_task_id = OptInt(q.getColumn(7));
  if (auto e = OptInt(q.getColumn(8))) j.enabled = *e != 0;
  return j;
}

}  // namespace

Result<std::vector<JobState>> Store::ListJobStates() {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kJobColumns +
                               " FROM jobs WHERE project_id IS NULL ORDER BY name");
    std::vector<JobState> out;
    while (q.executeStep()) out.push_back(ReadJob(q));
    return out;
  } catch (const std::exception& e) {
    return Error(e, "listing job state");
  }
}

Result<std::optional<JobState>> Store::GetJobState(const std::string& id) {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kJobColumns +
                               " FROM jobs WHERE project_id IS NULL AND name = ?");
    q.bind(1, id);
    if (q.executeStep()) return std::optional<JobState>(ReadJob(q));
    return std::optional<JobState>();
  } catch (const std::exception& e) {
    return Error(e, "reading job state");
  }
}

Status Store::SaveJobState(const JobState& j) {
  try {
    sql::Transaction txn(*db_);
    // The unique index is on an expression (COALESCE), so no ON CONFLICT: update, else insert.
    sql::Statement up(*db_,
                      "UPDATE jobs SET first_seen_at = ?2, last_slot_at = ?3, last_run_at = ?4, "
                      "last_result = ?5, last_exit_code = ?6, last_output = ?7, "
                      "last_task_id = (SELECT id FROM tasks WHERE id = ?8), enabled = ?9 "
                      "WHERE project_id IS NULL AND name = ?1");
    sql::Statement ins(*db_,
                       "INSERT INTO jobs(name, first_seen_at, last_slot_at, last_run_at, "
                       "last_result, last_exit_code, last_output, last_task_id, enabled) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT id FROM tasks WHERE id = "
                       "?8), ?9)");
    for (sql::Statement* q : {&up, &ins}) {
      q->bind(1, j.id);
      q->bind(2, static_cast<int64_t>(j.first_seen_at));
      BindOpt(*q, 3, j.last_slot_at);
      BindOpt(*q, 4, j.last_run_at);
      q->bind(5, j.last_result);
      BindOpt(*q, 6, j.last_exit_code);
      q->bind(7, j.last_output);
      BindOpt(*q, 8, j.last_task_id);
      BindOpt(*q, 9, j.enabled ? std::optional<int64_t>(*j.enabled ? 1 : 0) : std::nullopt);
    }
    if (up.exec() == 0) ins.exec();
    txn.commit();
    return Status::OK();
  } catch (const std::exception& e) {
    return Error(e, "saving job state");
  }
}

Status Store::DeleteJobState(const std::string& id) {
  try {
    sql::Statement q(*db_, "DELETE FROM jobs WHERE project_id IS NULL AND name = ?");
    q.bind(1, id);
    q.exec();
    return Status::OK();
  } catch (const std::exception& e) {
    return Error(e, "deleting job state");
  }
}

}  // namespace orch
