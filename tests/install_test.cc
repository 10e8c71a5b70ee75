// Installing orch: scripts/release against a clone of this repository, the keg the Homebrew
// formula installs (CMake's install rules into a Cellar-shaped prefix) run from its bin/ link,
// and `orch service` on macOS driven against stand-ins for launchctl and brew on PATH that
// record their argv. The formula's text is checked in src/cli/packaging_test.cc.
#include <gmock/gmock.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "orch_fixture.h"

namespace orch::test {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using Argv = std::vector<std::string>;

const std::string kSource = ORCH_SOURCE_DIR;

std::string Sha256Of(const std::string& path) {
  ProcessResult r = test::Run({"sha256sum", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find(' '));
}

std::string ProjectVersion() {
  std::smatch m;
  std::string cmake = ReadFile(kSource + "/CMakeLists.txt");
  EXPECT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(orch VERSION ([0-9.]+))")));
  return m[1];
}

TEST(ReleaseTest, TheRewrittenFormulaCarriesTheTarballsSha256) {
  TempDir dir;
  std::string clone = dir.Sub("orch");
  ASSERT_EQ(test::Run({"git", "clone", "-q", kSource, clone}).exit_code, 0);
  std::string version = ProjectVersion();
  ProcessResult r = test::Run({clone + "/scripts/release", version}, clone);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string tarball = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(tarball, clone + "/dist/orch-" + version + ".tar.gz");
  std::string sha = Sha256Of(tarball);
  ASSERT_EQ(sha.size(), 64u);

  // The formula as Homebrew reads it names the release asset and carries that sha256.
  ProcessResult f =
      test::Run({"ruby", kSource + "/tests/homebrew_dsl.rb", clone + "/Formula/orch.rb"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  Json attrs = Json::parse(f.out)["attrs"];
  EXPECT_EQ(attrs["sha256"], sha);
  EXPECT_EQ(attrs["url"][0], "https://github.com/orch-dev/orch/releases/download/v" + version +
                                 "/orch-" + version + ".tar.gz");
  EXPECT_EQ(attrs["head"][0], "https://github.com/orch-dev/orch.git");  // untouched

  // It is the committed source under orch-<version>/, and the same commit gives the same bytes.
  ProcessResult list = test::Run({"tar", "tzf", tarball});
  EXPECT_THAT(list.out, HasSubstr("orch-" + version + "/CMakeLists.txt\n"));
  EXPECT_THAT(list.out, HasSubstr("orch-" + version + "/flows/code-review-test.yml\n"));
  EXPECT_THAT(list.out, HasSubstr("orch-" + version + "/prompts/agent_system.md\n"));
  ASSERT_EQ(test::Run({clone + "/scripts/release", version}, clone).exit_code, 0);
  EXPECT_EQ(Sha256Of(tarball), sha);

  // A version CMakeLists.txt does not declare is refused: orch version would disagree.
  ProcessResult wrong = test::Run({clone + "/scripts/release", "99.0.0"}, clone);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.err, HasSubstr("not 99.0.0"));
}

// A directory of stand-ins put first on PATH. Each records its argv in <dir>/<name>.calls, one
// argument a line and an empty line after each call. The launchctl one also keeps whether the
// job is loaded, answering as launchctl does: print exits 113 for a job it does not know.
class FakeTools {
 public:
  explicit FakeTools(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir_);
    Write("launchctl",
          "case \"$1\" in\n"
          "  bootstrap) [ -f \"$d/refuse\" ] && { cat \"$d/refuse\" >&2; exit 5; }\n"
          "             [ -f \"$d/loaded\" ] && { echo 'Bootstrap failed: 5' >&2; exit 5; }\n"
          "             touch \"$d/loaded\" ;;\n"
          "  bootout) [ -f \"$d/loaded\" ] || { echo 'Boot-out failed: 3' >&2; exit 3; }\n"
          "           rm -f \"$d/loaded\" ;;\n"
          "  print|kickstart) [ -f \"$d/loaded\" ] || { echo 'Could not find service' >&2;"
          " exit 113; }\n"
          "                   echo 'state = running' ;;\n"
          "esac\n");
    Write("brew", "echo \"==> Successfully ran $2 for orch\"\n");
  }
  std::string Path() const { return dir_ + ":" + (getenv("PATH") ? getenv("PATH") : ""); }
  // The calls recorded since the last Take.
  std::vector<Argv> Take(const std::string& name) {
    std::vector<Argv> calls;
    std::ifstream in(dir_ + "/" + name + ".calls");
    Argv call;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) {
        call.push_back(line);
      } else {
        calls.push_back(call);
        call.clear();
      }
    }
    fs::remove(dir_ + "/" + name + ".calls");
    return calls;
  }

