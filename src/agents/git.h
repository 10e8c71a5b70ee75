// Git: the repository operations orch needs, behind an interface.
//
// Libgit2Git is the real one. It initialises libgit2 for its lifetime; create one per process
// (the daemon's wiring or the CLI's) and pass it by reference. libgit2 is thread-safe across
// repositories; each call here opens and closes its own repository handle. Writing a work
// tree's files (a fresh checkout, switching a pooled tree, resetting one for the pool) runs the
// `git` program as an argv child: on a 100,000-file tree `git worktree add` took 1.3 s where
// libgit2's checkout took several times that (bench/worktree.cc measures both).
#ifndef ORCH_AGENTS_GIT_H_
#define ORCH_AGENTS_GIT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

struct git_repository;

namespace orch {

class Git {
 public:
  virtual ~Git() = default;
  // The top of the work tree that contains `path`. NotFound when `path` is not in a work tree.
  virtual Result<std::string> WorkTreeRoot(const std::string& path) = 0;
  // The URL of remote `name` of the repository at `repo_path`, or nullopt if there is none.
  virtual Result<std::optional<std::string>> RemoteUrl(const std::string& repo_path,
                                                       const std::string& name) = 0;
  // Makes a bare clone of `url` at `dest`, which must not exist. Unavailable on network errors.
  virtual Status CloneBare(const std::string& url, const std::string& dest) = 0;
  // The contents of `file` in HEAD's tree (bare or not), or nullopt when HEAD has no such file
  // or the repository has no commits.
  virtual Result<std::optional<std::string>> ReadFileAtHead(const std::string& repo_path,
                                                            const std::string& file) = 0;
};

// A task's work tree: `branch` checked out at `path`, made from `repo`.
struct WorktreeRequest {
  std::string repo;  // the project's checkout or bare clone
  std::string remote = "origin";
  std::string branch;      // orch/<issue>-<slug>
  std::string path;        // $ORCH_HOME/worktrees/<project>/<branch>; must not exist
  std::string token = "";  // for https remotes; empty: none
};

struct Worktree {
  std::string path;
  std::string branch;
  std::string base;             // the remote's default branch the work starts from, e.g. "main"
  bool created_branch = false;  // false: an earlier attempt's branch was kept
};

// Who orch commits as.
inline constexpr char kBotName[] = "orch";
inline constexpr char kBotEmail[] = "orch@users.noreply.github.com";

// Bringing a pull request's base into its branch when they conflict (engine/ci.h makes the
// follow-up; the runner does this before its agent starts).
struct BaseUpdateRequest {
  std::string worktree = "";
  std::string remote = "origin";
  std::string branch = "";  // the work tree's branch
  std::string base = "";    // the branch to bring in, e.g. "main"
  std::string token = "";
  bool rebase = false;    // workflow.update_strategy: rebase (else merge)
  std::string name = "";  // who commits
  std::string email = "";
};
struct BaseUpdate {
  std::string how = "";                // "merged", "rebased" (and pushed), "conflicts"
  std::vector<std::string> conflicts;  // paths a merge left in conflict, for the agent
  std::string note = "";               // e.g. why a rebase became a merge
};

// Operations on task work trees (libgit2 in Libgit2Git).
class WorktreeGit {
 public:
  virtual ~WorktreeGit() = default;
  // Fetches the remote's default branch (and `branch`, if the remote has it), creates `branch`
  // from the remote's copy of it or else from the default branch (an existing local `branch`
  // is kept, so a retry continues the work), and checks it out at `path`. Never touches the
  // checkout's own HEAD or current branch. Unavailable on network errors. On failure, a branch
  // it created is deleted again and nothing is left at `path`.
  virtual Result<Worktree> AddWorktree(const WorktreeRequest& request) = 0;
  // AddWorktree's work with a pooled tree (one ParkWorktree put at `pooled`): the same fetch and
  // branch, then the tree is moved to `request.path` and switched to the branch, writing only
  // the files that differ (files in the way are overwritten). On failure the tree is removed,
  // from whichever of the two places it was, and a branch it created is deleted.
  virtual Result<Worktree> ReuseWorktree(const WorktreeRequest& request,
                                         const std::string& pooled) = 0;
  // Makes the work tree at `path` fit for the pool: index and files reset to its HEAD, untracked
  // files removed (ignored ones too unless `keep_ignored`), HEAD detached at the same commit,
  // the local `branch` deleted (when given), and the tree moved to `dest`, which must not
  // exist. Returns the commit its files hold. On failure the tree may be at either place, half
  // reset; the caller removes it.
  virtual Result<std::string> ParkWorktree(const std::string& repo, const std::string& path,
                                           const std::string& branch, const std::string& dest,
                                           bool keep_ignored) = 0;
  // Removes the work tree at `path` (files and git's record of it), and `branch` when given.
  // OK when they are already gone.
  virtual Status RemoveWorktree(const std::string& repo, const std::string& path,
                                const std::string& branch) = 0;
  // Paths of the work trees `repo` knows of (for finding orphans).
  virtual Result<std::vector<std::string>> ListWorktrees(const std::string& repo) = 0;
  // Stages every change in the work tree (new, modified, deleted; .gitignore respected) and
  // commits it as `name <email>`. False when there was nothing to commit.
  virtual Result<bool> CommitAll(const std::string& worktree, const std::string& message,
                                 const std::string& name, const std::string& email) = 0;
  // Commits on the work tree's HEAD that the remote's `base` branch does not have.
  virtual Result<int> CommitsAhead(const std::string& worktree, const std::string& remote,
                                   const std::string& base) = 0;
  // Pushes `branch` to the same name on `remote` (no force: someone else's commits on the
  // branch make it fail). Unavailable on network errors and rejections.
  virtual Status Push(const std::string& worktree, const std::string& remote,
                      const std::string& branch, const std::string& token) = 0;
  // Fetches `base` and merges it into the branch (committed when clean), or with `rebase`
  // rebases the branch onto it and, when that applies cleanly, pushes the rewritten branch
  // (forced, only if the remote's branch is still what was rebased; else it merges). A merge
  // or a rebase that conflicts is left in progress with the conflicting paths listed, for the
  // agent to resolve.
  virtual Result<BaseUpdate> UpdateFromBase(const BaseUpdateRequest& request) {
    return Status::Internal(request.worktree, "updating from the base is not supported here");
  }
  // After the agent worked on the `conflicted` paths of `request`'s update: those still
  // holding conflict markers. None: a merge is committed; a rebase continues (a later commit
  // that conflicts too ends it with its paths as the answer) and, once done, the rewritten
  // branch is pushed, forced only over what was rebased. Some: the merge or rebase is aborted,
  // leaving the branch as it was before it.
  virtual Result<std::vector<std::string>> FinishMerge(const BaseUpdateRequest& request,
                                                       const std::vector<std::string>& conflicted) {
    (void)conflicted;
    return Status::Internal(request.worktree, "merging is not supported here");
  }
};

// What writes a fresh work tree's files: `git worktree add` (an argv child), or libgit2's own
// checkout (git_worktree_add). The bench measures both; the daemon uses the faster, kGitCli.
enum class CheckoutTool { kGitCli, kLibgit2 };

class Libgit2Git : public Git, public WorktreeGit {
 public:
  explicit Libgit2Git(CheckoutTool tool = CheckoutTool::kGitCli);
  ~Libgit2Git() override;
  Libgit2Git(const Libgit2Git&) = delete;
  Libgit2Git& operator=(const Libgit2Git&) = delete;

