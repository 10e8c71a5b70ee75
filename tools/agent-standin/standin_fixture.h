// Test helpers for the agent stand-ins: a temporary HOME, working directory and bin directory
// with claude/codex/opencode symlinks to the built binary, and a runner that starts one of them
// from an argv (no shell) with stdin from a file and collects its output. Each fixture deletes
// what it made. For one test thread.
#ifndef ORCH_AGENT_STANDIN_STANDIN_FIXTURE_H_
#define ORCH_AGENT_STANDIN_STANDIN_FIXTURE_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace orch::standin::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<nlohmann::json> Events() const;  // stdout as JSONL; fails the test on a bad line
};

std::string ReadFileText(const std::string& path);
void WriteFileText(const std::string& path, const std::string& text);

class StandinTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs `agent` with `args`, the prompt on stdin (from a file), in cwd(). `env` adds or, with
  // nullopt, removes variables.
  RunResult Run(const std::string& agent, const std::vector<std::string>& args,
                const std::string& stdin_text = "",
                const std::map<std::string, std::optional<std::string>>& env = {});

  // Starts `agent` in its own process group with stdout on a pipe; returns its pid and sets
  // *stdout_fd. The caller reaps it.
  pid_t Start(const std::string& agent, const std::vector<std::string>& args,
              const std::string& stdin_text, int* stdout_fd);

  std::string cwd() const { return root_ + "/wt"; }
  std::string home() const { return root_ + "/home"; }
  std::string root() const { return root_; }

 private:
  std::vector<std::string> Environment(
      const std::map<std::string, std::optional<std::string>>& env) const;

  std::string root_;
};

}  // namespace orch::standin::test

#endif  // ORCH_AGENT_STANDIN_STANDIN_FIXTURE_H_
