// Home: where orch keeps its files, under $ORCH_HOME (default ~/.orch).
//
//   config.yml            global configuration
//   jobs.yml              scheduled jobs added by `orch job add` (merged with config.yml's)
//   orch.db               the store (SQLite, WAL)
//   state/orch.log        the daemon's log (rotated)
//   state/orch.pid        the daemon's pid, flock-ed while it runs
//   projects/<o>/<r>.git  bare clones made by `orch project add owner/repo`
//
// Values only; thread-safe.
#ifndef ORCH_BASE_HOME_H_
#define ORCH_BASE_HOME_H_

#include <string>

#include "base/status.h"
#include "config/config.h"

namespace orch {

struct Home {
  std::string root;

  std::string config_path() const { return root + "/config.yml"; }
  std::string jobs_path() const { return root + "/jobs.yml"; }
  std::string db_path() const { return root + "/orch.db"; }
  std::string state_dir() const { return root + "/state"; }
  std::string log_path() const { return state_dir() + "/orch.log"; }
  std::string pid_path() const { return state_dir() + "/orch.pid"; }
  std::string projects_dir() const { return root + "/projects"; }
};

// $ORCH_HOME, else $HOME/.orch. InvalidArgument when neither can be known.
inline Result<Home> ResolveHome(const EnvLookup& env) {
  if (auto h = env("ORCH_HOME"); h && !h->empty()) return Home{*h};
  if (auto h = env("HOME"); h && !h->empty()) return Home{*h + "/.orch"};
  return Status::InvalidArgument("cannot find orch's home", "set ORCH_HOME or HOME");
}

}  // namespace orch

#endif  // ORCH_BASE_HOME_H_
