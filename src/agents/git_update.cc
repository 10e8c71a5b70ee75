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

// The paths in conflict in the work tree's index, or none.
std::vector<std::string> Unmerged(const std::string& worktree) {
  Result<std::string> unmerged =
      Libgit2Git::RunGit(worktree, {"diff", "--name-only", "--diff-filter=U"});
  return unmerged.ok() ? Lines(*unmerged) : std::vector<std::string>();
}

// Pushes a rebased branch, forced, but only over `before` (what was rebased): someone else's
// push since makes it fail rather than be lost.
Status PushRebased(const BaseUpdateRequest& r, const std::string& before,
                   Status (*push)(const std::string&, const std::string&, const std::string&,
                                  const std::string&)) {
  Result<std::string> remote =
      Libgit2Git::RunGit(r.worktree, {"rev-parse", r.remote + "/" + r.branch});
  if (remote.ok() && Trimmed(*remote) != Trimmed(before)) {
    return Status::Conflict("pushing the rebased " + r.branch,
                            "the remote branch moved since it was fetched");
  }
  return push(r.worktree, r.remote, "+refs/heads/" + r.branch + ":refs/heads/" + r.branch, r.token);
}

}  // namespace

Result<BaseUpdate> Libgit2Git::UpdateFromBase(const BaseUpdateRequest& r) {
  ORCH_RETURN_IF_ERROR(FetchBranches(r.worktree, r.remote, {r.base, r.branch}, r.token));
  const std::string onto = r.remote + "/" + r.base;
  BaseUpdate out;
  if (r.rebase) {
    Result<std::string> before = RunGit(r.worktree, {"rev-parse", "HEAD"});
    if (!before.ok()) return before.status();
    Result<std::string> rebased = RunGit(r.worktree, Joined(Ident(r), {"rebase", onto}));
    if (!rebased.ok()) {
      out.conflicts = Unmerged(r.worktree);
      if (out.conflicts.empty()) return rebased.status();
      out.how = "rebase conflicts";  // left in progress for the agent; FinishMerge continues it
      return out;
    }
    ORCH_RETURN_IF_ERROR(PushRebased(r, *before, &Libgit2Git::PushSpec));
    out.how = "rebased";
    return out;
  }
  Result<std::string> merged = RunGit(r.worktree, Joined(Ident(r), {"merge", "--no-edit", onto}));
  if (merged.ok()) {
    out.how = "merged";
    return out;
  }
  out.conflicts = Unmerged(r.worktree);
  if (out.conflicts.empty()) return merged.status();
  out.how = "merge conflicts";
  return out;
}

Result<std::vector<std::string>> Libgit2Git::FinishMerge(
    const BaseUpdateRequest& r, const std::vector<std::string>& conflicted) {
  std::vector<std::string> left;
  for (const std::string& path : conflicted) {
    if (HasConflictMarkers(r.worktree + "/" + path)) left.push_back(path);
  }
  auto exists = [&](const char* ref) {
    Result<std::string> at = RunGit(r.worktree, {"rev-parse", "-q", "--verify", ref});
    return at.ok() && !Trimmed(*at).empty();
  };
  bool merging = exists("MERGE_HEAD");
  bool rebasing = exists("REBASE_HEAD");
  if (!left.empty()) {
    if (merging) ORCH_RETURN_IF_ERROR(RunGit(r.worktree, {"merge", "--abort"}).status());
    if (rebasing) ORCH_RETURN_IF_ERROR(RunGit(r.worktree, {"rebase", "--abort"}).status());
    return left;
  }
  ORCH_RETURN_IF_ERROR(RunGit(r.worktree, {"add", "-A"}).status());
  const std::vector<std::string> ident = Ident(r);
  if (merging) {
    ORCH_RETURN_IF_ERROR(
        RunGit(r.worktree, Joined(ident, {"commit", "--no-edit", "--no-verify"})).status());
  }
  if (rebasing) {
    Result<std::string> before = RunGit(r.worktree, {"rev-parse", "ORIG_HEAD"});
    if (!before.ok()) return before.status();
    Result<std::string> done =
        RunGit(r.worktree, Joined(ident, {"-c", "core.editor=true", "rebase", "--continue"}));
    if (!done.ok()) {
      // A later commit of the branch conflicts as well: a person takes it from here.
      left = Unmerged(r.worktree);
      (void)RunGit(r.worktree, {"rebase", "--abort"});
      if (left.empty()) return done.status();
      return left;
    }
    ORCH_RETURN_IF_ERROR(PushRebased(r, *before, &Libgit2Git::PushSpec));
  }
  return left;
}

}  // namespace orch
