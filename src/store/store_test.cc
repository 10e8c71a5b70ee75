#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "store/migrations.h"
#include "store/sql.h"
#include "testing/store_backends.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class StoreTest : public ::testing::TestWithParam<test::Backend> {
 protected:
  void SetUp() override {
    location_ = test::StoreLocation(GetParam(), dir_);
    Result<std::unique_ptr<Store>> s = Store::Open(location_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Result<Project> p = store_->AddProject(
        {.name = "acme/widgets", .repo = "acme/widgets", .path = "/src/widgets"});
    ASSERT_TRUE(p.ok()) << p.status().message();
    project_ = *p;
  }
  std::string db_path() const { return location_; }

  Task AddTask(const std::string& title, std::optional<std::string> external = std::nullopt,
               std::optional<int64_t> parent = std::nullopt) {
    NewTask t;
    t.project_id = project_.id;
    t.title = title;
    t.external_id = external;
    t.parent_id = parent;
    Result<Task> r = store_->AddTask(t, {"test", "setup"});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Task{};
  }

  // The schema as SQLite records it, to compare before and after.
  static std::string SchemaDump(const std::string& path) {
    std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(path, 5000);
    sql::Connection& db = *db_conn;
    sql::Statement q(db, "SELECT type, name, sql FROM sqlite_master ORDER BY name");
    std::string out;
    while (q.executeStep()) {
      out += q.getColumn(0).getString() + " " + q.getColumn(1).getString() + " " +
             q.getColumn(2).getString() + "\n";
    }
    return out;
  }

  test::TempDir dir_;
  std::string location_;  // the SQLite file, or the PostgreSQL URL
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
};

// Every test of StoreTest runs on SQLite and on PostgreSQL; StoreFileTest's are about SQLite's
// file (its pragmas, its payload log beside it, its corruption) and run there only.
class StoreFileTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, test::StoreBackends(), test::BackendName);
INSTANTIATE_TEST_SUITE_P(Engines, StoreFileTest, ::testing::Values(test::Backend::kSqlite),
                         test::BackendName);

TEST_P(StoreFileTest, OpensInWalModeWithForeignKeys) {
  std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(db_path(), 5000);
  sql::Connection& db = *db_conn;
  EXPECT_EQ(sql::QueryText(db, "PRAGMA journal_mode"), "wal");
  for (const char* table : {"projects", "tasks", "task_runs", "webhook_deliveries", "jobs",
                            "events", "kv", "schema_migrations"}) {
    EXPECT_TRUE(db.tableExists(table)) << table;
  }
  // Foreign keys are on for the store's connection: a task for a missing project is refused.
  NewTask orphan;
  orphan.project_id = 999;
  orphan.title = "orphan";
  EXPECT_FALSE(store_->AddTask(orphan, {"test", ""}).ok());
}

TEST_P(StoreFileTest, MigratingTwiceChangesNothing) {
  std::string before = SchemaDump(db_path());
  Result<int> v1 = store_->SchemaVersion();
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, Migrations().back().version);
  ASSERT_TRUE(store_->Migrate().ok());
  // A second process opening the same file applies nothing either.
  Result<std::unique_ptr<Store>> again = Store::Open(db_path(), clock_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(SchemaDump(db_path()), before);
  std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(db_path(), 5000);
  sql::Connection& db = *db_conn;
  EXPECT_EQ(sql::QueryInt(db, "SELECT COUNT(*) FROM schema_migrations"),
            static_cast<int>(Migrations().size()));
  EXPECT_EQ(sql::QueryInt(db, "SELECT COUNT(*) FROM projects"), 1);
}

TEST_P(StoreFileTest, LaterMigrationsApplyInOrderOnce) {
  std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(db_path(), 5000);
  sql::Connection& db = *db_conn;
  std::vector<Migration> more = Migrations();
  more.push_back({100, "add notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"});
  more.push_back({101, "seed notes", "INSERT INTO notes(text) VALUES ('one')"});
  ASSERT_TRUE(ApplyMigrations(db, more, 1).ok());
  ASSERT_TRUE(ApplyMigrations(db, more, 2).ok());
  EXPECT_EQ(sql::QueryInt(db, "SELECT COUNT(*) FROM notes"), 1);
  EXPECT_EQ(*AppliedVersion(db), 101);
}

