// A fixture for tests that run the built `orch` binary with its own temporary ORCH_HOME.
#ifndef ORCH_TESTS_ORCH_FIXTURE_H_
#define ORCH_TESTS_ORCH_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "testing/test_util.h"

namespace orch::test {

class OrchTest : public ::testing::Test {
 protected:
  std::string home() const { return dir_.Sub("orch-home"); }

  // Each test gets its own tmux server (agents run there), killed when the test ends.
  ~OrchTest() override { test::Run({"tmux", "-L", tmux_socket_, "kill-server"}); }

  std::map<std::string, std::string> Env() const {
    std::map<std::string, std::string> env = {{"ORCH_HOME", home()},
                                              {"HOME", dir_.path()},
                                              {"USER", "tester"},
                                              {"ORCH_TMUX_SOCKET", tmux_socket_}};
    for (const auto& [k, v] : extra_env_) env[k] = v;
    return env;
  }

  // Runs `orch args...` in `cwd` (default: the temp dir, never the source tree).
  ProcessResult Orch(const std::vector<std::string>& args, const std::string& cwd = "") {
    std::vector<std::string> argv = {ORCH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Run(argv, cwd.empty() ? dir_.path() : cwd, Env());
  }

  // Runs a command that must succeed and prints JSON; returns the parsed JSON.
  nlohmann::json OrchJson(const std::vector<std::string>& args) {
    ProcessResult r = Orch(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
    return j;
  }

  // `orch task show ID --json`, and waiting until its status is `status`.
  nlohmann::json Task(int64_t id) {
    return OrchJson({"task", "show", std::to_string(id), "--json"});
  }
  bool Reaches(int64_t id, const std::string& status,
               std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return Eventually([&] { return Task(id)["status"] == status; }, timeout);
  }

  // This process's PATH without the directories holding any of `names` (agent CLIs, so a test
  // decides which are installed), after `first` when given.
  static std::string PathWithout(const std::vector<std::string>& names,
                                 const std::string& first = "") {
    std::string path = first;
    std::istringstream dirs(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      bool holds = false;
      for (const std::string& n : names)
        holds = holds || access((dir + "/" + n).c_str(), X_OK) == 0;
      if (!holds && !dir.empty()) path += (path.empty() ? "" : ":") + dir;
    }
    return path;
  }

  TempDir dir_;
  std::string tmux_socket_ = "orch-test-" + std::to_string(getpid()) + "-" +
                             std::to_string(reinterpret_cast<uintptr_t>(this) % 1000000);
  std::map<std::string, std::string> extra_env_;  // added to Env()
};

}  // namespace orch::test

#endif  // ORCH_TESTS_ORCH_FIXTURE_H_
