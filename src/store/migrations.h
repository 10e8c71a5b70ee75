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

namespace orch::sql {
class Connection;
}

namespace orch {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Step 10, the same SQL for both engines: hosts, leases, tasks' lease columns, attempts' host.
extern const char kHostsAndLeases[];

// orch's own migrations, in order: SQLite's, and PostgreSQL's (migrations_postgres.cc), which
// start with the schema SQLite's first 9 steps built, as its step 9, and from there go step by
// step with SQLite's. The one the connection speaks: MigrationsFor.
const std::vector<Migration>& Migrations();
const std::vector<Migration>& PostgresMigrations();
const std::vector<Migration>& MigrationsFor(sql::Connection& db);

// The highest version in schema_migrations; 0 for a new database.
Result<int> AppliedVersion(sql::Connection& db);

// Applies the steps of `migrations` above the applied version. Conflict when the database is
// newer than the newest step (written by a newer orch). Database errors come back as IOError.
Status ApplyMigrations(sql::Connection& db, const std::vector<Migration>& migrations,
                       int64_t now_unix);

}  // namespace orch

#endif  // ORCH_STORE_MIGRATIONS_H_
