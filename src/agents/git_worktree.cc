// Libgit2Git's work-tree operations (git.h): fetch, branch, worktree add/reuse/park/remove,
// commit, push.
#include <git2.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "agents/git.h"

namespace orch {
namespace {

std::string LastError() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

bool IsNetworkError() {
  const git_error* e = git_error_last();
  return e && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_SSL ||
               e->klass == GIT_ERROR_HTTP || e->klass == GIT_ERROR_SSH);
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;
using Repo = Owned<git_repository, git_repository_free>;
using Remote = Owned<git_remote, git_remote_free>;
using Reference = Owned<git_reference, git_reference_free>;
using Commit = Owned<git_commit, git_commit_free>;
using Index = Owned<git_index, git_index_free>;
using Tree = Owned<git_tree, git_tree_free>;
using Signature = Owned<git_signature, git_signature_free>;
using WorktreePtr = Owned<git_worktree, git_worktree_free>;

Result<Repo> Open(const std::string& path) {
  git_repository* r = nullptr;
  if (git_repository_open(&r, path.c_str()) != 0) {
    return Status::NotFound(path, "not a git repository (" + LastError() + ")");
  }
  return Repo(r);
}

// Answers https credential requests with the token (GitHub takes any user name with it).
int Credentials(git_credential** out, const char*, const char*, unsigned int allowed,
                void* payload) {
  const std::string* token = static_cast<const std::string*>(payload);
  if (token->empty() || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) return GIT_PASSTHROUGH;
  return git_credential_userpass_plaintext_new(out, "x-access-token", token->c_str());
}

// Remote `name` of `repo` (opened from `where`); NotFound naming it when there is none.
Result<Remote> LookupRemote(git_repository* repo, const std::string& where,
                            const std::string& name) {
  git_remote* raw = nullptr;
  if (git_remote_lookup(&raw, repo, name.c_str()) != 0) {
    return Status::NotFound(where, "no remote \"" + name + "\": " + LastError());
  }
  return Remote(raw);
}

Status GitFailure(const std::string& what) {
  if (IsNetworkError()) return Status::Unavailable(what, LastError());
  return Status::IOError(what, LastError());
}

// Worktree names are directory names under .git/worktrees: no slashes.
// One lock per repository (by its common git directory, shared by its work trees). Adding and
// removing work trees, fetching and pushing from worker threads at once raced in libgit2: two
// adds both found .git/worktrees missing and the second failed to make it ("directory exists"),
// and two ref updates can collide on a lock file.
std::mutex& RepoLock(git_repository* repo) {
  static std::mutex guard;
  static std::map<std::string, std::unique_ptr<std::mutex>> locks;
  std::lock_guard<std::mutex> l(guard);
  std::unique_ptr<std::mutex>& m = locks[git_repository_commondir(repo)];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

std::string WorktreeName(const std::string& branch) {
  std::string name = branch;
  for (char& c : name) {
    if (c == '/') c = '-';
  }
  return name;
}

// What the remote says before the fetch: its default branch, and whether it has the branch
// asked for (an earlier attempt pushed it).
struct RemoteHeads {
  std::string default_ref;  // refs/heads/main
  std::string base;         // main
  bool has_branch = false;
};

// Connects to `remote` to read its heads, and disconnects.
Result<RemoteHeads> ReadRemoteHeads(git_remote* remote, const git_remote_callbacks& callbacks,
                                    const WorktreeRequest& req) {
  if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr) != 0) {
    return GitFailure("connecting to " + req.remote + " of " + req.repo);
  }
  git_buf head = GIT_BUF_INIT;
  if (git_remote_default_branch(&head, remote) != 0) {
    git_remote_disconnect(remote);
    return GitFailure("finding the default branch of " + req.remote);
  }
  RemoteHeads heads;
  heads.default_ref = std::string(head.ptr, head.size);
  git_buf_dispose(&head);
  heads.base = heads.default_ref.substr(std::string("refs/heads/").size());
  const git_remote_head** listed = nullptr;
  size_t n = 0;
  if (git_remote_ls(&listed, &n, remote) == 0) {
    for (size_t i = 0; i < n; ++i) {
      heads.has_branch = heads.has_branch || listed[i]->name == "refs/heads/" + req.branch;
    }
  }
  git_remote_disconnect(remote);
  return heads;
}

// Fetches the default branch, and the branch asked for when the remote has it, into the
// remote-tracking refs.
Status FetchHeads(git_remote* remote, const git_remote_callbacks& callbacks,
                  const RemoteHeads& heads, const WorktreeRequest& req) {
  std::string base_spec =
      "+" + heads.default_ref + ":refs/remotes/" + req.remote + "/" + heads.base;
  std::string branch_spec =
      "+refs/heads/" + req.branch + ":refs/remotes/" + req.remote + "/" + req.branch;
  std::vector<const char*> specs = {base_spec.c_str()};
  if (heads.has_branch) specs.push_back(branch_spec.c_str());
  git_strarray refspecs = {const_cast<char**>(specs.data()), specs.size()};
  git_fetch_options fetch = GIT_FETCH_OPTIONS_INIT;
  fetch.callbacks = callbacks;
  if (git_remote_fetch(remote, &refspecs, &fetch, "orch: fetch") != 0) {
    return GitFailure("fetching " + req.remote + " into " + req.repo);
  }
  return Status::OK();
}

// The branch: kept if it exists; else from the remote's copy; else from the default branch.
// `created` says whether it was made here.
Result<Reference> LocalBranch(git_repository* repo, const RemoteHeads& heads,
                              const WorktreeRequest& req, bool* created) {
  git_reference* raw_branch = nullptr;
  *created = false;
  if (git_branch_lookup(&raw_branch, repo, req.branch.c_str(), GIT_BRANCH_LOCAL) == 0) {
    return Reference(raw_branch);
  }
  *created = true;
  std::string start =
      "refs/remotes/" + req.remote + "/" + (heads.has_branch ? req.branch : heads.base);
  git_oid oid;
  if (git_reference_name_to_id(&oid, repo, start.c_str()) != 0) {
    return Status::IOError(req.repo, "reading " + start + ": " + LastError());
  }
  git_commit* raw_commit = nullptr;
  if (git_commit_lookup(&raw_commit, repo, &oid) != 0) {
    return Status::IOError(req.repo, "reading " + start + ": " + LastError());
  }
  Commit commit(raw_commit);
  if (git_branch_create(&raw_branch, repo, req.branch.c_str(), commit.get(), 0) != 0) {
    return Status::IOError(req.repo, "creating branch " + req.branch + ": " + LastError());
  }
  return Reference(raw_branch);
}

// A record of a work tree at `path` whose directory is gone (deleted by hand, or a failed add)
// would refuse the add.
void PruneStaleAt(git_repository* repo, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return;
  git_strarray names = {nullptr, 0};
  if (git_worktree_list(&names, repo) != 0) return;
  for (size_t i = 0; i < names.count; ++i) {
    git_worktree* raw = nullptr;
    if (git_worktree_lookup(&raw, repo, names.strings[i]) != 0) continue;
    WorktreePtr wt(raw);
    std::string wt_path = git_worktree_path(wt.get());
    while (wt_path.size() > 1 && wt_path.back() == '/') wt_path.pop_back();
    if (wt_path != path) continue;
    git_worktree_prune_options prune = GIT_WORKTREE_PRUNE_OPTIONS_INIT;
    prune.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED;
    git_worktree_prune(wt.get(), &prune);
  }
  git_strarray_dispose(&names);
}

// Deletes the local `branch` if there is one (nothing for ""). False when it could not.
bool DeleteBranch(git_repository* repo, const std::string& branch) {
  git_reference* raw = nullptr;
  if (branch.empty() || git_branch_lookup(&raw, repo, branch.c_str(), GIT_BRANCH_LOCAL) != 0) {
    return true;
  }
  Reference ref(raw);
  return git_branch_delete(ref.get()) == 0;
}

// libgit2's own checkout of a new work tree (CheckoutTool::kLibgit2): `req.branch`, which
// exists, at `req.path`.
Status Libgit2WorktreeAdd(git_repository* repo, const WorktreeRequest& req) {
  git_reference* raw_branch = nullptr;
  if (git_branch_lookup(&raw_branch, repo, req.branch.c_str(), GIT_BRANCH_LOCAL) != 0) {
    return Status::IOError(req.repo, "reading branch " + req.branch + ": " + LastError());
  }
  Reference branch(raw_branch);
  git_worktree_add_options opts = GIT_WORKTREE_ADD_OPTIONS_INIT;
  opts.ref = branch.get();
  std::string name = WorktreeName(req.branch);
  // A stale record of work tree `name` (its directory deleted by hand) would refuse the add.
  git_worktree* raw_wt = nullptr;
  if (git_worktree_lookup(&raw_wt, repo, name.c_str()) == 0) {
    WorktreePtr stale(raw_wt);
    git_worktree_prune_options prune = GIT_WORKTREE_PRUNE_OPTIONS_INIT;
    prune.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED;
    git_worktree_prune(stale.get(), &prune);
  }
  if (git_worktree_add(&raw_wt, repo, name.c_str(), req.path.c_str(), &opts) != 0) {
    return Status::IOError(req.path, LastError());
  }
  git_worktree_free(raw_wt);
  return Status::OK();
}

}  // namespace