 private:
  void Write(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    WriteFile(path,
              "#!/bin/sh\nd=$(dirname \"$0\")\nfor a in \"$@\"; do echo \"$a\"; done >> \"$d/" +
                  name + ".calls\"\necho >> \"$d/" + name + ".calls\"\n" + body);
    fs::permissions(path, fs::perms::owner_all);
  }
  std::string dir_;
};

class LaunchdServiceTest : public OrchTest {
 protected:
  LaunchdServiceTest() : tools_(dir_.Sub("fake-bin")) { extra_env_["PATH"] = tools_.Path(); }
  ProcessResult Service(const std::string& verb) {
    return Orch({"service", verb, "--manager", "launchd"});
  }
  std::string Plist() const { return dir_.Sub("Library/LaunchAgents/dev.orch.orch.plist"); }
  FakeTools tools_;
  std::string domain_ = "gui/" + std::to_string(getuid());
  std::string target_ = domain_ + "/dev.orch.orch";
};

TEST_F(LaunchdServiceTest, InstallRestartStopStartUninstallAreLaunchctlCalls) {
  ProcessResult install = Service("install");
  ASSERT_EQ(install.exit_code, 0) << install.err;
  EXPECT_THAT(install.out, HasSubstr("wrote " + Plist() + " and loaded it"));
  EXPECT_THAT(tools_.Take("launchctl"),
              ElementsAre(Argv{"print", target_}, Argv{"bootstrap", domain_, Plist()}));

  // The plist in ~/Library/LaunchAgents, as launchd reads it.
  ProcessResult parsed = test::Run({"python3", "-c",
                                    "import json, plistlib, sys\n"
                                    "print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
                                    Plist()});
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  Json p = Json::parse(parsed.out);
  EXPECT_EQ(p["Label"], "dev.orch.orch");
  EXPECT_EQ(p["ProgramArguments"], Json({fs::canonical(ORCH_BINARY).string(), "serve"}));
  EXPECT_EQ(p["RunAtLoad"], true);
  EXPECT_EQ(p["KeepAlive"], true);
  EXPECT_EQ(p["SoftResourceLimits"]["NumberOfFiles"], 10240);
  EXPECT_EQ(p["EnvironmentVariables"]["ORCH_HOME"], home());
  EXPECT_EQ(p["EnvironmentVariables"]["PATH"], tools_.Path());
  EXPECT_EQ(p["StandardOutPath"], home() + "/state/launchd.out.log");
  EXPECT_EQ(p["StandardErrorPath"], home() + "/state/launchd.err.log");

  ASSERT_EQ(Service("restart").exit_code, 0);
  EXPECT_THAT(tools_.Take("launchctl"),
              ElementsAre(Argv{"print", target_}, Argv{"kickstart", "-k", target_}));
  ProcessResult stop = Service("stop");
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_THAT(stop.out, HasSubstr("stopped"));
  EXPECT_THAT(tools_.Take("launchctl"),
              ElementsAre(Argv{"print", target_}, Argv{"bootout", target_}));
  ASSERT_EQ(Service("start").exit_code, 0);
  EXPECT_THAT(tools_.Take("launchctl"),
              ElementsAre(Argv{"print", target_}, Argv{"bootstrap", domain_, Plist()}));
  ASSERT_EQ(Service("start").exit_code, 0);  // loaded already: kickstart, not a second load
  EXPECT_THAT(tools_.Take("launchctl"),
              ElementsAre(Argv{"print", target_}, Argv{"kickstart", target_}));
  ProcessResult status = Service("status");
  EXPECT_THAT(status.out, HasSubstr("state = running"));
  tools_.Take("launchctl");

  ProcessResult uninstall = Service("uninstall");
  ASSERT_EQ(uninstall.exit_code, 0) << uninstall.err;
  EXPECT_THAT(tools_.Take("launchctl"), ElementsAre(Argv{"bootout", target_}));
  EXPECT_FALSE(fs::exists(Plist()));
  EXPECT_THAT(tools_.Take("brew"), ElementsAre());
}

