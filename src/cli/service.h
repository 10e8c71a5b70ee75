// Service files: orch as a per-user service that starts at login and restarts on failure.
//
//   Linux   a systemd user unit, ~/.config/systemd/user/orch.service, driven by systemctl --user
//   macOS   a launchd agent, ~/Library/LaunchAgents/dev.orch.orch.plist, driven by launchctl;
//           when orch came from Homebrew, `brew services` instead, so that
//           `brew services restart orch` and `orch service restart` are the same thing
//
// The unit and the plist run `orch serve` with KillMode=process / AbandonProcessGroup, so a
// restart leaves the agents' tmux server alone (the daemon adopts its sessions on start).
// Rendering is pure; ServiceManager does the file and process work.
#ifndef ORCH_CLI_SERVICE_H_
#define ORCH_CLI_SERVICE_H_

#include <string>
#include <vector>

#include "base/status.h"
#include "base/subprocess.h"

namespace orch {

struct ServiceSpec {
  std::string orch_binary;  // absolute
  std::string orch_home;
  std::string path;     // PATH for the daemon: tmux, git and the agent CLIs must be on it
  std::string log_dir;  // launchd's stdout/stderr files go here
};

std::string RenderSystemdUserUnit(const ServiceSpec& spec);
std::string RenderLaunchdPlist(const ServiceSpec& spec);

inline constexpr const char* kLaunchdLabel = "dev.orch.orch";

enum class ServicePlatform { kSystemd, kLaunchd, kBrew };

class ServiceManager {
 public:
  // `home` is the user's home directory.
  ServiceManager(ProcessRunner& runner, ServicePlatform platform, std::string home,
                 ServiceSpec spec)
      : runner_(runner), platform_(platform), home_(std::move(home)), spec_(std::move(spec)) {}

  // The platform this machine uses: launchd on macOS (brew when `orch_binary` lives in a
  // Homebrew Cellar), systemd elsewhere.
  static ServicePlatform Detect(const std::string& orch_binary);

  std::string UnitPath() const;
  // Each returns what it did, for people. Unavailable when the service manager cannot be
  // reached (no systemd user session, in a container): the files are written anyway.
  Result<std::string> Install();
  Result<std::string> Uninstall();
  Result<std::string> Start();
  Result<std::string> Stop();
  Result<std::string> Restart();
  Result<std::string> StatusText();

 private:
  Result<ProcessResult> Call(const std::vector<std::string>& argv);
  Result<std::string> Must(const std::vector<std::string>& argv, const std::string& did);

  ProcessRunner& runner_;
  ServicePlatform platform_;
  std::string home_;
  ServiceSpec spec_;
};

}  // namespace orch

#endif  // ORCH_CLI_SERVICE_H_
