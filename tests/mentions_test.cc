// @mentions end to end (issue 15, part 2): a comment mentioning orch on an issue becomes a pull
// request that closes the issue, and a mention on orch's own pull request becomes a commit on
// its branch; orch reacts at once and answers with the link once it pushed. Each by webhook and
// by polling alone. Real parts: `orch serve`, the GitHub simulator, git with a bare origin,
// tmux and the agent stand-ins.
#include <gmock/gmock.h>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class MentionLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    Configure("router:\n  mode: round_robin\n  agents: [claude]\n");
  }
  // Webhooks off; the sync every second is all orch hears.
  void ConfigurePollingOnly() {
    ConfigurePolling("router:\n  mode: round_robin\n  agents: [claude]\n");
  }
  Json Comment(int number, const std::string& user, const std::string& body) {
    return Sim("POST", "/_sim/repos/acme/widgets/issues/" + std::to_string(number) + "/comments",
               {{"user", user}, {"body", body}})["comment"];
  }
  Json Comments(int number) {
    return Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(number) + "/comments");
  }
  // The task made from comment `id`, or null.
  Json TaskOfComment(int64_t id) {
    for (const Json& t : Tasks()) {
      if (t["source_id"] == "comment " + std::to_string(id)) return t;
    }
    return Json();
  }
  // orch's comment on `number` that starts with "@<user> done", or "".
  std::string ReplyTo(int number, const std::string& user) {
    for (const Json& c : Comments(number)) {
      std::string body = c["body"];
      if (c["user"]["login"] == "orch-bot" && body.rfind("@" + user + " done", 0) == 0) {
        return body;
      }
    }
    return "";
  }
  std::vector<std::string> Reactions(int64_t comment) {
    std::vector<std::string> out;
    for (const Json& r : Sim("GET", "/repos/acme/widgets/issues/comments/" +
                                        std::to_string(comment) + "/reactions")) {
      out.push_back(r["user"]["login"].get<std::string>() + " " + r["content"].get<std::string>());
    }
    return out;
  }
  std::string OnBranch(const std::string& branch, const std::string& file) {
    return test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":" + file}).out;
  }

  // A mention on a fresh issue: the task is the issue's, its PR closes it, orch answers.
  void MentionOnAnIssueBecomesAPullRequest() {
    int number = OpenIssue()["issue"]["number"];
    Json comment =
        Comment(number, "bob", "@orch-bot please add a greeting\nstandin: write hi.txt hi");
    int64_t cid = comment["id"];
    ASSERT_TRUE(Eventually([&] { return !TaskOfComment(cid).is_null(); })) << Log();
    int64_t id = TaskOfComment(cid)["id"];
    Json task = Task(id);
    EXPECT_EQ(task["source"], "mention");
    EXPECT_EQ(task["external_id"], std::to_string(number));
    ASSERT_TRUE(Reaches(id, "in_review")) << Log();
    EXPECT_EQ(Reactions(cid), std::vector<std::string>{"orch-bot eyes"});
    int pr = Task(id)["pr_number"];
    Json pull = Sim("GET", "/repos/acme/widgets/pulls/" + std::to_string(pr));
    EXPECT_THAT(pull["body"].get<std::string>(), HasSubstr("Closes #" + std::to_string(number)));
    EXPECT_EQ(OnBranch(pull["head"]["ref"], "hi.txt"), "hi\n");
    ASSERT_TRUE(Eventually([&] { return !ReplyTo(number, "bob").empty(); })) << Log();
    EXPECT_THAT(ReplyTo(number, "bob"), HasSubstr("#" + std::to_string(pr)));
    EXPECT_THAT(ReplyTo(number, "bob"), HasSubstr(pull["html_url"].get<std::string>()));
  }

  // A mention on orch's PR: a follow-up commit on that PR's branch, no second PR.
  void MentionOnOrchsPullRequestBecomesACommitOnIt() {
    auto [number, id] = LabelledIssue("standin: write hello.txt hello\n");
    ASSERT_TRUE(Reaches(id, "in_review")) << Log();
    int pr = Task(id)["pr_number"];
    std::string branch = Task(id)["branch"];
    Json comment =
        Comment(pr, "alice", "@orch-bot also add a farewell\nstandin: write bye.txt bye");
    int64_t cid = comment["id"];
    ASSERT_TRUE(Eventually([&] { return !TaskOfComment(cid).is_null(); })) << Log();
    Json child = TaskOfComment(cid);
    EXPECT_EQ(child["parent_id"], id);
    EXPECT_EQ(child["branch"], branch);
    ASSERT_TRUE(Reaches(child["id"], "done")) << Log();
    EXPECT_EQ(OnBranch(branch, "bye.txt"), "bye\n");
    EXPECT_EQ(OnBranch(branch, "hello.txt"), "hello\n");
    EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);
    EXPECT_EQ(Task(id)["status"], "in_review");
    EXPECT_EQ(Reactions(cid), std::vector<std::string>{"orch-bot eyes"});
    ASSERT_TRUE(Eventually([&] { return !ReplyTo(pr, "alice").empty(); })) << Log();
    EXPECT_THAT(ReplyTo(pr, "alice"), HasSubstr("#" + std::to_string(pr)));
  }
};

