// The Homebrew formula, read for the fields the issue asks of it (and `ruby -c` where Ruby
// exists), and the system-wide systemd unit in packaging/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

std::string Formula() { return test::ReadFile(std::string(ORCH_SOURCE_DIR) + "/Formula/orch.rb"); }

TEST(PackagingTest, FormulaBuildsWithCmakeAndDependsOnWhatOrchLinks) {
  std::string f = Formula();
  EXPECT_THAT(f, HasSubstr("depends_on \"cmake\" => :build"));
  for (const char* dep : {"tmux", "git", "libgit2", "yaml-cpp", "sqlite", "openssl@3", "spdlog"}) {
    EXPECT_THAT(f, HasSubstr(std::string("depends_on \"") + dep + "\"")) << dep;
  }
  // Header-only libraries are needed to build only.
  EXPECT_THAT(f, HasSubstr("depends_on \"nlohmann-json\" => :build"));
  EXPECT_THAT(f, HasSubstr("depends_on \"cpp-httplib\" => :build"));
  EXPECT_THAT(f, HasSubstr("system \"cmake\", \"-S\", \".\", \"-B\", \"build\""));
  // prompts/ and the example config go where the binary looks: share/orch beside bin/.
  EXPECT_THAT(f, HasSubstr("(share/\"orch\").install \"prompts\", \"config.example.yml\""));
}

TEST(PackagingTest, FormulaServiceKeepsOrchServeAliveWithLogs) {
  std::string f = Formula();
  EXPECT_THAT(f, HasSubstr("run [opt_bin/\"orch\", \"serve\"]"));
  EXPECT_THAT(f, HasSubstr("keep_alive true"));
  EXPECT_THAT(f, HasSubstr("log_path var/\"log/orch.log\""));
  EXPECT_THAT(f, HasSubstr("error_log_path var/\"log/orch.error.log\""));
  EXPECT_THAT(f, HasSubstr("working_dir var/\"orch\""));
  EXPECT_THAT(f, HasSubstr("environment_variables PATH: std_service_path_env"));
}

TEST(PackagingTest, FormulaTestRunsVersionAndValidatesTheExample) {
  std::string f = Formula();
  EXPECT_THAT(f, HasSubstr("shell_output(\"#{bin}/orch version\")"));
  EXPECT_THAT(f, HasSubstr("\"config\", \"validate\", share/\"orch/config.example.yml\""));
}

TEST(PackagingTest, FormulaIsValidRuby) {
  if (test::Run({"sh", "-c", "command -v ruby"}).exit_code != 0) {
    GTEST_SKIP() << "ruby is not installed; the field checks above still ran";
  }
  ProcessResult r = test::Run({"ruby", "-c", std::string(ORCH_SOURCE_DIR) + "/Formula/orch.rb"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(PackagingTest, SystemUnitRunsAsItsOwnUserAndLeavesAgentsRunning) {
  std::string u = test::ReadFile(std::string(ORCH_SOURCE_DIR) + "/packaging/orch.service");
  EXPECT_THAT(u, HasSubstr("ExecStart=/usr/bin/orch serve"));
  EXPECT_THAT(u, HasSubstr("User=orch"));
  EXPECT_THAT(u, HasSubstr("Restart=on-failure"));
  EXPECT_THAT(u, HasSubstr("KillMode=process"));
  EXPECT_THAT(u, HasSubstr("LimitNOFILE=65536"));  // issue 22: not systemd's 1024
}

}  // namespace
}  // namespace orch