TEST_P(StoreFileTest, AFailingMigrationLeavesNoTrace) {
  std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(db_path(), 5000);
  sql::Connection& db = *db_conn;
  std::vector<Migration> more = Migrations();
  more.push_back({100, "half", "CREATE TABLE half (id INTEGER); INSERT INTO nowhere VALUES (1)"});
  Status s = ApplyMigrations(db, more, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(db.tableExists("half"));
  EXPECT_EQ(*AppliedVersion(db), Migrations().back().version);
}

TEST_P(StoreFileTest, DatabaseFromANewerOrchIsRefused) {
  {
    std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(db_path(), 5000);
    sql::Connection& db = *db_conn;
    db.exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'x', 0)");
  }
  Result<std::unique_ptr<Store>> s = Store::Open(db_path(), clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(db_path()));
  EXPECT_THAT(s.status().message(), HasSubstr("newer"));
}

TEST_P(StoreFileTest, CorruptFileGivesAnErrorNamingIt) {
  std::string bad = dir_.Sub("garbage.db");
  test::WriteFile(bad, std::string(8192, 'x'));
  Result<std::unique_ptr<Store>> s = Store::Open(bad, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(s.status().message(), HasSubstr(bad));
  EXPECT_THAT(s.status().message(), HasSubstr("not a usable orch database"));
}

TEST_P(StoreFileTest, UnopenableFileGivesAnErrorNamingIt) {
  std::string missing_dir = dir_.Sub("no/such/dir/orch.db");
  Result<std::unique_ptr<Store>> s = Store::Open(missing_dir, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(missing_dir));
}

TEST_P(StoreTest, ProjectNamesAreUnique) {
  Result<Project> dup = store_->AddProject({.name = "acme/widgets", .path = "/elsewhere"});
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.status().IsConflict());
  EXPECT_TRUE(store_->FindProject("acme/widgets").ok());
  EXPECT_TRUE(store_->FindProject(std::to_string(project_.id)).ok());
  EXPECT_TRUE(store_->FindProject("nobody/nothing").status().IsNotFound());
}

TEST_P(StoreTest, ExternalIdIsUniquePerProject) {
  AddTask("issue 7", "7");
  NewTask again;
  again.project_id = project_.id;
  again.external_id = "7";
  again.title = "issue 7 again";
  Result<Task> dup = store_->AddTask(again, {"test", ""});
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.status().IsConflict());
  // The same number in another project is another task.
  Result<Project> other = store_->AddProject({.name = "acme/gears", .path = "/src/gears"});
  ASSERT_TRUE(other.ok());
  again.project_id = other->id;
  EXPECT_TRUE(store_->AddTask(again, {"test", ""}).ok());
  // Local tasks have no external id and never collide.
  AddTask("local one");
  AddTask("local two");
}

TEST_P(StoreTest, TransitionMovesAndRecordsAnEvent) {
  Task t = AddTask("fix the bug", "12");
  EXPECT_EQ(t.status, TaskStatus::kNew);
  EXPECT_EQ(t.project, "acme/widgets");
  clock_.Advance(5);
  ASSERT_TRUE(store_
                  ->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted,
                               {"engine", "router chose claude"})
                  .ok());
  Result<Task> after = store_->GetTask(t.id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, TaskStatus::kRouted);
  EXPECT_EQ(after->status_reason, "router chose claude");
  EXPECT_EQ(after->updated_at, t.created_at + 5);
  Result<std::vector<Event>> events = store_->TaskEvents(t.id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, "created");
  EXPECT_EQ((*events)[1].kind, "transition");
  EXPECT_EQ((*events)[1].from_status, "new");
  EXPECT_EQ((*events)[1].to_status, "routed");
  EXPECT_EQ((*events)[1].actor, "engine");
  EXPECT_EQ((*events)[1].reason, "router chose claude");
}

TEST_P(StoreTest, IllegalTransitionIsRefusedAndChangesNothing) {
  Task t = AddTask("x");
  Status s = store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kInReview, {"test", ""});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot move from new to in_review"));
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kNew);
  EXPECT_EQ(store_->TaskEvents(t.id)->size(), 1u);
}

TEST_P(StoreTest, StaleExpectedStatusLosesTheCompareAndSet) {
  Task t = AddTask("x");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"a", ""}).ok());
  Status s = store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kBlocked, {"b", ""});
  EXPECT_TRUE(s.IsConflict());
  EXPECT_THAT(s.message(), HasSubstr("is routed, not new"));
  EXPECT_TRUE(
      store_->Transition(424242, TaskStatus::kNew, TaskStatus::kRouted, {"c", ""}).IsNotFound());
}