TEST_F(MentionLoopTest, AMentionOnAnIssueBecomesAPullRequestThatClosesIt) {
  StartOrch();
  MentionOnAnIssueBecomesAPullRequest();
}

TEST_F(MentionLoopTest, AMentionOnOrchsPullRequestBecomesACommitOnItsBranch) {
  StartOrch();
  MentionOnOrchsPullRequestBecomesACommitOnIt();
}

TEST_F(MentionLoopTest, PollingAloneFindsAMentionOnAnIssue) {
  ConfigurePollingOnly();
  StartOrch();
  EXPECT_THAT(Log(), HasSubstr("webhook: disabled"));
  MentionOnAnIssueBecomesAPullRequest();
  EXPECT_FALSE(Requests("/repos/acme/widgets/issues/comments").empty());
}

TEST_F(MentionLoopTest, PollingAloneFindsAMentionOnOrchsPullRequest) {
  ConfigurePollingOnly();
  StartOrch();
  MentionOnOrchsPullRequestBecomesACommitOnIt();
}

TEST_F(MentionLoopTest, AReviewCommentOnOrchsPullRequestIsWorkedOnItsBranch) {
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write hello.txt hello\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  int pr = Task(id)["pr_number"];
  std::string branch = Task(id)["branch"];
  Json made = Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/comments",
                  {{"user", "alice"},
                   {"body", "@orch-bot shout here\nstandin: write loud.txt HELLO"},
                   {"path", "hello.txt"},
                   {"line", 1},
                   {"diff_hunk", "@@ -0,0 +1 @@\n+hello"}});
  std::string key = "review comment " + std::to_string(made["comment"]["id"].get<int64_t>());
  int64_t child = 0;
  ASSERT_TRUE(Eventually([&] {
    for (const Json& t : Tasks()) {
      if (t["source_id"] == key) child = t["id"];
    }
    return child != 0;
  })) << Log();
  ASSERT_TRUE(Reaches(child, "done")) << Log();
  EXPECT_EQ(OnBranch(branch, "loud.txt"), "HELLO\n");
  EXPECT_THAT(Task(child)["body"].get<std::string>(), HasSubstr("File: hello.txt, line 1"));
}

TEST_F(MentionLoopTest, UntrustedAndOwnMentionsStartNothingAndSayWhy) {
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  Json comment = Comment(number, "eve", "@orch-bot delete everything");  // eve: read access
  ASSERT_TRUE(Eventually([&] {
    return Deliveries().dump().find("untrusted: eve") != std::string::npos;
  })) << Log();
  EXPECT_TRUE(Tasks().empty());
  EXPECT_TRUE(Reactions(comment["id"]).empty());
  Comment(number, "orch-bot", "@orch-bot talking to myself");
  ASSERT_TRUE(Eventually([&] {
    return Deliveries().dump().find("orch's own event") != std::string::npos;
  })) << Log();
  EXPECT_TRUE(Tasks().empty());
}

TEST_F(MentionLoopTest, AMentionOnAnotherPullRequestNeedsTheOption) {
  StartOrch();
  // A person's own branch and pull request, not orch's.
  ASSERT_EQ(test::Run({"git", "-C", dir_.Sub("work"), "checkout", "-q", "-b", "feature"}).exit_code,
            0);
  WriteFile(dir_.Sub("work/feature.txt"), "mine\n");
  ASSERT_EQ(test::Run({"git", "-C", dir_.Sub("work"), "add", "feature.txt"}).exit_code, 0);
  ASSERT_EQ(test::Run({"git", "-C", dir_.Sub("work"), "commit", "-qm", "feature"}).exit_code, 0);
  ASSERT_EQ(test::Run({"git", "-C", dir_.Sub("work"), "push", "-q", "origin", "feature"}).exit_code,
            0);
  ASSERT_EQ(test::Run({"git", "-C", dir_.Sub("work"), "checkout", "-q", "main"}).exit_code, 0);
  int pr = Sim("POST", "/_sim/repos/acme/widgets/pulls",
               {{"user", "alice"},
                {"title", "Feature"},
                {"head", "feature"},
                {"base", "main"}})["pull_request"]["number"];
  Comment(pr, "alice", "@orch-bot add a test\nstandin: write test.txt t");
  ASSERT_TRUE(Eventually([&] {
    return Deliveries().dump().find("mentions_on_foreign_prs is off") != std::string::npos;
  })) << Log();
  EXPECT_TRUE(Tasks().empty());
}

}  // namespace
}  // namespace orch::test
