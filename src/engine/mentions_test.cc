#include "engine/mentions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agents/attempt_outcome.h"
#include "engine/reviews.h"
#include "testing/fake_github.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Comment IssueComment(int64_t id, int64_t issue, const std::string& login, const std::string& body,
                     const std::string& updated_at = "2026-12-01T10:00:00Z") {
  Comment c{
      id, body, {login, "User"}, "https://github.com/acme/widgets/issues/1#c" + std::to_string(id)};
  c.issue_number = issue;
  c.created_at = updated_at;
  c.updated_at = updated_at;
  return c;
}

class MentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(":memory:", clock_)).value();
    project_ = *store_->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = "/w"});
    handler_ = std::make_unique<MentionHandler>(*store_, github_, trust_, config_);
    github_.permissions = {{"alice", "admin"}, {"bob", "write"}, {"eve", "read"}};
    Issue issue;
    issue.number = 7;
    issue.title = "Fix the frobnicator";
    issue.body = "It breaks on Mondays.";
    github_.issues.push_back(issue);
    github_.threads[7] = {IssueComment(900, 7, "carol", "Seen it too, on Tuesdays."),
                          IssueComment(991, 7, "bob", "@orch-bot please fix it")};
    handler_->set_bot_login("orch-bot");
  }
  Result<std::string> Apply(const Mention& m) { return handler_->Apply(project_, m); }
  Mention OnIssue(int64_t id = 991, const std::string& login = "bob",
                  const std::string& body = "@orch-bot please fix it") {
    return MentionOfComment(IssueComment(id, 7, login, body), Thread::kIssue);
  }
  // A task of issue 7 that has a branch and pull request #12.
  Task IssueTaskInReview() {
    Task t = *store_->AddTask({.project_id = project_.id,
                               .external_id = "7",
                               .source = TaskSource::kGithub,
                               .title = "Fix the frobnicator"},
                              {"test", "made"});
    EXPECT_TRUE(store_->SetTaskBranch(t.id, "orch/7-fix-the-frobnicator").ok());
    EXPECT_TRUE(store_->SetTaskPullRequest(t.id, 12).ok());
    return *store_->GetTask(t.id);
  }
  std::vector<Task> Tasks() { return *store_->ListTasks({}); }

  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  Project project_;
  test::FakeGitHub github_;
  TrustPolicy trust_{github_, clock_, {}};
  Config config_;
  std::unique_ptr<MentionHandler> handler_;
};

TEST_F(MentionTest, OnAnIssueItMakesTheIssuesTaskWithTheCommentAsRequestAndReacts) {
  Result<std::string> did = Apply(OnIssue());
  ASSERT_TRUE(did.ok()) << did.status().message();
  EXPECT_THAT(*did, HasSubstr("created task"));
  std::vector<Task> tasks = Tasks();
  ASSERT_EQ(tasks.size(), 1u);
  const Task& t = tasks[0];
  EXPECT_EQ(t.source, TaskSource::kMention);
  EXPECT_EQ(t.source_id, "comment 991");
  EXPECT_EQ(t.external_id, "7");  // tied to the issue: its PR says "Closes #7"
  EXPECT_EQ(IssueNumber(t), 7);
  EXPECT_EQ(t.title, "Fix the frobnicator");
  EXPECT_FALSE(t.parent_id);
  // The comment is the request; the issue and its thread are context.
  EXPECT_THAT(t.body, HasSubstr("@bob mentioned orch on issue #7"));
  EXPECT_THAT(t.body, HasSubstr("@orch-bot please fix it"));
  EXPECT_THAT(t.body, HasSubstr("It breaks on Mondays."));
  EXPECT_THAT(t.body, HasSubstr("@carol:\nSeen it too, on Tuesdays."));
  EXPECT_THAT(github_.reactions, ElementsAre("issue 991 eyes"));
  Result<std::optional<MentionReply>> reply = LoadMentionReply(*store_, t);
  ASSERT_TRUE(reply.ok() && *reply);
  EXPECT_EQ((*reply)->thread, 7);
  EXPECT_EQ((*reply)->author, "bob");

  // The same comment again (a redelivery, or the sync after the webhook) makes nothing.
  EXPECT_THAT(*Apply(OnIssue()), HasSubstr("exists"));
  EXPECT_EQ(Tasks().size(), 1u);
  EXPECT_EQ(github_.reactions.size(), 1u);
}

