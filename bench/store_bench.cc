// Store benchmarks: what one task-status transition (compare-and-set + event row, one
// transaction, WAL with synchronous=NORMAL) costs on this machine's disk, beside a bare SQLite
// commit measured in the same run, so the ratio says how much the state machine adds.
//
// Run: build/orch_bench   (figures are printed; nothing is asserted)
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "store/sql.h"
#include "store/store.h"

namespace {

struct BenchDir {
  BenchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "orch-bench-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~BenchDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// A fresh store in its own directory with one project, as the daemon would have it.
struct BenchStore {
  BenchStore() {
    store = std::move(orch::Store::Open(dir.path + "/orch.db", clock)).value();
    task.project_id = store->AddProject({.name = "bench/repo", .path = "/bench"})->id;
    task.title = "bench";
    task.labels = {"orch", "bug"};
  }
  BenchDir dir;
  orch::SystemClock clock;
  std::unique_ptr<orch::Store> store;
  orch::NewTask task;
};

void BM_BareSqliteCommit(benchmark::State& state) {
  BenchDir dir;
  std::unique_ptr<orch::sql::Connection> db = orch::sql::OpenSqlite(dir.path + "/bare.db", 5000);
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("PRAGMA synchronous = NORMAL");
  db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
  db->exec("INSERT INTO t(id, v) VALUES (1, 0)");
  orch::sql::Statement upd(*db, "UPDATE t SET v = v + 1 WHERE id = 1");
  for (auto _ : state) {
    orch::sql::Transaction txn(*db);
    upd.exec();
    upd.reset();
    txn.commit();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BareSqliteCommit);

void BM_TaskTransition(benchmark::State& state) {
  BenchStore b;
  int64_t id = b.store->AddTask(b.task, {"bench", ""})->id;
  orch::TaskStatus from = orch::TaskStatus::kNew;
  for (auto _ : state) {
    orch::TaskStatus to =
        from == orch::TaskStatus::kNew ? orch::TaskStatus::kRouted : orch::TaskStatus::kNew;
    if (!b.store->Transition(id, from, to, {"bench", "flip"}).ok()) state.SkipWithError("failed");
    from = to;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskTransition);

void BM_AddTask(benchmark::State& state) {
  BenchStore b;
  for (auto _ : state) {
    if (!b.store->AddTask(b.task, {"bench", ""}).ok()) state.SkipWithError("failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddTask);

}  // namespace

BENCHMARK_MAIN();
