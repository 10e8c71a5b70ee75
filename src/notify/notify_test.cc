#include "notify/notify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A channel that records what it was asked to send, and fails on demand.
class FakeChannel : public ChatChannel {
 public:
  FakeChannel(std::string name, size_t max_chars, std::chrono::milliseconds interval)
      : name_(std::move(name)), max_chars_(max_chars), gate_(interval) {}
  std::string name() const override { return name_; }
  size_t max_chars() const override { return max_chars_; }
  SendGate& gate() override { return gate_; }
  Status Send(const std::string& text) override {
    ++send_calls;
    if (!send_status.ok()) return send_status;
    sent.push_back(text);
    return Status::OK();
  }
  Status CheckHealth() override {
    ++health_calls;
    return health;
  }

  std::vector<std::string> sent;
  Status send_status;
  Status health;
  int send_calls = 0;
  int health_calls = 0;

 private:
  std::string name_;
  size_t max_chars_;
  SendGate gate_;
};

// Values built field by field: designated initializers that skip fields trip -Wextra.
Event Ev(std::string kind, std::string from, std::string to, std::string reason = "") {
  Event e;
  e.kind = std::move(kind);
  e.from_status = std::move(from);
  e.to_status = std::move(to);
  e.reason = std::move(reason);
  return e;
}

Task TaskOf(int64_t id, std::string title, TaskSource source = TaskSource::kCli,
            std::optional<int64_t> parent = std::nullopt) {
  Task t;
  t.id = id;
  t.project = "acme/widgets";
  t.title = std::move(title);
  t.source = source;
  t.parent_id = parent;
  return t;
}

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(":memory:", clock_)).value();
    project_ = *store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"});
  }
  std::unique_ptr<Notifier> Make(NotificationLevel level, std::vector<ChatChannel*> channels) {
    auto n = std::make_unique<Notifier>(*store_, clock_, NotifierOptions{.level = level},
                                        std::move(channels));
    EXPECT_TRUE(n->LoadCursors().ok());
    return n;
  }
  Task AddTask(const std::string& title) {
    NewTask n;
    n.project_id = project_.id;
    n.title = title;
    return *store_->AddTask(n, {"test", "made"});
  }
  // new -> routed -> in_progress -> in_review with PR #7 -> done.
  void RunThrough(const Task& t) {
    ASSERT_TRUE(
        store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"engine", "round robin"})
            .ok());
    ASSERT_TRUE(store_
                    ->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress,
                                 {"engine", "claude started"})
                    .ok());
    ASSERT_TRUE(store_->SetTaskPullRequest(t.id, 7).ok());
    ASSERT_TRUE(store_
                    ->Transition(t.id, TaskStatus::kInProgress, TaskStatus::kInReview,
                                 {"engine", "pull request #7 is open"})
                    .ok());
    ASSERT_TRUE(
        store_
            ->Transition(t.id, TaskStatus::kInReview, TaskStatus::kDone, {"github:alice", "merged"})
            .ok());
  }

  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
  FakeChannel tg_{"telegram", 4096, std::chrono::milliseconds(0)};
  FakeChannel dc_{"discord", 2000, std::chrono::milliseconds(0)};
};

TEST(NotifyFormatTest, NamesTheTaskTheMoveTheReasonAndThePullRequest) {
  Task t = TaskOf(12, "Fix it");
  Event e = Ev("transition", "in_progress", "in_review", "pull request #7 is open");
  EXPECT_EQ(FormatNotification(e, t, "https://github.com/acme/widgets/pull/7"),
            "[acme/widgets#12] Fix it: in_progress \u2192 in_review (pull request #7 is open)\n"
            "https://github.com/acme/widgets/pull/7");
  e.reason = "";
  EXPECT_EQ(FormatNotification(e, t, ""), "[acme/widgets#12] Fix it: in_progress \u2192 in_review");
}

TEST(NotifyFormatTest, AFollowUpNamesItsParent) {
  Task t = TaskOf(13, "Rename x", TaskSource::kReview, 12);
  Event e = Ev("created", "", "new", "changes requested by bob");
  EXPECT_EQ(ClassifyEvent(e, t), NotifyKind::kFollowUp);
  EXPECT_EQ(FormatNotification(e, t, ""),
            "[acme/widgets#13] Rename x: created \u2192 new (follow-up of #12: changes requested "
            "by bob)");
}

