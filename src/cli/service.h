// Service files: orch as a per-user service that starts at login and restarts on failure.
//
//   Linux     a systemd user unit, ~/.config/systemd/user/orch.service, driven by systemctl --user
//   macOS     a launchd agent, ~/Library/LaunchAgents/dev.orch.orch.plist, driven by launchctl in
//             the user's GUI domain: bootstrap gui/<uid> <plist> loads and starts it, kickstart -k
//             gui/<uid>/<label> restarts it, bootout gui/<uid>/<label> stops and unloads it
//   Homebrew  when the orch binary lives in a Homebrew Cellar, `brew services` instead, so that
//             `brew services restart orch` and `orch service restart` are the same thing and
//             there is one service definition (the formula's), not two
//
// The unit and the plist run `orch serve` with KillMode=process / AbandonProcessGroup, so a
// restart leaves the agents' tmux server alone (the daemon adopts its sessions on start).
// Rendering and choosing the manager are pure (the OS is a value, so both are tested on Linux);
// ServiceManager does the file and process work through a ProcessRunner. Not thread-safe.
#ifndef ORCH_CLI_SERVICE_H_
#define ORCH_CLI_SERVICE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/platform.h"
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

// "systemd", "launchd" or "brew" (`orch service --manager`); nullopt for anything else.
std::optional<ServicePlatform> ParseServicePlatform(std::string_view name);

class ServiceManager {
 public:
  // `home` is the user's home directory.
  ServiceManager(ProcessRunner& runner, ServicePlatform platform, std::string home,
                 ServiceSpec spec)
      : runner_(runner), platform_(platform), home_(std::move(home)), spec_(std::move(spec)) {}

  // The manager for an orch binary at `canonical_binary` (symlinks resolved) on `os`: brew
  // when the binary lives in a Homebrew Cellar (macOS or Linuxbrew), else launchd on macOS,
  // else systemd.
  static ServicePlatform Detect(Os os, const std::string& canonical_binary);

  ServicePlatform platform() const { return platform_; }
  // The unit or plist file, "" under Homebrew (brew services writes its own).
  std::string UnitPath() const;
  // Each returns what it did, for people. Unavailable when the service manager cannot be
  // reached or refuses (no systemd user session, in a container; launchctl's error): the files
  // are written anyway. Under Homebrew each says it deferred to `brew services`.
  Result<std::string> Install();
  Result<std::string> Uninstall();
  Result<std::string> Start();
  Result<std::string> Stop();
  Result<std::string> Restart();
  Result<std::string> StatusText();

 private:
  Result<ProcessResult> Call(const std::vector<std::string>& argv);
  Result<std::string> Must(const std::vector<std::string>& argv, const std::string& did);
  Result<std::string> Brew(const std::string& verb, const std::string& did);
  // launchd: gui/<uid>, gui/<uid>/<label>, and whether that label is loaded there.
  std::string Domain() const;
  std::string Target() const;
  bool Loaded();
  Result<std::string> Bootstrap(const std::string& did);

  ProcessRunner& runner_;
  ServicePlatform platform_;
  std::string home_;
  ServiceSpec spec_;
};

}  // namespace orch

#endif  // ORCH_CLI_SERVICE_H_
