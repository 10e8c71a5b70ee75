#include "engine/intake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/fake_github.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

Json Repo() { return {{"full_name", "acme/widgets"}, {"name", "widgets"}}; }
Json User(const std::string& login, const std::string& type = "User") {
  return {{"login", login}, {"type", type}};
}
Json IssueJson(int number, std::vector<std::string> labels, const std::string& state = "open") {
  Json ls = Json::array();
  for (const auto& l : labels) ls.push_back({{"name", l}});
  return {{"number", number},     {"title", "Fix the frobnicator"},
          {"body", "It breaks."}, {"state", state},
          {"labels", ls},         {"user", User("alice")}};
}
Json Labeled(const std::string& label, const std::string& sender, int number = 7) {
  return {{"action", "labeled"},
          {"issue", IssueJson(number, {label})},
          {"label", {{"name", label}}},
          {"repository", Repo()},
          {"sender", User(sender)}};
}

class IntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(":memory:", clock_)).value();
    project_ = *store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"});
    intake_ = std::make_unique<Intake>(*store_, trust_);
    github_.permissions = {{"alice", "admin"},
                           {"bob", "write"},
                           {"carol", "maintain"},
                           {"eve", "read"},
                           {"dependabot[bot]", "write"}};
  }
  Result<std::string> Apply(const std::string& event, const Json& payload) {
    return intake_->Apply(project_, DecideEvent(event, payload, rules_));
  }
  std::vector<Task> Tasks() { return *store_->ListTasks({}); }

  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
  test::FakeGitHub github_;
  TrustPolicy trust_{github_, clock_, {"trusted-outsider"}};
  std::unique_ptr<Intake> intake_;
  IntakeRules rules_{"orch-bot", {"orch"}};
};

TEST(MentionsLoginTest, MatchesWholeWordMentionsOnly) {
  EXPECT_TRUE(MentionsLogin("@orch-bot please fix", "orch-bot"));
  EXPECT_TRUE(MentionsLogin("hey @ORCH-BOT, look", "orch-bot"));
  EXPECT_FALSE(MentionsLogin("@orch-bottle", "orch-bot"));
  EXPECT_FALSE(MentionsLogin("mail me@orch-bot.com", "orch-bot"));
  EXPECT_FALSE(MentionsLogin("orch-bot without at", "orch-bot"));
  EXPECT_FALSE(MentionsLogin("@anyone", ""));
}

TEST(DecideEventTest, TriggerAndAgentLabelsCreateOtherLabelsDoNot) {
  IntakeRules rules{"orch-bot", {"orch"}};
  EXPECT_EQ(DecideEvent("issues", Labeled("orch", "alice"), rules).action,
            IntakeAction::kCreateTask);
  EXPECT_EQ(DecideEvent("issues", Labeled("agent:codex", "alice"), rules).action,
            IntakeAction::kCreateTask);
  IntakeDecision d = DecideEvent("issues", Labeled("bug", "alice"), rules);
  EXPECT_EQ(d.action, IntakeAction::kIgnore);
  EXPECT_THAT(d.reason, HasSubstr("no trigger label"));
}

TEST(DecideEventTest, OrchsOwnEventsStartNothing) {
  // GitHub echoes orch's own label changes back as webhooks; they must not loop.
  IntakeDecision d = DecideEvent("issues", Labeled("orch", "orch-bot"), {"orch-bot", {"orch"}});
  EXPECT_EQ(d.action, IntakeAction::kIgnore);
  EXPECT_THAT(d.reason, HasSubstr("orch's own event"));
}

