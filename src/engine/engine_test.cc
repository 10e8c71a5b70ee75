#include "engine/engine.h"

#include <gtest/gtest.h>

#include "base/time_format.h"
#include "github/webhook_signature.h"
#include "testing/fake_github.h"
#include "testing/test_util.h"

namespace orch {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(":memory:", clock_);
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
  std::unique_ptr<Store> store_;
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

// The engine with a GitHub behind it: the inbox, the sync and the fallback mode.
class EngineIntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(":memory:", clock_)).value();
    project_id_ =
        store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"})->id;
    github_.permissions = {{"bob", "write"}};
    config_.engine.sync_interval = Seconds(120);
    config_.engine.fallback_sync_interval = Seconds(30);
    config_.engine.webhook_health_check_interval = Seconds(60);
  }
  void Deliver(const std::string& id, const std::string& sender, int number = 7) {
    std::string body = R"({"action":"labeled","label":{"name":"orch"},"issue":{"number":)" +
                       std::to_string(number) +
                       R"(,"title":"T","state":"open","labels":[{"name":"orch"}]},)"
                       R"("repository":{"full_name":"acme/widgets"},"sender":{"login":")" +
                       sender + R"(","type":"User"}})";
    ASSERT_EQ(*store_->StoreDelivery({id, "issues", "labeled", "acme/widgets", body}),
              InboxOutcome::kStored);
  }
  Issue Labelled(int number, const std::string& updated) {
    Issue i;
    i.number = number;
    i.title = "Issue " + std::to_string(number);
    i.state = "open";
    i.labels = {"orch"};
    i.user = {"bob", "User"};
    i.updated_at = updated;
    return i;
  }

  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Config config_;
  test::FakeGitHub github_;
  int64_t project_id_ = 0;
};

TEST_F(EngineIntakeTest, AppliesDueDeliveriesAndRecordsWhatEachDid) {
  Deliver("d-1", "bob");
  Deliver("d-2", "eve", 8);
  Engine engine(*store_, config_, clock_, &github_);
  Result<TickReport> r = engine.Tick();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->deliveries_applied, 2);
  ASSERT_EQ(store_->ListTasks({})->size(), 1u);
  std::vector<Delivery> all = *store_->ListDeliveries({});
  EXPECT_EQ(all[1].result, "created task 1");
  EXPECT_EQ(all[0].result,
            "ignored: untrusted: eve is not a collaborator on acme/widgets (write, maintain or "
            "admin needed, or workflow.allowed_authors)");
  EXPECT_TRUE(store_->DueDeliveries(10)->empty());
}

TEST_F(EngineIntakeTest, AFailedApplicationIsRetriedWithBackoffThenApplied) {
  Engine engine(*store_, config_, clock_, &github_);
  ASSERT_TRUE(engine.Tick().ok());  // learns its own identity
  Deliver("d-1", "bob");
  github_.fail_next = Status::Unavailable("reading bob's permission", "HTTP 502");
  Result<TickReport> r = engine.Tick();
  EXPECT_EQ(r->deliveries_failed, 1);
  Delivery d = *store_->GetDelivery(1);
  EXPECT_EQ(d.retry_count, 1);
  EXPECT_EQ(d.next_attempt_at, clock_.NowUnix() + 5);
  EXPECT_TRUE(store_->ListTasks({})->empty());
  EXPECT_EQ(engine.Tick()->deliveries_applied, 0);  // backing off
  clock_.Advance(5);
  EXPECT_EQ(engine.Tick()->deliveries_applied, 1);
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);
  EXPECT_TRUE(store_->GetDelivery(1)->processed_at.has_value());
}

TEST_F(EngineIntakeTest, WithoutGitHubDeliveriesWaitInsteadOfFailing) {
  Deliver("d-1", "bob");
  Engine engine(*store_, config_, clock_, nullptr);
  ASSERT_TRUE(engine.Tick().ok());
  std::vector<Delivery> due = *store_->DueDeliveries(10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].retry_count, 0);
}

