#include "cli/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

ServiceSpec Spec() {
  return {.orch_binary = "/opt/orch/bin/orch",
          .orch_home = "/home/me/.orch",
          .path = "/opt/homebrew/bin:/usr/bin:/bin",
          .log_dir = "/home/me/.orch/state"};
}

TEST(ServiceTest, SystemdUserUnitRunsServeAndRestartsOnFailure) {
  std::string unit = RenderSystemdUserUnit(Spec());
  EXPECT_THAT(unit, HasSubstr("ExecStart=/opt/orch/bin/orch serve\n"));
  EXPECT_THAT(unit, HasSubstr("Restart=on-failure\n"));
  EXPECT_THAT(unit, HasSubstr("LimitNOFILE=65536\n"));  // issue 22: not systemd's 1024
  EXPECT_THAT(unit, HasSubstr("Environment=ORCH_HOME=/home/me/.orch\n"));
  EXPECT_THAT(unit, HasSubstr("Environment=PATH=/opt/homebrew/bin:/usr/bin:/bin\n"));
  EXPECT_THAT(unit, HasSubstr("WorkingDirectory=/home/me/.orch\n"));
  // Agents in tmux outlive a stop or restart of the daemon.
  EXPECT_THAT(unit, HasSubstr("KillMode=process\n"));
  EXPECT_THAT(unit, HasSubstr("WantedBy=default.target\n"));
}

TEST(ServiceTest, SystemdQuotesPathsWithSpacesAndPercent) {
  ServiceSpec s = Spec();
  s.orch_binary = "/Users/me/my tools/orch";
  s.orch_home = "/home/me/100%";
  std::string unit = RenderSystemdUserUnit(s);
  EXPECT_THAT(unit, HasSubstr("ExecStart=\"/Users/me/my tools/orch\" serve"));
  EXPECT_THAT(unit, HasSubstr("WorkingDirectory=/home/me/100%%"));
}

