// Projects: the registry of repositories orch works on.
//
// `orch project add` takes a local path (registered in place), an `owner/repo` slug or a clone
// URL (both cloned bare under $ORCH_HOME/projects/<owner>/<repo>.git). `orch init` registers the
// checkout it is run in and writes its `.orch.yml`. The registry lives in the store; a project's
// `.orch.yml` is found through the path recorded there, never through the working directory.
//
// The parsing functions are pure. ProjectRegistry does the I/O through the Git and store it is
// given; it is used by one thread at a time, like the store.
#ifndef ORCH_CONFIG_PROJECTS_H_
#define ORCH_CONFIG_PROJECTS_H_

#include <optional>
#include <string>
#include <string_view>

#include "agents/git.h"
#include "base/home.h"
#include "base/status.h"
#include "store/store.h"

namespace orch {

enum class ProjectSpecKind { kPath, kSlug, kUrl };

struct ProjectSpec {
  ProjectSpecKind kind = ProjectSpecKind::kPath;
  std::string value;  // the path, slug or URL as given
  std::string owner;  // for slugs and URLs
  std::string repo;
};

// Classifies what the user gave. A value that exists as a directory, or starts with '/', '.'
// or '~', is a path; "owner/repo" is a slug; anything with "://" or "git@host:" is a URL.
// InvalidArgument when it is none of these, or a URL that names no owner/repo.
Result<ProjectSpec> ParseProjectSpec(std::string_view arg, bool is_existing_dir);

// "owner/repo" from a clone URL (https, ssh, scp-like or file), or nullopt.
std::optional<std::string> SlugFromUrl(std::string_view url);

// The clone URL for a slug on the GitHub behind `api_url`: https://api.github.com gives
// https://github.com/o/r.git; an Enterprise https://host/api/v3 gives https://host/o/r.git.
std::string CloneUrlForSlug(std::string_view api_url, std::string_view slug);

class ProjectRegistry {
 public:
  ProjectRegistry(Store& store, Git& git, Home home, std::string api_url)
      : store_(store), git_(git), home_(std::move(home)), api_url_(std::move(api_url)) {}

  // Registers a path, slug or URL. Conflict when a project of that name exists or the clone's
  // destination is taken; NotFound when a path is not in a git work tree.
  Result<Project> Add(std::string_view arg);

  // Registers the work tree containing `dir` (kept as it is when already registered there)
  // and writes its .orch.yml if it has none.
  // `repo` (owner/name) overrides what the origin remote says. Returns the project and whether
  // .orch.yml was written.
  Result<std::pair<Project, bool>> Init(const std::string& dir, std::optional<std::string> repo);

 private:
  Result<Project> AddLocal(const std::string& path, std::optional<std::string> repo);
  Result<Project> AddClone(const std::string& url, const std::string& slug);

  Store& store_;
  Git& git_;
  Home home_;
  std::string api_url_;
};

// The text `orch init` writes into a new .orch.yml.
extern const char* const kProjectConfigTemplate;

}  // namespace orch

#endif  // ORCH_CONFIG_PROJECTS_H_