TEST_F(EngineIntakeTest, SyncCreatesTasksThenCostsOnly304sWhileIdle) {
  github_.issues = {Labelled(3, "2026-11-21T10:00:00Z")};
  github_.events[3] = {{1, "labeled", {"bob", "User"}, "orch", "2026-11-21T10:00:00Z"}};
  Engine engine(*store_, config_, clock_, &github_);
  Result<TickReport> r = engine.Tick();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->projects_synced, 1);
  ASSERT_EQ(store_->ListTasks({})->size(), 1u);
  EXPECT_EQ(store_->ListTasks({})->front().external_id, "3");
  // Not due again until sync_interval has passed.
  clock_.Advance(60);
  EXPECT_EQ(engine.Tick()->projects_synced, 0);
  clock_.Advance(60);
  ASSERT_EQ(engine.Tick()->projects_synced, 1);  // same cursor now: keeps the ETag
  clock_.Advance(120);
  github_.calls.clear();
  ASSERT_EQ(engine.Tick()->projects_synced, 1);
  // Three conditional listings (issues, issue comments, review comments), each answered 304.
  ASSERT_EQ(github_.calls.size(), 3u);
  EXPECT_EQ(github_.calls[0],
            "issues acme/widgets since=2026-11-21T10:00:00Z etag=" + github_.etag);
  EXPECT_EQ(github_.calls[1], "repo comments since=2026-11-21T10:00:00Z etag=W/\"0\"");
  EXPECT_EQ(github_.calls[2], "repo review comments since=2026-11-21T10:00:00Z etag=W/\"0\"");
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);
}

TEST_F(EngineIntakeTest, SyncAsksWhoLabelledAndSkipsUntrustedLabellers) {
  github_.issues = {Labelled(3, "2026-11-21T10:00:00Z")};
  github_.events[3] = {{1, "labeled", {"eve", "User"}, "orch", "2026-11-21T10:00:00Z"}};
  Engine engine(*store_, config_, clock_, &github_);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_TRUE(store_->ListTasks({})->empty());
  EXPECT_EQ(github_.Count("permission eve"), 1);
}

TEST_F(EngineIntakeTest, AnUnreachableReceiverSwitchesToFallbackSyncsAndBack) {
  bool healthy = true;
  int probes = 0;
  Engine engine(*store_, config_, clock_, &github_, [&] {
    ++probes;
    return healthy ? Status::OK() : Status::Unavailable("http://127.0.0.1:8080/health", "down");
  });
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_FALSE(engine.in_fallback());
  EXPECT_EQ(probes, 1);
  healthy = false;
  clock_.Advance(60);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_TRUE(engine.in_fallback());
  EXPECT_EQ(store_->GetKv(Engine::kModeKey)->value(), "polling fallback");
  // In fallback, syncs come every 30 s instead of every 120 s.
  int syncs = 0;
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(30);
    syncs += engine.Tick()->projects_synced;
  }
  EXPECT_EQ(syncs, 4);
  healthy = true;
  clock_.Advance(60);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_FALSE(engine.in_fallback());
  EXPECT_EQ(store_->GetKv(Engine::kModeKey)->value(), "webhook");
}

TEST_F(EngineIntakeTest, ARateLimitedSyncWaitsAsLongAsGitHubAsked) {
  Engine engine(*store_, config_, clock_, &github_);
  ASSERT_TRUE(engine.Tick().ok());  // identity and a first sync
  clock_.Advance(120);
  github_.fail_next = Status::Unavailable("listing issues", "rate limited").WithRetryAfter(600);
  EXPECT_FALSE(engine.Tick().ok());
  github_.calls.clear();
  clock_.Advance(120);  // sync_interval has passed, the wait GitHub asked for has not
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(github_.Count("issues"), 0);
  clock_.Advance(480);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(github_.Count("issues"), 1);
}

