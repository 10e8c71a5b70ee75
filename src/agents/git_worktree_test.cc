// Libgit2Git's work-tree half (git_worktree.cc) against a real bare origin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "agents/git.h"
#include "testing/test_util.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::map<std::string, std::string> kGitEnv = {
    {"GIT_AUTHOR_NAME", "Other"},    {"GIT_AUTHOR_EMAIL", "other@example.com"},
    {"GIT_COMMITTER_NAME", "Other"}, {"GIT_COMMITTER_EMAIL", "other@example.com"},
    {"GIT_CONFIG_NOSYSTEM", "1"},    {"GIT_CONFIG_GLOBAL", "/dev/null"}};

class GitWorktreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::MakeRepoWithOrigin(origin(), checkout(), {{"old.txt", "old\n"}, {"src/a.txt", "a\n"}});
  }
  std::string origin() const { return dir_.Sub("origin.git"); }
  std::string checkout() const { return dir_.Sub("checkout"); }
  std::string wt_path(const std::string& branch) const { return dir_.Sub("worktrees/" + branch); }

  // `git args...` in `cwd`; its stdout, trimmed of the final newline. Fails the test on error.
  std::string Git(const std::vector<std::string>& args, const std::string& cwd = "") {
    std::vector<std::string> argv = {"git"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = test::Run(argv, cwd, kGitEnv);
    EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  Worktree MustAdd(const std::string& branch) {
    Result<Worktree> wt =
        git_.AddWorktree({.repo = checkout(), .branch = branch, .path = wt_path(branch)});
    EXPECT_TRUE(wt.ok()) << wt.status().message();
    return wt.ok() ? *wt : Worktree{};
  }

  bool MustCommit(const std::string& worktree, const std::string& message) {
    Result<bool> c = git_.CommitAll(worktree, message, "orch", "orch@example.com");
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() && *c;
  }

  static std::string Canonical(const std::string& p) { return fs::weakly_canonical(p).string(); }

  test::TempDir dir_;
  Libgit2Git git_;
};

TEST_F(GitWorktreeTest, AddMakesTheBranchFromOriginMainWithoutTouchingTheCheckout) {
  // Someone is working in the checkout on another branch, with uncommitted changes, and
  // origin/main has moved on since the checkout last fetched.
  Git({"checkout", "-q", "-b", "feature"}, checkout());
  test::WriteFile(checkout() + "/wip.txt", "mine\n");
  test::TempDir other;
  Git({"clone", "-q", origin(), other.Sub("c")});
  test::WriteFile(other.Sub("c/new-on-main.txt"), "x\n");
  Git({"add", "-A"}, other.Sub("c"));
  Git({"commit", "-q", "-m", "moved on"}, other.Sub("c"));
  Git({"push", "-q", "origin", "HEAD:main"}, other.Sub("c"));
  std::string main_tip = Git({"rev-parse", "main"}, origin());

  Worktree wt = MustAdd("orch/1-add-flag");
  EXPECT_EQ(wt.path, wt_path("orch/1-add-flag"));
  EXPECT_EQ(wt.branch, "orch/1-add-flag");
  EXPECT_EQ(wt.base, "main");
  EXPECT_EQ(Git({"rev-parse", "--abbrev-ref", "HEAD"}, wt.path), "orch/1-add-flag");
  EXPECT_EQ(Git({"rev-parse", "HEAD"}, wt.path), main_tip);
  EXPECT_TRUE(fs::exists(wt.path + "/new-on-main.txt"));
  EXPECT_TRUE(fs::exists(wt.path + "/src/a.txt"));
  // The checkout is as it was.
  EXPECT_EQ(Git({"rev-parse", "--abbrev-ref", "HEAD"}, checkout()), "feature");
  EXPECT_EQ(test::ReadFile(checkout() + "/wip.txt"), "mine\n");
  EXPECT_FALSE(fs::exists(checkout() + "/new-on-main.txt"));
  EXPECT_EQ(Git({"rev-parse", "origin/main"}, checkout()), main_tip);
}

TEST_F(GitWorktreeTest, MissingRemoteIsNotFound) {
  Result<Worktree> wt = git_.AddWorktree(
      {.repo = checkout(), .remote = "upstream", .branch = "orch/1-x", .path = wt_path("x")});
  ASSERT_FALSE(wt.ok());
  EXPECT_TRUE(wt.status().IsNotFound()) << wt.status().message();
  EXPECT_FALSE(fs::exists(wt_path("x")));
}

TEST_F(GitWorktreeTest, CommitAllStagesNewModifiedAndDeletedFilesButNotIgnoredOnes) {
  Worktree wt = MustAdd("orch/2-commit");
  test::WriteFile(wt.path + "/.gitignore", "*.log\nbuild/\n");
  test::WriteFile(wt.path + "/new.txt", "new\n");
  test::WriteFile(wt.path + "/src/deep/nested.txt", "nested\n");
  test::WriteFile(wt.path + "/src/a.txt", "a changed\n");
  fs::remove(wt.path + "/old.txt");
  test::WriteFile(wt.path + "/debug.log", "noise\n");
  test::WriteFile(wt.path + "/build/out.o", "obj\n");

  ASSERT_TRUE(MustCommit(wt.path, "Do the work"));
  EXPECT_EQ(Git({"log", "-1", "--format=%s|%an|%ae"}, wt.path),
            "Do the work|orch|orch@example.com");
  std::string changed = Git({"show", "--name-status", "--format=", "HEAD"}, wt.path);
  EXPECT_THAT(changed, HasSubstr("A\t.gitignore"));
  EXPECT_THAT(changed, HasSubstr("A\tnew.txt"));
  EXPECT_THAT(changed, HasSubstr("A\tsrc/deep/nested.txt"));
  EXPECT_THAT(changed, HasSubstr("M\tsrc/a.txt"));
  EXPECT_THAT(changed, HasSubstr("D\told.txt"));
  EXPECT_THAT(changed, Not(HasSubstr("debug.log")));
  EXPECT_THAT(changed, Not(HasSubstr("build/")));
  // The work tree is clean apart from the ignored files, and the checkout's HEAD did not move.
  EXPECT_EQ(Git({"status", "--porcelain"}, wt.path), "");
  EXPECT_EQ(Git({"rev-parse", "--abbrev-ref", "HEAD"}, checkout()), "main");
  EXPECT_EQ(Git({"rev-parse", "HEAD"}, checkout()), Git({"rev-parse", "origin/main"}, checkout()));
}

TEST_F(GitWorktreeTest, CommitAllWithNothingToCommitIsFalse) {
  Worktree wt = MustAdd("orch/3-nothing");
  std::string before = Git({"rev-parse", "HEAD"}, wt.path);
  EXPECT_FALSE(MustCommit(wt.path, "nothing"));
  // Only ignored files changed: still nothing.
  test::WriteFile(wt.path + "/.gitignore", "*.log\n");
  ASSERT_TRUE(MustCommit(wt.path, "ignore logs"));
  test::WriteFile(wt.path + "/x.log", "noise\n");
  EXPECT_FALSE(MustCommit(wt.path, "nothing again"));
  EXPECT_EQ(Git({"rev-list", "--count", before + "..HEAD"}, wt.path), "1");
}

TEST_F(GitWorktreeTest, CommitsAheadCountsCommitsBeyondTheBase) {
  Worktree wt = MustAdd("orch/4-ahead");
  Result<int> zero = git_.CommitsAhead(wt.path, "origin", wt.base);
  ASSERT_TRUE(zero.ok()) << zero.status().message();
  EXPECT_EQ(*zero, 0);
  test::WriteFile(wt.path + "/one.txt", "1\n");
  ASSERT_TRUE(MustCommit(wt.path, "one"));
  test::WriteFile(wt.path + "/two.txt", "2\n");
  ASSERT_TRUE(MustCommit(wt.path, "two"));
  EXPECT_EQ(*git_.CommitsAhead(wt.path, "origin", "main"), 2);
  EXPECT_FALSE(git_.CommitsAhead(wt.path, "origin", "no-such-base").ok());
}

TEST_F(GitWorktreeTest, PushPublishesTheBranchOnOrigin) {
  Worktree wt = MustAdd("orch/5-push");
  test::WriteFile(wt.path + "/feature.txt", "f\n");
  ASSERT_TRUE(MustCommit(wt.path, "Add the feature"));
  Status pushed = git_.Push(wt.path, "origin", wt.branch, "");
  ASSERT_TRUE(pushed.ok()) << pushed.message();
  EXPECT_EQ(Git({"log", "-1", "--format=%s", "orch/5-push"}, origin()), "Add the feature");
  EXPECT_EQ(Git({"rev-parse", "orch/5-push"}, origin()), Git({"rev-parse", "HEAD"}, wt.path));
  // origin's main is untouched.
  EXPECT_EQ(Git({"log", "-1", "--format=%s", "main"}, origin()), "first");
}

TEST_F(GitWorktreeTest, NonFastForwardPushIsRefusedAsUnavailable) {
  Worktree wt = MustAdd("orch/6-race");
  test::WriteFile(wt.path + "/mine.txt", "1\n");
  ASSERT_TRUE(MustCommit(wt.path, "first push"));
  ASSERT_TRUE(git_.Push(wt.path, "origin", wt.branch, "").ok());
  std::string published = Git({"rev-parse", "orch/6-race"}, origin());
  // Rewrite the local branch so it no longer contains what origin has.
  Git({"reset", "-q", "--hard", "HEAD~1"}, wt.path);
  test::WriteFile(wt.path + "/other.txt", "2\n");
  ASSERT_TRUE(MustCommit(wt.path, "diverged"));
  Status s = git_.Push(wt.path, "origin", wt.branch, "");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsRetryable()) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("non-fastforwardable"));
  EXPECT_EQ(Git({"rev-parse", "orch/6-race"}, origin()), published);
}