TEST_F(MentionTest, UntrustedAuthorsAndOrchItselfStartNothing) {
  EXPECT_THAT(*Apply(OnIssue(992, "eve")), HasSubstr("ignored: untrusted: eve has read access"));
  EXPECT_THAT(*Apply(OnIssue(993, "orch-bot")), HasSubstr("orch's own comment"));
  EXPECT_THAT(*Apply(OnIssue(994, "bob", "thanks @orch-bottle")), HasSubstr("does not mention"));
  EXPECT_THAT(Tasks(), IsEmpty());
  EXPECT_THAT(github_.reactions, IsEmpty());
}

TEST_F(MentionTest, OnAnIssueWithAnOpenTaskItIsAFollowUpOnItsBranch) {
  Task parent = IssueTaskInReview();
  ASSERT_THAT(*Apply(OnIssue()), HasSubstr("follow-up task"));
  std::vector<Task> children = *store_->ListTasks({.parent_id = parent.id});
  ASSERT_EQ(children.size(), 1u);
  EXPECT_TRUE(IsFollowUp(children[0]));
  EXPECT_EQ(children[0].branch, "orch/7-fix-the-frobnicator");
  EXPECT_FALSE(children[0].external_id);
  EXPECT_THAT(children[0].body, HasSubstr("pull request #12"));
}

TEST_F(MentionTest, OnAnIssueWhoseTaskIsDoneItIsNewWorkNotClosingTheIssueAgain) {
  Task done = IssueTaskInReview();
  ASSERT_TRUE(store_->Transition(done.id, TaskStatus::kNew, TaskStatus::kDone, {"t", "t"}).ok());
  ASSERT_THAT(*Apply(OnIssue()), HasSubstr("created task"));
  std::vector<Task> tasks = *store_->ListTasks({.source_id = std::string("comment 991")});
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_FALSE(tasks[0].parent_id);
  EXPECT_FALSE(tasks[0].external_id);
  EXPECT_TRUE(tasks[0].branch.empty());  // its own branch and PR
}

TEST_F(MentionTest, OnOrchsPullRequestAReviewCommentIsAFollowUpWithItsPlace) {
  Task parent = IssueTaskInReview();
  ReviewComment rc{55,
                   "src/a.c",
                   3,
                   "@@ -1 +1 @@\n+int x;",
                   "@orch-bot use size_t here",
                   GitHubUser{"alice", "User"}};
  rc.pr_number = 12;
  ASSERT_THAT(*Apply(MentionOfReviewComment(rc, "")), HasSubstr("follow-up task"));
  std::vector<Task> children = *store_->ListTasks({.parent_id = parent.id});
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].source_id, "review comment 55");
  EXPECT_EQ(children[0].branch, parent.branch);
  EXPECT_THAT(children[0].body, HasSubstr("File: src/a.c, line 3"));
  EXPECT_THAT(children[0].body, HasSubstr("+int x;"));
  EXPECT_THAT(github_.reactions, ElementsAre("review 55 eyes"));
  Result<std::optional<MentionReply>> reply = LoadMentionReply(*store_, children[0]);
  ASSERT_TRUE(reply.ok() && *reply);
  EXPECT_EQ((*reply)->thread, 12);  // answered on the pull request
}

