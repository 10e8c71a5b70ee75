#include "base/subprocess.h"

#include <gtest/gtest.h>

namespace orch {
namespace {

TEST(SubprocessTest, ArgumentsReachTheChildUnchangedWithoutAShell) {
  // Text that a shell would act on must arrive as one literal argument.
  PosixProcessRunner runner;
  std::string hostile = "$(touch /tmp/orch-pwned); `id` && echo hi | cat > x";
  Result<ProcessResult> r = runner.Run({.argv = {"printf", "%s", hostile}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, hostile);
}

TEST(SubprocessTest, StdinEnvCwdAndExitCode) {
  PosixProcessRunner runner;
  Result<ProcessResult> r =
      runner.Run({.argv = {"sh", "-c", "cat; echo \"$GREETING\"; pwd; exit 3"},
                  .cwd = "/",
                  .env_set = {{"GREETING", "hello"}},
                  .stdin_data = "from stdin\n"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "from stdin\nhello\n/\n");
}

TEST(SubprocessTest, UnsetRemovesVariables) {
  setenv("ORCH_TEST_SECRET", "x", 1);
  PosixProcessRunner runner;
  Result<ProcessResult> r =
      runner.Run({.argv = {"sh", "-c", "echo \"[${ORCH_TEST_SECRET:-gone}]\""},
                  .env_unset = {"ORCH_TEST_SECRET"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "[gone]\n");
}

TEST(SubprocessTest, TimeoutKillsTheWholeGroup) {
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run(
      {.argv = {"sh", "-c", "sleep 30 & sleep 30"}, .timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run({.argv = {"/no/such/program"}});
  EXPECT_TRUE(r.status().IsNotFound());
}

}  // namespace
}  // namespace orch
