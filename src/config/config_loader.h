// Config loading: the I/O around ParseConfig.
//
// The global file is $ORCH_HOME/config.yml (absent: all defaults), followed by
// $ORCH_HOME/jobs.yml when it exists (only `jobs`, added to config.yml's). A project's file is
// `.orch.yml` at the top of the path the registry recorded for it: read from the work tree for
// a local project, from HEAD for a bare clone. The process's working directory plays no part,
// so the daemon reads the same files under launchd or systemd as in a terminal.
// Thread safety: stateless functions.
#ifndef ORCH_CONFIG_CONFIG_LOADER_H_
#define ORCH_CONFIG_CONFIG_LOADER_H_

#include <optional>
#include <string>
#include <vector>

#include "agents/git.h"
#include "base/home.h"
#include "config/config.h"
#include "config/config_set.h"
#include "store/store.h"

namespace orch {

// Reads a file into a ConfigSource named by its path. NotFound when it does not exist,
// IOError when it cannot be read.
Result<ConfigSource> ReadConfigFile(const std::string& path);

// The same, nullopt when the file does not exist (optional files: config.yml, jobs.yml).
Result<std::optional<ConfigSource>> ReadConfigFileIfPresent(const std::string& path);

// The project's .orch.yml, or nullopt when it has none.
Result<std::optional<ConfigSource>> ReadProjectConfig(const Project& project, Git& git);

// Global config merged with `project`'s (project wins), parsed and validated. `origins`, when
// given, receives where each key was set, and `project_source` the name of the project's file
// (empty when it has none).
Result<Config> LoadConfig(const Home& home, const EnvLookup& env, Git& git, const Project* project,
                          ConfigOrigins* origins = nullptr, std::string* project_source = nullptr);

// The daemon's ConfigSet (config_set.h): the global files read and validated now, each
// project's file read through `git` when a decision needs it, projects found by `lookup`.
Result<ConfigSet> LoadConfigSet(const Home& home, const EnvLookup& env, Git& git,
                                ConfigSet::ProjectLookup lookup);

}  // namespace orch

#endif  // ORCH_CONFIG_CONFIG_LOADER_H_
