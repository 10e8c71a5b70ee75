// fleet: what several orch hosts sharing one PostgreSQL store get through, beside one host on
// the same PostgreSQL and one host on SQLite, measured in one run (issue 18).
//
// (a) Tasks started per second. Starting a task is what a host's dispatcher writes for it: the
// compare-and-set routed -> in_progress through Store::Transition (which leases the task to the
// host) and Store::StartAttempt. Each host is a thread with its own Store connection and its own
// SetHost id; all race over one pool of routed tasks, each in its own shuffled order, and a
// Conflict is a race lost to another host. Afterwards every task must have been started exactly
// once: one winner counted per task, one attempt row per task, every task in progress and leased
// to the host that won it (exit 1 otherwise).
// (b) Webhook deliveries stored per second: Store::StoreDeliveries in batches of 16, the size the
// receiver's group commit (receiver/inbox_writer.h) reaches at 16 concurrent requests, each
// host a thread with its own connection and 8 KB payloads with distinct random delivery ids
// (UUID-sized); with several hosts, every 8th delivery is one all hosts receive (a load balancer
// retrying, GitHub redelivering), which exactly one host may store and the others must get back as
// kDuplicate. Afterwards the outcomes must add up and the inbox must hold each delivery id once.
//
// The test PostgreSQL (testing/postgres_server.h) runs with fsync, full_page_writes and
// synchronous_commit off: its commits are not durable. SQLite's inbox commits are (payload
// fdatasync and synchronous=FULL), its task commits synchronous=NORMAL in WAL. So the bench also
// starts a second PostgreSQL with the durable defaults (fsync, full_page_writes, synchronous_commit
// on) in /tmp and runs the PostgreSQL cases on it too. Every server runs on this machine, on
// its cores, over 127.0.0.1 or its socket: a real fleet adds a network round trip per statement.
//
// Run: build/orch_fleet_bench [seconds per delivery case, default 3] [tasks per task case,
// default 1500]. Figures are printed; nothing is asserted beyond the checks above.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/sql.h"
#include "store/store.h"
#include "testing/postgres_server.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 16;          // deliveries per StoreDeliveries call
constexpr int kDuplicateEvery = 8;  // with several hosts, every 8th delivery goes to all of them

bool g_failed = false;

void Check(bool ok, const std::string& what) {
  if (ok) return;
  fprintf(stderr, "FAILED: %s\n", what.c_str());
  g_failed = true;
}

std::unique_ptr<orch::Store> OpenStore(const std::string& where, const orch::Clock& clock) {
  orch::Result<std::unique_ptr<orch::Store>> s = orch::Store::Open(where, clock);
  if (!s.ok()) {
    fprintf(stderr, "cannot open %s: %s\n", where.c_str(), s.status().ToString().c_str());
    exit(1);
  }
  return std::move(s).value();
}

std::unique_ptr<orch::sql::Connection> OpenRaw(const std::string& where) {
  return orch::sql::IsPostgresUrl(where) ? orch::sql::OpenPostgres(where)
                                         : orch::sql::OpenSqlite(where, 5000);
}

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// splitmix64: distinct, reproducible, random-looking 64-bit values from a counter.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A random-looking 36-character id, as long as GitHub's X-GitHub-Delivery UUIDs, from
// (stream, n): stream 0 is the duplicates every host receives, stream k + 1 host k's own.
std::string DeliveryId(uint64_t stream, uint64_t n) {
  uint64_t a = Mix(stream << 40 ^ n), b = Mix(a ^ 0x5bd1e995);
  char id[40];
  snprintf(id, sizeof(id), "%016llx-%016llx-xx", static_cast<unsigned long long>(a),
           static_cast<unsigned long long>(b));
  return id;
}

// An 8 KB issues.labeled payload, its tail the delivery id.
std::string Payload(const std::string& id) {
  static const std::string prefix =
      R"({"action":"labeled","issue":{"number":7,"title":"Fix the frobnicator","body":")" +
      std::string(8000, 'x') + R"("},"repository":{"full_name":"acme/widgets"},"nonce":")";
  return prefix + id + "\"}";
}

// Runs `hosts` threads of `body(host)` released together; the seconds until the last finished.
double RunHosts(int hosts, const std::function<void(int)>& body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int h = 0; h < hosts; ++h) {
    threads.emplace_back([&, h] {
      while (!go.load()) std::this_thread::yield();
      body(h);
    });
  }
  Clock::time_point t0 = Clock::now();
  go = true;
  for (std::thread& t : threads) t.join();
  return SecondsSince(t0);
}