TEST(ServiceTest, SystemdAnalyzeAcceptsTheUnit) {
  if (test::Run({"sh", "-c", "command -v systemd-analyze"}).exit_code != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed";
  }
  test::TempDir dir;
  ServiceSpec s = Spec();
  s.orch_binary = "/bin/true";  // verify wants an executable that exists
  s.orch_home = dir.path();
  test::WriteFile(dir.Sub("orch.service"), RenderSystemdUserUnit(s));
  ProcessResult r = test::Run({"systemd-analyze", "verify", "--man=no", dir.Sub("orch.service")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// The plist as launchd reads it: parsed by Python's plistlib, not matched as text.
nlohmann::json ParsePlist(const std::string& text) {
  test::TempDir dir;
  test::WriteFile(dir.Sub("orch.plist"), text);
  ProcessResult r = test::Run({"python3", "-c",
                               "import json, plistlib, sys\n"
                               "print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
                               dir.Sub("orch.plist")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, false);
}

TEST(ServiceTest, LaunchdPlistKeepsOrchAliveWithLogsAndPath) {
  nlohmann::json p = ParsePlist(RenderLaunchdPlist(Spec()));
  ASSERT_TRUE(p.is_object()) << RenderLaunchdPlist(Spec());
  EXPECT_EQ(p["Label"], "dev.orch.orch");
  EXPECT_EQ(p["ProgramArguments"], nlohmann::json({"/opt/orch/bin/orch", "serve"}));
  EXPECT_EQ(p["RunAtLoad"], true);
  EXPECT_EQ(p["KeepAlive"], true);
  // launchd's default of 256 descriptors would cap the webhook receiver.
  EXPECT_EQ(p["SoftResourceLimits"]["NumberOfFiles"], 10240);
  EXPECT_EQ(p["EnvironmentVariables"]["PATH"], "/opt/homebrew/bin:/usr/bin:/bin");
  EXPECT_EQ(p["EnvironmentVariables"]["ORCH_HOME"], "/home/me/.orch");
  EXPECT_EQ(p["WorkingDirectory"], "/home/me/.orch");
  // Not the rotated log orch writes itself, and that log is not copied to stderr as well.
  EXPECT_EQ(p["StandardOutPath"], "/home/me/.orch/state/launchd.out.log");
  EXPECT_EQ(p["StandardErrorPath"], "/home/me/.orch/state/launchd.err.log");
  EXPECT_EQ(p["EnvironmentVariables"]["ORCH_LOG_STDERR"], "0");
  // A restart leaves the agents' tmux server running.
  EXPECT_EQ(p["AbandonProcessGroup"], true);
  if (test::Run({"sh", "-c", "command -v plutil"}).exit_code == 0) {
    test::TempDir dir;
    test::WriteFile(dir.Sub("x.plist"), RenderLaunchdPlist(Spec()));
    EXPECT_EQ(test::Run({"plutil", "-lint", dir.Sub("x.plist")}).exit_code, 0);
  }
}

TEST(ServiceTest, LaunchdEscapesXml) {
  ServiceSpec s = Spec();
  s.orch_home = "/tmp/a&b<c>";
  EXPECT_THAT(RenderLaunchdPlist(s), HasSubstr("/tmp/a&amp;b&lt;c&gt;"));
  EXPECT_EQ(ParsePlist(RenderLaunchdPlist(s))["EnvironmentVariables"]["ORCH_HOME"], "/tmp/a&b<c>");
}

TEST(ServiceTest, HomebrewsCellarMeansBrewServicesOnEitherOs) {
  // The formula's own service, not a second definition beside it.
  EXPECT_EQ(ServiceManager::Detect(Os::kMacOS, "/opt/homebrew/Cellar/orch/0.1.0/bin/orch"),
            ServicePlatform::kBrew);
  EXPECT_EQ(
      ServiceManager::Detect(Os::kLinux, "/home/linuxbrew/.linuxbrew/Cellar/orch/0.1.0/bin/orch"),
      ServicePlatform::kBrew);
  EXPECT_EQ(ServiceManager::Detect(Os::kMacOS, "/Users/me/src/orch/build/orch"),
            ServicePlatform::kLaunchd);
  EXPECT_EQ(ServiceManager::Detect(Os::kLinux, "/usr/bin/orch"), ServicePlatform::kSystemd);
  EXPECT_EQ(ParseServicePlatform("launchd"), ServicePlatform::kLaunchd);
  EXPECT_EQ(ParseServicePlatform("upstart"), std::nullopt);
}

TEST(ServiceTest, InstallStartStatusStopForRealWhereSystemdRuns) {
  // A user systemd needs a session bus; containers and CI usually have none.
  if (test::Run({"systemctl", "--user", "is-system-running"}).exit_code != 0 &&
      test::Run({"systemctl", "--user", "list-units", "--no-pager"}).exit_code != 0) {
    GTEST_SKIP() << "no systemd user session here (systemctl --user cannot connect)";
  }
  test::TempDir dir;
  PosixProcessRunner runner;
  ServiceSpec s = Spec();
  s.orch_binary = ORCH_BINARY;
  s.orch_home = dir.Sub("orch-home");
  s.log_dir = dir.Sub("orch-home/state");
  ServiceManager m(runner, ServicePlatform::kSystemd, dir.path(), s);
  ASSERT_TRUE(m.Install().ok());
  EXPECT_TRUE(std::filesystem::exists(m.UnitPath()));
  EXPECT_TRUE(m.Start().ok());
  Result<std::string> status = m.StatusText();
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(*status, HasSubstr("orch"));
  EXPECT_TRUE(m.Stop().ok());
  EXPECT_TRUE(m.Uninstall().ok());
  EXPECT_FALSE(std::filesystem::exists(m.UnitPath()));
}

}  // namespace
}  // namespace orch
