// Reviews close the loop: a review that requests changes becomes follow-up tasks run by the
// same agent on the same branch and pushed to the same PR; approval and merge finish the task.
// Real parts as in agents_test.cc: `orch serve`, the GitHub simulator, git with a bare origin,
// tmux, and the agent stand-ins.
#include <gmock/gmock.h>

#include <filesystem>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class ReviewLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    Configure("router:\n  mode: round_robin\n  agents: [claude, codex]\n");
  }
  std::vector<Json> Children(int64_t parent) {
    std::vector<Json> out;
    for (const Json& t : Tasks()) {
      if (t["parent_id"] == parent) out.push_back(t);
    }
    return out;
  }
  // A labelled issue whose task reached in_review with its PR: {issue, task, pr}.
  std::tuple<int, int64_t, int> TaskInReview() {
    auto [number, id] = LabelledIssue("standin: write hello.txt hello\n");
    EXPECT_TRUE(Reaches(id, "in_review")) << Log();
    return {number, id, Task(id)["pr_number"].get<int>()};
  }
  Json Review(int pr, const std::string& user, const std::string& state, const std::string& body,
              const Json& comments = Json::array()) {
    return Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/reviews",
               {{"user", user}, {"state", state}, {"body", body}, {"comments", comments}});
  }
  Json Comments(int number) {
    return Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(number) + "/comments");
  }
};

TEST_F(ReviewLoopTest, ThreeInlineCommentsBecomeThreeFollowUpsOnTheSameBranchAndPr) {
  StartOrch();
  auto [number, id, pr] = TaskInReview();
  Json parent = Task(id);
  std::string branch = parent["branch"];
  std::string agent = parent["route"]["agent"];
  std::string head_before =
      test::Run({"git", "-C", dir_.Sub("origin.git"), "rev-parse", branch}).out;
  Json comments = Json::array();
  for (int i = 1; i <= 3; ++i) {
    comments.push_back({{"path", "hello.txt"},
                        {"line", i},
                        {"diff_hunk", "@@ -0,0 +1 @@\n+hello"},
                        {"body", "Fix number " + std::to_string(i) + "\nstandin: write fix" +
                                     std::to_string(i) + ".txt fixed"}});
  }
  Json review = Review(pr, "alice", "CHANGES_REQUESTED", "Please fix these.", comments);
  ASSERT_TRUE(Eventually([&] { return Children(id).size() == 3; })) << Log();
  for (const Json& c : Children(id)) {
    ASSERT_TRUE(Reaches(c["id"], "done")) << Log();
    Json child = Task(c["id"]);
    EXPECT_EQ(child["source"], "review");
    EXPECT_EQ(child["branch"], branch);
    EXPECT_EQ(child["route"]["agent"], agent);  // the agent that wrote the PR
    EXPECT_THAT(child["source_id"].get<std::string>(), HasSubstr("review comment "));
    std::string body = child["body"];
    EXPECT_THAT(body, HasSubstr("hello.txt"));
    EXPECT_THAT(body, HasSubstr("@@ -0,0 +1 @@"));
    EXPECT_THAT(body, HasSubstr("Please fix these."));
    EXPECT_THAT(body, HasSubstr("#" + std::to_string(pr)));
    EXPECT_THAT(body, HasSubstr("@alice"));
    // It resumed the agent's session of the parent.
    EXPECT_THAT(child["runs"][0]["command"].dump(),
                ::testing::AnyOf(HasSubstr("--resume"), HasSubstr("\"resume\"")));
  }
  // All three fixes are on the PR's branch; still one PR; the parent waits in review.
  for (int i = 1; i <= 3; ++i) {
    ProcessResult f = test::Run({"git", "-C", dir_.Sub("origin.git"), "show",
                                 branch + ":fix" + std::to_string(i) + ".txt"});
    EXPECT_EQ(f.out, "fixed\n") << f.err;
  }
  EXPECT_NE(test::Run({"git", "-C", dir_.Sub("origin.git"), "rev-parse", branch}).out, head_before);
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);
  EXPECT_EQ(Task(id)["status"], "in_review");
  // One issue comment lists the follow-ups (besides the one for the first attempt).
  int listing = 0;
  for (const Json& c : Comments(number)) {
    listing += c["body"].get<std::string>().find("follow-up task(s)") != std::string::npos;
  }
  EXPECT_EQ(listing, 1);

  // The same review delivered again creates nothing.
  Sim("POST", "/_sim/deliveries/" + review["delivery"]["guid"].get<std::string>() + "/redeliver");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Children(id).size(), 3u);

  // Approval: approved and waiting for the merge (done on merge is the default).
  Review(pr, "alice", "APPROVED", "Looks good.");
  ASSERT_TRUE(Eventually([&] {
    return Task(id)["status_reason"].get<std::string>().find("approved") != std::string::npos;
  })) << Log();
  EXPECT_EQ(Task(id)["status"], "in_review");
  Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/merge",
      {{"user", "alice"}});
  ASSERT_TRUE(Reaches(id, "done")) << Log();
}

