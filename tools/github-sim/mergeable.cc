#include "mergeable.h"

#include <git2.h>

#include <memory>

namespace orch::sim {
namespace {

struct Libgit2 {
  Libgit2() { git_libgit2_init(); }
  ~Libgit2() { git_libgit2_shutdown(); }
};

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using RepoPtr = std::unique_ptr<git_repository, Freer<git_repository, git_repository_free>>;
using CommitPtr = std::unique_ptr<git_commit, Freer<git_commit, git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, Freer<git_tree, git_tree_free>>;
using IndexPtr = std::unique_ptr<git_index, Freer<git_index, git_index_free>>;

std::string LastError() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

std::string Hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

}  // namespace

MergeCheck CheckMerge(const std::string& git_dir, const std::string& base,
                      const std::string& head) {
  static Libgit2 lib;
  MergeCheck out;
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, git_dir.c_str()) != 0) {
    out.error = "opening " + git_dir + ": " + LastError();
    return out;
  }
  RepoPtr repo(raw);
  git_oid base_oid, head_oid, ancestor_oid;
  if (git_reference_name_to_id(&base_oid, repo.get(), ("refs/heads/" + base).c_str()) != 0 ||
      git_reference_name_to_id(&head_oid, repo.get(), ("refs/heads/" + head).c_str()) != 0) {
    out.error = "branch " + base + " or " + head + ": " + LastError();
    return out;
  }
  out.key = Hex(base_oid) + " " + Hex(head_oid);
  std::optional<TreePtr> ancestor_tree;
  auto tree_of = [&](const git_oid& oid) -> std::optional<TreePtr> {
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, repo.get(), &oid) != 0) return std::nullopt;
    CommitPtr commit(c);
    git_tree* t = nullptr;
    if (git_commit_tree(&t, commit.get()) != 0) return std::nullopt;
    return TreePtr(t);
  };
  if (git_merge_base(&ancestor_oid, repo.get(), &base_oid, &head_oid) == 0) {
    ancestor_tree = tree_of(ancestor_oid);
  }
  std::optional<TreePtr> ours = tree_of(base_oid);
  std::optional<TreePtr> theirs = tree_of(head_oid);
  if (!ours || !theirs) {
    out.error = "reading the branches' trees: " + LastError();
    return out;
  }
  git_index* index = nullptr;
  if (git_merge_trees(&index, repo.get(), ancestor_tree ? ancestor_tree->get() : nullptr,
                      ours->get(), theirs->get(), nullptr) != 0) {
    out.error = "merging: " + LastError();
    return out;
  }
  IndexPtr merged(index);
  out.ok = true;
  out.clean = !git_index_has_conflicts(merged.get());
  git_index_conflict_iterator* it = nullptr;
  if (!out.clean && git_index_conflict_iterator_new(&it, merged.get()) == 0) {
    const git_index_entry *ancestor, *our, *their;
    while (git_index_conflict_next(&ancestor, &our, &their, it) == 0) {
      const git_index_entry* any = our ? our : their ? their : ancestor;
      if (any) out.conflicts.push_back(any->path);
    }
    git_index_conflict_iterator_free(it);
  }
  return out;
}

}  // namespace orch::sim