TEST_F(MentionTest, AnotherPullRequestNeedsTheOptionAndNeverAFork) {
  PullRequest pr;
  pr.number = 30;
  pr.state = "open";
  pr.head_ref = "speedup";
  pr.head_repo = "acme/widgets";
  github_.pulls[30] = pr;
  Mention m =
      MentionOfComment(IssueComment(996, 30, "bob", "@orch-bot add a test"), Thread::kPullRequest);
  EXPECT_THAT(*Apply(m), HasSubstr("not one of orch's (workflow.mentions_on_foreign_prs is off)"));
  EXPECT_THAT(Tasks(), IsEmpty());

  config_.workflow.mentions_on_foreign_prs = true;
  MentionHandler allowed(*store_, github_, trust_, config_);
  allowed.set_bot_login("orch-bot");
  github_.pulls[30].head_repo = "mallory/widgets";
  EXPECT_THAT(*allowed.Apply(project_, m), HasSubstr("fork mallory/widgets"));
  EXPECT_THAT(Tasks(), IsEmpty());

  github_.pulls[30].head_repo = "acme/widgets";
  EXPECT_THAT(*allowed.Apply(project_, m), HasSubstr("created task"));
  ASSERT_EQ(Tasks().size(), 1u);
  EXPECT_EQ(Tasks()[0].branch, "speedup");
  EXPECT_EQ(Tasks()[0].pr_number, 30);
}

TEST_F(MentionTest, AnUnownedOrchBranchIsRetriedNotDropped) {
  Mention m =
      MentionOfComment(IssueComment(997, 40, "bob", "@orch-bot more"), Thread::kPullRequest);
  m.pr_head = "orch/9-something";
  Result<std::string> did = Apply(m);
  EXPECT_TRUE(did.status().IsRetryable()) << did.status().message();
}

TEST_F(MentionTest, ACommentingReviewThatMentionsOrchIsARequestToo) {
  Task parent = IssueTaskInReview();
  ReviewHandler reviews(*store_, github_, trust_, config_);
  reviews.set_bot_login("orch-bot");
  reviews.set_mentions(handler_.get());
  Review review{77, "COMMENTED", "@orch-bot also update the README", {"alice", "User"}};
  ASSERT_THAT(*reviews.Apply(project_, 12, review), HasSubstr("follow-up task"));
  EXPECT_THAT(*reviews.Apply(project_, 12, review), HasSubstr("already handled"));
  std::vector<Task> children = *store_->ListTasks({.parent_id = parent.id});
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].source_id, "review 77");
  EXPECT_THAT(github_.reactions, IsEmpty());  // GitHub has no reactions on reviews
}

TEST_F(MentionTest, TheSyncStartsAtTheIssuesCursorAndFindsEachMentionOnce) {
  ASSERT_TRUE(store_->SetKv("sync.acme/widgets", R"({"since":"2026-12-01T09:00:00Z"})").ok());
  github_.repo_comments = {IssueComment(980, 7, "bob", "@orch-bot old", "2026-12-01T08:00:00Z")};
  // The first look starts at the issues' cursor: the older mention starts nothing.
  ASSERT_EQ(*handler_->Sync(project_), 0);
  EXPECT_THAT(github_.calls,
              ::testing::Contains(HasSubstr("repo comments since=2026-12-01T09:00:00Z ")));
  EXPECT_THAT(Tasks(), IsEmpty());

  github_.repo_comments.push_back(
      IssueComment(991, 7, "bob", "@orch-bot please fix it", "2026-12-01T10:00:00Z"));
  github_.repo_comments.push_back(
      IssueComment(992, 7, "carol", "no mention here", "2026-12-01T10:01:00Z"));
  Result<int> synced = handler_->Sync(project_);
  ASSERT_TRUE(synced.ok()) << synced.status().message();
  EXPECT_EQ(*synced, 1);
  ASSERT_EQ(Tasks().size(), 1u);
  EXPECT_EQ(Tasks()[0].source_id, "comment 991");
  EXPECT_EQ(Tasks()[0].external_id, "7");  // GitHub said #7 is an issue
  EXPECT_THAT(github_.calls,
              ::testing::Contains(HasSubstr("repo comments since=2026-12-01T09:00:00Z ")));

  // The cursor moved: the next sync asks from the newest comment on and makes nothing new.
  ASSERT_TRUE(handler_->Sync(project_).ok());
  EXPECT_THAT(github_.calls,
              ::testing::Contains(HasSubstr("repo comments since=2026-12-01T10:01:00Z ")));
  EXPECT_EQ(Tasks().size(), 1u);
}

