#include "agents/git.h"

#include <git2.h>

#include <memory>

#include "base/subprocess.h"

namespace orch {
namespace {

std::string LastError() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

struct RepoCloser {
  void operator()(git_repository* r) const { git_repository_free(r); }
};
using RepoPtr = std::unique_ptr<git_repository, RepoCloser>;

Result<RepoPtr> OpenRepo(const std::string& path) {
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0) {
    return Status::NotFound(path, "not a git repository (" + LastError() + ")");
  }
  return RepoPtr(repo);
}

}  // namespace

Libgit2Git::Libgit2Git(CheckoutTool tool) : tool_(tool) { git_libgit2_init(); }
Libgit2Git::~Libgit2Git() { git_libgit2_shutdown(); }

Result<std::string> Libgit2Git::RunGit(const std::string& cwd,
                                       const std::vector<std::string>& args) {
  ProcessOptions options;
  options.argv = {"git"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.cwd = cwd;
  // The repository is named by `cwd` alone, whatever orch's own environment says.
  options.env_unset = {"GIT_DIR",        "GIT_WORK_TREE",          "GIT_INDEX_FILE",
                       "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",   "GIT_NAMESPACE",
                       "GIT_PREFIX",     "GIT_CEILING_DIRECTORIES"};
  options.env_set = {{"GIT_TERMINAL_PROMPT", "0"}};
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run(options);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    std::string why = r->err;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::IOError("git " + args.front() + " in " + cwd,
                           why.empty() ? "exit " + std::to_string(r->exit_code) : why);
  }
  return r->out;
}

Result<std::string> Libgit2Git::WorkTreeRoot(const std::string& path) {
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, path.c_str(), 0, nullptr) != 0) {
    return Status::NotFound(path, "not inside a git repository");
  }
  RepoPtr repo(raw);
  const char* workdir = git_repository_workdir(repo.get());
  if (workdir == nullptr) return Status::NotFound(path, "a bare repository has no work tree");
  std::string root(workdir);
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

Result<std::optional<std::string>> Libgit2Git::RemoteUrl(const std::string& repo_path,
                                                         const std::string& name) {
  Result<RepoPtr> repo = OpenRepo(repo_path);
  if (!repo.ok()) return repo.status();
  git_remote* remote = nullptr;
  int rc = git_remote_lookup(&remote, repo->get(), name.c_str());
  if (rc == GIT_ENOTFOUND) return std::optional<std::string>();
  if (rc != 0) return Status::IOError(repo_path, "reading remote " + name + ": " + LastError());
  const char* url = git_remote_url(remote);
  std::optional<std::string> out;
  if (url != nullptr) out = url;
  git_remote_free(remote);
  return out;
}

Status Libgit2Git::CloneBare(const std::string& url, const std::string& dest) {
  git_clone_options opts = GIT_CLONE_OPTIONS_INIT;
  opts.bare = 1;
  git_repository* repo = nullptr;
  if (git_clone(&repo, url.c_str(), dest.c_str(), &opts) != 0) {
    const git_error* e = git_error_last();
    std::string why = LastError();
    if (e && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_SSL ||
              e->klass == GIT_ERROR_HTTP || e->klass == GIT_ERROR_SSH)) {
      return Status::Unavailable("cloning " + url, why);
    }
    return Status::IOError("cloning " + url, why);
  }
  git_repository_free(repo);
  return Status::OK();
}

Result<std::optional<std::string>> Libgit2Git::ReadFileAtHead(const std::string& repo_path,
                                                              const std::string& file) {
  Result<RepoPtr> repo = OpenRepo(repo_path);
  if (!repo.ok()) return repo.status();
  git_object* obj = nullptr;
  std::string spec = "HEAD:" + file;
  int rc = git_revparse_single(&obj, repo->get(), spec.c_str());
  if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) return std::optional<std::string>();
  if (rc != 0) return Status::IOError(repo_path, "reading " + spec + ": " + LastError());
  std::optional<std::string> out;
  if (git_object_type(obj) == GIT_OBJECT_BLOB) {
    auto* blob = reinterpret_cast<git_blob*>(obj);
    out = std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                      static_cast<size_t>(git_blob_rawsize(blob)));
  }
  git_object_free(obj);
  return out;
}

}  // namespace orch