TEST_F(LaunchdServiceTest, ReinstallingReplacesALoadedJobAndRefusalsAreErrors) {
  ASSERT_EQ(Service("install").exit_code, 0);
  tools_.Take("launchctl");
  // Loaded already: the old definition is booted out so that the new file is the one loaded.
  ProcessResult again = Service("install");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(tools_.Take("launchctl"),
              ElementsAre(Argv{"print", target_}, Argv{"bootout", target_},
                          Argv{"bootstrap", domain_, Plist()}));

  // launchctl's refusal is orch's error, with launchctl's words.
  ASSERT_EQ(Service("stop").exit_code, 0);
  WriteFile(dir_.Sub("fake-bin/refuse"), "Bootstrap failed: 5: Input/output error\n");
  ProcessResult refused = Service("start");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("Bootstrap failed: 5: Input/output error"));

  // Nothing to load: orch says how to get it, and calls no bootstrap.
  fs::remove(Plist());
  tools_.Take("launchctl");
  ProcessResult missing = Service("start");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("orch service install"));
  EXPECT_THAT(tools_.Take("launchctl"), ElementsAre(Argv{"print", target_}));
}

// The keg the formula installs: `cmake --install` (the formula's install step) into
// <prefix>/Cellar/orch/<version>, and <prefix>/bin/orch a link to it, as `brew link` makes.
class HomebrewKegTest : public OrchTest {
 protected:
  void SetUp() override {
    ProcessResult r = test::Run({"cmake", "--install", ORCH_BUILD_DIR, "--prefix", keg_});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    fs::create_directories(dir_.Sub("prefix/bin"));
    fs::create_symlink("../Cellar/orch/9.9.9/bin/orch", orch_);
  }
  ProcessResult Installed(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {orch_};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Run(argv, dir_.path(), Env());
  }
  std::string keg_ = dir_.Sub("prefix/Cellar/orch/9.9.9");
  std::string orch_ = dir_.Sub("prefix/bin/orch");
};

TEST_F(HomebrewKegTest, OrchFindsItsFlowsPromptsAndDemoToolsInTheKeg) {
  for (const char* f : {"share/orch/prompts/agent_system.md", "share/orch/prompts/route.md",
                        "share/orch/flows/code-review-test.yml", "share/orch/config.example.yml",
                        "bin/orch-github-sim", "bin/orch-agent-standin"}) {
    EXPECT_TRUE(fs::exists(keg_ + "/" + f)) << f;
  }
  // The shipped flow is found through the link, in the keg, not in the source tree.
  ProcessResult flows = Installed({"flow", "list"});
  ASSERT_EQ(flows.exit_code, 0) << flows.err;
  EXPECT_THAT(flows.out, HasSubstr(keg_ + "/bin/../share/orch/flows/code-review-test.yml"));
  ProcessResult validate =
      Installed({"config", "validate", keg_ + "/share/orch/config.example.yml"});
  EXPECT_EQ(validate.exit_code, 0) << validate.err;
}

TEST_F(HomebrewKegTest, TheFormulasTestBlockPassesAgainstTheKeg) {
  // What `brew test orch` runs: orch version, config validate, and the demo started headless
  // with issue #1 labelled, here through tests/homebrew_dsl.rb's stand-in for Homebrew.
  ProcessResult r = test::Run({"ruby", kSource + "/tests/homebrew_dsl.rb", "--test", keg_,
                               ProjectVersion(), kSource + "/Formula/orch.rb"},
                              dir_.path(), Env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("test do: passed"));
}

TEST_F(HomebrewKegTest, OrchServiceDefersToBrewServicesAndSaysSo) {
  FakeTools tools(dir_.Sub("fake-bin"));
  extra_env_["PATH"] = tools.Path();
  ProcessResult install = Installed({"service", "install"});
  ASSERT_EQ(install.exit_code, 0) << install.err;
  EXPECT_THAT(install.out, HasSubstr("installed by Homebrew"));
  EXPECT_THAT(install.out, HasSubstr("brew services start orch"));
  ASSERT_EQ(Installed({"service", "restart"}).exit_code, 0);
  EXPECT_THAT(tools.Take("brew"),
              ElementsAre(Argv{"services", "start", "orch"}, Argv{"services", "restart", "orch"}));
  EXPECT_THAT(tools.Take("launchctl"), ElementsAre());
  EXPECT_FALSE(fs::exists(dir_.Sub("Library/LaunchAgents/dev.orch.orch.plist")));
}

}  // namespace
}  // namespace orch::test