TEST(DecideEventTest, ReadsCloseReopenMentionsAndPullRequests) {
  IntakeRules rules{"orch-bot", {"orch"}};
  Json closed = {{"action", "closed"},
                 {"issue", IssueJson(7, {"orch"}, "closed")},
                 {"repository", Repo()},
                 {"sender", User("alice")}};
  EXPECT_EQ(DecideEvent("issues", closed, rules).action, IntakeAction::kCloseTask);
  closed["action"] = "reopened";
  EXPECT_EQ(DecideEvent("issues", closed, rules).action, IntakeAction::kReopenTask);

  Json comment = {
      {"action", "created"},
      {"issue", IssueJson(7, {})},
      {"comment", {{"id", 991}, {"body", "@orch-bot add a test"}, {"user", User("bob")}}},
      {"repository", Repo()},
      {"sender", User("bob")}};
  IntakeDecision m = DecideEvent("issue_comment", comment, rules);
  EXPECT_EQ(m.action, IntakeAction::kMention);
  EXPECT_EQ(m.mention.source_id, "comment 991");
  EXPECT_EQ(m.mention.number, 7);
  EXPECT_EQ(m.mention.thread, Thread::kIssue);
  EXPECT_EQ(m.mention.author.login, "bob");
  EXPECT_EQ(m.mention.body, "@orch-bot add a test");
  comment["issue"]["pull_request"] = {{"url", "https://api.github.com/repos/acme/widgets/pulls/7"}};
  EXPECT_EQ(DecideEvent("issue_comment", comment, rules).mention.thread, Thread::kPullRequest);
  // A comment without a mention may answer an agent's question: the mention handler decides.
  comment["comment"]["body"] = "thanks @orch-bottle";
  IntakeDecision plain = DecideEvent("issue_comment", comment, rules);
  EXPECT_EQ(plain.action, IntakeAction::kMention);
  EXPECT_EQ(plain.reason, "a comment (an answer, if one is awaited)");

  Json review_comment = {
      {"action", "created"},
      {"comment",
       {{"id", 55},
        {"body", "@orch-bot rename this"},
        {"path", "a.c"},
        {"line", 3},
        {"diff_hunk", "@@ -1 +1 @@"},
        {"user", User("alice")}}},
      {"pull_request",
       {{"number", 12}, {"head", {{"ref", "feature"}, {"repo", {{"full_name", "acme/widgets"}}}}}}},
      {"repository", Repo()},
      {"sender", User("alice")}};
  IntakeDecision rc = DecideEvent("pull_request_review_comment", review_comment, rules);
  EXPECT_EQ(rc.action, IntakeAction::kMention);
  EXPECT_EQ(rc.mention.source_id, "review comment 55");
  EXPECT_EQ(rc.mention.kind, CommentKind::kReview);
  EXPECT_EQ(rc.mention.number, 12);
  EXPECT_EQ(rc.mention.pr_head, "feature");
  EXPECT_EQ(rc.mention.path, "a.c");
  EXPECT_EQ(rc.mention.line, 3);

  Json pr = {{"action", "closed"},
             {"pull_request", {{"number", 12}, {"merged", true}}},
             {"repository", Repo()},
             {"sender", User("alice")}};
  IntakeDecision merged = DecideEvent("pull_request", pr, rules);
  EXPECT_EQ(merged.action, IntakeAction::kPrMerged);
  EXPECT_EQ(merged.pr_number, 12);
  pr["pull_request"]["merged"] = false;
  EXPECT_EQ(DecideEvent("pull_request", pr, rules).action, IntakeAction::kPrClosed);
  EXPECT_EQ(DecideEvent("push", Json::object(), rules).action, IntakeAction::kIgnore);
}

TEST_F(IntakeTest, ATrustedLabelCreatesExactlyOneTask) {
  Result<std::string> r = Apply("issues", Labeled("orch", "bob"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r, HasSubstr("created task"));
  // The same label event again (a second delivery, or the sync seeing it) changes nothing.
  EXPECT_THAT(*Apply("issues", Labeled("orch", "bob")), HasSubstr("already exists"));
  std::vector<Task> tasks = Tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].external_id, "7");
  EXPECT_EQ(tasks[0].source, TaskSource::kGithub);
  EXPECT_EQ(tasks[0].title, "Fix the frobnicator");
  std::vector<Event> events = *store_->TaskEvents(tasks[0].id);
  EXPECT_EQ(events[0].actor, "github:bob");
  EXPECT_THAT(events[0].reason, HasSubstr("bob has write access"));
}

