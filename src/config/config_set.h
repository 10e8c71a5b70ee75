// ConfigSet: the effective configuration of each project, for the daemon's decisions.
//
// The daemon reads config.yml (and jobs.yml) once, at start; the daemon-wide sections
// (webhook, api, engine, github, channels, notifications, jobs) come from there only. Everything
// a project may set (workflow, router, model_map, agents, runs, plan) is resolved per project:
// the project's .orch.yml merged over the global files, at the moment a decision is made
// (intake, routing, the agent's command line, reviews, retries, runs). A project file is read
// again at most once per `recheck` and parsed again only when its text changed, so an edit is
// picked up at the next decision without a restart.
//
// A project file that does not parse is logged once per distinct error (file, line and key)
// and the project keeps the last configuration that did (the global one if none ever did), so
// a typo made while the daemon runs does not change how running work is judged.
//
// A ConfigSet is a handle: copies share one cache. It converts from a Config, giving every
// project that Config (tests, and clients that decide for no project).
//
// Thread safety: every method may be called from any thread; the project lookup it was given
// runs under its lock, so give it one that is safe where For() is called (the daemon calls
// For(project id) on the engine thread only, and hands the result to its workers).
#ifndef ORCH_CONFIG_CONFIG_SET_H_
#define ORCH_CONFIG_CONFIG_SET_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

class ConfigSet {
 public:
  // Reads a project's .orch.yml (ReadProjectConfig), nullopt when it has none.
  using ProjectReader = std::function<Result<std::optional<ConfigSource>>(const Project&)>;
  // The registered project with this id (NotFound when there is none).
  using ProjectLookup = std::function<Result<Project>(int64_t)>;

  struct Options {
    Config global;                             // parsed from global_sources
    std::vector<ConfigSource> global_sources;  // config.yml, jobs.yml as read at start
    EnvLookup env;
    ProjectReader read_project;
    ProjectLookup lookup;
    std::chrono::milliseconds recheck{1000};
  };

  ConfigSet(const Config& config);  // NOLINT(google-explicit-constructor): see the header comment
  explicit ConfigSet(Options options);

  // The daemon-wide configuration.
  const Config& global() const;

  // `project`'s effective configuration (never null).
  std::shared_ptr<const Config> For(const Project& project) const;
  // The same for the project with this id; the global configuration when it is not registered.
  std::shared_ptr<const Config> ForProject(int64_t project_id) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace orch

#endif  // ORCH_CONFIG_CONFIG_SET_H_
