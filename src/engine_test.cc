#include "engine.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace orch {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::Open(":memory:", clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    project_id_ = store_->AddProject({.name = "acme/widgets", .path = "/w"})->id;
  }
  int64_t Add(const std::string& title, std::optional<int64_t> parent = std::nullopt,
              TaskStatus status = TaskStatus::kNew) {
    NewTask t;
    t.project_id = project_id_;
    t.title = title;
    t.parent_id = parent;
    t.status = status;
    Result<Task> r = store_->AddTask(t, {"test", ""});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r->id;
  }
  void Move(int64_t id, TaskStatus from, TaskStatus to) {
    ASSERT_TRUE(store_->Transition(id, from, to, {"test", ""}).ok());
  }

  test::FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  Config config_;
  int64_t project_id_ = 0;
};

TEST_F(EngineTest, UnblocksAParentOnceAllItsChildrenAreDone) {
  // Given a parent blocked on two children, a tick while one child is open changes nothing;
  // once both are done, one tick returns the parent to new with the reason recorded.
  int64_t parent = Add("parent", std::nullopt, TaskStatus::kBlocked);
  int64_t a = Add("child a", parent);
  int64_t b = Add("child b", parent);
  Move(a, TaskStatus::kNew, TaskStatus::kDone);
  Engine engine(*store_, config_, clock_);
  Result<TickReport> r = engine.Tick();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->parents_unblocked, 0);
  EXPECT_EQ(store_->GetTask(parent)->status, TaskStatus::kBlocked);

  Move(b, TaskStatus::kNew, TaskStatus::kDone);
  r = engine.Tick();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->parents_unblocked, 1);
  Result<Task> p = store_->GetTask(parent);
  EXPECT_EQ(p->status, TaskStatus::kNew);
  EXPECT_EQ(p->status_reason, "all 2 child tasks are done");
  EXPECT_EQ(store_->TaskEvents(parent)->back().actor, "engine");
  // A second tick has nothing left to do.
  EXPECT_EQ(engine.Tick()->parents_unblocked, 0);
}

TEST_F(EngineTest, LeavesTasksBlockedOnSomethingElseAlone) {
  int64_t lone = Add("waiting for a worktree", std::nullopt, TaskStatus::kBlocked);
  Engine engine(*store_, config_, clock_);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(store_->GetTask(lone)->status, TaskStatus::kBlocked);
}

TEST_F(EngineTest, TickWritesAHeartbeat) {
  Engine engine(*store_, config_, clock_);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(store_->GetKv(Engine::kHeartbeatKey)->value(), std::to_string(clock_.NowUnix()));
}

}  // namespace
}  // namespace orch