struct TaskResult {
  double per_second = 0;
  long won = 0;
  long lost = 0;  // Conflicts: another host started it first
  long errors = 0;
  double tries_per_second = 0;  // won or lost
};

// Adds `n` routed tasks to the store at `where`; their ids.
std::vector<int64_t> RoutedTasks(const std::string& where, int n, const orch::Clock& clock) {
  std::unique_ptr<orch::Store> store = OpenStore(where, clock);
  int64_t project = store->AddProject({.name = "bench/repo", .path = "/bench"})->id;
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i) {
    orch::NewTask t{.project_id = project,
                    .external_id = "bench#" + std::to_string(i),
                    .title = "bench task",
                    .labels = {"orch"},
                    .status = orch::TaskStatus::kRouted};
    orch::Result<orch::Task> added = store->AddTask(t, {"bench", "setup"});
    if (!added.ok()) {
      fprintf(stderr, "adding a task: %s\n", added.status().ToString().c_str());
      exit(1);
    }
    ids.push_back(added->id);
  }
  return ids;
}

// Every task started once: in progress, leased to the host that won it (when hosts have ids),
// with exactly one attempt.
void CheckStartedOnce(const std::string& where, const std::vector<int64_t>& ids,
                      const std::vector<std::vector<int64_t>>& wins, bool leased,
                      const std::string& name) {
  std::unique_ptr<orch::sql::Connection> db = OpenRaw(where);
  long won = 0;
  for (const auto& w : wins) won += static_cast<long>(w.size());
  long in_progress =
      orch::sql::QueryInt(*db, "SELECT COUNT(*) FROM tasks WHERE status = 'in_progress'");
  long attempts = orch::sql::QueryInt(*db, "SELECT COUNT(*) FROM task_runs");
  long twice =
      orch::sql::QueryInt(*db,
                          "SELECT COUNT(*) FROM (SELECT task_id FROM task_runs GROUP BY task_id "
                          "HAVING COUNT(*) <> 1) AS t");
  long misleased = 0;
  if (leased) {
    orch::sql::Statement owner(*db, "SELECT lease_owner FROM tasks WHERE id = ?");
    for (size_t h = 0; h < wins.size(); ++h) {
      for (int64_t id : wins[h]) {
        owner.bind(1, id);
        misleased +=
            !owner.executeStep() || owner.getColumn(0).getString() != "host" + std::to_string(h);
        owner.reset();
      }
    }
  }
  long n = static_cast<long>(ids.size());
  bool once = won == n && in_progress == n && attempts == n && twice == 0 && misleased == 0;
  printf(
      "    %s: %ld tasks, %ld wins, %ld in progress, %ld attempts, %ld started twice, "
      "%ld leased to another host: %s\n",
      name.c_str(), n, won, in_progress, attempts, twice, misleased,
      once ? "every task started exactly once" : "MISMATCH");
  Check(once, name + ": tasks not started exactly once");
}

TaskResult StartTasks(const std::string& where, int hosts, int n, const std::string& name) {
  orch::SystemClock clock;
  std::vector<int64_t> ids = RoutedTasks(where, n, clock);
  bool fleet = orch::sql::IsPostgresUrl(where);
  std::vector<std::unique_ptr<orch::Store>> stores;
  for (int h = 0; h < hosts; ++h) {
    stores.push_back(OpenStore(where, clock));
    if (fleet) stores.back()->SetHost("host" + std::to_string(h), std::chrono::seconds(60));
  }
  std::vector<std::vector<int64_t>> wins(hosts);
  std::vector<long> lost(hosts, 0), errors(hosts, 0);
  double seconds = RunHosts(hosts, [&](int h) {
    std::vector<int64_t> order = ids;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(static_cast<uint64_t>(h) + 1));
    orch::Store& store = *stores[h];
    for (int64_t id : order) {
      orch::Status moved = store.Transition(id, orch::TaskStatus::kRouted,
                                            orch::TaskStatus::kInProgress, {"engine", "starting"});
      if (moved.IsConflict()) {
        ++lost[h];
        continue;
      }
      if (!moved.ok()) {
        ++errors[h];
        continue;
      }
      orch::Attempt a;
      a.task_id = id;
      a.agent = "standin";
      a.command = {"agent", "--run"};
      if (store.StartAttempt(a).ok()) {
        wins[h].push_back(id);
      } else {
        ++errors[h];
      }
    }
  });
  TaskResult r;
  for (int h = 0; h < hosts; ++h) {
    r.won += static_cast<long>(wins[h].size());
    r.lost += lost[h];
    r.errors += errors[h];
  }
  r.per_second = static_cast<double>(r.won) / seconds;
  r.tries_per_second = static_cast<double>(r.won + r.lost) / seconds;
  Check(r.errors == 0, name + ": " + std::to_string(r.errors) + " starts failed");
  CheckStartedOnce(where, ids, wins, fleet, name);
  return r;
}