TEST_F(EngineIntakeTest, SyncIgnoresTriggerLabelsOrchAddedItself) {
  // Regression: the sync trusted orch-bot's own label (it has write access) and made a task;
  // the same label seen as a webhook was ignored. A person's earlier label still counts.
  github_.permissions["orch-bot"] = "write";
  github_.issues = {Labelled(3, "2026-11-21T10:00:00Z"), Labelled(4, "2026-11-21T10:00:01Z")};
  github_.events[3] = {{1, "labeled", {"orch-bot", "User"}, "orch", "2026-11-21T10:00:00Z"}};
  github_.events[4] = {{2, "labeled", {"bob", "User"}, "orch", "2026-11-21T10:00:00Z"},
                       {3, "labeled", {"orch-bot", "User"}, "agent:codex", "2026-11-21T10:00:01Z"}};
  Engine engine(*store_, config_, clock_, &github_);
  ASSERT_TRUE(engine.Tick().ok());
  std::vector<Task> tasks = *store_->ListTasks({});
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].external_id, "4");
  EXPECT_EQ(store_->TaskEvents(tasks[0].id)->front().actor, "github:bob");
}

TEST_F(EngineIntakeTest, SyncRevivesADoneTaskWhenItsIssueWasReopenedAfterwards) {
  // With webhooks down, a reopen is seen only by polling: the issue's "reopened" event, newer
  // than the task's last change, returns the task to new. A done task whose issue merely stayed
  // open (the PR did not close it) is left alone.
  github_.issues = {Labelled(3, "2026-11-21T10:00:00Z"), Labelled(4, "2026-11-21T10:00:00Z")};
  github_.events[3] = {{1, "labeled", {"bob", "User"}, "orch", "2026-11-21T10:00:00Z"}};
  github_.events[4] = {{2, "labeled", {"bob", "User"}, "orch", "2026-11-21T10:00:00Z"}};
  Engine engine(*store_, config_, clock_, &github_);
  ASSERT_TRUE(engine.Tick().ok());
  std::vector<Task> tasks = *store_->ListTasks({});
  ASSERT_EQ(tasks.size(), 2u);
  for (const Task& t : tasks) {
    ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kDone, {"test", ""}).ok());
  }
  // The fake clock reads 2026-09-21 when the tasks are done; the reopen comes later.
  github_.events[3].push_back({3, "reopened", {"bob", "User"}, "", "2030-01-01T00:00:00Z"});
  github_.issues[0].updated_at = "2026-11-21T11:00:00Z";
  github_.issues[1].updated_at = "2026-11-21T11:00:00Z";
  github_.etag = "W/\"2\"";
  clock_.Advance(120);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(store_->GetTask(tasks[0].id)->status, TaskStatus::kNew);
  EXPECT_EQ(store_->GetTask(tasks[1].id)->status, TaskStatus::kDone);
}

TEST_F(EngineIntakeTest, OneIssuesFailingRequestDoesNotStopTheSyncAndIsRetriedLater) {
  // Regression (issue 15 d): a 404 on one issue's events failed the whole sync, every time:
  // no task for the other issues, the cursor never advanced, no request was conditional.
  github_.issues = {Labelled(3, "2026-11-21T10:00:00Z"), Labelled(4, "2026-11-21T10:00:01Z")};
  github_.events[3] = {{1, "labeled", {"bob", "User"}, "orch", "2026-11-21T10:00:00Z"}};
  github_.events[4] = {{2, "labeled", {"bob", "User"}, "orch", "2026-11-21T10:00:01Z"}};
  github_.fail_events[3] = Status::NotFound("GET /repos/acme/widgets/issues/3/events", "HTTP 404");
  Engine engine(*store_, config_, clock_, &github_);
  (void)engine.Tick();
  std::vector<Task> tasks = *store_->ListTasks({});
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].external_id, "4");
  // The cursor moved past what succeeded.
  clock_.Advance(120);
  github_.calls.clear();
  (void)engine.Tick();
  EXPECT_EQ(github_.Count("issues acme/widgets since=2026-11-21T10:00:01Z etag="), 1);
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);  // issue 3 still fails, and is retried
  EXPECT_GE(github_.Count("events 3"), 1);
  // Once its request works again, the next sync makes its task, with no change on GitHub.
  github_.fail_events.clear();
  clock_.Advance(120);
  ASSERT_TRUE(engine.Tick().ok());
  ASSERT_EQ(store_->ListTasks({})->size(), 2u);
  clock_.Advance(120);
  github_.calls.clear();
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(github_.Count("events 3"), 0);  // retried once it worked, and no more
}