TEST_F(GitWorktreeTest, RemoveDeletesTheDirectoryGitsRecordAndTheBranch) {
  Worktree wt = MustAdd("orch/7-remove");
  Result<std::vector<std::string>> listed = git_.ListWorktrees(checkout());
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(Canonical(listed->at(0)), Canonical(wt.path));
  EXPECT_THAT(Git({"worktree", "list"}, checkout()), HasSubstr("[orch/7-remove]"));

  Status removed = git_.RemoveWorktree(checkout(), wt.path, wt.branch);
  ASSERT_TRUE(removed.ok()) << removed.message();
  EXPECT_FALSE(fs::exists(wt.path));
  EXPECT_THAT(Git({"worktree", "list"}, checkout()), Not(HasSubstr("orch/7-remove")));
  EXPECT_EQ(Git({"branch", "--list", "orch/7-remove"}, checkout()), "");
  EXPECT_TRUE(git_.ListWorktrees(checkout())->empty());
  // Removing again is fine.
  EXPECT_TRUE(git_.RemoveWorktree(checkout(), wt.path, wt.branch).ok());
}

TEST_F(GitWorktreeTest, ReAddAfterRemoveContinuesThePushedBranch) {
  Worktree wt = MustAdd("orch/8-retry");
  test::WriteFile(wt.path + "/progress.txt", "half done\n");
  ASSERT_TRUE(MustCommit(wt.path, "half"));
  ASSERT_TRUE(git_.Push(wt.path, "origin", wt.branch, "").ok());
  std::string pushed = Git({"rev-parse", "HEAD"}, wt.path);
  ASSERT_TRUE(git_.RemoveWorktree(checkout(), wt.path, wt.branch).ok());
  ASSERT_EQ(Git({"branch", "--list", "orch/8-retry"}, checkout()), "");

  Worktree again = MustAdd("orch/8-retry");
  EXPECT_EQ(Git({"rev-parse", "HEAD"}, again.path), pushed);
  EXPECT_EQ(test::ReadFile(again.path + "/progress.txt"), "half done\n");
  EXPECT_EQ(*git_.CommitsAhead(again.path, "origin", again.base), 1);
}

