// The events feed: every event after a cursor, for readers that must see each one once
// (the notifier, notify.h).
#include <SQLiteCpp/SQLiteCpp.h>

#include "store.h"

namespace orch {

Result<std::vector<Event>> SqliteStore::EventsAfter(int64_t id, int limit) {
  try {
    SQLite::Statement q(*db_,
                        "SELECT id, task_id, kind, from_status, to_status, actor, reason, "
                        "created_at FROM events WHERE id > ? ORDER BY id LIMIT ?");
    q.bind(1, static_cast<int64_t>(id));
    q.bind(2, limit);
    std::vector<Event> out;
    while (q.executeStep()) {
      Event e;
      e.id = q.getColumn(0).getInt64();
      if (!q.getColumn(1).isNull()) e.task_id = q.getColumn(1).getInt64();
      e.kind = q.getColumn(2).getString();
      e.from_status = q.getColumn(3).getString();
      e.to_status = q.getColumn(4).getString();
      e.actor = q.getColumn(5).getString();
      e.reason = q.getColumn(6).getString();
      e.created_at = q.getColumn(7).getInt64();
      out.push_back(std::move(e));
    }
    return out;
  } catch (const std::exception& e) {
    return Error(e, "reading events");
  }
}

Result<int64_t> SqliteStore::MaxEventId() {
  try {
    SQLite::Statement q(*db_, "SELECT COALESCE(MAX(id), 0) FROM events");
    q.executeStep();
    return static_cast<int64_t>(q.getColumn(0).getInt64());
  } catch (const std::exception& e) {
    return Error(e, "reading events");
  }
}

}  // namespace orch