TEST_F(MentionTest, TheSyncFindsReviewCommentsOnOrchsPullRequests) {
  Task parent = IssueTaskInReview();
  ASSERT_TRUE(handler_->Sync(project_).ok());  // no issues' cursor: no comments yet either
  ReviewComment rc{
      55, "src/a.c", 3, "@@ -1 +1 @@", "@orch-bot use size_t here", GitHubUser{"alice", "User"}};
  rc.pr_number = 12;
  rc.updated_at = "2099-01-01T00:00:00Z";
  github_.repo_review_comments = {rc};
  Result<int> synced = handler_->Sync(project_);
  ASSERT_TRUE(synced.ok()) << synced.status().message();
  EXPECT_EQ(*synced, 1);
  std::vector<Task> children = *store_->ListTasks({.parent_id = parent.id});
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].source_id, "review comment 55");
  EXPECT_EQ(children[0].branch, parent.branch);
}

TEST_F(MentionTest, AFailingMentionIsRetriedFromItsCommentAtTheNextSync) {
  ASSERT_TRUE(store_->SetKv("sync.acme/widgets", R"({"since":"2026-12-01T09:00:00Z"})").ok());
  ASSERT_TRUE(handler_->Sync(project_).ok());
  github_.repo_comments = {
      IssueComment(991, 7, "bob", "@orch-bot please fix it", "2026-12-01T10:00:00Z"),
      IssueComment(992, 7, "alice", "@orch-bot and this", "2026-12-01T10:05:00Z")};
  github_.fail_permission["bob"] = Status::Unavailable("github", "HTTP 502");
  Result<int> failed = handler_->Sync(project_);
  EXPECT_TRUE(failed.status().IsRetryable());
  EXPECT_THAT(Tasks(), IsEmpty());  // alice's comment waits behind bob's

  github_.fail_permission.clear();
  github_.calls.clear();
  Result<int> synced = handler_->Sync(project_);
  ASSERT_TRUE(synced.ok()) << synced.status().message();
  EXPECT_THAT(github_.calls,
              ::testing::Contains(HasSubstr("repo comments since=2026-12-01T09:00:00Z ")));
  ASSERT_EQ(Tasks().size(), 2u);  // bob's is the issue's task; alice's follows it up
}

// A task of issue 7 whose agent asked a question (orch's comment 995 on the issue).
Task AskingTask(Store& store, const Project& project) {
  Task t = *store.AddTask({.project_id = project.id,
                           .external_id = "7",
                           .source = TaskSource::kGithub,
                           .title = "Fix the frobnicator"},
                          {"test", "made"});
  EXPECT_TRUE(store.Transition(t.id, TaskStatus::kNew, TaskStatus::kInProgress, {"test", ""}).ok());
  Task now = *store.GetTask(t.id);
  EXPECT_TRUE(RecordQuestion(
                  store, now,
                  {.question = "Metric or imperial?", .attempt = 1, .thread = 7, .comment_id = 995},
                  "agent:claude")
                  .ok());
  return *store.GetTask(t.id);
}

