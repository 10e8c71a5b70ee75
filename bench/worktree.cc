// worktree: how fast a task gets its work tree in a big repository (issue 20).
//
// For each size (5,000 and 100,000 small files in directories of 100), in one run on one disk:
//
//   git worktree add   `git -C project.git worktree add --detach PATH main`, the baseline
//   orch fresh         Libgit2Git::AddWorktree as the daemon runs it (fetch from the origin,
//                      branch, then `git worktree add`: CheckoutTool::kGitCli)
//   orch fresh libgit2 the same with libgit2's own checkout (CheckoutTool::kLibgit2), which
//                      the daemon used before; measured so the choice stays a measured one
//   cp -a              a copy of a checked-out tree
//   orch pooled        Libgit2Git::ReuseWorktree of a tree parked by ParkWorktree, after the
//                      origin's main moved by one small commit (fetch, branch, move, switch)
//
// Each is timed after a `sync` (so no method pays for the previous one's writeback), after one
// untimed checkout that brings the objects into the page cache.
// The project is a bare clone of a bare origin, as `orch project add owner/repo` makes it. The
// trees are parked a second after they were written: git's index cannot tell a file written in
// the same second as the index from a changed one and hashes such files again on the next
// switch, and a done task's tree is never that young.
//
// Run: build/orch_worktree_bench [--sizes 5000,100000] [--reps N] (default 5 repetitions at
// 5,000 files and 1 at 100,000). The baselines are timed twice per repetition, first and last.
// Prints the median and minimum of each and the ratios of both; on a machine shared with other
// work the minimums are the steadier comparison.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agents/git.h"
#include "base/subprocess.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::map<std::string, std::string> kEnv = {
    {"GIT_AUTHOR_NAME", "Bench"},    {"GIT_AUTHOR_EMAIL", "bench@example.com"},
    {"GIT_COMMITTER_NAME", "Bench"}, {"GIT_COMMITTER_EMAIL", "bench@example.com"},
    {"GIT_CONFIG_NOSYSTEM", "1"},    {"GIT_CONFIG_GLOBAL", "/dev/null"}};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void MustRun(const std::vector<std::string>& argv, const std::string& cwd = "",
             const std::string& stdin_data = "") {
  ProcessOptions o{.argv = argv, .env_set = kEnv, .stdin_data = stdin_data};
  if (!cwd.empty()) o.cwd = cwd;
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run(o);
  if (!r.ok() || r->exit_code != 0) {
    fprintf(stderr, "%s failed: %s\n", argv[0].c_str(),
            r.ok() ? r->err.c_str() : r.status().message().c_str());
    std::exit(1);
  }
}

// A fast-import stream: one commit on main with `files` small files.
std::string InitialCommit(int files) {
  std::ostringstream s;
  s << "commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\n"
    << "data 4\ninit\n";
  char path[64];
  for (int i = 0; i < files; ++i) {
    snprintf(path, sizeof(path), "d%04d/f%06d.txt", i / 100, i);
    std::string data = "file " + std::to_string(i) + "\nsome text to make it a line or two\n";
    s << "M 100644 inline " << path << "\ndata " << data.size() << "\n" << data << "\n";
  }
  return s.str();
}

// One small commit on top of main: one file changed.
std::string SmallCommit(int n) {
  std::string data = "changed " + std::to_string(n) + "\n";
  std::ostringstream s;
  s << "commit refs/heads/main\ncommitter Bench <bench@example.com> " << 1700000001 + n
    << " +0000\ndata 5\nsmall\nfrom refs/heads/main^0\nM 100644 inline d0000/f000000.txt\ndata "
    << data.size() << "\n"
    << data << "\n";
  return s.str();
}

struct Figures {
  std::map<std::string, std::vector<double>> seconds;
  void Add(const std::string& what, double s) { seconds[what].push_back(s); }
  double Median(const std::string& what) {
    std::vector<double> v = seconds[what];
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
  }
  double Min(const std::string& what) {
    const std::vector<double>& v = seconds[what];
    return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
  }
};

// Times `f` after a sync, so the writeback of what the previous method wrote is not counted
// against this one.
template <typename F>
double Time(F&& f) {
  MustRun({"sync"});
  Clock::time_point start = Clock::now();
  f();
  return Seconds(Clock::now() - start);
}

void Must(const Status& s, const char* what) {
  if (!s.ok()) {
    fprintf(stderr, "%s: %s\n", what, s.message().c_str());
    std::exit(1);
  }
}