TEST_F(EngineIntakeTest, AChangeTheSyncFindsWithoutADeliveryEntersFallbackUntilDeliveriesCome) {
  // Issue 22: the default probe asks the receiver itself, which answers while orch lives, so a
  // broken tunnel went unnoticed. Given a healthy receiver and no delivery arriving, a label
  // the sync finds puts orch in fallback, saying why; a delivery arriving takes it out.
  config_.engine.sync_interval = Seconds(30);  // the grace is min(60 s, sync_interval)
  Engine engine(*store_, config_, clock_, &github_, [] { return Status::OK(); });
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(store_->GetKv(Engine::kModeKey)->value(), "webhook");
  clock_.Advance(5);
  std::string now = FormatUnixTime(clock_.NowUnix(), TimeFormat::kIso8601);
  github_.issues = {Labelled(3, now)};
  github_.events[3] = {{1, "labeled", {"bob", "User"}, "orch", now}};
  github_.etag = "W/\"2\"";
  clock_.Advance(25);  // the next sync: it finds the change, 25 s old, still within its grace
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);  // picked up by the sync
  EXPECT_FALSE(engine.in_fallback());
  clock_.Advance(5);  // 30 s after the change, with no delivery: missing
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_TRUE(engine.in_fallback());
  EXPECT_EQ(store_->GetKv(Engine::kModeKey)->value(), "polling fallback");
  std::string why = store_->GetKv(Engine::kModeReasonKey)->value_or("");
  EXPECT_NE(why.find("acme/widgets #3 changed at " + now), std::string::npos) << why;
  EXPECT_NE(why.find("no webhook delivery"), std::string::npos) << why;
  // Syncs now come every fallback_sync_interval (30 s here too), and the receiver's healthy
  // probe does not end the fallback: only a delivery does.
  clock_.Advance(60);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_TRUE(engine.in_fallback());
  clock_.Advance(1);
  Deliver("d-back", "bob", 9);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_FALSE(engine.in_fallback());
  EXPECT_EQ(store_->GetKv(Engine::kModeKey)->value(), "webhook");
  EXPECT_EQ(store_->GetKv(Engine::kModeReasonKey)->value_or("?"), "");
}

TEST_F(EngineIntakeTest, AChangeItsDeliveryBroughtKeepsWebhookMode) {
  config_.engine.sync_interval = Seconds(30);
  Engine engine(*store_, config_, clock_, &github_, [] { return Status::OK(); });
  ASSERT_TRUE(engine.Tick().ok());
  clock_.Advance(5);
  std::string now = FormatUnixTime(clock_.NowUnix(), TimeFormat::kIso8601);
  Deliver("d-7", "bob", 7);  // the webhook for the change below, received as it happened
  github_.issues = {Labelled(7, now)};
  github_.events[7] = {{1, "labeled", {"bob", "User"}, "orch", now}};
  github_.etag = "W/\"2\"";
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(30);
    ASSERT_TRUE(engine.Tick().ok());
  }
  EXPECT_FALSE(engine.in_fallback());
  EXPECT_EQ(store_->GetKv(Engine::kModeKey)->value(), "webhook");
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);  // one task, whichever path came first
}

TEST_F(EngineIntakeTest, ChangesFromBeforeTheEngineStartedAreNotJudged) {
  // On its first sync orch lists every issue since its cursor; it was not listening then.
  std::string before = FormatUnixTime(clock_.NowUnix() - 3600, TimeFormat::kIso8601);
  github_.issues = {Labelled(3, before)};
  github_.events[3] = {{1, "labeled", {"bob", "User"}, "orch", before}};
  config_.engine.sync_interval = Seconds(30);
  Engine engine(*store_, config_, clock_, &github_, [] { return Status::OK(); });
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(engine.Tick().ok());
    clock_.Advance(30);
  }
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);
  EXPECT_FALSE(engine.in_fallback());
}

