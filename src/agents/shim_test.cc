// The shim, run as the built `orch shim <run-dir>` the way a tmux session runs it.
#include "agents/shim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "base/platform.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ShimTest : public ::testing::Test {
 protected:
  std::string run_dir() const { return dir_.path(); }

  // Writes `spec` and runs the shim on it; the shim's own exit code.
  ProcessResult RunShim(const ShimSpec& spec, const std::map<std::string, std::string>& env = {}) {
    Status w = WriteShimSpec(run_dir(), spec);
    EXPECT_TRUE(w.ok()) << w.message();
    return test::Run({ORCH_BINARY, "shim", run_dir()}, "", env);
  }

  ShimExit MustExit() {
    Result<ShimExit> e = ReadShimExit(run_dir());
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? *e : ShimExit{};
  }

  test::TempDir dir_;
};

TEST_F(ShimTest, EchoExitsZeroAndItsOutputIsKept) {
  ShimSpec spec;
  spec.argv = {"/bin/echo", "hello from the agent"};
  ProcessResult r = RunShim(spec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ShimExit e = MustExit();
  EXPECT_EQ(e.exit_code, 0);
  EXPECT_EQ(e.signal, 0);
  EXPECT_FALSE(e.timed_out);
  EXPECT_GT(e.started_at, 0);
  EXPECT_GE(e.finished_at, e.started_at);
  EXPECT_EQ(test::ReadFile(run_dir() + "/stdout"), "hello from the agent\n");
  EXPECT_THAT(test::ReadFile(run_dir() + "/output.log"), HasSubstr("hello from the agent\n"));
  // The pane shows it too.
  EXPECT_THAT(r.out, HasSubstr("hello from the agent\n"));
  EXPECT_FALSE(std::filesystem::exists(run_dir() + "/exit.json.tmp"));
}

TEST_F(ShimTest, StdoutFileHasOnlyStdoutAndTheLogHasBoth) {
  ShimSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"};
  ProcessResult r = RunShim(spec);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(MustExit().exit_code, 3);
  EXPECT_EQ(test::ReadFile(run_dir() + "/stdout"), "out\n");
  std::string log = test::ReadFile(run_dir() + "/output.log");
  EXPECT_THAT(log, HasSubstr("out\n"));
  EXPECT_THAT(log, HasSubstr("err\n"));
  EXPECT_THAT(log, HasSubstr("agent exited (code 3)"));
}

TEST_F(ShimTest, BannerGoesToThePaneAndTheLogButNotStdout) {
  ShimSpec spec;
  spec.argv = {"/bin/echo", "x"};
  spec.banner = "orch: task 4 attempt 1: claude";
  ProcessResult r = RunShim(spec);
  EXPECT_THAT(r.out, HasSubstr("orch: task 4 attempt 1: claude"));
  EXPECT_THAT(test::ReadFile(run_dir() + "/output.log"),
              HasSubstr("orch: task 4 attempt 1: claude"));
  EXPECT_EQ(test::ReadFile(run_dir() + "/stdout"), "x\n");
}

TEST_F(ShimTest, MissingExecutableExits127) {
  ShimSpec spec;
  spec.argv = {"orch-no-such-agent-cli"};
  ProcessResult r = RunShim(spec);
  EXPECT_EQ(r.exit_code, 127);
  ShimExit e = MustExit();
  EXPECT_EQ(e.exit_code, 127);
  EXPECT_FALSE(e.timed_out);
  EXPECT_THAT(test::ReadFile(run_dir() + "/output.log"),
              HasSubstr("cannot start orch-no-such-agent-cli"));
  EXPECT_EQ(test::ReadFile(run_dir() + "/stdout"), "");
}

TEST_F(ShimTest, TimeoutKillsTheWholeProcessGroup) {
  ShimSpec spec;
  // The agent starts a child of its own and waits for it.
  spec.argv = {"/bin/sh", "-c", "echo $$ > sh.pid; sleep 30 & echo $! > child.pid; wait"};
  spec.cwd = run_dir();
  spec.timeout_seconds = 1;
  ProcessResult r = RunShim(spec);
  ShimExit e = MustExit();
  EXPECT_TRUE(e.timed_out);
  EXPECT_EQ(e.exit_code, -1);
  EXPECT_EQ(e.signal, SIGTERM);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  EXPECT_THAT(test::ReadFile(run_dir() + "/output.log"), HasSubstr("timed out after 1s"));
  int sh = std::stoi(test::ReadFile(run_dir() + "/sh.pid"));
  int child = std::stoi(test::ReadFile(run_dir() + "/child.pid"));
  EXPECT_TRUE(test::Eventually([&] { return !ProcessRunning(sh) && !ProcessRunning(child); }))
      << "sh " << sh << " or sleep " << child << " outlived the timeout";
}

TEST_F(ShimTest, StdinComesFromTheSpecsFile) {
  test::TempDir other;
  std::string prompt = other.Sub("prompt.md");
  test::WriteFile(prompt, "the prompt\nsecond line\n");
  ShimSpec spec;
  spec.argv = {"/bin/cat"};
  spec.stdin_path = prompt;
  RunShim(spec);
  EXPECT_EQ(MustExit().exit_code, 0);
  EXPECT_EQ(test::ReadFile(run_dir() + "/stdout"), "the prompt\nsecond line\n");
}

TEST_F(ShimTest, NoStdinFileMeansEmptyStdin) {
  ShimSpec spec;
  spec.argv = {"/bin/cat"};
  RunShim(spec);
  EXPECT_EQ(MustExit().exit_code, 0);
  EXPECT_EQ(test::ReadFile(run_dir() + "/stdout"), "");
}

TEST_F(ShimTest, EnvironmentIsSetAndUnsetAndCwdApplied) {
  test::TempDir cwd;
  ShimSpec spec;
  spec.argv = {"/bin/sh", "-c", "pwd; env"};
  spec.cwd = cwd.path();
  spec.env_set = {{"ORCH_TEST_NEW", "fresh"}, {"ORCH_TEST_KEEP", "overridden"}};
  spec.env_unset = {"ORCH_TEST_DROP"};
  RunShim(spec, {{"ORCH_TEST_DROP", "secret-value"},
                 {"ORCH_TEST_KEEP", "original"},
                 {"ORCH_TEST_PASS", "inherited"}});
  std::string out = test::ReadFile(run_dir() + "/stdout");
  EXPECT_EQ(out.substr(0, out.find('\n')), std::filesystem::canonical(cwd.path()).string());
  EXPECT_THAT(out, HasSubstr("\nORCH_TEST_NEW=fresh\n"));
  EXPECT_THAT(out, HasSubstr("\nORCH_TEST_KEEP=overridden\n"));
  EXPECT_THAT(out, HasSubstr("\nORCH_TEST_PASS=inherited\n"));
  EXPECT_THAT(out, Not(HasSubstr("ORCH_TEST_KEEP=original")));
  EXPECT_THAT(out, Not(HasSubstr("ORCH_TEST_DROP")));
  EXPECT_THAT(out, Not(HasSubstr("secret-value")));
}

TEST_F(ShimTest, UnreadableSpecExitsOneWithoutAnExitFile) {
  test::WriteFile(run_dir() + "/spec.json", "{not json");
  ProcessResult r = test::Run({ORCH_BINARY, "shim", run_dir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("spec.json"));
  EXPECT_TRUE(ReadShimExit(run_dir()).status().IsNotFound());
}

TEST_F(ShimTest, AnAgentSilentForStuckSecondsIsEndedWithItsGroup) {
  // Regression (issue 15 f): engine.stuck_timeout was unused; a silent agent ran until the
  // whole timeout. Output resets the clock; silence for stuck_seconds ends the agent.
  ShimSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo one; sleep 1; echo two; sleep 60"};
  spec.timeout_seconds = 60;
  spec.stuck_seconds = 2;
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = RunShim(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  ShimExit e = MustExit();
  EXPECT_EQ(e.stuck_after, 2);
  EXPECT_FALSE(e.timed_out);
  EXPECT_EQ(e.signal, SIGTERM);
  std::string log = test::ReadFile(run_dir() + "/output.log");
  EXPECT_THAT(log, HasSubstr("two"));  // the second line came before it was taken for stuck
  EXPECT_THAT(log, HasSubstr("no output for 2s"));
}

TEST_F(ShimTest, WithAnAllowlistTheAgentSeesOnlyItsVariables) {
  // Regression (issue 15 e): the agent got orch's environment minus a denylist.
  ShimSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env_keep = {"PATH", "LC_*"};
  spec.env_set = {{"ORCH_TASK_ID", "7"}};
  spec.env_unset = {"LC_SECRET"};
  ProcessResult r = RunShim(spec, {{"ORCH_WEBHOOK_SECRET", "s3cret"},
                                   {"LC_TIME", "C"},
                                   {"LC_SECRET", "x"},
                                   {"PATH", "/usr/bin:/bin"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string env = test::ReadFile(run_dir() + "/stdout");
  EXPECT_THAT(env, HasSubstr("PATH=/usr/bin:/bin\n"));
  EXPECT_THAT(env, HasSubstr("LC_TIME=C\n"));
  EXPECT_THAT(env, HasSubstr("ORCH_TASK_ID=7\n"));
  EXPECT_THAT(env, Not(HasSubstr("ORCH_WEBHOOK_SECRET")));
  EXPECT_THAT(env, Not(HasSubstr("LC_SECRET")));
  EXPECT_THAT(env, Not(HasSubstr("HOME=")));
}

TEST(ShimSpecTest, SpecAndExitRoundTrip) {
  test::TempDir dir;
  ShimSpec spec{.argv = {"claude", "-p"},
                .env_set = {{"A", "1"}},
                .env_unset = {"GH_TOKEN"},
                .env_keep = {"PATH", "LC_*"},
                .cwd = "/w",
                .stdin_path = "/r/prompt.md",
                .timeout_seconds = 3600,
                .stuck_seconds = 600,
                .tmux_socket = "orch",
                .channel = "orch-p-1",
                .banner = "b"};
  ASSERT_TRUE(WriteShimSpec(dir.path(), spec).ok());
  Result<ShimSpec> back = ReadShimSpec(dir.path());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->argv, spec.argv);
  EXPECT_EQ(back->env_set, spec.env_set);
  EXPECT_EQ(back->env_unset, spec.env_unset);
  EXPECT_EQ(back->stdin_path, "/r/prompt.md");
  EXPECT_EQ(back->timeout_seconds, 3600);
  EXPECT_EQ(back->env_keep, spec.env_keep);
  EXPECT_EQ(back->stuck_seconds, 600);
  EXPECT_EQ(back->channel, "orch-p-1");

  EXPECT_TRUE(ReadShimExit(dir.path()).status().IsNotFound());
  ASSERT_TRUE(WriteShimExit(dir.path(), {.exit_code = -1,
                                         .signal = 9,
                                         .timed_out = true,
                                         .stuck_after = 5,
                                         .started_at = 10,
                                         .finished_at = 20})
                  .ok());
  Result<ShimExit> e = ReadShimExit(dir.path());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->signal, 9);
  EXPECT_TRUE(e->timed_out);
  EXPECT_EQ(e->stuck_after, 5);
  EXPECT_EQ(e->finished_at, 20);

  test::WriteFile(dir.Sub("spec.json"), R"({"argv": []})");
  EXPECT_FALSE(ReadShimSpec(dir.path()).ok());
}

}  // namespace
}  // namespace orch
