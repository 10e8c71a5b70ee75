// `orch service install | uninstall | start | stop | restart | status [--manager M]`.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "base/platform.h"
#include "base/subprocess.h"
#include "cli/cli.h"
#include "cli/service.h"

namespace orch {
namespace {

enum class Verb { kInstall, kUninstall, kStart, kStop, kRestart, kStatus };

class ServiceCommand : public Command {
 public:
  explicit ServiceCommand(Verb verb) : verb_(verb) {}
  void Define(CLI::App& app) override {
    app.add_option("--manager", manager_,
                   "systemd, launchd or brew (default: brew for a Homebrew install, launchd on "
                   "macOS, systemd elsewhere)")
        ->check(CLI::IsMember({"systemd", "launchd", "brew"}));
  }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    std::optional<std::string> user_home = ctx.env("HOME");
    if (!user_home || user_home->empty()) {
      return Status::InvalidArgument("orch service", "HOME is not set");
    }
    std::error_code ec;
    std::string exe = ExecutablePath();
    std::string canonical = std::filesystem::canonical(exe, ec).string();
    std::optional<ServicePlatform> platform = ParseServicePlatform(manager_);
    if (!platform) platform = ServiceManager::Detect(ThisOs(), ec ? exe : canonical);
    ServiceSpec spec{.orch_binary = exe,
                     .orch_home = std::filesystem::absolute(home->root, ec).string(),
                     .path = ctx.env("PATH").value_or("/usr/local/bin:/usr/bin:/bin"),
                     .log_dir = home->state_dir()};
    PosixProcessRunner processes;
    ServiceManager manager(processes, *platform, *user_home, spec);
    Result<std::string> did = Status::Internal("service", "no verb");
    switch (verb_) {
      case Verb::kInstall:
        did = manager.Install();
        break;
      case Verb::kUninstall:
        did = manager.Uninstall();
        break;
      case Verb::kStart:
        did = manager.Start();
        break;
      case Verb::kStop:
        did = manager.Stop();
        break;
      case Verb::kRestart:
        did = manager.Restart();
        break;
      case Verb::kStatus:
        did = manager.StatusText();
        break;
    }
    if (!did.ok()) {
      if (verb_ == Verb::kInstall && manager.platform() == ServicePlatform::kSystemd) {
        ctx.err << "orch: wrote " << manager.UnitPath()
                << ", but the service manager is not reachable (no systemd user session here?)"
                << "; enable it later with systemctl --user enable --now orch\n";
      } else if (verb_ == Verb::kInstall && manager.platform() == ServicePlatform::kLaunchd) {
        ctx.err << "orch: wrote " << manager.UnitPath() << ", but launchctl could not load it\n";
      }
      return did.status();
    }
    ctx.out << *did << (did->empty() || did->back() == '\n' ? "" : "\n");
    return Status::OK();
  }

 private:
  Verb verb_;
  std::string manager_;  // --manager; empty: detected
};

}  // namespace

std::unique_ptr<Command> MakeServiceInstallCommand() {
  return std::make_unique<ServiceCommand>(Verb::kInstall);
}
std::unique_ptr<Command> MakeServiceUninstallCommand() {
  return std::make_unique<ServiceCommand>(Verb::kUninstall);
}
std::unique_ptr<Command> MakeServiceStartCommand() {
  return std::make_unique<ServiceCommand>(Verb::kStart);
}
std::unique_ptr<Command> MakeServiceStopCommand() {
  return std::make_unique<ServiceCommand>(Verb::kStop);
}
std::unique_ptr<Command> MakeServiceRestartCommand() {
  return std::make_unique<ServiceCommand>(Verb::kRestart);
}
std::unique_ptr<Command> MakeServiceStatusCommand() {
  return std::make_unique<ServiceCommand>(Verb::kStatus);
}

}  // namespace orch