Result<std::pair<std::string, bool>> Libgit2Git::FetchAndBranch(git_repository* repo,
                                                                const WorktreeRequest& req) {
  Result<Remote> remote = LookupRemote(repo, req.repo, req.remote);
  if (!remote.ok()) return remote.status();
  std::string token = req.token;
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = Credentials;
  callbacks.payload = &token;
  Result<RemoteHeads> heads = ReadRemoteHeads(remote->get(), callbacks, req);
  if (!heads.ok()) return heads.status();
  ORCH_RETURN_IF_ERROR(FetchHeads(remote->get(), callbacks, *heads, req));
  bool created = false;
  Result<Reference> branch = LocalBranch(repo, *heads, req, &created);
  if (!branch.ok()) return branch.status();
  return std::make_pair(heads->base, created);
}

Result<Worktree> Libgit2Git::AddWorktree(const WorktreeRequest& req) {
  Result<Repo> repo = Open(req.repo);
  if (!repo.ok()) return repo.status();
  std::lock_guard<std::mutex> serial(RepoLock(repo->get()));
  Result<std::pair<std::string, bool>> made = FetchAndBranch(repo->get(), req);
  if (!made.ok()) return made.status();
  auto [base, created] = *made;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(req.path).parent_path(), ec);
  if (ec) return Status::IOError(req.path, ec.message());
  PruneStaleAt(repo->get(), req.path);
  Status added =
      tool_ == CheckoutTool::kGitCli
          ? RunGit(req.repo, {"worktree", "add", "--quiet", req.path, req.branch}).status()
          : Libgit2WorktreeAdd(repo->get(), req);
  if (!added.ok()) {
    std::filesystem::remove_all(req.path, ec);
    PruneStaleAt(repo->get(), req.path);
    DeleteBranch(repo->get(), created ? req.branch : "");
    return Status::IOError(
        req.path, "adding a work tree for " + req.branch + ": " + std::string(added.message()));
  }
  return Worktree{req.path, req.branch, base, created};
}