// One repetition of every method at one size; trees are removed after it.
void Repetition(const std::string& dir, int rep, Libgit2Git& cli, Libgit2Git& lib, Figures& f) {
  std::string project = dir + "/project.git";
  std::string r = std::to_string(rep);
  std::string plain = dir + "/trees/plain-" + r;
  f.Add("git worktree add", Time([&] {
          MustRun({"git", "-C", project, "worktree", "add", "--quiet", "--detach", plain, "main"});
        }));
  f.Add("cp -a", Time([&] { MustRun({"cp", "-a", plain, dir + "/trees/copy-" + r}); }));
  WorktreeRequest fresh{.repo = project, .branch = "orch/fresh-" + r, .path = dir + "/trees/f" + r};
  f.Add("orch fresh", Time([&] { Must(cli.AddWorktree(fresh).status(), "orch fresh"); }));
  WorktreeRequest lg{.repo = project, .branch = "orch/lib-" + r, .path = dir + "/trees/l" + r};
  f.Add("orch fresh libgit2", Time([&] { Must(lib.AddWorktree(lg).status(), "libgit2 fresh"); }));

  // The fresh tree is done with: parked, and the origin moves on by one small commit.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::string slot = dir + "/pool/" + r;
  f.Add("park", Time([&] {
          Must(cli.ParkWorktree(project, fresh.path, fresh.branch, slot, false).status(), "park");
        }));
  MustRun({"git", "-C", dir + "/origin.git", "fast-import", "--quiet"}, "", SmallCommit(rep));
  WorktreeRequest next{.repo = project, .branch = "orch/next-" + r, .path = dir + "/trees/n" + r};
  f.Add("orch pooled", Time([&] { Must(cli.ReuseWorktree(next, slot).status(), "pooled"); }));

  // The baselines once more, last: a load spike from elsewhere on a shared machine then shows
  // as two far-apart samples instead of one bad figure.
  std::string again = dir + "/trees/again-" + r;
  f.Add("git worktree add", Time([&] {
          MustRun({"git", "-C", project, "worktree", "add", "--quiet", "--detach", again, "main"});
        }));
  f.Add("cp -a", Time([&] { MustRun({"cp", "-a", again, dir + "/trees/copy2-" + r}); }));
  Must(cli.RemoveWorktree(project, again, ""), "remove");
  fs::remove_all(dir + "/trees/copy2-" + r);
  Must(cli.RemoveWorktree(project, plain, ""), "remove");
  Must(cli.RemoveWorktree(project, lg.path, lg.branch), "remove");
  Must(cli.RemoveWorktree(project, next.path, next.branch), "remove");
  fs::remove_all(dir + "/trees/copy-" + r);
}

void Bench(int files, int reps, const std::string& base) {
  std::string dir = base + "/" + std::to_string(files);
  fs::create_directories(dir + "/trees");
  MustRun({"git", "init", "--quiet", "--bare", "-b", "main", dir + "/origin.git"});
  MustRun({"git", "-C", dir + "/origin.git", "fast-import", "--quiet"}, "", InitialCommit(files));
  MustRun({"git", "clone", "--quiet", "--bare", dir + "/origin.git", dir + "/project.git"});
  Libgit2Git cli(CheckoutTool::kGitCli);
  Libgit2Git lib(CheckoutTool::kLibgit2);
  // One checkout untimed first: the objects just written are read into the page cache, as a
  // project's are on a machine that has been checking it out all day.
  MustRun({"git", "-C", dir + "/project.git", "worktree", "add", "--quiet", "--detach",
           dir + "/warm", "main"});
  Must(cli.RemoveWorktree(dir + "/project.git", dir + "/warm", ""), "remove");
  Figures f;
  for (int rep = 0; rep < reps; ++rep) Repetition(dir, rep, cli, lib, f);
  printf("\n%d files, %d repetition(s): median and min seconds (n samples)\n", files, reps);
  for (const char* what :
       {"git worktree add", "cp -a", "orch fresh", "orch fresh libgit2", "orch pooled", "park"}) {
    printf("  %-20s %8.3f  %8.3f  (%zu)\n", what, f.Median(what), f.Min(what),
           f.seconds[what].size());
  }
  auto ratio = [&](const char* label, const char* a, const char* b) {
    printf("  %-34s median %5.2fx  min %5.2fx\n", label, f.Median(a) / f.Median(b),
           f.Min(a) / f.Min(b));
  };
  ratio("orch fresh / git worktree add", "orch fresh", "git worktree add");
  ratio("orch fresh / cp -a", "orch fresh", "cp -a");
  ratio("libgit2 fresh / git worktree add", "orch fresh libgit2", "git worktree add");
  ratio("orch pooled / orch fresh", "orch pooled", "orch fresh");
  fs::remove_all(dir);
}

int Main(int argc, char** argv) {
  std::vector<int> sizes = {5000, 100000};
  int reps = 0;  // 0: 5 at 5,000 files, 1 at 100,000
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--reps") reps = std::atoi(argv[i + 1]);
    if (flag == "--sizes") {
      sizes.clear();
      std::stringstream list(argv[i + 1]);
      std::string n;
      while (std::getline(list, n, ',')) sizes.push_back(std::atoi(n.c_str()));
    }
  }
  test::TempDir dir;
  printf("work trees on %s\n", dir.path().c_str());
  for (int files : sizes) Bench(files, reps > 0 ? reps : (files >= 50000 ? 1 : 5), dir.path());
  return 0;
}

}  // namespace
}  // namespace orch

int main(int argc, char** argv) {
  try {
    return orch::Main(argc, argv);
  } catch (const std::exception& e) {
    fprintf(stderr, "orch_worktree_bench: %s\n", e.what());
    return 1;
  }
}
