#include "base/subprocess.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

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

TEST(SubprocessTest, AnAllowlistKeepsOnlyTheNamedVariables) {
  setenv("ORCH_TEST_SECRET", "x", 1);
  setenv("ORCH_TEST_KEPT_A", "a", 1);
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run(
      {.argv = {"/bin/sh", "-c", "echo \"[${ORCH_TEST_SECRET:-gone}][$ORCH_TEST_KEPT_A][$SET]\""},
       .env_set = {{"SET", "s"}},
       .env_keep = {"PATH", "ORCH_TEST_KEPT_*"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "[gone][a][s]\n");
}

TEST(SubprocessTest, TimeoutKillsTheWholeGroup) {
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run(
      {.argv = {"sh", "-c", "sleep 30 & sleep 30"}, .timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
}

TEST(SubprocessTest, CancelFromAnotherThreadKillsTheChildAtOnce) {
  // A child that would sleep for 30 s is cancelled 200 ms in: Run returns well within a second,
  // the child killed as a timeout kills it, and says it was cancelled.
  PosixProcessRunner runner;
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  auto started = std::chrono::steady_clock::now();
  Result<ProcessResult> r = runner.Run({.argv = {"sleep", "30"}, .cancel = &cancel});
  auto took = std::chrono::steady_clock::now() - started;
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_LT(took, std::chrono::seconds(1));
}

TEST(SubprocessTest, CancelReachesAChildThatClosedItsOutput) {
  // With stdout and stderr closed there is nothing to read: the flag is still looked at while
  // Run waits for the child to exit.
  PosixProcessRunner runner;
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  auto started = std::chrono::steady_clock::now();
  Result<ProcessResult> r =
      runner.Run({.argv = {"sh", "-c", "exec >&- 2>&-; sleep 30"}, .cancel = &cancel});
  auto took = std::chrono::steady_clock::now() - started;
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_LT(took, std::chrono::seconds(1));
}

TEST(SubprocessTest, AnUnsetCancelFlagChangesNothing) {
  PosixProcessRunner runner;
  std::atomic<bool> cancel{false};
  Result<ProcessResult> r = runner.Run({.argv = {"sh", "-c", "sleep 0.3; echo done; exit 4"},
                                        .timeout = std::chrono::seconds(10),
                                        .cancel = &cancel});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_EQ(r->out, "done\n");
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  PosixProcessRunner runner;
  Result<ProcessResult> r = runner.Run({.argv = {"/no/such/program"}});
  EXPECT_TRUE(r.status().IsNotFound());
}

}  // namespace
}  // namespace orch