TEST_F(MentionTest, APlainReplyByATrustedPersonAnswersTheAgentsQuestionAndResumesTheTask) {
  Task t = AskingTask(*store_, project_);
  EXPECT_EQ(t.status, TaskStatus::kNeedsReview);
  EXPECT_THAT(t.status_reason, HasSubstr("waiting for input: Metric or imperial? (asked on #7)"));
  // A comment from before the question, replayed by a sync, answers nothing.
  EXPECT_THAT(*Apply(OnIssue(994, "bob", "old news")), HasSubstr("does not mention"));
  // An untrusted reply resumes nothing.
  EXPECT_THAT(*Apply(OnIssue(996, "eve", "imperial!")),
              HasSubstr("ignored: untrusted answer to task " + std::to_string(t.id)));
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kNeedsReview);
  // bob's reply needs no mention: orch asked.
  Result<std::string> did = Apply(OnIssue(997, "bob", "Metric, please."));
  ASSERT_TRUE(did.ok()) << did.status().message();
  EXPECT_THAT(*did, HasSubstr("answered task " + std::to_string(t.id)));
  Task resumed = *store_->GetTask(t.id);
  EXPECT_EQ(resumed.status, TaskStatus::kRouted);  // its route and session kept
  EXPECT_THAT(resumed.status_reason, HasSubstr("answered: Metric, please."));
  EXPECT_THAT(github_.reactions, ElementsAre("issue 997 eyes"));
  std::vector<Question> qs = *LoadQuestions(*store_, t.id);
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].answer, "Metric, please.");
  EXPECT_EQ(qs[0].answered_by, "bob");
  // The next prompt carries the question and the answer, fenced.
  std::string prompt = AnswersForPrompt(qs);
  EXPECT_THAT(prompt, HasSubstr("You asked (attempt 1): Metric or imperial?"));
  EXPECT_THAT(prompt, HasSubstr("The answer, from @bob on GitHub:\n<<<UNTRUSTED TASK\nMetric, "
                                "please.\nUNTRUSTED TASK>>>"));
  // A second reply is only a comment now; nothing else made.
  EXPECT_THAT(*Apply(OnIssue(998, "alice", "or imperial")), HasSubstr("does not mention"));
  EXPECT_EQ(Tasks().size(), 1u);
}

TEST_F(MentionTest, TheSyncReadsAnAnswerThatMentionsNobody) {
  Task t = AskingTask(*store_, project_);
  ASSERT_TRUE(store_->SetKv("sync.acme/widgets", R"({"since":"2026-12-01T09:00:00Z"})").ok());
  github_.repo_comments = {IssueComment(999, 7, "alice", "Metric.", "2026-12-01T10:00:00Z")};
  Result<int> synced = handler_->Sync(project_);
  ASSERT_TRUE(synced.ok()) << synced.status().message();
  EXPECT_EQ(*synced, 1);
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kRouted);
  EXPECT_EQ(LoadQuestions(*store_, t.id)->back().answered_by, "alice");
}

TEST_F(MentionTest, QuestionsAskedWithoutGitHubAreAnsweredThroughTheCli) {
  Task t = *store_->AddTask({.project_id = project_.id, .title = "local work"}, {"test", "made"});
  ASSERT_TRUE(store_->Transition(t.id, TaskStatus::kNew, TaskStatus::kInProgress, {"t", ""}).ok());
  ASSERT_TRUE(RecordQuestion(*store_, *store_->GetTask(t.id),
                             {.question = "Which file?", .attempt = 2}, "agent:codex")
                  .ok());
  EXPECT_THAT(store_->GetTask(t.id)->status_reason,
              HasSubstr("answer with `orch task answer " + std::to_string(t.id) + " TEXT`"));
  ASSERT_TRUE(RecordAnswer(*store_, *store_->GetTask(t.id), "a.txt", "cli:alice", "").ok());
  EXPECT_EQ(store_->GetTask(t.id)->status, TaskStatus::kRouted);
  EXPECT_THAT(AnswersForPrompt(*LoadQuestions(*store_, t.id)),
              HasSubstr("The answer, from @alice through orch:"));
  // Nothing left to answer.
  EXPECT_TRUE(RecordAnswer(*store_, *store_->GetTask(t.id), "b", "cli:alice", "").IsConflict());
}

}  // namespace
}  // namespace orch
