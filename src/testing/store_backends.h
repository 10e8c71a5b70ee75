// The store's two engines for parameterized tests: each TEST_P of a suite instantiated with
// StoreBackends() runs once on a SQLite file and once on a fresh schema of the test process's
// real PostgreSQL (postgres_server.h).
#ifndef ORCH_TESTING_STORE_BACKENDS_H_
#define ORCH_TESTING_STORE_BACKENDS_H_

#include <gtest/gtest.h>

#include <string>

#include "testing/postgres_server.h"
#include "testing/test_util.h"

namespace orch::test {

enum class Backend { kSqlite, kPostgres };

inline auto StoreBackends() { return ::testing::Values(Backend::kSqlite, Backend::kPostgres); }

// For INSTANTIATE_TEST_SUITE_P's names: Sqlite, Postgres.
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// Where a test's store lives: `dir`/orch.db, or a new empty PostgreSQL schema.
inline std::string StoreLocation(Backend backend, const TempDir& dir) {
  if (backend == Backend::kSqlite) return dir.Sub("orch.db");
  return PostgresServer::Shared().FreshDatabaseUrl();
}

}  // namespace orch::test

#endif  // ORCH_TESTING_STORE_BACKENDS_H_
