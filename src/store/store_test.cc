#include "store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "store/migrations.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(db_path(), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Result<Project> p = store_->AddProject(
        {.name = "acme/widgets", .repo = "acme/widgets", .path = "/src/widgets"});
    ASSERT_TRUE(p.ok()) << p.status().message();
    project_ = *p;
  }
  std::string db_path() const { return dir_.Sub("orch.db"); }

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
    SQLite::Database db(path);
    SQLite::Statement q(db, "SELECT type, name, sql FROM sqlite_master ORDER BY name");
    std::string out;
    while (q.executeStep()) {
      out += q.getColumn(0).getString() + " " + q.getColumn(1).getString() + " " +
             q.getColumn(2).getString() + "\n";
    }
    return out;
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  Project project_;
};

TEST_F(StoreTest, OpensInWalModeWithForeignKeys) {
  SQLite::Database db(db_path());
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
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

TEST_F(StoreTest, MigratingTwiceChangesNothing) {
  std::string before = SchemaDump(db_path());
  Result<int> v1 = store_->SchemaVersion();
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, Migrations().back().version);
  ASSERT_TRUE(store_->Migrate().ok());
  // A second process opening the same file applies nothing either.
  Result<std::unique_ptr<SqliteStore>> again = SqliteStore::Open(db_path(), clock_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(SchemaDump(db_path()), before);
  SQLite::Database db(db_path());
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(),
            static_cast<int>(Migrations().size()));
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM projects").getInt(), 1);
}

TEST_F(StoreTest, LaterMigrationsApplyInOrderOnce) {
  SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
  std::vector<Migration> more = Migrations();
  more.push_back({100, "add notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"});
  more.push_back({101, "seed notes", "INSERT INTO notes(text) VALUES ('one')"});
  ASSERT_TRUE(ApplyMigrations(db, more, 1).ok());
  ASSERT_TRUE(ApplyMigrations(db, more, 2).ok());
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM notes").getInt(), 1);
  EXPECT_EQ(*AppliedVersion(db), 101);
}

TEST_F(StoreTest, AFailingMigrationLeavesNoTrace) {
  SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
  std::vector<Migration> more = Migrations();
  more.push_back({100, "half", "CREATE TABLE half (id INTEGER); INSERT INTO nowhere VALUES (1)"});
  Status s = ApplyMigrations(db, more, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(db.tableExists("half"));
  EXPECT_EQ(*AppliedVersion(db), Migrations().back().version);
}

TEST_F(StoreTest, DatabaseFromANewerOrchIsRefused) {
  {
    SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'x', 0)");
  }
  Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(db_path(), clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(db_path()));
  EXPECT_THAT(s.status().message(), HasSubstr("newer"));
}

TEST_F(StoreTest, CorruptFileGivesAnErrorNamingIt) {
  std::string bad = dir_.Sub("garbage.db");
  test::WriteFile(bad, std::string(8192, 'x'));
  Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(bad, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(s.status().message(), HasSubstr(bad));
  EXPECT_THAT(s.status().message(), HasSubstr("not a usable orch database"));
}

TEST_F(StoreTest, UnopenableFileGivesAnErrorNamingIt) {
  std::string missing_dir = dir_.Sub("no/such/dir/orch.db");
  Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(missing_dir, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(missing_dir));
}

TEST_F(StoreTest, ProjectNamesAreUnique) {
  Result<Project> dup = store_->AddProject({.name = "acme/widgets", .path = "/elsewhere"});
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.status().IsConflict());
  EXPECT_TRUE(store_->FindProject("acme/widgets").ok());
  EXPECT_TRUE(store_->FindProject(std::to_string(project_.id)).ok());
  EXPECT_TRUE(store_->FindProject("nobody/nothing").status().IsNotFound());
}

TEST_F(StoreTest, ExternalIdIsUniquePerProject) {
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

TEST_F(StoreTest, TransitionMovesAndRecordsAnEvent) {
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

TEST_F(StoreTest, IllegalTransitionIsRefusedAndChangesNothing) {
  Task t = AddTask("x");
  Status s = store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kInReview, {"test", ""});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot move from new to in_review"));
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kNew);
  EXPECT_EQ(store_->TaskEvents(t.id)->size(), 1u);
}

TEST_F(StoreTest, StaleExpectedStatusLosesTheCompareAndSet) {
  Task t = AddTask("x");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"a", ""}).ok());
  Status s = store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kBlocked, {"b", ""});
  EXPECT_TRUE(s.IsConflict());
  EXPECT_THAT(s.message(), HasSubstr("is routed, not new"));
  EXPECT_TRUE(
      store_->Transition(424242, TaskStatus::kNew, TaskStatus::kRouted, {"c", ""}).IsNotFound());
}

TEST_F(StoreTest, ConcurrentWritersCannotBothWin) {
  // Given 20 new tasks and two processes' worth of connections racing to claim each one,
  // every task is claimed exactly once and has exactly one transition event.
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(AddTask("t" + std::to_string(i)).id);
  std::atomic<int> wins{0}, conflicts{0}, other{0};
  auto racer = [&](const std::string& who) {
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(db_path(), clock_);
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

TEST_F(StoreTest, AttemptsCountAndReset) {
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

TEST_F(StoreTest, ListFiltersByStatusProjectAndParent) {
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

TEST_F(StoreTest, RemovingAProjectRemovesItsTasksAndEvents) {
  Task t = AddTask("x");
  ASSERT_TRUE(store_->RemoveProject(project_.id).ok());
  EXPECT_TRUE(store_->GetTask(t.id).status().IsNotFound());
  EXPECT_EQ(store_->TaskEvents(t.id)->size(), 0u);
}

TEST_F(StoreTest, KvRoundTrip) {
  EXPECT_FALSE(store_->GetKv("cursor")->has_value());
  ASSERT_TRUE(store_->SetKv("cursor", "a").ok());
  ASSERT_TRUE(store_->SetKv("cursor", "b").ok());
  EXPECT_EQ(store_->GetKv("cursor")->value(), "b");
}

}  // namespace
}  // namespace orch