TEST_F(GitWorktreeTest, ReAddKeepsAnExistingLocalBranch) {
  // A retry whose work was committed but never pushed continues it.
  Worktree wt = MustAdd("orch/9-local");
  test::WriteFile(wt.path + "/local.txt", "l\n");
  ASSERT_TRUE(MustCommit(wt.path, "local only"));
  std::string head = Git({"rev-parse", "HEAD"}, wt.path);
  ASSERT_TRUE(git_.RemoveWorktree(checkout(), wt.path, "").ok());
  Worktree again = MustAdd("orch/9-local");
  EXPECT_EQ(Git({"rev-parse", "HEAD"}, again.path), head);
}

TEST_F(GitWorktreeTest, AddAfterTheDirectoryWasDeletedByHand) {
  Worktree wt = MustAdd("orch/10-stale");
  fs::remove_all(wt.path);
  Worktree again = MustAdd("orch/10-stale");
  EXPECT_TRUE(fs::exists(again.path + "/README.md"));
}

TEST_F(GitWorktreeTest, WorkTreesAddedFromManyThreadsAtOnceAllSucceed) {
  // The dispatcher's workers start several agents of one project in the same tick. Without the
  // per-repository lock the second add failed to make .git/worktrees ("directory exists").
  constexpr int kThreads = 5;
  std::vector<std::thread> threads;
  std::vector<Status> results(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::string branch = "orch/" + std::to_string(i) + "-x";
      Result<Worktree> wt =
          git_.AddWorktree({.repo = checkout(), .branch = branch, .path = wt_path(branch)});
      results[i] = wt.status();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_TRUE(results[i].ok()) << results[i].message();
  Result<std::vector<std::string>> all = git_.ListWorktrees(checkout());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads));
}

