#include "config/projects.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

namespace orch {
namespace fs = std::filesystem;

namespace {

bool IsSlug(std::string_view s) {
  static const std::regex kSlug("^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$");
  return std::regex_match(s.begin(), s.end(), kSlug);
}

}  // namespace

const char* const kProjectConfigTemplate =
    "# orch settings for this repository. Keys here override $ORCH_HOME/config.yml for this\n"
    "# project only; orch serve reads this file again at its next decision after you save it.\n"
    "# Allowed here: workflow, router (not its breaker_* keys), model_map, agents, runs, plan.\n"
    "# `orch config show -p <project>` prints every value and where it came from;\n"
    "# every key is described in docs/configuration.md. Examples:\n"
    "#\n"
    "# workflow:\n"
    "#   trigger_labels: [orch]\n"
    "#   max_attempts: 3\n"
    "#   sandbox: workspace-write\n"
    "# router:\n"
    "#   mode: round_robin\n"
    "#   agents: [claude, codex]\n";

std::optional<std::string> SlugFromUrl(std::string_view url) {
  std::string s(url);
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".git") == 0) s.resize(s.size() - 4);
  // scp-like "git@host:owner/repo": the path starts after the colon.
  if (s.find("://") == std::string::npos) {
    size_t colon = s.find(':');
    if (colon != std::string::npos) s = "/" + s.substr(colon + 1);
  }
  size_t last = s.rfind('/');
  if (last == std::string::npos || last == 0) return std::nullopt;
  size_t prev = s.rfind('/', last - 1);
  if (prev == std::string::npos) return std::nullopt;
  std::string slug = s.substr(prev + 1);
  if (!IsSlug(slug)) return std::nullopt;
  return slug;
}

Result<ProjectSpec> ParseProjectSpec(std::string_view arg, bool is_existing_dir) {
  ProjectSpec spec;
  spec.value = std::string(arg);
  if (arg.empty()) return Status::InvalidArgument("project", "empty name");
  bool url = arg.find("://") != std::string_view::npos || arg.rfind("git@", 0) == 0;
  if (!url && (is_existing_dir || arg[0] == '/' || arg[0] == '.' || arg[0] == '~')) {
    spec.kind = ProjectSpecKind::kPath;
    return spec;
  }
  std::optional<std::string> slug;
  if (url) {
    spec.kind = ProjectSpecKind::kUrl;
    slug = SlugFromUrl(arg);
    if (!slug) {
      return Status::InvalidArgument("\"" + spec.value + "\"", "a URL must end in /owner/repo");
    }
  } else if (IsSlug(arg)) {
    spec.kind = ProjectSpecKind::kSlug;
    slug = spec.value;
  } else {
    return Status::InvalidArgument("\"" + spec.value + "\"",
                                   "expected owner/repo, a clone URL or a directory");
  }
  size_t slash = slug->find('/');
  spec.owner = slug->substr(0, slash);
  spec.repo = slug->substr(slash + 1);
  return spec;
}

std::string CloneUrlForSlug(std::string_view api_url, std::string_view slug) {
  std::string base(api_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string kPublicApi = "https://api.github.com";
  if (base == kPublicApi) {
    base = "https://github.com";
  } else if (base.size() > 7 && base.compare(base.size() - 7, 7, "/api/v3") == 0) {
    base.resize(base.size() - 7);
  }
  return base + "/" + std::string(slug) + ".git";
}

Result<Project> ProjectRegistry::Add(std::string_view arg) {
  std::error_code ec;
  bool is_dir = fs::is_directory(fs::path(std::string(arg)), ec);
  Result<ProjectSpec> spec = ParseProjectSpec(arg, is_dir);
  if (!spec.ok()) return spec.status();
  switch (spec->kind) {
    case ProjectSpecKind::kPath:
      return AddLocal(spec->value, std::nullopt);
    case ProjectSpecKind::kSlug:
      return AddClone(CloneUrlForSlug(api_url_, spec->value), spec->value);
    case ProjectSpecKind::kUrl:
      return AddClone(spec->value, spec->owner + "/" + spec->repo);
  }
  return Status::Internal("unreachable");
}

Result<Project> ProjectRegistry::AddLocal(const std::string& path,
                                          std::optional<std::string> repo) {
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(path), ec);
  if (ec) return Status::InvalidArgument(path, ec.message());
  Result<std::string> root = git_.WorkTreeRoot(abs.lexically_normal().string());
  if (!root.ok()) return root.status();
  Result<std::optional<std::string>> origin = git_.RemoteUrl(*root, "origin");
  if (!origin.ok()) return origin.status();
  if (!repo && *origin) repo = SlugFromUrl(**origin);
  Project p;
  p.repo = repo;
  p.name = repo ? *repo : fs::path(*root).filename().string();
  p.path = *root;
  p.remote_url = origin->value_or("");
  p.kind = ProjectKind::kLocal;
  return store_.AddProject(p);
}

Result<Project> ProjectRegistry::AddClone(const std::string& url, const std::string& slug) {
  if (store_.FindProject(slug).ok()) {
    return Status::Conflict("project \"" + slug + "\"", "already registered");
  }
  fs::path dest = fs::path(home_.projects_dir()) / (slug + ".git");
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    return Status::Conflict(dest.string(), "already exists; remove it or register it as a path");
  }
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return Status::IOError(dest.parent_path().string(), ec.message());
  Status cloned = git_.CloneBare(url, dest.string());
  if (!cloned.ok()) {
    fs::remove_all(dest, ec);  // leave no half-made clone to block the next try
    return cloned;
  }
  Project p;
  p.name = slug;
  p.repo = slug;
  p.path = dest.string();
  p.remote_url = url;
  p.kind = ProjectKind::kClone;
  Result<Project> added = store_.AddProject(p);
  if (!added.ok()) fs::remove_all(dest, ec);
  return added;
}

Result<std::pair<Project, bool>> ProjectRegistry::Init(const std::string& dir,
                                                       std::optional<std::string> repo) {
  if (repo && !IsSlug(*repo)) {
    return Status::InvalidArgument("--repo \"" + *repo + "\"", "expected owner/name");
  }
  Result<std::string> root = git_.WorkTreeRoot(dir);
  if (!root.ok()) {
    return Status::InvalidArgument(dir, "orch init must run inside a git checkout");
  }
  Result<Project> project = AddLocal(*root, repo);
  if (project.status().IsConflict()) {
    // Running init again in a registered checkout is fine: keep the registration.
    Result<std::vector<Project>> all = store_.ListProjects();
    if (!all.ok()) return all.status();
    auto same =
        std::find_if(all->begin(), all->end(), [&](const Project& p) { return p.path == *root; });
    if (same == all->end()) return project.status();
    project = *same;
  }
  if (!project.ok()) return project.status();
  fs::path file = fs::path(*root) / ".orch.yml";
  std::error_code ec;
  if (fs::exists(file, ec)) return std::make_pair(*project, false);
  std::ofstream out(file);
  out << kProjectConfigTemplate;
  out.close();
  if (!out) return Status::IOError(file.string(), "cannot write");
  return std::make_pair(*project, true);
}

}  // namespace orch