struct DeliveryResult {
  double per_second = 0;  // deliveries handled (stored or found duplicate)
  double stored_per_second = 0;
  long stored = 0;
  long duplicates = 0;
  long errors = 0;
};

// The outcomes and the inbox agree with what was sent: each duplicate id stored by one host and
// found duplicate by every other that received it; every id in the inbox once.
void CheckInbox(const std::string& where, const std::vector<long>& shared_sent, long unique_sent,
                const DeliveryResult& r, const std::string& name) {
  long shared_max = *std::max_element(shared_sent.begin(), shared_sent.end());
  long expect_stored = unique_sent + shared_max, expect_dup = 0;
  for (long j = 0; j < shared_max; ++j) {
    long receivers =
        std::count_if(shared_sent.begin(), shared_sent.end(), [j](long sent) { return sent > j; });
    expect_dup += receivers - 1;
  }
  std::unique_ptr<orch::sql::Connection> db = OpenRaw(where);
  long rows = orch::sql::QueryInt(*db, "SELECT COUNT(*) FROM webhook_deliveries");
  long ids = orch::sql::QueryInt(*db, "SELECT COUNT(DISTINCT delivery_id) FROM webhook_deliveries");
  bool ok = r.stored == expect_stored && r.duplicates == expect_dup && rows == expect_stored &&
            ids == rows && r.errors == 0;
  printf(
      "    %s: %ld stored (expected %ld), %ld duplicates (expected %ld), %ld errors; the inbox "
      "holds %ld rows, %ld distinct ids: %s\n",
      name.c_str(), r.stored, expect_stored, r.duplicates, expect_dup, r.errors, rows, ids,
      ok ? "each delivery once" : "MISMATCH");
  Check(ok, name + ": the inbox does not hold each delivery once");
}

DeliveryResult StoreDeliveries(const std::string& where, int hosts, double seconds,
                               const std::string& name) {
  orch::SystemClock clock;
  std::vector<std::unique_ptr<orch::Store>> stores;
  for (int h = 0; h < hosts; ++h) {
    stores.push_back(OpenStore(where, clock));
    if (orch::sql::IsPostgresUrl(where)) {
      stores.back()->SetHost("host" + std::to_string(h), std::chrono::seconds(60));
    }
    Check(stores.back()->LoadInboxKeys().ok(), name + ": loading the inbox's keys");
  }
  std::vector<long> shared_sent(hosts, 0), unique_sent(hosts, 0), stored(hosts, 0), dups(hosts, 0),
      errors(hosts, 0);
  Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
  double took = RunHosts(hosts, [&](int h) {
    for (uint64_t n = 0; Clock::now() < end;) {
      std::vector<orch::NewDelivery> batch;
      std::vector<bool> shared(kBatch);
      for (int i = 0; i < kBatch; ++i, ++n) {
        shared[i] = hosts > 1 && n % kDuplicateEvery == kDuplicateEvery - 1;
        std::string id = shared[i] ? DeliveryId(0, n / kDuplicateEvery)
                                   : DeliveryId(static_cast<uint64_t>(h) + 1, n);
        batch.push_back({id, "issues", "labeled", "acme/widgets", Payload(id)});
      }
      orch::Result<std::vector<orch::InboxOutcome>> out = stores[h]->StoreDeliveries(batch);
      if (!out.ok()) {
        ++errors[h];
        fprintf(stderr, "%s: %s\n", name.c_str(), out.status().ToString().c_str());
        return;
      }
      for (size_t i = 0; i < out->size(); ++i) {
        (shared[i] ? shared_sent : unique_sent)[h]++;
        stored[h] += (*out)[i] == orch::InboxOutcome::kStored;
        dups[h] += (*out)[i] == orch::InboxOutcome::kDuplicate;
      }
    }
  });
  DeliveryResult r;
  long unique_total = 0;
  for (int h = 0; h < hosts; ++h) {
    r.stored += stored[h];
    r.duplicates += dups[h];
    r.errors += errors[h];
    unique_total += unique_sent[h];
  }
  r.per_second = static_cast<double>(r.stored + r.duplicates) / took;
  r.stored_per_second = static_cast<double>(r.stored) / took;
  CheckInbox(where, shared_sent, unique_total, r, name);
  return r;
}