Result<Worktree> Libgit2Git::ReuseWorktree(const WorktreeRequest& req, const std::string& pooled) {
  Result<Repo> repo = Open(req.repo);
  if (!repo.ok()) return repo.status();
  std::string at = pooled;  // where the tree is
  std::string base;
  bool created = false;
  Status done = Status::OK();
  {
    std::lock_guard<std::mutex> serial(RepoLock(repo->get()));
    Result<std::pair<std::string, bool>> made = FetchAndBranch(repo->get(), req);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(req.path).parent_path(), ec);
    if (made.ok()) {
      std::tie(base, created) = *made;
      done = RunGit(req.repo, {"worktree", "move", pooled, req.path}).status();
      if (done.ok()) at = req.path;
    } else {
      done = made.status();
    }
  }
  // Switching writes only what differs between the tree's commit and the branch's (the index
  // says which files are unchanged); -f overwrites anything in the way.
  if (done.ok()) done = RunGit(req.path, {"checkout", "--quiet", "-f", req.branch}).status();
  if (!done.ok()) {
    (void)RemoveWorktree(req.repo, at, created ? req.branch : "");
    return Status::IOError(req.path, "reusing the pooled work tree " + pooled + " for " +
                                         req.branch + ": " + done.message());
  }
  return Worktree{req.path, req.branch, base, created};
}