TEST(NotifyFormatTest, PullRequestUrlsFollowTheGitHubInUse) {
  EXPECT_EQ(PullRequestUrl("https://api.github.com", "a/b", 3), "https://github.com/a/b/pull/3");
  EXPECT_EQ(PullRequestUrl("https://ghe.corp/api/v3", "a/b", 3), "https://ghe.corp/a/b/pull/3");
}

TEST(NotifyClassifyTest, EachWatchedMoveHasItsKind) {
  Task task = TaskOf(1, "t", TaskSource::kGithub);
  auto kind = [&](std::string from, std::string to, std::string reason = "") {
    return ClassifyEvent(Ev("transition", from, to, reason), task);
  };
  EXPECT_EQ(kind("new", "routed"), NotifyKind::kRouted);
  EXPECT_EQ(kind("routed", "in_progress"), NotifyKind::kStarted);
  EXPECT_EQ(kind("in_progress", "in_review"), NotifyKind::kPullRequest);
  EXPECT_EQ(kind("in_review", "done"), NotifyKind::kDone);
  EXPECT_EQ(kind("in_progress", "needs_review"), NotifyKind::kNeedsReview);
  EXPECT_EQ(kind("in_progress", "routed", "claude exited 1; retrying claude"),
            NotifyKind::kFailedAttempt);
  EXPECT_EQ(kind("in_progress", "routed", "rate limited; failing over to codex"),
            NotifyKind::kFailedAttempt);
  EXPECT_FALSE(kind("in_progress", "routed", "no agent was running after a restart").has_value());
  EXPECT_FALSE(kind("needs_review", "new", "unblocked").has_value());
  EXPECT_FALSE(kind("in_progress", "blocked").has_value());
  // A created task is news only as a review's follow-up.
  EXPECT_FALSE(ClassifyEvent(Ev("created", "", "new"), task).has_value());
}

TEST(NotifyClassifyTest, LevelsSendWhatTheDocsSay) {
  auto sent = [](NotificationLevel level) {
    std::vector<std::string> out;
    for (NotifyKind k : {NotifyKind::kRouted, NotifyKind::kStarted, NotifyKind::kPullRequest,
                         NotifyKind::kFollowUp, NotifyKind::kDone, NotifyKind::kNeedsReview,
                         NotifyKind::kFailedAttempt}) {
      if (LevelSends(level, k)) out.push_back(NotifyKindName(k));
    }
    return out;
  };
  EXPECT_EQ(sent(NotificationLevel::kAll).size(), 7u);
  EXPECT_THAT(sent(NotificationLevel::kImportant),
              ElementsAre("pull_request", "follow_up", "done", "needs_review", "failed_attempt"));
  EXPECT_THAT(sent(NotificationLevel::kErrors), ElementsAre("needs_review", "failed_attempt"));
  EXPECT_TRUE(sent(NotificationLevel::kNone).empty());
}

TEST_F(NotifierTest, SendsATasksJourneyToEveryChannelOnce) {
  // Given both channels at level all, a task that goes new -> ... -> done
  // is told once per move on each, with the PR link once there is a PR.
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_, &dc_});
  Task t = AddTask("Add a greeting");
  RunThrough(t);
  ASSERT_TRUE(n->Step().ok());
  ASSERT_TRUE(n->Step().ok());  // nothing new: nothing sent again
  for (FakeChannel* c : {&tg_, &dc_}) {
    ASSERT_EQ(c->sent.size(), 4u) << c->name();
    EXPECT_EQ(c->sent[0], "[acme/widgets#" + std::to_string(t.id) +
                              "] Add a greeting: new \u2192 routed (round robin)");
    EXPECT_THAT(c->sent[2], HasSubstr("in_progress \u2192 in_review"));
    EXPECT_THAT(c->sent[2], HasSubstr("\nhttps://github.com/acme/widgets/pull/7"));
    EXPECT_THAT(c->sent[3], HasSubstr("in_review \u2192 done (merged)"));
  }
}

