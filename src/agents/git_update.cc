// Libgit2Git's base updates (git.h): the merge or rebase a conflict follow-up starts from, and
// the merge's end once the agent resolved it. The merge and the rebase run the `git` program
// (argv only): libgit2 has no rebase that stops for conflicts as git's does, and git's own
// conflict markers are what agents know.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agents/git.h"

namespace orch {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> Ident(const BaseUpdateRequest& r) {
  return {"-c", "user.name=" + r.name, "-c", "user.email=" + r.email};
}

std::vector<std::string> Joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// True when the file holds a line git writes around a conflict.
bool HasConflictMarkers(const std::string& path) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("<<<<<<< ", 0) == 0 || line.rfind(">>>>>>> ", 0) == 0 || line == "=======") {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<BaseUpdate> Libgit2Git::UpdateFromBase(const BaseUpdateRequest& r) {
  ORCH_RETURN_IF_ERROR(FetchBranches(r.worktree, r.remote, {r.base, r.branch}, r.token));
  const std::string onto = r.remote + "/" + r.base;
  BaseUpdate out;
  if (r.rebase) {
    Result<std::string> before = RunGit(r.worktree, {"rev-parse", "HEAD"});
    Result<std::string> remote = RunGit(r.worktree, {"rev-parse", r.remote + "/" + r.branch});
    if (!before.ok()) return before.status();
    Result<std::string> rebased = RunGit(r.worktree, Joined(Ident(r), {"rebase", onto}));
    if (rebased.ok()) {
      // Forced, but only over what was rebased: someone else's push since makes it a merge.
      if (remote.ok() && Trimmed(*remote) == Trimmed(*before)) {
        ORCH_RETURN_IF_ERROR(PushSpec(
            r.worktree, r.remote, "+refs/heads/" + r.branch + ":refs/heads/" + r.branch, r.token));
        out.how = "rebased";
        return out;
      }
      ORCH_RETURN_IF_ERROR(RunGit(r.worktree, {"reset", "--hard", Trimmed(*before)}).status());
      out.note = "the remote branch moved meanwhile; merged instead of rebasing";
    } else {
      (void)RunGit(r.worktree, {"rebase", "--abort"});
      out.note = "rebasing onto " + onto +
                 " conflicted; merged instead, so the conflicts are "
                 "resolved once";
    }
  }
  Result<std::string> merged = RunGit(r.worktree, Joined(Ident(r), {"merge", "--no-edit", onto}));
  if (merged.ok()) {
    out.how = "merged";
    return out;
  }
  Result<std::string> unmerged = RunGit(r.worktree, {"diff", "--name-only", "--diff-filter=U"});
  if (!unmerged.ok() || Lines(*unmerged).empty()) return merged.status();
  out.how = "conflicts";
  out.conflicts = Lines(*unmerged);
  return out;
}

Result<std::vector<std::string>> Libgit2Git::FinishMerge(const std::string& worktree,
                                                         const std::vector<std::string>& conflicted,
                                                         const std::string& name,
                                                         const std::string& email) {
  std::vector<std::string> left;
  for (const std::string& path : conflicted) {
    if (HasConflictMarkers(worktree + "/" + path)) left.push_back(path);
  }
  Result<std::string> merge_head = RunGit(worktree, {"rev-parse", "-q", "--verify", "MERGE_HEAD"});
  bool in_progress = merge_head.ok() && !Trimmed(*merge_head).empty();
  if (!left.empty()) {
    if (in_progress) ORCH_RETURN_IF_ERROR(RunGit(worktree, {"merge", "--abort"}).status());
    return left;
  }
  if (in_progress) {
    ORCH_RETURN_IF_ERROR(RunGit(worktree, {"add", "-A"}).status());
    ORCH_RETURN_IF_ERROR(RunGit(worktree, {"-c", "user.name=" + name, "-c", "user.email=" + email,
                                           "commit", "--no-edit", "--no-verify"})
                             .status());
  }
  return left;
}

}  // namespace orch