// One row of each table: the case's name, its rate, and its ratio to the first row's.
void PrintTasks(const std::string& label, const TaskResult& r, double base) {
  printf("  %-30s %6.0f started/s  %5.2fx  (%ld races lost; %.0f tries/s)\n", label.c_str(),
         r.per_second, r.per_second / base, r.lost, r.tries_per_second);
}
void PrintDeliveries(const std::string& label, const DeliveryResult& r, double base) {
  printf("  %-30s %6.0f handled/s  %5.2fx  (stored %.0f/s, %ld duplicates)\n", label.c_str(),
         r.per_second, r.per_second / base, r.stored_per_second, r.duplicates);
}

// The server's durability settings, as it reports them.
std::string Durability(const std::string& admin_url) {
  std::unique_ptr<orch::sql::Connection> db = orch::sql::OpenPostgres(admin_url);
  std::string out;
  for (const char* name : {"fsync", "synchronous_commit", "full_page_writes", "wal_sync_method"}) {
    out += std::string(out.empty() ? "" : ", ") + name + "=" +
           orch::sql::QueryText(*db, std::string("SHOW ") + name);
  }
  return out;
}

double LoadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : 0;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  int tasks = argc > 2 ? atoi(argv[2]) : 1500;
  std::string tmpl = (std::filesystem::temp_directory_path() / "orch-fleet-bench-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  Clock::time_point t0 = Clock::now();
  orch::test::PostgresServer& fast = orch::test::PostgresServer::Shared();
  std::unique_ptr<orch::test::PostgresServer> durable = orch::test::PostgresServer::StartDurable();
  printf(
      "fleet: %u cores; the hosts are threads of this process, each with its own connection; "
      "PostgreSQL on 127.0.0.1 (the test server: fsync, full_page_writes and "
      "synchronous_commit OFF; the durable one: all ON); SQLite in %s; load average %.1f\n",
      std::thread::hardware_concurrency(), dir.c_str(), LoadAverage());

  printf("  the test server: %s\n  the durable one: %s\n", Durability(fast.admin_url()).c_str(),
         Durability(durable->admin_url()).c_str());

  struct Case {
    std::string label;
    std::function<std::string()> where;
    int hosts = 1;
    int tasks = 0;  // the pool: smaller on the durable server, where a start costs a WAL flush
  };
  int sqlite_n = 0;
  std::vector<Case> cases = {
      {"SQLite, 1 host", [&] { return dir + "/s" + std::to_string(++sqlite_n) + ".db"; }, 1, tasks},
      {"PostgreSQL fsync off, 1 host", [&] { return fast.FreshDatabaseUrl(); }, 1, tasks},
      {"PostgreSQL fsync off, 3 hosts", [&] { return fast.FreshDatabaseUrl(); }, 3, tasks},
      {"PostgreSQL durable, 1 host", [&] { return durable->FreshDatabaseUrl(); }, 1, tasks / 5},
      {"PostgreSQL durable, 3 hosts", [&] { return durable->FreshDatabaseUrl(); }, 3, tasks / 5},
  };

  printf(
      "(a) tasks started (Transition routed -> in_progress + StartAttempt), a pool of %d "
      "routed tasks (%d on the durable server) each host tries in its own order:\n",
      tasks, tasks / 5);
  std::vector<TaskResult> started;
  for (const Case& c : cases) started.push_back(StartTasks(c.where(), c.hosts, c.tasks, c.label));
  for (size_t i = 0; i < cases.size(); ++i) {
    PrintTasks(cases[i].label, started[i], started[0].per_second);
  }

  printf(
      "(b) webhook deliveries stored (StoreDeliveries, batches of %d, 8 KB payloads, %.0f s "
      "each; with 3 hosts every %dth delivery goes to all three):\n",
      kBatch, seconds, kDuplicateEvery);
  std::vector<DeliveryResult> stored;
  for (const Case& c : cases)
    stored.push_back(StoreDeliveries(c.where(), c.hosts, seconds, c.label));
  for (size_t i = 0; i < cases.size(); ++i) {
    PrintDeliveries(cases[i].label, stored[i], stored[0].per_second);
  }
  printf(
      "  (ratios against SQLite on 1 host; SQLite's inbox commits are durable: payload "
      "fdatasync + synchronous=FULL; its task commits synchronous=NORMAL)\n");
  printf("load average %.1f; total %.1f s: %s\n", LoadAverage(), SecondsSince(t0),
         g_failed ? "FAILED" : "all checks passed");
  durable.reset();
  std::filesystem::remove_all(dir);
  return g_failed ? 1 : 0;
}