TEST_F(NotifierTest, LevelErrorsSendsOnlyFailures) {
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kErrors, {&tg_});
  Task good = AddTask("Good");
  RunThrough(good);
  Task bad = AddTask("Bad");
  ASSERT_TRUE(store_->Transition(bad.id, TaskStatus::kNew, TaskStatus::kRouted, {"e", ""}).ok());
  ASSERT_TRUE(
      store_->Transition(bad.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"e", ""}).ok());
  ASSERT_TRUE(store_
                  ->Transition(bad.id, TaskStatus::kInProgress, TaskStatus::kRouted,
                               {"engine", "exit 1; retrying claude"})
                  .ok());
  ASSERT_TRUE(
      store_->Transition(bad.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"e", ""}).ok());
  ASSERT_TRUE(store_
                  ->Transition(bad.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                               {"engine", "attempt 2 of 2 failed"})
                  .ok());
  ASSERT_TRUE(n->Step().ok());
  ASSERT_EQ(tg_.sent.size(), 2u);
  EXPECT_THAT(tg_.sent[0], HasSubstr("in_progress \u2192 routed (exit 1; retrying claude)"));
  EXPECT_THAT(tg_.sent[1], HasSubstr("in_progress \u2192 needs_review"));
}

TEST_F(NotifierTest, AFailedSendKeepsTheCursorAndIsRetriedWithBackoff) {
  // Given Discord failing, its cursor stays while Telegram's moves on; once Discord works again
  // (after the backoff) it gets what it missed, and Telegram nothing twice.
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_, &dc_});
  dc_.send_status = Status::Unavailable("discord", "HTTP 502");
  Task t = AddTask("Flaky");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"e", "r"}).ok());
  ASSERT_TRUE(n->Step().ok());
  EXPECT_EQ(tg_.sent.size(), 1u);
  EXPECT_TRUE(dc_.sent.empty());
  int calls = dc_.send_calls;
  ASSERT_TRUE(n->Step().ok());  // within the backoff: not even tried
  EXPECT_EQ(dc_.send_calls, calls);
  dc_.send_status = Status::OK();
  clock_.Advance(5);
  ASSERT_TRUE(n->Step().ok());
  EXPECT_EQ(dc_.sent.size(), 1u);
  EXPECT_EQ(tg_.sent.size(), 1u);
}

TEST_F(NotifierTest, TheCursorSurvivesARestart) {
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_});
  Task t = AddTask("One");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"e", "r"}).ok());
  ASSERT_TRUE(n->Step().ok());
  tg_.send_status = Status::Unavailable("telegram", "down");
  ASSERT_TRUE(
      store_->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"e", "s"}).ok());
  ASSERT_TRUE(n->Step().ok());  // fails: the start is kept for later
  n.reset();                    // the daemon restarts
  tg_.send_status = Status::OK();
  std::unique_ptr<Notifier> again = Make(NotificationLevel::kAll, {&tg_});
  ASSERT_TRUE(again->Step().ok());
  ASSERT_EQ(tg_.sent.size(), 2u);
  EXPECT_THAT(tg_.sent[1], HasSubstr("routed \u2192 in_progress"));
}

TEST_F(NotifierTest, OnlyTheLeadersNotifierSendsAndANewLeaderGoesOnWhereTheLastStopped) {
  // Two hosts of a fleet, one store: each message goes out once, whichever host leads.
  bool a_leads = true;
  FakeChannel tg_b{"telegram", 4096, std::chrono::milliseconds(0)};
  auto make = [&](bool* leads, FakeChannel* channel) {
    NotifierOptions o{.level = NotificationLevel::kAll};
    o.leads = [leads] { return *leads; };
    auto n = std::make_unique<Notifier>(*store_, clock_, o, std::vector<ChatChannel*>{channel});
    EXPECT_TRUE(n->LoadCursors().ok());
    return n;
  };
  bool b_leads = false;
  std::unique_ptr<Notifier> a = make(&a_leads, &tg_), b = make(&b_leads, &tg_b);
  Task t = AddTask("One");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"e", "r"}).ok());
  ASSERT_TRUE(a->Step().ok());
  ASSERT_TRUE(b->Step().ok());
  EXPECT_EQ(tg_.sent.size(), 1u);
  EXPECT_EQ(tg_b.sent.size(), 0u);
  // The lead moves to b (a stopped renewing it): b sends what came since, and only that.
  a_leads = false;
  b_leads = true;
  ASSERT_TRUE(
      store_->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"e", "s"}).ok());
  ASSERT_TRUE(a->Step().ok());
  ASSERT_TRUE(b->Step().ok());
  EXPECT_EQ(tg_.sent.size(), 1u);
  ASSERT_EQ(tg_b.sent.size(), 1u);
  EXPECT_THAT(tg_b.sent[0], HasSubstr("routed \u2192 in_progress"));
}

