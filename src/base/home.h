// Home: where orch keeps its files, under $ORCH_HOME (default ~/.orch).
//
//   config.yml            global configuration
//   jobs.yml              scheduled jobs added by `orch job add` (merged with config.yml's)
//   orch.db               the store (SQLite, WAL), unless store.url names a PostgreSQL database
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
  // The store's PostgreSQL URL ($ORCH_STORE_URL, else the config's store.url); empty: orch.db.
  std::string store_url = "";

  std::string config_path() const { return root + "/config.yml"; }
  std::string jobs_path() const { return root + "/jobs.yml"; }
  std::string db_path() const { return root + "/orch.db"; }
  // What Store::Open takes: the URL, else the SQLite file.
  std::string store() const { return store_url.empty() ? db_path() : store_url; }
  std::string state_dir() const { return root + "/state"; }
  std::string log_path() const { return state_dir() + "/orch.log"; }
  std::string pid_path() const { return state_dir() + "/orch.pid"; }
  std::string projects_dir() const { return root + "/projects"; }
};

// $ORCH_HOME, else $HOME/.orch. InvalidArgument when neither can be known.
// Also takes $ORCH_STORE_URL (the config's store.url is read with the config: UseStoreUrl).
inline Result<Home> ResolveHome(const EnvLookup& env) {
  Home home;
  if (auto h = env("ORCH_HOME"); h && !h->empty()) {
    home.root = *h;
  } else if (auto h = env("HOME"); h && !h->empty()) {
    home.root = *h + "/.orch";
  } else {
    return Status::InvalidArgument("cannot find orch's home", "set ORCH_HOME or HOME");
  }
  if (auto u = env("ORCH_STORE_URL"); u && !u->empty()) home.store_url = *u;
  return home;
}

// The config's store.url, unless the environment named one already.
inline void UseStoreUrl(Home& home, const Config& config) {
  if (home.store_url.empty()) home.store_url = config.store.url;
}

}  // namespace orch

#endif  // ORCH_BASE_HOME_H_
