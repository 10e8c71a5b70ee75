#include "cli/service.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace orch {
namespace {

// systemd unit values: a space or quote inside a path needs quoting, % needs doubling.
std::string UnitQuote(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%')
      out += "%%";
    else if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else
      out += c;
  }
  return s.find_first_of(" \t\"\\") == std::string::npos ? out : "\"" + out + "\"";
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string RenderSystemdUserUnit(const ServiceSpec& s) {
  std::ostringstream u;
  u << "# orch as a systemd user service; written by `orch service install`.\n"
    << "[Unit]\n"
    << "Description=orch: GitHub issues to pull requests by AI coding agents\n"
    << "After=network-online.target\n\n"
    << "[Service]\n"
    << "Type=simple\n"
    << "ExecStart=" << UnitQuote(s.orch_binary) << " serve\n"
    << "WorkingDirectory=" << UnitQuote(s.orch_home) << "\n"
    << "Environment=" << UnitQuote("ORCH_HOME=" + s.orch_home) << "\n"
    << "Environment=" << UnitQuote("PATH=" + s.path) << "\n"
    << "Restart=on-failure\n"
    << "RestartSec=5\n"
    << "# More descriptors than the default 1024: the webhook receiver's connections.\n"
    << "LimitNOFILE=65536\n"
    << "# Stop only the daemon: agents keep running in tmux and are adopted on the next start.\n"
    << "KillMode=process\n"
    << "TimeoutStopSec=30\n\n"
    << "[Install]\n"
    << "WantedBy=default.target\n";
  return u.str();
}

std::string RenderLaunchdPlist(const ServiceSpec& s) {
  std::ostringstream p;
  p << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
       "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    << "<plist version=\"1.0\">\n<dict>\n"
    << "  <key>Label</key>\n  <string>" << kLaunchdLabel << "</string>\n"
    << "  <key>ProgramArguments</key>\n  <array>\n"
    << "    <string>" << XmlEscape(s.orch_binary) << "</string>\n"
    << "    <string>serve</string>\n  </array>\n"
    << "  <key>EnvironmentVariables</key>\n  <dict>\n"
    << "    <key>ORCH_HOME</key>\n    <string>" << XmlEscape(s.orch_home) << "</string>\n"
    << "    <key>PATH</key>\n    <string>" << XmlEscape(s.path) << "</string>\n"
    << "    <key>ORCH_LOG_STDERR</key>\n    <string>0</string>\n"
    << "  </dict>\n"
    << "  <key>WorkingDirectory</key>\n  <string>" << XmlEscape(s.orch_home) << "</string>\n"
    << "  <key>RunAtLoad</key>\n  <true/>\n"
    << "  <key>KeepAlive</key>\n  <true/>\n"
    << "  <key>SoftResourceLimits</key>\n  <dict>\n"
    << "    <key>NumberOfFiles</key>\n    <integer>10240</integer>\n  </dict>\n"
    << "  <key>AbandonProcessGroup</key>\n  <true/>\n"
    << "  <key>StandardOutPath</key>\n  <string>" << XmlEscape(s.log_dir)
    << "/launchd.out.log</string>\n"
    << "  <key>StandardErrorPath</key>\n  <string>" << XmlEscape(s.log_dir)
    << "/launchd.err.log</string>\n"
    << "</dict>\n</plist>\n";
  return p.str();
}

std::optional<ServicePlatform> ParseServicePlatform(std::string_view name) {
  if (name == "systemd") return ServicePlatform::kSystemd;
  if (name == "launchd") return ServicePlatform::kLaunchd;
  if (name == "brew") return ServicePlatform::kBrew;
  return std::nullopt;
}

ServicePlatform ServiceManager::Detect(Os os, const std::string& canonical_binary) {
  // Homebrew keeps every keg in <prefix>/Cellar/<formula>/<version>/, and its bin/ links point
  // there; the service is then the formula's (brew services), on macOS and on Linuxbrew alike.
  if (canonical_binary.find("/Cellar/") != std::string::npos) return ServicePlatform::kBrew;
  return os == Os::kMacOS ? ServicePlatform::kLaunchd : ServicePlatform::kSystemd;
}

std::string ServiceManager::UnitPath() const {
  switch (platform_) {
    case ServicePlatform::kSystemd:
      return home_ + "/.config/systemd/user/orch.service";
    case ServicePlatform::kLaunchd:
      return home_ + "/Library/LaunchAgents/" + kLaunchdLabel + ".plist";
    case ServicePlatform::kBrew:
      return "";  // Homebrew owns it (homebrew.mxcl.orch.plist)
  }
  return "";
}

Result<ProcessResult> ServiceManager::Call(const std::vector<std::string>& argv) {
  return runner_.Run({.argv = argv, .timeout = std::chrono::seconds(60)});
}

Result<std::string> ServiceManager::Must(const std::vector<std::string>& argv,
                                         const std::string& did) {
  Result<ProcessResult> r = Call(argv);
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  if (!r.ok()) return Status::Unavailable(cmd, r.status().message());
  if (r->exit_code != 0) {
    std::string why = r->err.empty() ? r->out : r->err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Status::Unavailable(cmd, why);
  }
  return did;
}

Result<std::string> ServiceManager::Brew(const std::string& verb, const std::string& did) {
  return Must({"brew", "services", verb, "orch"},
              "orch was installed by Homebrew, so its service is Homebrew's: brew services " +
                  verb + " orch: " + did);
}

std::string ServiceManager::Domain() const { return "gui/" + std::to_string(getuid()); }

std::string ServiceManager::Target() const { return Domain() + "/" + kLaunchdLabel; }

bool ServiceManager::Loaded() {
  // `launchctl print` exits 0 for a loaded service and 113 ("Could not find service") otherwise.
  Result<ProcessResult> r = Call({"launchctl", "print", Target()});
  return r.ok() && r->exit_code == 0;
}

Result<std::string> ServiceManager::Bootstrap(const std::string& did) {
  std::string path = UnitPath();
  if (!std::filesystem::exists(path)) {
    return Status::NotFound(path, "not installed; orch service install writes and loads it");
  }
  // Loading an agent with RunAtLoad starts it.
  return Must({"launchctl", "bootstrap", Domain(), path}, did);
}

Result<std::string> ServiceManager::Install() {
  if (platform_ == ServicePlatform::kBrew) return Brew("start", "started, and at every login");
  std::string path = UnitPath();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::filesystem::create_directories(spec_.orch_home, ec);
  std::filesystem::create_directories(spec_.log_dir, ec);
  std::ofstream out(path, std::ios::trunc);
  out << (platform_ == ServicePlatform::kSystemd ? RenderSystemdUserUnit(spec_)
                                                 : RenderLaunchdPlist(spec_));
  out.close();
  if (!out) return Status::IOError(path, "cannot write");
  if (platform_ == ServicePlatform::kSystemd) {
    Result<std::string> reload = Must({"systemctl", "--user", "daemon-reload"}, "");
    if (!reload.ok()) return reload.status();
    return Must({"systemctl", "--user", "enable", "orch.service"},
                "wrote " + path + " and enabled it (starts at login; orch service start now)");
  }
  // A loaded older definition would shadow the new file until the next login: unload it first.
  if (Loaded()) (void)Call({"launchctl", "bootout", Target()});
  return Bootstrap("wrote " + path + " and loaded it: orch serve runs now and at every login");
}

Result<std::string> ServiceManager::Uninstall() {
  if (platform_ == ServicePlatform::kBrew) return Brew("stop", "stopped, and not at login");
  std::string path = UnitPath();
  if (platform_ == ServicePlatform::kSystemd) {
    (void)Call({"systemctl", "--user", "disable", "--now", "orch.service"});
  } else {
    (void)Call({"launchctl", "bootout", Target()});
  }
  std::error_code ec;
  bool removed = std::filesystem::remove(path, ec);
  if (platform_ == ServicePlatform::kSystemd) (void)Call({"systemctl", "--user", "daemon-reload"});
  return removed ? "removed " + path : path + " was not installed";
}

Result<std::string> ServiceManager::Start() {
  switch (platform_) {
    case ServicePlatform::kSystemd:
      return Must({"systemctl", "--user", "start", "orch.service"}, "started");
    case ServicePlatform::kLaunchd:
      if (Loaded()) return Must({"launchctl", "kickstart", Target()}, "started");
      return Bootstrap("loaded and started");
    case ServicePlatform::kBrew:
      return Brew("start", "started");
  }
  return Status::Internal("service", "unknown platform");
}

Result<std::string> ServiceManager::Stop() {
  switch (platform_) {
    case ServicePlatform::kSystemd:
      return Must({"systemctl", "--user", "stop", "orch.service"}, "stopped");
    case ServicePlatform::kLaunchd:
      // bootout, not kill: with KeepAlive launchd would start a killed orch again at once.
      if (!Loaded()) return std::string("not running");
      return Must({"launchctl", "bootout", Target()},
                  "stopped and unloaded (launchd loads it again at your next login; orch service "
                  "uninstall removes it)");
    case ServicePlatform::kBrew:
      return Brew("stop", "stopped");
  }
  return Status::Internal("service", "unknown platform");
}

Result<std::string> ServiceManager::Restart() {
  switch (platform_) {
    case ServicePlatform::kSystemd:
      return Must({"systemctl", "--user", "restart", "orch.service"}, "restarted");
    case ServicePlatform::kLaunchd:
      if (!Loaded()) return Bootstrap("was not loaded: loaded and started");
      return Must({"launchctl", "kickstart", "-k", Target()}, "restarted");
    case ServicePlatform::kBrew:
      return Brew("restart", "restarted");
  }
  return Status::Internal("service", "unknown platform");
}

Result<std::string> ServiceManager::StatusText() {
  std::vector<std::string> argv;
  switch (platform_) {
    case ServicePlatform::kSystemd:
      argv = {"systemctl", "--user", "status", "--no-pager", "orch.service"};
      break;
    case ServicePlatform::kLaunchd:
      argv = {"launchctl", "print", Target()};
      break;
    case ServicePlatform::kBrew:
      argv = {"brew", "services", "info", "orch"};
      break;
  }
  Result<ProcessResult> r = Call(argv);
  if (!r.ok()) return Status::Unavailable(argv[0], r.status().message());
  // systemctl status exits 3 for a stopped unit: still an answer.
  if (r->exit_code != 0 && r->out.empty()) return Status::Unavailable(argv[0], r->err);
  return r->out;
}

}  // namespace orch