Result<std::string> Libgit2Git::ParkWorktree(const std::string& repo_path, const std::string& path,
                                             const std::string& branch, const std::string& dest,
                                             bool keep_ignored) {
  ORCH_RETURN_IF_ERROR(RunGit(path, {"reset", "--quiet", "--hard"}).status());
  std::vector<std::string> clean = {"clean", "--quiet", "-ff", "-d"};
  if (!keep_ignored) clean.push_back("-x");
  ORCH_RETURN_IF_ERROR(RunGit(path, clean).status());
  ORCH_RETURN_IF_ERROR(RunGit(path, {"checkout", "--quiet", "--detach"}).status());
  Result<std::string> head = RunGit(path, {"rev-parse", "HEAD"});
  if (!head.ok()) return head.status();
  while (!head->empty() && head->back() == '\n') head->pop_back();
  Result<Repo> repo = Open(repo_path);
  if (!repo.ok()) return repo.status();
  std::lock_guard<std::mutex> serial(RepoLock(repo->get()));
  if (!DeleteBranch(repo->get(), branch)) {
    return Status::IOError(repo_path, "deleting branch " + branch + ": " + LastError());
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dest).parent_path(), ec);
  if (ec) return Status::IOError(dest, ec.message());
  ORCH_RETURN_IF_ERROR(RunGit(repo_path, {"worktree", "move", path, dest}).status());
  return *head;
}

Status Libgit2Git::RemoveWorktree(const std::string& repo_path, const std::string& path,
                                  const std::string& branch) {
  Result<Repo> repo = Open(repo_path);
  if (!repo.ok()) return repo.status();
  std::lock_guard<std::mutex> serial(RepoLock(repo->get()));
  git_strarray names = {nullptr, 0};
  if (git_worktree_list(&names, repo->get()) == 0) {
    for (size_t i = 0; i < names.count; ++i) {
      git_worktree* raw = nullptr;
      if (git_worktree_lookup(&raw, repo->get(), names.strings[i]) != 0) continue;
      WorktreePtr wt(raw);
      std::string wt_path = git_worktree_path(wt.get());
      while (wt_path.size() > 1 && wt_path.back() == '/') wt_path.pop_back();
      if (std::filesystem::weakly_canonical(wt_path) != std::filesystem::weakly_canonical(path)) {
        continue;
      }
      git_worktree_prune_options prune = GIT_WORKTREE_PRUNE_OPTIONS_INIT;
      prune.flags =
          GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED | GIT_WORKTREE_PRUNE_WORKING_TREE;
      if (git_worktree_prune(wt.get(), &prune) != 0) {
        git_strarray_dispose(&names);
        return Status::IOError(path, "removing the work tree: " + LastError());
      }
    }
    git_strarray_dispose(&names);
  }
  std::error_code ec;
  std::filesystem::remove_all(path, ec);  // prune leaves a directory it did not know
  if (!branch.empty()) {
    git_reference* raw = nullptr;
    if (git_branch_lookup(&raw, repo->get(), branch.c_str(), GIT_BRANCH_LOCAL) == 0) {
      Reference ref(raw);
      if (git_branch_delete(ref.get()) != 0) {
        return Status::IOError(repo_path, "deleting branch " + branch + ": " + LastError());
      }
    }
  }
  return Status::OK();
}