TEST_F(NotifierTest, ANewChannelStartsAtTheNewestEvent) {
  RunThrough(AddTask("Old news"));
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_});
  ASSERT_TRUE(n->Step().ok());
  EXPECT_TRUE(tg_.sent.empty());
}

TEST_F(NotifierTest, RateLimitSendsOneMessagePerIntervalWithTheClock) {
  FakeChannel slow("telegram", 4096, std::chrono::milliseconds(1000));
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&slow});
  RunThrough(AddTask("Busy"));
  ASSERT_TRUE(n->Step().ok());
  EXPECT_EQ(slow.sent.size(), 1u);
  ASSERT_TRUE(n->Step().ok());  // same instant: the gate is shut
  EXPECT_EQ(slow.sent.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(1);
    ASSERT_TRUE(n->Step().ok());
  }
  EXPECT_EQ(slow.sent.size(), 4u);
}

TEST_F(NotifierTest, ALongMessageIsSplitAndAPartialSendResumesAtTheNextPart) {
  FakeChannel tiny("discord", 40, std::chrono::milliseconds(0));
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kErrors, {&tiny});
  Task t = AddTask("Long");
  ASSERT_TRUE(store_
                  ->Transition(t.id, TaskStatus::kNew, TaskStatus::kNeedsReview,
                               {"engine", std::string(100, 'x')})
                  .ok());
  ASSERT_TRUE(n->Step().ok());
  ASSERT_GE(tiny.sent.size(), 3u);
  std::string joined;
  for (const auto& p : tiny.sent) {
    EXPECT_LE(Utf16Length(p), 40u);
    joined += p;
  }
  EXPECT_THAT(joined, HasSubstr(std::string(100, 'x')));
}

TEST_F(NotifierTest, AFailedHealthCheckIsCheckedAgainAfterBackoff) {
  tg_.health = Status::Unavailable("telegram getMe", "connection refused");
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_});
  RunThrough(AddTask("Waiting"));
  ASSERT_TRUE(n->Step().ok());
  ASSERT_TRUE(n->Step().ok());
  EXPECT_EQ(tg_.health_calls, 1);  // backing off
  EXPECT_EQ(tg_.send_calls, 0);
  tg_.health = Status::OK();
  clock_.Advance(5);
  ASSERT_TRUE(n->Step().ok());
  EXPECT_EQ(tg_.health_calls, 2);
  EXPECT_EQ(tg_.sent.size(), 4u);  // nothing lost while it was down
}

TEST_F(NotifierTest, AMessageRefusedFiveTimesIsSkipped) {
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_});
  tg_.send_status = Status::InvalidArgument("telegram sendMessage", "HTTP 400: bad");
  Task t = AddTask("Refused");
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kRouted, {"e", "r"}).ok());
  for (int i = 0; i < 10 && tg_.send_calls < Notifier::kMaxRefusals; ++i) {
    ASSERT_TRUE(n->Step().ok());
    clock_.Advance(300);
  }
  EXPECT_EQ(tg_.send_calls, Notifier::kMaxRefusals);
  tg_.send_status = Status::OK();
  ASSERT_TRUE(
      store_->Transition(t.id, TaskStatus::kRouted, TaskStatus::kInProgress, {"e", "s"}).ok());
  ASSERT_TRUE(n->Step().ok());
  ASSERT_EQ(tg_.sent.size(), 1u);
  EXPECT_THAT(tg_.sent[0], HasSubstr("routed \u2192 in_progress"));
}

TEST_F(NotifierTest, SecretsAreRedacted) {
  std::unique_ptr<Notifier> n = Make(NotificationLevel::kAll, {&tg_});
  Task t = AddTask("Leak");
  ASSERT_TRUE(store_
                  ->Transition(t.id, TaskStatus::kNew, TaskStatus::kNeedsReview,
                               {"engine", "failed: ghp_abcdefghijklmnopqrstuvwxyz0123456789"})
                  .ok());
  ASSERT_TRUE(n->Step().ok());
  ASSERT_EQ(tg_.sent.size(), 1u);
  EXPECT_THAT(tg_.sent[0], ::testing::Not(HasSubstr("ghp_abc")));
  EXPECT_THAT(tg_.sent[0], HasSubstr("[REDACTED]"));
}

}  // namespace
}  // namespace orch