  Result<std::string> WorkTreeRoot(const std::string& path) override;
  Result<std::optional<std::string>> RemoteUrl(const std::string& repo_path,
                                               const std::string& name) override;
  Status CloneBare(const std::string& url, const std::string& dest) override;
  Result<std::optional<std::string>> ReadFileAtHead(const std::string& repo_path,
                                                    const std::string& file) override;

  Result<Worktree> AddWorktree(const WorktreeRequest& request) override;
  Result<Worktree> ReuseWorktree(const WorktreeRequest& request,
                                 const std::string& pooled) override;
  Result<std::string> ParkWorktree(const std::string& repo, const std::string& path,
                                   const std::string& branch, const std::string& dest,
                                   bool keep_ignored) override;
  Status RemoveWorktree(const std::string& repo, const std::string& path,
                        const std::string& branch) override;
  Result<std::vector<std::string>> ListWorktrees(const std::string& repo) override;
  Result<bool> CommitAll(const std::string& worktree, const std::string& message,
                         const std::string& name, const std::string& email) override;
  Result<int> CommitsAhead(const std::string& worktree, const std::string& remote,
                           const std::string& base) override;
  Status Push(const std::string& worktree, const std::string& remote, const std::string& branch,
              const std::string& token) override;
  Result<BaseUpdate> UpdateFromBase(const BaseUpdateRequest& request) override;
  Result<std::vector<std::string>> FinishMerge(const BaseUpdateRequest& request,
                                               const std::vector<std::string>& conflicted) override;

  // Runs `git args...` in `cwd` (an argv, never a shell; git's own GIT_DIR-style variables
  // unset) and returns its stdout. IOError with git's stderr when it exits non-zero, NotFound
  // when git cannot be started.
  static Result<std::string> RunGit(const std::string& cwd, const std::vector<std::string>& args);

 private:
  // The fetch and branch of AddWorktree in `repo` (the caller holds its lock): the base and
  // whether the branch was made now.
  static Result<std::pair<std::string, bool>> FetchAndBranch(git_repository* repo,
                                                             const WorktreeRequest& request);
  // Pushes `spec` (a refspec; "+" forces) from the work tree to `remote`.
  static Status PushSpec(const std::string& worktree, const std::string& remote,
                         const std::string& spec, const std::string& token);
  // Fetches each of `branches` into refs/remotes/<remote>/.
  static Status FetchBranches(const std::string& worktree, const std::string& remote,
                              const std::vector<std::string>& branches, const std::string& token);

  CheckoutTool tool_;
};

}  // namespace orch

#endif  // ORCH_AGENTS_GIT_H_
