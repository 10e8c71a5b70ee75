// Merge conflicts end to end (issue 21, part 2): the base of orch's pull request moves with a
// conflicting change; GitHub (the simulator, reading the same bare origin with libgit2) says
// `mergeable: false`, `mergeable_state: dirty`; the sync makes one follow-up that merges the
// base in the work tree, has the agent resolve the files in conflict, and pushes a merge commit
// to the same PR, which then merges cleanly. An agent that leaves conflict markers sends the
// task to needs_review with the files listed, and nothing is pushed. Real parts: `orch serve`,
// the simulator, git with a bare origin, tmux and the agent stand-ins.
#include <gmock/gmock.h>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class ConflictLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    Sim("POST", "/_sim/repos/acme/widgets/git", {{"dir", dir_.Sub("origin.git")}});
  }
  void StartPolling(const std::string& extra = "") {
    ConfigurePolling("router:\n  mode: round_robin\n  agents: [claude]\n" + extra);
    StartOrch();
  }
  // Someone pushes `text` as notes.txt to main.
  void PushToMain(const std::string& text) {
    std::string clone = dir_.Sub("elsewhere");
    ASSERT_EQ(test::Run({"git", "clone", "-q", dir_.Sub("origin.git"), clone}).exit_code, 0);
    WriteFile(clone + "/notes.txt", text);
    for (std::vector<std::string> args :
         {std::vector<std::string>{"add", "notes.txt"},
          std::vector<std::string>{"-c", "user.name=carol", "-c", "user.email=c@example.com",
                                   "commit", "-q", "-m", "notes from main"},
          std::vector<std::string>{"push", "-q", "origin", "HEAD:main"}}) {
      args.insert(args.begin(), {"-C", clone});
      args.insert(args.begin(), "git");
      ProcessResult r = test::Run(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  std::string OnBranch(const std::string& branch, const std::string& file) {
    return test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":" + file}).out;
  }
  Json FollowUpOf(int64_t parent) {
    for (const Json& t : Tasks()) {
      if (t["parent_id"] == parent &&
          t["source_id"].get<std::string>().rfind("conflict main ", 0) == 0) {
        return t;
      }
    }
    return Json();
  }
  // An issue's PR, then a conflicting push to main: the follow-up it makes, and the PR.
  std::pair<Json, int> Conflicted(const std::string& on_main, int64_t* parent) {
    auto [number, id] = LabelledIssue("standin: write notes.txt from the branch\n");
    *parent = id;
    EXPECT_TRUE(Reaches(id, "in_review")) << Log();
    int pr = Task(id)["pr_number"];
    PushToMain(on_main);
    EXPECT_TRUE(Eventually([&] { return !FollowUpOf(id).is_null(); }, std::chrono::seconds(20)))
        << Log();
    return {FollowUpOf(id), pr};
  }
  Json Pull(int pr) { return Sim("GET", "/repos/acme/widgets/pulls/" + std::to_string(pr)); }
};

TEST_F(ConflictLoopTest, ABaseThatMovedIntoConflictIsMergedResolvedAndPushedToTheSamePr) {
  StartPolling();
  int64_t parent = 0;
  auto [follow_up, pr] = Conflicted("from main\n", &parent);
  ASSERT_FALSE(follow_up.is_null());
  std::string branch = Task(parent)["branch"];
  EXPECT_EQ(follow_up["branch"], branch);
  ASSERT_TRUE(Reaches(follow_up["id"], "done", std::chrono::seconds(30))) << Log();
  // Both sides survive, no marker left, in a merge commit on the PR's branch.
  std::string notes = OnBranch(branch, "notes.txt");
  EXPECT_THAT(notes, HasSubstr("from the branch"));
  EXPECT_THAT(notes, HasSubstr("from main"));
  EXPECT_THAT(notes, ::testing::Not(HasSubstr("<<<<<<<")));
  std::string parents =
      test::Run({"git", "-C", dir_.Sub("origin.git"), "rev-list", "--parents", "-n1", branch}).out;
  EXPECT_EQ(std::count(parents.begin(), parents.end(), ' '), 2) << parents;  // a merge
  // GitHub works the merge out again and finds it clean; one PR, still in review.
  ASSERT_TRUE(Eventually([&] { return Pull(pr)["mergeable_state"] == "clean"; })) << Log();
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);
  EXPECT_EQ(Task(parent)["status"], "in_review");
  // orch said on the PR what it does, and made one follow-up for the conflict.
  bool told = false;
  for (const Json& c :
       Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(pr) + "/comments")) {
    told = told || c["body"].get<std::string>().find("conflicts with `main`") != std::string::npos;
  }
  EXPECT_TRUE(told);
  int conflicts = 0;
  for (const Json& t : Tasks()) {
    conflicts +=
        t["source_id"].is_string() && t["source_id"].get<std::string>().rfind("conflict ", 0) == 0;
  }
  EXPECT_EQ(conflicts, 1);
}

TEST_F(ConflictLoopTest, WithUpdateStrategyRebaseTheBranchIsRebasedOntoTheBase) {
  StartPolling("workflow:\n  update_strategy: rebase\n");
  int64_t parent = 0;
  auto [follow_up, pr] = Conflicted("from main\n", &parent);
  ASSERT_FALSE(follow_up.is_null());
  std::string branch = Task(parent)["branch"];
  ASSERT_TRUE(Reaches(follow_up["id"], "done", std::chrono::seconds(30))) << Log();
  std::string notes = OnBranch(branch, "notes.txt");
  EXPECT_THAT(notes, HasSubstr("from the branch"));
  EXPECT_THAT(notes, HasSubstr("from main"));
  EXPECT_THAT(notes, ::testing::Not(HasSubstr("<<<<<<<")));
  // Rebased: main is an ancestor of the branch, and no merge commit is on it.
  EXPECT_EQ(test::Run({"git", "-C", dir_.Sub("origin.git"), "merge-base", "--is-ancestor", "main",
                       branch})
                .exit_code,
            0);
  EXPECT_EQ(
      test::Run({"git", "-C", dir_.Sub("origin.git"), "rev-list", "--merges", "main.." + branch})
          .out,
      "");
  ASSERT_TRUE(Eventually([&] { return Pull(pr)["mergeable_state"] == "clean"; })) << Log();
  EXPECT_EQ(Task(parent)["status"], "in_review");
}

TEST_F(ConflictLoopTest, AConflictTheAgentCannotResolveGoesToNeedsReviewListingTheFiles) {
  StartPolling();
  int64_t parent = 0;
  auto [follow_up, pr] = Conflicted("standin: unresolvable\nfrom main\n", &parent);
  ASSERT_FALSE(follow_up.is_null());
  std::string branch = Task(parent)["branch"];
  ASSERT_TRUE(Reaches(follow_up["id"], "needs_review", std::chrono::seconds(30))) << Log();
  EXPECT_THAT(Task(follow_up["id"])["status_reason"].get<std::string>(),
              HasSubstr("unresolved conflicts with the base branch in: notes.txt"));
  ASSERT_TRUE(Reaches(parent, "needs_review")) << Log();
  EXPECT_THAT(Task(parent)["status_reason"].get<std::string>(), HasSubstr("notes.txt"));
  // Nothing with markers was pushed; the PR says which files.
  EXPECT_EQ(OnBranch(branch, "notes.txt"), "from the branch\n");
  bool listed = false;
  for (const Json& c :
       Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(pr) + "/comments")) {
    std::string body = c["body"];
    listed = listed || (body.find("could not resolve") != std::string::npos &&
                        body.find("`notes.txt`") != std::string::npos);
  }
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace orch::test
