// Migrations: the store's schema as an ordered list of versioned steps.
//
// Each step runs once, in its own IMMEDIATE transaction together with its row in
// schema_migrations, so a crash leaves either all of a step or none of it, and two processes
// opening the same file at once apply each step once. Steps are only ever appended; a shipped
// step is never edited. Not thread-safe: the caller owns the connection.
#ifndef ORCH_STORE_MIGRATIONS_H_
#define ORCH_STORE_MIGRATIONS_H_

#include <cstdint>
#include <vector>

#include "base/status.h"

namespace SQLite {
class Database;
}

namespace orch {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// orch's own migrations, in order.
const std::vector<Migration>& Migrations();

// The highest version in schema_migrations; 0 for a new database.
Result<int> AppliedVersion(SQLite::Database& db);

// Applies the steps of `migrations` above the applied version. Conflict when the database is
// newer than the newest step (written by a newer orch). SQLite errors come back as IOError.
Status ApplyMigrations(SQLite::Database& db, const std::vector<Migration>& migrations,
                       int64_t now_unix);

}  // namespace orch

#endif  // ORCH_STORE_MIGRATIONS_H_
