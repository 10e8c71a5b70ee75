// Settings as the dashboard edits them: the global config.yml and each local project's
// .orch.yml, checked with ParseConfig (what `orch config validate` runs) before anything is
// written, and saved atomically with the previous file kept beside it as <file>.bak.
//
// The global file is read by `orch serve` when it starts: a change to it applies after a
// restart. A project's .orch.yml is read again at the daemon's next decision about the project
// (config_set.h): no restart. A project orch cloned bare has its .orch.yml in the repository,
// so it is shown and not edited here.
//
// Thread safety: stateless functions.
#ifndef ORCH_DASHBOARD_SETTINGS_H_
#define ORCH_DASHBOARD_SETTINGS_H_

#include <optional>
#include <string>
#include <vector>

#include "base/home.h"
#include "base/status.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

struct SettingsFile {
  std::string target;  // "global", or the project's name
  std::string path;
  std::string text = "";
  bool exists = false;
  bool editable = true;
  std::string applies = "";  // when a saved change takes effect
};

// One of ParseConfig's problems: "<file>:<line>: <key>: <why>".
struct SettingsError {
  std::string file = "";  // the file the line is in ("" when the message names none)
  int line = 0;           // 0 when the message names none
  std::string key = "";   // dotted, "" when the message names none
  std::string message;
};

// The global file (first) and each project's.
std::vector<SettingsFile> ListSettingsFiles(const Home& home, const std::vector<Project>& projects);

// Each line of a kConfig Status's message as an error.
std::vector<SettingsError> SplitConfigErrors(const std::string& message);

// The problems of `text` as `file`'s new content, merged as orch would read it (a project's over
// the global files); empty when it is good.
std::vector<SettingsError> CheckSettings(const Home& home, const SettingsFile& file,
                                         const std::string& text, const EnvLookup& env);

// Writes `text` to `path`: to a temporary file beside it, flushed to disk, then renamed over it,
// the old content first copied to `path`.bak. IOError naming the file that failed.
Status SaveSettingsFile(const std::string& path, const std::string& text);

}  // namespace orch

#endif  // ORCH_DASHBOARD_SETTINGS_H_
