// The Homebrew formula as Homebrew would read it: tests/homebrew_dsl.rb loads Formula/orch.rb
// with a stand-in for Homebrew's DSL and reports its dependencies, what install runs, and the
// service block's run line and environment. Also `ruby -c`, the macOS CI workflow's YAML, and the
// system-wide systemd unit in packaging/. (tests/install_test.cc installs the keg for real.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "base/home.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using Json = nlohmann::json;

const std::string kSource = ORCH_SOURCE_DIR;

// Ruby is installed by scripts/install-deps; these tests do not skip without it.
Json Formula() {
  ProcessResult r =
      test::Run({"ruby", kSource + "/tests/homebrew_dsl.rb", kSource + "/Formula/orch.rb"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Json f = Json::parse(r.out, nullptr, false);
  EXPECT_FALSE(f.is_discarded()) << r.out;
  return f;
}

EnvLookup EnvOf(const std::map<std::string, std::string>& vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(PackagingTest, FormulaIsValidRuby) {
  ProcessResult r = test::Run({"ruby", "-c", kSource + "/Formula/orch.rb"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(PackagingTest, FormulaDependsOnHomebrewCoreOnlyAndNeedsNoTestLibraries) {
  Json f = Formula();
  std::set<std::string> runtime, build;
  for (const Json& d : f["deps"]) (d["build_only"] ? build : runtime).insert(d["name"]);
  // Each is a homebrew-core formula (the store speaks SQLite and libpq through their C APIs, so
  // no SQLiteCpp). git comes with macOS.
  EXPECT_EQ(runtime, (std::set<std::string>{"libgit2", "libpq", "libuv", "openssl@3", "spdlog",
                                            "sqlite", "tmux", "yaml-cpp"}));
  // Header-only libraries and the build tools are needed to build only; no GoogleTest, no
  // Google Benchmark, since the formula builds without tests.
  EXPECT_EQ(build,
            (std::set<std::string>{"cli11", "cmake", "cpp-httplib", "nlohmann-json", "pkgconf"}));
}

TEST(PackagingTest, FormulaBuildsWithoutTestsAndInstallsThroughCmake) {
  Json f = Formula();
  ASSERT_EQ(f["systems"].size(), 3u) << f["systems"];
  const Json& configure = f["systems"][0];
  EXPECT_EQ(configure[0], "cmake");
  EXPECT_THAT(configure, Contains("-DBUILD_TESTING=OFF"));
  EXPECT_THAT(configure, Contains("-DORCH_BUILD_BENCH=OFF"));
  EXPECT_THAT(configure, Contains("<std_cmake_args>"));  // Homebrew's prefix and build type
  EXPECT_EQ(f["systems"][1], Json({"cmake", "--build", "build"}));
  // CMake's install rules put prompts/, flows/ and config.example.yml in share/orch, where
  // orch looks (install_test.cc checks the installed keg).
  EXPECT_EQ(f["systems"][2], Json({"cmake", "--install", "build"}));
  std::string cmake = test::ReadFile(kSource + "/CMakeLists.txt");
  EXPECT_THAT(cmake, HasSubstr("install(DIRECTORY prompts/ DESTINATION share/orch/prompts)"));
  EXPECT_THAT(cmake, HasSubstr("install(DIRECTORY flows/ DESTINATION share/orch/flows)"));
  EXPECT_THAT(cmake, HasSubstr("install(FILES config.example.yml DESTINATION share/orch)"));
  EXPECT_TRUE(f["has_test"]);
  EXPECT_THAT(f["attrs"]["head"][0].get<std::string>(), HasSubstr("https://github.com/"));
}

TEST(PackagingTest, FormulaServiceSharesTheClisHome) {
  // Given the environment the formula's service block gives `orch serve` under launchd (which
  // sets HOME for a user's agent), the home orch resolves is the one `orch status` in the
  // user's shell resolves: the same tasks, not a second store under the Homebrew prefix.
  Json service = Formula()["service"];
  std::map<std::string, std::string> env = {{"HOME", "/Users/alice"}};
  for (const auto& [k, v] : service["environment_variables"].items()) env[k] = v;
  Result<Home> daemon = ResolveHome(EnvOf(env));
  Result<Home> shell = ResolveHome(EnvOf({{"HOME", "/Users/alice"}}));
  ASSERT_TRUE(daemon.ok() && shell.ok());
  EXPECT_EQ(daemon->root, shell->root);
  EXPECT_EQ(daemon->root, "/Users/alice/.orch");
  // A user who sets ORCH_HOME for both sets it with launchctl setenv or in the plist; the
  // formula must not pin one of its own, nor a working directory that orch would write into.
  EXPECT_FALSE(service["environment_variables"].contains("ORCH_HOME"));
  EXPECT_FALSE(service.contains("working_dir"));
}

TEST(PackagingTest, FormulaServiceKeepsOrchServeAliveWithLogsUnderVarLogOrch) {
  Json f = Formula();
  const Json& service = f["service"];
  EXPECT_EQ(service["run"], Json({"/PREFIX/opt/orch/bin/orch", "serve"}));
  EXPECT_EQ(service["keep_alive"], true);
  EXPECT_EQ(service["log_path"], "/PREFIX/var/log/orch/orch.log");
  EXPECT_EQ(service["error_log_path"], "/PREFIX/var/log/orch/orch.error.log");
  EXPECT_EQ(service["environment_variables"]["PATH"],
            "/PREFIX/bin:/PREFIX/sbin:/usr/bin:/bin:/usr/sbin:/sbin");
  // launchd does not make the log directory; post_install does.
  EXPECT_THAT(f["mkpath"], Contains("/PREFIX/var/log/orch"));
}

TEST(PackagingTest, FormulaTestRunsVersionValidateAndTheDemo) {
  std::string f = test::ReadFile(kSource + "/Formula/orch.rb");
  EXPECT_THAT(f, HasSubstr("shell_output(\"#{bin}/orch version\")"));
  EXPECT_THAT(f, HasSubstr("\"config\", \"validate\", pkgshare/\"config.example.yml\""));
  EXPECT_THAT(f, HasSubstr("\"demo\", \"start\""));
  EXPECT_THAT(f, HasSubstr("shell_output(\"#{bin}/orch demo label 1\")"));
}

TEST(PackagingTest, MacosWorkflowIsValidYamlThatInstallsTestsAndStartsTheFormula) {
  std::string path = kSource + "/.github/workflows/macos.yml";
  ProcessResult r = test::Run(
      {"ruby", "-ryaml", "-rjson", "-e", "puts JSON.generate(YAML.safe_load_file(ARGV[0]))", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json w = Json::parse(r.out);
  ASSERT_TRUE(w["jobs"].is_object());
  std::string runs;
  for (const auto& [_, job] : w["jobs"].items()) {
    EXPECT_THAT(job["runs-on"].get<std::string>(), HasSubstr("macos"));
    for (const Json& step : job["steps"]) runs += step.value("run", "") + "\n";
  }
  EXPECT_THAT(runs, HasSubstr("brew install --build-from-source --HEAD"));
  EXPECT_THAT(runs, HasSubstr("brew test"));
  EXPECT_THAT(runs, HasSubstr("brew services start"));
  EXPECT_THAT(runs, HasSubstr("/health"));
  EXPECT_THAT(runs, HasSubstr("ctest"));
}

TEST(PackagingTest, SystemUnitRunsAsItsOwnUserAndLeavesAgentsRunning) {
  std::string u = test::ReadFile(kSource + "/packaging/orch.service");
  EXPECT_THAT(u, HasSubstr("ExecStart=/usr/bin/orch serve"));
  EXPECT_THAT(u, HasSubstr("User=orch"));
  EXPECT_THAT(u, HasSubstr("Restart=on-failure"));
  EXPECT_THAT(u, HasSubstr("KillMode=process"));
  EXPECT_THAT(u, HasSubstr("LimitNOFILE=65536"));  // issue 22: not systemd's 1024
}

}  // namespace
}  // namespace orch