TEST_F(GitWorktreeTest, LibgitsOwnCheckoutMakesTheSameWorkTree) {
  // CheckoutTool::kLibgit2, kept for orch_worktree_bench's comparison, makes what `git worktree
  // add` (the default) makes.
  Libgit2Git libgit2(CheckoutTool::kLibgit2);
  Result<Worktree> wt = libgit2.AddWorktree(
      {.repo = checkout(), .branch = "orch/13-lib", .path = wt_path("orch/13-lib")});
  ASSERT_TRUE(wt.ok()) << wt.status().message();
  EXPECT_EQ(Git({"rev-parse", "--abbrev-ref", "HEAD"}, wt->path), "orch/13-lib");
  EXPECT_EQ(Git({"status", "--porcelain"}, wt->path), "");
  EXPECT_EQ(test::ReadFile(wt->path + "/src/a.txt"), "a\n");
}

TEST_F(GitWorktreeTest, AReuseThatFailsLeavesNeitherTreeNorBranch) {
  // The pooled tree is gone (deleted by hand): the reuse fails and leaves nothing behind, so a
  // retry makes a fresh tree.
  std::string pooled = dir_.Sub("pool/1");
  Result<Worktree> wt = git_.ReuseWorktree(
      {.repo = checkout(), .branch = "orch/14-gone", .path = wt_path("orch/14-gone")}, pooled);
  EXPECT_FALSE(wt.ok());
  EXPECT_THAT(wt.status().message(), HasSubstr("reusing the pooled work tree"));
  EXPECT_FALSE(fs::exists(wt_path("orch/14-gone")));
  EXPECT_EQ(Git({"branch", "--list", "orch/14-gone"}, checkout()), "");
  EXPECT_TRUE(MustAdd("orch/14-gone").created_branch);
}

TEST_F(GitWorktreeTest, ListWorktreesOfTheCheckout) {
  EXPECT_TRUE(git_.ListWorktrees(checkout())->empty());
  Worktree a = MustAdd("orch/11-a");
  Worktree b = MustAdd("orch/12-b");
  Result<std::vector<std::string>> listed = git_.ListWorktrees(checkout());
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> got;
  for (const auto& p : *listed) got.push_back(Canonical(p));
  EXPECT_THAT(got, ::testing::UnorderedElementsAre(Canonical(a.path), Canonical(b.path)));
  EXPECT_FALSE(git_.ListWorktrees(dir_.Sub("not-a-repo")).ok());
}

}  // namespace
}  // namespace orch
