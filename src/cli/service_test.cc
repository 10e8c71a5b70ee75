#include "cli/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

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

TEST(ServiceTest, LaunchdPlistKeepsOrchAliveWithLogsAndPath) {
  std::string plist = RenderLaunchdPlist(Spec());
  EXPECT_THAT(plist, HasSubstr("<key>Label</key>\n  <string>dev.orch.orch</string>"));
  EXPECT_THAT(plist, HasSubstr("<string>/opt/orch/bin/orch</string>\n    <string>serve</string>"));
  EXPECT_THAT(plist, HasSubstr("<key>KeepAlive</key>\n  <true/>"));
  EXPECT_THAT(plist, HasSubstr("<key>NumberOfFiles</key>\n    <integer>10240</integer>"));
  EXPECT_THAT(plist, HasSubstr("<key>PATH</key>\n    <string>/opt/homebrew/bin:/usr/bin:/bin"));
  EXPECT_THAT(plist, HasSubstr("<key>WorkingDirectory</key>\n  <string>/home/me/.orch</string>"));
  // Not the rotated log orch writes itself, and that log is not copied to stderr as well.
  EXPECT_THAT(plist, HasSubstr("<string>/home/me/.orch/state/launchd.out.log</string>"));
  EXPECT_THAT(plist, HasSubstr("<string>/home/me/.orch/state/launchd.err.log</string>"));
  EXPECT_THAT(plist, HasSubstr("<key>ORCH_LOG_STDERR</key>\n    <string>0</string>"));
  EXPECT_THAT(plist, HasSubstr("<key>AbandonProcessGroup</key>"));
  if (test::Run({"sh", "-c", "command -v plutil"}).exit_code == 0) {
    test::TempDir dir;
    test::WriteFile(dir.Sub("x.plist"), plist);
    EXPECT_EQ(test::Run({"plutil", "-lint", dir.Sub("x.plist")}).exit_code, 0);
  }
}

TEST(ServiceTest, LaunchdEscapesXml) {
  ServiceSpec s = Spec();
  s.orch_home = "/tmp/a&b<c>";
  EXPECT_THAT(RenderLaunchdPlist(s), HasSubstr("/tmp/a&amp;b&lt;c&gt;"));
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