TEST_F(ReviewLoopTest, FollowUpsPushToThePrWhenTheDefaultBranchIsNotMain) {
  // The pull request goes against trunk; a follow-up, which reuses its parent's work tree,
  // counts its commits against trunk too.
  ASSERT_EQ(test::Run({"git", "--git-dir", dir_.Sub("origin.git"), "branch", "-m", "main", "trunk"})
                .exit_code,
            0);
  StartOrch();
  auto [number, id, pr] = TaskInReview();
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls/" + std::to_string(pr))["base"]["ref"], "trunk");
  std::string branch = Task(id)["branch"];
  Review(pr, "alice", "CHANGES_REQUESTED", "One more.",
         Json::array({{{"path", "hello.txt"},
                       {"line", 1},
                       {"body", "Add a fix\nstandin: write fix.txt fixed"}}}));
  ASSERT_TRUE(Eventually([&] { return Children(id).size() == 1; })) << Log();
  int64_t child = Children(id)[0]["id"];
  ASSERT_TRUE(Reaches(child, "done")) << Log() << Task(child).dump(2);
  ProcessResult f = test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":fix.txt"});
  EXPECT_EQ(f.out, "fixed\n") << f.err;
}

TEST_F(ReviewLoopTest, OnlyTrustedReviewsStartFollowUpsOrFinishTheTask) {
  StartOrch();
  auto [number, id, pr] = TaskInReview();
  Review(pr, "eve", "CHANGES_REQUESTED", "standin: write evil.txt x");  // eve: read access
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(Children(id).empty());
  EXPECT_THAT(Deliveries().dump(), HasSubstr("untrusted"));
  // Nor does an untrusted approval finish the task, and eve's request for changes above does
  // not hold up a trusted approval either.
  Review(pr, "eve", "APPROVED", "lgtm");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Task(id)["status"], "in_review");
  Json eve_approval = Deliveries()[0];
  EXPECT_THAT(eve_approval.dump(), HasSubstr("ignored: untrusted"));
  Review(pr, "bob", "APPROVED", "Fine by me.");  // bob: write access
  ASSERT_TRUE(Eventually([&] {
    return Task(id)["status_reason"].get<std::string>().find("approved") != std::string::npos;
  })) << Log();
  EXPECT_EQ(Task(id)["status"], "in_review");  // done when merged, not when approved
  Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/merge",
      {{"user", "alice"}});
  ASSERT_TRUE(Reaches(id, "done")) << Log();
}

TEST_F(ReviewLoopTest, AnApprovedUnmergedPullRequestWaitsInReviewAndItsMergeFinishesTheTask) {
  // Regression (issue 15 h): auto_close_task_on_approval defaulted to true, so an approval
  // marked the task done before anyone merged. Now the default is done on merge; the task
  // says it is approved and waiting. Opting in still closes on approval.
  StartOrch();
  auto [number, id, pr] = TaskInReview();
  Review(pr, "alice", "APPROVED", "Ship it.");
  ASSERT_TRUE(Eventually([&] {
    return Task(id)["status_reason"].get<std::string>().find("approved") != std::string::npos;
  })) << Log();
  Json task = Task(id);
  EXPECT_EQ(task["status"], "in_review");
  EXPECT_THAT(task["status_reason"].get<std::string>(), HasSubstr("waiting for it to be merged"));
  EXPECT_THAT(Orch({"task", "show", std::to_string(id)}).out, HasSubstr("approved"));
  // A later request for changes: the task no longer says it is approved.
  Review(pr, "bob", "CHANGES_REQUESTED", "One more thing.\nstandin: write more.txt m");
  ASSERT_TRUE(Eventually([&] {
    return Task(id)["status_reason"].get<std::string>().find("changes requested by bob") !=
           std::string::npos;
  })) << Log();
  EXPECT_EQ(Task(id)["status"], "in_review");
  Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/merge",
      {{"user", "alice"}});
  ASSERT_TRUE(Reaches(id, "done")) << Log();
}

