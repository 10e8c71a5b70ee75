// WorktreePool against a real repository: parking a done task's tree, lending it to the next
// task (Libgit2Git::ReuseWorktree through the Runner), the pool's size, and restarts after a
// crash in the middle of either.
#include "agents/worktree_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "agents/git.h"
#include "agents/tmux.h"
#include "base/subprocess.h"
#include "testing/test_util.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::map<std::string, std::string> kGitEnv = {
    {"GIT_AUTHOR_NAME", "Other"},    {"GIT_AUTHOR_EMAIL", "other@example.com"},
    {"GIT_COMMITTER_NAME", "Other"}, {"GIT_COMMITTER_EMAIL", "other@example.com"},
    {"GIT_CONFIG_NOSYSTEM", "1"},    {"GIT_CONFIG_GLOBAL", "/dev/null"}};

// git's absolute path (test::Background does not search PATH).
std::string GitPath() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (access((dir + "/git").c_str(), X_OK) == 0) return dir + "/git";
  }
  return "/usr/bin/git";
}

class WorktreePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::MakeRepoWithOrigin(
        dir_.Sub("origin.git"), dir_.Sub("work"),
        {{".gitignore", "build/\n"}, {"old.txt", "old\n"}, {"src/a.txt", "a\n"}});
    Result<std::unique_ptr<Store>> s = Store::Open(dir_.Sub("orch.db"), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Result<Project> p = store_->AddProject({.name = "acme", .path = dir_.Sub("work")});
    ASSERT_TRUE(p.ok()) << p.status().message();
    project_ = *p;
    config_.engine.worktree_pool = 2;
    pool_ = std::make_unique<WorktreePool>(*store_, config_, runner_, files_);
  }

  std::string Git(const std::vector<std::string>& args, const std::string& cwd) {
    std::vector<std::string> argv = {"git"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = test::Run(argv, cwd, kGitEnv);
    EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.err;
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  std::string Path(const std::string& branch) { return runner_.WorktreePath("acme", branch); }
  Worktree MustAdd(const std::string& branch) {
    Result<Worktree> wt =
        git_.AddWorktree({.repo = dir_.Sub("work"), .branch = branch, .path = Path(branch)});
    EXPECT_TRUE(wt.ok()) << wt.status().message();
    return wt.ok() ? *wt : Worktree{};
  }
  // Task 1's work tree as a finished agent leaves it: a commit of its own, a staged change, an
  // untracked file and build output (ignored).
  std::string UsedTree() {
    std::string path = MustAdd("orch/1-first").path;
    test::WriteFile(path + "/src/a.txt", "task one\n");
    test::WriteFile(path + "/one.txt", "task one's file\n");
    Git({"add", "-A"}, path);
    Git({"commit", "-q", "-m", "task one"}, path);
    test::WriteFile(path + "/staged.txt", "staged\n");
    Git({"add", "staged.txt"}, path);
    test::WriteFile(path + "/old.txt", "edited, not staged\n");
    test::WriteFile(path + "/untracked.txt", "left behind\n");
    test::WriteFile(path + "/build/cache.o", "warm\n");
    return path;
  }
  // origin/main moves on by one small commit.
  std::string MoveBase() {
    test::TempDir other;
    Git({"clone", "-q", dir_.Sub("origin.git"), other.Sub("c")}, dir_.path());
    test::WriteFile(other.Sub("c/new-on-main.txt"), "x\n");
    Git({"add", "-A"}, other.Sub("c"));
    Git({"commit", "-q", "-m", "moved on"}, other.Sub("c"));
    Git({"push", "-q", "origin", "HEAD:main"}, other.Sub("c"));
    return Git({"rev-parse", "main"}, dir_.Sub("origin.git"));
  }
  // Every file under `root` but .git, relative.
  static std::set<std::string> Files(const std::string& root) {
    std::set<std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
      if (it->path().filename() == ".git") {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_directory()) out.insert(fs::relative(it->path(), root).string());
    }
    return out;
  }
  std::set<std::string> TrackedAt(const std::string& commit) {
    std::set<std::string> out;
    std::string listed = Git({"ls-tree", "-r", "--name-only", commit}, dir_.Sub("origin.git"));
    size_t start = 0;
    while (start < listed.size()) {
      size_t end = listed.find('\n', start);
      if (end == std::string::npos) end = listed.size();
      out.insert(listed.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  std::vector<PooledWorktree> Rows() { return *store_->ListPooledWorktrees(); }
  std::vector<std::string> PoolDirs() {
    std::vector<std::string> names = files_.List(runner_.PoolDir("acme"));
    std::sort(names.begin(), names.end());
    return names;
  }
  // What the runner does with a lent tree: ReuseWorktree to the task's path.
  Result<Worktree> Reuse(const std::string& slot, const std::string& branch) {
    return git_.ReuseWorktree({.repo = dir_.Sub("work"), .branch = branch, .path = Path(branch)},
                              slot);
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  Config config_;
  PosixProcessRunner processes_;
  Libgit2Git git_;
  RealFileSystem files_;
  Tmux tmux_{processes_, "orch-pool-test-unused"};
  Runner runner_{config_, git_, tmux_,
                 RunnerOptions{.orch_home = dir_.Sub("home"), .worktrees_base = dir_.Sub("trees")}};
  std::unique_ptr<Store> store_;
  Project project_;
  std::unique_ptr<WorktreePool> pool_;
};

TEST_F(WorktreePoolTest, APooledTreeReusedByASecondTaskHoldsExactlyTheSecondTasksBase) {
  // Task 1 is done and its tree, with a commit, a staged and an unstaged change, an untracked
  // file and ignored build output, goes to the pool; then origin/main moves on by one commit.
  // Task 2 borrows the tree: it holds exactly origin/main on its own branch, nothing of task 1.
  std::string used = UsedTree();
  struct stat before {};
  ASSERT_EQ(stat((used + "/README.md").c_str(), &before), 0);
  ASSERT_TRUE(pool_->Release(project_, used, "orch/1-first").ok());
  EXPECT_FALSE(files_.Exists(used));
  ASSERT_EQ(Rows().size(), 1u);
  EXPECT_EQ(Rows()[0].state, PoolState::kReady);
  EXPECT_EQ(Git({"branch", "--list", "orch/1-first"}, dir_.Sub("work")), "");  // branch gone
  std::string base = MoveBase();

  std::string slot = pool_->Lend(project_, 2, Path("orch/2-second"));
  ASSERT_EQ(slot, runner_.PoolDir("acme") + "/1");
  EXPECT_EQ(Rows()[0].state, PoolState::kLending);
  Result<Worktree> wt = Reuse(slot, "orch/2-second");
  ASSERT_TRUE(wt.ok()) << wt.status().message();
  pool_->Returned(slot);

  EXPECT_EQ(wt->base, "main");
  EXPECT_TRUE(wt->created_branch);
  EXPECT_EQ(Git({"rev-parse", "--abbrev-ref", "HEAD"}, wt->path), "orch/2-second");
  EXPECT_EQ(Git({"rev-parse", "HEAD"}, wt->path), base);
  EXPECT_EQ(Git({"status", "--porcelain", "--ignored", "--untracked-files=all"}, wt->path), "");
  EXPECT_EQ(Files(wt->path), TrackedAt(base));
  EXPECT_EQ(test::ReadFile(wt->path + "/src/a.txt"), "a\n");
  EXPECT_EQ(test::ReadFile(wt->path + "/old.txt"), "old\n");
  // A file the switch had no reason to touch was not written again.
  struct stat after {};
  ASSERT_EQ(stat((wt->path + "/README.md").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_THAT(Rows(), IsEmpty());
  EXPECT_THAT(PoolDirs(), IsEmpty());
}

TEST_F(WorktreePoolTest, KeepIgnoredKeepsIgnoredFilesButNeverUntrackedOrTrackedWork) {
  // workflow.keep_ignored: build output stays for the next task (a warm cache); the rest of
  // task 1's work does not.
  config_.workflow.keep_ignored = true;
  std::string used = UsedTree();
  ASSERT_TRUE(pool_->Release(project_, used, "orch/1-first").ok());
  std::string slot = pool_->Lend(project_, 2, Path("orch/2-second"));
  ASSERT_FALSE(slot.empty());
  Result<Worktree> wt = Reuse(slot, "orch/2-second");
  ASSERT_TRUE(wt.ok()) << wt.status().message();
  EXPECT_EQ(test::ReadFile(wt->path + "/build/cache.o"), "warm\n");
  std::set<std::string> expected = TrackedAt("main");
  expected.insert("build/cache.o");
  EXPECT_EQ(Files(wt->path), expected);
}

TEST_F(WorktreePoolTest, ThePoolNeverExceedsItsSize) {
  // Three done tasks, a pool of two: the third tree is removed. Lowered to one, the next sweep
  // trims the pool to one; at zero nothing is pooled or lent.
  for (const char* branch : {"orch/1-a", "orch/2-b", "orch/3-c"}) {
    std::string path = MustAdd(branch).path;
    clock_.Advance(1);
    ASSERT_TRUE(pool_->Release(project_, path, branch).ok());
    EXPECT_FALSE(files_.Exists(path));
    EXPECT_LE(Rows().size(), 2u);
  }
  EXPECT_THAT(PoolDirs(), ElementsAre("1", "2"));
  EXPECT_EQ(Git({"branch", "--list", "orch/*"}, dir_.Sub("work")), "");

  config_.engine.worktree_pool = 1;
  ASSERT_TRUE(pool_->Trim(project_).ok());
  ASSERT_EQ(Rows().size(), 1u);
  EXPECT_THAT(PoolDirs(), ElementsAre(Rows()[0].slot.substr(Rows()[0].slot.size() - 1)));

  config_.engine.worktree_pool = 0;
  EXPECT_EQ(pool_->Lend(project_, 4, Path("orch/4-d")), "");
  ASSERT_TRUE(pool_->Trim(project_).ok());
  EXPECT_THAT(Rows(), IsEmpty());
  EXPECT_THAT(PoolDirs(), IsEmpty());
  std::string path = MustAdd("orch/5-e").path;
  ASSERT_TRUE(pool_->Release(project_, path, "orch/5-e").ok());
  EXPECT_FALSE(files_.Exists(path));
  EXPECT_THAT(PoolDirs(), IsEmpty());
}

TEST_F(WorktreePoolTest, AKillDuringReuseLeavesNoHalfSwitchedTreeInThePool) {
  // Task 2 borrows a pooled tree; orch is killed (-9) while git switches it, so the tree sits at
  // task 2's path half switched and the store says it is being lent. After the restart the tree
  // is discarded (task 2 never started in it), and task 2's next attempt gets a whole one.
  for (int i = 0; i < 400; ++i) {
    test::WriteFile(dir_.Sub("work/many/f" + std::to_string(i) + ".txt"), std::to_string(i));
  }
  Git({"add", "-A"}, dir_.Sub("work"));
  Git({"commit", "-q", "-m", "many"}, dir_.Sub("work"));
  Git({"push", "-q", "origin", "HEAD:main"}, dir_.Sub("work"));
  std::string used = MustAdd("orch/1-first").path;
  Git({"checkout", "-q", "--detach", "HEAD~1"}, used);  // far from the new base
  Git({"branch", "-f", "orch/1-first", "HEAD"}, used);
  Git({"checkout", "-q", "orch/1-first"}, used);
  ASSERT_TRUE(pool_->Release(project_, used, "orch/1-first").ok());
  std::string slot = pool_->Lend(project_, 2, Path("orch/2-second"));
  ASSERT_FALSE(slot.empty());
  // The runner's steps, the last one killed: the move, then the switch.
  Git({"branch", "orch/2-second", "origin/main"}, dir_.Sub("work"));
  fs::create_directories(fs::path(Path("orch/2-second")).parent_path());
  Git({"worktree", "move", slot, Path("orch/2-second")}, dir_.Sub("work"));
  // Wherever the kill lands (mid-switch, or just after it), the session never started.
  test::Background git(
      {GitPath(), "-C", Path("orch/2-second"), "checkout", "-q", "-f", "orch/2-second"}, kGitEnv,
      dir_.Sub("checkout.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  git.Signal(SIGKILL);
  git.Wait(std::chrono::seconds(5));

  WorktreePool restarted(*store_, config_, runner_, files_);
  ASSERT_TRUE(restarted.Adopt({}).ok());
  EXPECT_THAT(Rows(), IsEmpty());
  EXPECT_FALSE(files_.Exists(Path("orch/2-second")));
  EXPECT_FALSE(files_.Exists(slot));
  EXPECT_EQ(Git({"worktree", "list", "--porcelain"}, dir_.Sub("work")).find("trees/"),
            std::string::npos);
  Result<Worktree> again = git_.AddWorktree(
      {.repo = dir_.Sub("work"), .branch = "orch/2-second", .path = Path("orch/2-second")});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(Git({"status", "--porcelain"}, again->path), "");
  EXPECT_EQ(Files(again->path), TrackedAt("main"));
}

TEST_F(WorktreePoolTest, ALendingWhoseAttemptStartedIsFinishedAfterARestart) {
  // The crash came after the switch and the session's start: the tree is the task's.
  std::string used = MustAdd("orch/1-first").path;
  ASSERT_TRUE(pool_->Release(project_, used, "orch/1-first").ok());
  std::string slot = pool_->Lend(project_, 2, Path("orch/2-second"));
  ASSERT_TRUE(Reuse(slot, "orch/2-second").ok());
  WorktreePool restarted(*store_, config_, runner_, files_);
  ASSERT_TRUE(restarted.Adopt({Path("orch/2-second")}).ok());
  EXPECT_THAT(Rows(), IsEmpty());
  EXPECT_TRUE(files_.Exists(Path("orch/2-second") + "/.git"));
}

TEST_F(WorktreePoolTest, AParkCutShortIsDiscardedAfterARestart) {
  // orch died while resetting a done task's tree for the pool: after the restart neither place
  // holds it and the pool is empty; the next sweep finds nothing to release.
  std::string used = UsedTree();
  PooledWorktree row{.slot = runner_.PoolDir("acme") + "/1",
                     .project_id = project_.id,
                     .state = PoolState::kParking,
                     .other_path = used};
  ASSERT_TRUE(store_->SavePooledWorktree(row).ok());
  Git({"reset", "-q", "--hard"}, used);  // got this far
  WorktreePool restarted(*store_, config_, runner_, files_);
  ASSERT_TRUE(restarted.Adopt({}).ok());
  EXPECT_THAT(Rows(), IsEmpty());
  EXPECT_FALSE(files_.Exists(used));
  EXPECT_EQ(Git({"branch", "--list", "orch/1-first"}, dir_.Sub("work")), "");
}

}  // namespace
}  // namespace orch