TEST_F(EngineIntakeTest, WithoutWebhooksAChangeFromTheSyncIsNoCauseForFallback) {
  // webhook.enabled: false (no probe): polling is the only mode, nothing is missing.
  config_.engine.sync_interval = Seconds(30);
  Engine engine(*store_, config_, clock_, &github_);
  ASSERT_TRUE(engine.Tick().ok());
  clock_.Advance(5);
  std::string now = FormatUnixTime(clock_.NowUnix(), TimeFormat::kIso8601);
  github_.issues = {Labelled(3, now)};
  github_.events[3] = {{1, "labeled", {"bob", "User"}, "orch", now}};
  github_.etag = "W/\"2\"";
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(30);
    ASSERT_TRUE(engine.Tick().ok());
  }
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);
  EXPECT_FALSE(engine.in_fallback());
}

TEST_F(EngineIntakeTest, GitHubsRecordOfFailedDeliveriesEntersFallback) {
  // GitHub's own record of orch's webhook says its newest attempts failed (the tunnel answers
  // 502): fallback, with GitHub's words; a hook pointing elsewhere, or attempts from before orch
  // started, do not count.
  Engine engine(*store_, config_, clock_, &github_, [] { return Status::OK(); });
  std::string before = FormatUnixTime(clock_.NowUnix() - 600, TimeFormat::kIso8601);
  github_.hooks = {{7, true, "https://ci.example.com/hooks/github"},
                   {42, true, "https://orch.example.com/webhook"}};
  github_.hook_deliveries = {
      {1, "g-1", before, false, 502, "Invalid HTTP Response: 502", "issues", "labeled"}};
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_FALSE(engine.in_fallback());
  EXPECT_EQ(github_.Count("hook deliveries 42"), 1);
  EXPECT_EQ(github_.Count("hook deliveries 7"), 0);  // not orch's
  clock_.Advance(120);
  std::string now = FormatUnixTime(clock_.NowUnix(), TimeFormat::kIso8601);
  github_.hook_deliveries.insert(
      github_.hook_deliveries.begin(),
      {{3, "g-3", now, false, 502, "Invalid HTTP Response: 502", "issues", "labeled"},
       {2, "g-2", now, false, 0, "failed to connect to host", "issues", "opened"}});
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_TRUE(engine.in_fallback());
  std::string why = store_->GetKv(Engine::kModeReasonKey)->value_or("");
  EXPECT_NE(why.find("webhook 42 (https://orch.example.com/webhook) shows its last 2 delivery "
                     "attempt(s) failed (Invalid HTTP Response: 502)"),
            std::string::npos)
      << why;
  // A delivery arrives: fallback ends, and the failures before it no longer count, though
  // GitHub's record still lists them.
  clock_.Advance(1);
  Deliver("d-back", "bob", 9);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_FALSE(engine.in_fallback());
  clock_.Advance(120);
  ASSERT_TRUE(engine.Tick().ok());
  EXPECT_GE(github_.Count("hook deliveries 42"), 3);
  EXPECT_FALSE(engine.in_fallback());
}

TEST_F(EngineIntakeTest, HooksTheTokenMayNotReadAreAskedOnce) {
  // Without admin rights GitHub answers 404; orch notes it once and stops asking.
  github_.hooks_error = Status::NotFound("listing webhooks of acme/widgets", "HTTP 404: Not Found");
  Engine engine(*store_, config_, clock_, &github_, [] { return Status::OK(); });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(engine.Tick().ok());
    clock_.Advance(120);
  }
  EXPECT_EQ(github_.Count("issues"), 3);
  EXPECT_EQ(github_.Count("hooks"), 1);
  EXPECT_FALSE(engine.in_fallback());
}

}  // namespace
}  // namespace orch