Result<std::vector<std::string>> Libgit2Git::ListWorktrees(const std::string& repo_path) {
  Result<Repo> repo = Open(repo_path);
  if (!repo.ok()) return repo.status();
  std::vector<std::string> out;
  git_strarray names = {nullptr, 0};
  if (git_worktree_list(&names, repo->get()) != 0) {
    return Status::IOError(repo_path, "listing work trees: " + LastError());
  }
  for (size_t i = 0; i < names.count; ++i) {
    git_worktree* raw = nullptr;
    if (git_worktree_lookup(&raw, repo->get(), names.strings[i]) != 0) continue;
    WorktreePtr wt(raw);
    std::string p = git_worktree_path(wt.get());
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    out.push_back(p);
  }
  git_strarray_dispose(&names);
  return out;
}

Result<bool> Libgit2Git::CommitAll(const std::string& worktree, const std::string& message,
                                   const std::string& name, const std::string& email) {
  Result<Repo> repo = Open(worktree);
  if (!repo.ok()) return repo.status();
  git_index* raw_index = nullptr;
  if (git_repository_index(&raw_index, repo->get()) != 0) {
    return Status::IOError(worktree, "reading the index: " + LastError());
  }
  Index index(raw_index);
  const char* all[] = {"*"};
  git_strarray paths = {const_cast<char**>(all), 1};
  if (git_index_add_all(index.get(), &paths, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr) != 0 ||
      git_index_update_all(index.get(), &paths, nullptr, nullptr) != 0 ||
      git_index_write(index.get()) != 0) {
    return Status::IOError(worktree, "staging changes: " + LastError());
  }
  git_oid tree_oid;
  if (git_index_write_tree(&tree_oid, index.get()) != 0) {
    return Status::IOError(worktree, "writing the tree: " + LastError());
  }
  git_oid head_oid;
  if (git_reference_name_to_id(&head_oid, repo->get(), "HEAD") != 0) {
    return Status::IOError(worktree, "reading HEAD: " + LastError());
  }
  git_commit* raw_head = nullptr;
  if (git_commit_lookup(&raw_head, repo->get(), &head_oid) != 0) {
    return Status::IOError(worktree, "reading HEAD: " + LastError());
  }
  Commit head(raw_head);
  if (git_oid_equal(git_commit_tree_id(head.get()), &tree_oid)) return false;
  git_tree* raw_tree = nullptr;
  if (git_tree_lookup(&raw_tree, repo->get(), &tree_oid) != 0) {
    return Status::IOError(worktree, "reading the tree: " + LastError());
  }
  Tree tree(raw_tree);
  git_signature* raw_sig = nullptr;
  if (git_signature_now(&raw_sig, name.c_str(), email.c_str()) != 0) {
    return Status::InvalidArgument("commit identity", LastError());
  }
  Signature sig(raw_sig);
  const git_commit* parents[] = {head.get()};
  git_oid commit_oid;
  if (git_commit_create(&commit_oid, repo->get(), "HEAD", sig.get(), sig.get(), nullptr,
                        message.c_str(), tree.get(), 1, parents) != 0) {
    return Status::IOError(worktree, "committing: " + LastError());
  }
  return true;
}