TEST_F(IntakeTest, MaintainAndAdminAreTrustedReadIsNot) {
  EXPECT_THAT(*Apply("issues", Labeled("orch", "carol", 1)), HasSubstr("created task"));
  EXPECT_THAT(*Apply("issues", Labeled("orch", "alice", 2)), HasSubstr("created task"));
  Result<std::string> r = Apply("issues", Labeled("orch", "eve", 3));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, HasSubstr("ignored: untrusted: eve has read access"));
  EXPECT_THAT(*Apply("issues", Labeled("orch", "mallory", 4)),
              HasSubstr("mallory is not a collaborator"));
  EXPECT_EQ(Tasks().size(), 2u);
}

TEST_F(IntakeTest, BotsAreUntrustedUnlessListedAndListedAuthorsNeedNoPermission) {
  Json bot = Labeled("orch", "dependabot[bot]", 1);
  bot["sender"]["type"] = "Bot";
  EXPECT_THAT(*Apply("issues", bot), HasSubstr("is a bot not listed"));
  EXPECT_THAT(*Apply("issues", Labeled("orch", "trusted-outsider", 2)), HasSubstr("created task"));
  EXPECT_EQ(github_.Count("permission trusted-outsider"), 0);
}

TEST_F(IntakeTest, PermissionsAreCachedForTenMinutes) {
  ASSERT_TRUE(Apply("issues", Labeled("orch", "bob", 1)).ok());
  ASSERT_TRUE(Apply("issues", Labeled("orch", "bob", 2)).ok());
  EXPECT_EQ(github_.Count("permission bob"), 1);
  clock_.Advance(601);
  ASSERT_TRUE(Apply("issues", Labeled("orch", "bob", 3)).ok());
  EXPECT_EQ(github_.Count("permission bob"), 2);
}

TEST_F(IntakeTest, AnUnansweredPermissionCheckFailsSoTheDeliveryIsRetried) {
  github_.fail_next = Status::Unavailable("github", "HTTP 502");
  Result<std::string> r = Apply("issues", Labeled("orch", "bob"));
  EXPECT_TRUE(r.status().IsRetryable());
  EXPECT_TRUE(Tasks().empty());
}

TEST_F(IntakeTest, CloseFinishesTheTaskAndReopenReturnsIt) {
  ASSERT_TRUE(Apply("issues", Labeled("orch", "bob")).ok());
  int64_t id = Tasks()[0].id;
  Json ev = {{"action", "closed"},
             {"issue", IssueJson(7, {"orch"}, "closed")},
             {"repository", Repo()},
             {"sender", User("alice")}};
  EXPECT_THAT(*Apply("issues", ev), HasSubstr("done"));
  EXPECT_EQ(store_->GetTask(id)->status, TaskStatus::kDone);
  ev["action"] = "reopened";
  EXPECT_THAT(*Apply("issues", ev), HasSubstr("back to new"));
  EXPECT_EQ(store_->GetTask(id)->status, TaskStatus::kNew);
}

TEST_F(IntakeTest, MergedPullRequestFinishesItsTask) {
  ASSERT_TRUE(Apply("issues", Labeled("orch", "bob")).ok());
  int64_t id = Tasks()[0].id;
  ASSERT_TRUE(store_->SetTaskPullRequest(id, 12).ok());
  Json pr = {{"action", "closed"},
             {"pull_request", {{"number", 12}, {"merged", true}}},
             {"repository", Repo()},
             {"sender", User("alice")}};
  EXPECT_THAT(*Apply("pull_request", pr), HasSubstr("done"));
  EXPECT_EQ(store_->GetTask(id)->status, TaskStatus::kDone);
}

}  // namespace
}  // namespace orch