TEST_P(StoreTest, ConcurrentWritersCannotBothWin) {
  // Given 20 new tasks and two processes' worth of connections racing to claim each one,
  // every task is claimed exactly once and has exactly one transition event.
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(AddTask("t" + std::to_string(i)).id);
  std::atomic<int> wins{0}, conflicts{0}, other{0};
  auto racer = [&](const std::string& who) {
    Result<std::unique_ptr<Store>> s = Store::Open(db_path(), clock_);
    ASSERT_TRUE(s.ok());
    for (int64_t id : ids) {
      Status st = (*s)->Transition(id, TaskStatus::kNew, TaskStatus::kInProgress, {who, "claim"});
      if (st.ok()) {
        ++wins;
      } else if (st.IsConflict()) {
        ++conflicts;
      } else {
        ++other;
        ADD_FAILURE() << st.message();
      }
    }
  };
  std::thread a(racer, "a"), b(racer, "b");
  a.join();
  b.join();
  EXPECT_EQ(wins.load(), 20);
  EXPECT_EQ(conflicts.load(), 20);
  EXPECT_EQ(other.load(), 0);
  for (int64_t id : ids) {
    Result<std::vector<Event>> ev = store_->TaskEvents(id);
    ASSERT_TRUE(ev.ok());
    EXPECT_EQ(ev->size(), 2u) << "task " << id;
  }
}

TEST_P(StoreTest, AttemptsCountAndReset) {
  Task t = AddTask("x");
  ASSERT_TRUE(store_
                  ->Transition(t.id, TaskStatus::kNew, TaskStatus::kInProgress, {"e", ""},
                               AttemptEffect::kCount)
                  .ok());
  ASSERT_TRUE(store_
                  ->Transition(t.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                               {"e", "agent failed"})
                  .ok());
  EXPECT_EQ(store_->GetTask(t.id)->attempts, 1);
  ASSERT_TRUE(store_
                  ->Transition(t.id, TaskStatus::kNeedsReview, TaskStatus::kNew,
                               {"cli:me", "unblocked"}, AttemptEffect::kReset)
                  .ok());
  EXPECT_EQ(store_->GetTask(t.id)->attempts, 0);
}

TEST_P(StoreTest, ListFiltersByStatusProjectAndParent) {
  Task parent = AddTask("parent");
  AddTask("child 1", std::nullopt, parent.id);
  AddTask("child 2", std::nullopt, parent.id);
  ASSERT_TRUE(
      store_->Transition(parent.id, TaskStatus::kNew, TaskStatus::kBlocked, {"e", ""}).ok());
  EXPECT_EQ(store_->ListTasks({})->size(), 3u);
  EXPECT_EQ(store_->ListTasks({.status = TaskStatus::kNew})->size(), 2u);
  EXPECT_EQ(store_->ListTasks({.parent_id = parent.id})->size(), 2u);
  EXPECT_EQ(store_->ListTasks({.project_id = project_.id + 1})->size(), 0u);
}

TEST_P(StoreTest, RemovingAProjectRemovesItsTasksAndEvents) {
  Task t = AddTask("x");
  ASSERT_TRUE(store_->RemoveProject(project_.id).ok());
  EXPECT_TRUE(store_->GetTask(t.id).status().IsNotFound());
  EXPECT_EQ(store_->TaskEvents(t.id)->size(), 0u);
}

TEST_P(StoreTest, KvRoundTrip) {
  EXPECT_FALSE(store_->GetKv("cursor")->has_value());
  ASSERT_TRUE(store_->SetKv("cursor", "a").ok());
  ASSERT_TRUE(store_->SetKv("cursor", "b").ok());
  EXPECT_EQ(store_->GetKv("cursor")->value(), "b");
}

// ---- Hosts and leases (several hosts on one store)

