// A fixture for tests that run the built `orch` binary with its own temporary ORCH_HOME.
#ifndef ORCH_TESTS_ORCH_FIXTURE_H_
#define ORCH_TESTS_ORCH_FIXTURE_H_

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace orch::test {

class OrchTest : public ::testing::Test {
 protected:
  std::string home() const { return dir_.Sub("orch-home"); }

  std::map<std::string, std::string> Env() const {
    return {{"ORCH_HOME", home()}, {"HOME", dir_.path()}, {"USER", "tester"}};
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

  TempDir dir_;
};

}  // namespace orch::test

#endif  // ORCH_TESTS_ORCH_FIXTURE_H_