Result<int> Libgit2Git::CommitsAhead(const std::string& worktree, const std::string& remote,
                                     const std::string& base) {
  Result<Repo> repo = Open(worktree);
  if (!repo.ok()) return repo.status();
  git_oid head, upstream;
  std::string base_ref = "refs/remotes/" + remote + "/" + base;
  if (git_reference_name_to_id(&head, repo->get(), "HEAD") != 0 ||
      git_reference_name_to_id(&upstream, repo->get(), base_ref.c_str()) != 0) {
    return Status::IOError(worktree, "comparing HEAD with " + base_ref + ": " + LastError());
  }
  size_t ahead = 0, behind = 0;
  if (git_graph_ahead_behind(&ahead, &behind, repo->get(), &head, &upstream) != 0) {
    return Status::IOError(worktree, "comparing HEAD with " + base_ref + ": " + LastError());
  }
  return static_cast<int>(ahead);
}

Status Libgit2Git::Push(const std::string& worktree, const std::string& remote_name,
                        const std::string& branch, const std::string& token) {
  return PushSpec(worktree, remote_name, "refs/heads/" + branch + ":refs/heads/" + branch, token);
}

Status Libgit2Git::PushSpec(const std::string& worktree, const std::string& remote_name,
                            const std::string& spec, const std::string& token) {
  Result<Repo> repo = Open(worktree);
  if (!repo.ok()) return repo.status();
  std::lock_guard<std::mutex> serial(RepoLock(repo->get()));
  Result<Remote> remote = LookupRemote(repo->get(), worktree, remote_name);
  if (!remote.ok()) return remote.status();
  struct PushState {
    std::string token;
    std::string rejected;  // the server's reason for refusing the update, if it did
  } state{token, ""};
  git_push_options opts = GIT_PUSH_OPTIONS_INIT;
  opts.callbacks.credentials = [](git_credential** out, const char* url, const char* user,
                                  unsigned int allowed, void* payload) {
    return Credentials(out, url, user, allowed, &static_cast<PushState*>(payload)->token);
  };
  opts.callbacks.push_update_reference = [](const char* ref, const char* status, void* payload) {
    if (status != nullptr) {
      static_cast<PushState*>(payload)->rejected = std::string(ref) + ": " + status;
    }
    return 0;
  };
  opts.callbacks.payload = &state;
  const char* specs[] = {spec.c_str()};
  git_strarray refspecs = {const_cast<char**>(specs), 1};
  if (git_remote_push(remote->get(), &refspecs, &opts) != 0) {
    // A refused update (not a fast-forward) is as retryable as a network error: the next
    // attempt fetches and continues from the remote's branch.
    std::string why = LastError();
    return Status::Unavailable("pushing " + spec + " to " + remote_name, why);
  }
  if (!state.rejected.empty()) {
    return Status::Unavailable("pushing " + spec + " to " + remote_name,
                               "rejected: " + state.rejected);
  }
  return Status::OK();
}

Status Libgit2Git::FetchBranches(const std::string& worktree, const std::string& remote_name,
                                 const std::vector<std::string>& branches,
                                 const std::string& token) {
  Result<Repo> repo = Open(worktree);
  if (!repo.ok()) return repo.status();
  std::lock_guard<std::mutex> serial(RepoLock(repo->get()));
  Result<Remote> remote = LookupRemote(repo->get(), worktree, remote_name);
  if (!remote.ok()) return remote.status();
  std::vector<std::string> specs;
  for (const std::string& b : branches) {
    specs.push_back("+refs/heads/" + b + ":refs/remotes/" + remote_name + "/" + b);
  }
  std::vector<const char*> ptrs;
  for (const std::string& sp : specs) ptrs.push_back(sp.c_str());
  git_strarray refspecs = {const_cast<char**>(ptrs.data()), ptrs.size()};
  std::string secret = token;
  git_fetch_options fetch = GIT_FETCH_OPTIONS_INIT;
  fetch.callbacks.credentials = Credentials;
  fetch.callbacks.payload = &secret;
  if (git_remote_fetch(remote->get(), &refspecs, &fetch, "orch: fetch") != 0) {
    return GitFailure("fetching into " + worktree);
  }
  return Status::OK();
}

}  // namespace orch