TEST_P(StoreTest, ATaskInProgressIsLeasedToItsHostUntilItsHeartbeatStops) {
  store_->SetHost("alpha", std::chrono::seconds(30));
  Task t = AddTask("x");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kInProgress, {"e", ""}).ok());
  Task leased = *store_->GetTask(t.id);
  EXPECT_EQ(leased.lease_owner, "alpha");
  EXPECT_EQ(leased.lease_until, clock_.NowUnix() + 30);
  EXPECT_EQ(store_->ListTasks({.lease_owner = "alpha"})->size(), 1u);
  EXPECT_EQ(store_->ListTasks({.lease_owner = "beta"})->size(), 0u);
  // The heartbeat renews it; without one, it runs out.
  clock_.Advance(20);
  ASSERT_TRUE(store_->Heartbeat("0.1.0", 1, 3).ok());
  EXPECT_EQ(store_->GetTask(t.id)->lease_until, clock_.NowUnix() + 30);
  EXPECT_TRUE(store_->ExpiredLeases()->empty());
  clock_.Advance(31);
  ASSERT_EQ(store_->ExpiredLeases()->size(), 1u);
  // Leaving in_progress ends the lease.
  ASSERT_TRUE(
      store_->Transition(t.id, TaskStatus::kInProgress, TaskStatus::kRouted, {"e", ""}).ok());
  Task freed = *store_->GetTask(t.id);
  EXPECT_EQ(freed.lease_owner, "");
  EXPECT_FALSE(freed.lease_until.has_value());
  EXPECT_TRUE(store_->ExpiredLeases()->empty());
}

TEST_P(StoreTest, WithoutAHostNothingIsLeased) {
  Task t = AddTask("x");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kInProgress, {"e", ""}).ok());
  EXPECT_EQ(store_->GetTask(t.id)->lease_owner, "");
  clock_.Advance(86400);
  EXPECT_TRUE(store_->ExpiredLeases()->empty());
  EXPECT_TRUE(*store_->HoldLease("leader"));
  EXPECT_TRUE(store_->ListHosts()->empty());
}

TEST_P(StoreTest, EachHostSeesItsOwnAttemptsAndTheHostsTable) {
  Result<std::unique_ptr<Store>> other = Store::Open(location_, clock_);
  ASSERT_TRUE(other.ok()) << other.status().message();
  store_->SetHost("alpha", std::chrono::seconds(30));
  (*other)->SetHost("beta", std::chrono::seconds(30));
  Task a = AddTask("a"), b = AddTask("b");
  Attempt run;
  run.agent = "claude";
  run.task_id = a.id;
  ASSERT_TRUE(store_->StartAttempt(run).ok());
  run.task_id = b.id;
  ASSERT_TRUE((*other)->StartAttempt(run).ok());
  ASSERT_EQ(store_->UnfinishedAttempts()->size(), 1u);
  EXPECT_EQ(store_->UnfinishedAttempts()->front().task_id, a.id);
  EXPECT_EQ(store_->UnfinishedAttempts()->front().host, "alpha");
  ASSERT_EQ((*other)->UnfinishedAttempts()->size(), 1u);
  ASSERT_EQ((*other)->ListAttempts(a.id)->size(), 1u);  // alpha's attempt, seen by beta
  EXPECT_FALSE((*other)->ListAttempts(a.id)->front().finished_at.has_value());
  ASSERT_TRUE(store_->Heartbeat("0.1.0", 1, 3).ok());
  clock_.Advance(5);
  ASSERT_TRUE((*other)->Heartbeat("0.2.0", 1, 5).ok());
  std::vector<HostRecord> hosts = *store_->ListHosts();
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].id, "alpha");
  EXPECT_EQ(hosts[0].max_parallel, 3);
  EXPECT_EQ(hosts[1].id, "beta");
  EXPECT_EQ(hosts[1].version, "0.2.0");
  EXPECT_EQ(hosts[1].heartbeat_at, hosts[0].heartbeat_at + 5);
}

TEST_P(StoreTest, OneHostHoldsALeaseUntilItRunsOut) {
  Result<std::unique_ptr<Store>> other = Store::Open(location_, clock_);
  ASSERT_TRUE(other.ok()) << other.status().message();
  store_->SetHost("alpha", std::chrono::seconds(30));
  (*other)->SetHost("beta", std::chrono::seconds(30));
  EXPECT_TRUE(*store_->HoldLease("leader"));
  EXPECT_FALSE(*(*other)->HoldLease("leader"));
  clock_.Advance(29);
  EXPECT_TRUE(*store_->HoldLease("leader"));  // renewed: 30 s more
  clock_.Advance(29);
  EXPECT_FALSE(*(*other)->HoldLease("leader"));
  clock_.Advance(2);  // alpha silent for 31 s
  EXPECT_TRUE(*(*other)->HoldLease("leader"));
  EXPECT_FALSE(*store_->HoldLease("leader"));
  EXPECT_EQ((*store_->LeaseHolder("leader"))->first, "beta");
}

}  // namespace
}  // namespace orch