TEST_F(ReviewLoopTest, AReviewWithin100msOfThePullRequestOpeningBecomesFollowUpsAtOnce) {
  // Regression (issue 15 b): the PR number reached the task only when the tick applied the
  // finished attempt, ~90 ms after the PR existed; a review in between was answered "no task
  // for pull request" and marked handled, so only the next sync (here: none) found it. The
  // window is held open: the attempt's comment on the issue, posted after the PR is opened and
  // before the attempt is applied, is answered 3 s late.
  StartOrch();
  Json issue = Sim("POST", "/_sim/repos/acme/widgets/issues",
                   {{"user", "alice"},
                    {"title", "Add a greeting"},
                    {"body", "standin: write hello.txt hello\n"}})["issue"];
  int number = issue["number"];
  Sim("POST", "/_sim/faults",
      {{"method", "POST"},
       {"path_prefix", "/repos/acme/widgets/issues/" + std::to_string(number) + "/comments"},
       {"count", 1},
       {"delay_ms", 3000}});
  Label(number, "bob");
  int pr = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        Json pulls = Sim("GET", "/repos/acme/widgets/pulls?state=all");
        if (pulls.empty()) return false;
        pr = pulls[0]["number"];
        return true;
      },
      std::chrono::seconds(20)))
      << Log();
  Review(pr, "alice", "CHANGES_REQUESTED", "Rename it.\nstandin: write renamed.txt y");
  int64_t id = 0;
  for (const Json& t : Tasks()) {
    if (t["external_id"] == std::to_string(number)) id = t["id"];
  }
  ASSERT_NE(id, 0);
  // Within 100 ms of the PR, before its attempt is applied: the review still makes its
  // follow-up, at the next tick, with no sync.
  ASSERT_TRUE(Eventually([&] { return Children(id).size() == 1; }, std::chrono::seconds(10)))
      << Log() << Deliveries().dump(2);
  EXPECT_THAT(Log(), HasSubstr("tied to task " + std::to_string(id) + " by its branch"));
  EXPECT_THAT(Deliveries().dump(), ::testing::Not(HasSubstr("no task for pull request")));
  ASSERT_TRUE(Reaches(Children(id)[0]["id"], "done")) << Log();
  EXPECT_EQ(Task(id)["status"], "in_review");
  EXPECT_EQ(Task(id)["pr_number"], pr);
  std::string branch = Task(id)["branch"];
  ProcessResult f =
      test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":renamed.txt"});
  EXPECT_EQ(f.out, "y\n") << f.err;
}

TEST_F(ReviewLoopTest, PollingFindsReviewsWithoutWebhooksAndTheCycleCapEndsInNeedsReview) {
  Configure(
      "router:\n  mode: round_robin\n  agents: [claude]\n"
      "workflow:\n  max_review_cycles: 1\n");
  std::string cfg = ReadFile(home() + "/config.yml");
  cfg.replace(cfg.find("sync_interval: 3600"), 19, "sync_interval: 1");
  WriteFile(home() + "/config.yml", cfg);
  StartOrch();
  auto [number, id, pr] = TaskInReview();
  // Reviews whose webhooks are lost: only the sync can see them.
  Sim("POST", "/_sim/webhook",
      {{"url", "http://127.0.0.1:" + std::to_string(FreePort()) + "/webhook"},
       {"secret", kSecret}});
  Review(pr, "alice", "CHANGES_REQUESTED", "Rename it.\nstandin: write renamed.txt y");
  ASSERT_TRUE(Eventually([&] { return Children(id).size() == 1; }, std::chrono::seconds(15)))
      << Log();
  EXPECT_EQ(Children(id)[0]["source_id"].get<std::string>().rfind("review ", 0), 0u);
  Review(pr, "alice", "CHANGES_REQUESTED", "Again.");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  for (const Json& d : Sim("GET", "/_sim/deliveries")) {
    if (d["event"] == "pull_request_review") {
      EXPECT_NE(d["status"], 202) << d.dump();
    }
  }
  EXPECT_THAT(Task(id)["status_reason"].get<std::string>(), HasSubstr("max_review_cycles"));
}

}  // namespace
}  // namespace orch::test
