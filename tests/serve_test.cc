// `orch serve` as a user runs it: the built binary, a temporary ORCH_HOME, real signals.
#include <gmock/gmock.h>
#include <signal.h>

#include "orch_fixture.h"
#include "store/sql.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class ServeTest : public OrchTest {
 protected:
  void SetUp() override {
    port_ = FreePort();
    WriteFile(home() + "/config.yml",
              "engine:\n  tick_interval: 1\nwebhook:\n  secret: s3cret\n"
              "  port: " +
                  std::to_string(port_) + "\n");
  }

  std::unique_ptr<Background> StartServe() {
    return std::make_unique<Background>(std::vector<std::string>{ORCH_BINARY, "serve"}, Env(),
                                        dir_.Sub("serve.out"));
  }
  std::string Log() const { return ReadFile(home() + "/state/orch.log"); }
  int port_ = 0;
  int Ticks() const {
    try {
      std::unique_ptr<sql::Connection> db = sql::OpenSqlite(home() + "/orch.db", 5000);
      sql::Statement q(*db, "SELECT value FROM kv WHERE key = 'engine.last_tick'");
      return q.executeStep() ? 1 : 0;
    } catch (const std::exception&) {
      return 0;
    }
  }
};

TEST_F(ServeTest, RunsTicksAndStopsCleanlyOnSigterm) {
  auto serve = StartServe();
  ASSERT_TRUE(Eventually([&] {
    return Log().find("engine: ticking every 1s") != std::string::npos;
  })) << ReadFile(dir_.Sub("serve.out"));
  EXPECT_TRUE(Eventually([&] { return Ticks() > 0; }));
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->Wait(std::chrono::seconds(5)), 0);
  EXPECT_THAT(Log(), HasSubstr("stopping"));
  EXPECT_THAT(Log(), HasSubstr("stopped after"));
  // The foreground daemon also logs to stderr.
  EXPECT_THAT(ReadFile(dir_.Sub("serve.out")), HasSubstr("starting"));
}

TEST_F(ServeTest, SecondInstanceExitsTwoNamingTheFirst) {
  auto serve = StartServe();
  ASSERT_TRUE(Eventually([&] { return Log().find("ticking") != std::string::npos; }));
  ProcessResult second = Orch({"serve"});
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_THAT(second.err, HasSubstr("already running (pid " + std::to_string(serve->pid()) + ")"));
  serve->Signal(SIGINT);
  EXPECT_EQ(serve->Wait(std::chrono::seconds(5)), 0);
  // Once the first has stopped, the lock is free again.
  auto third = StartServe();
  EXPECT_TRUE(Eventually([&] {
    return ReadFile(dir_.Sub("serve.out")).find("pid " + std::to_string(third->pid())) !=
           std::string::npos;
  }));
  third->Signal(SIGTERM);
  EXPECT_EQ(third->Wait(std::chrono::seconds(5)), 0);
}

TEST_F(ServeTest, LogCommandPrintsTheDaemonsLastLines) {
  auto serve = StartServe();
  ASSERT_TRUE(Eventually([&] { return Log().find("ticking") != std::string::npos; }));
  serve->Signal(SIGTERM);
  ASSERT_EQ(serve->Wait(std::chrono::seconds(5)), 0);
  ProcessResult r = Orch({"log", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("stopped after"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
}

TEST_F(ServeTest, LogBeforeAnyDaemonSaysSo) {
  ProcessResult r = Orch({"log"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no log yet"));
}

TEST_F(ServeTest, RefusesToStartTheReceiverWithoutASecret) {
  // Fail closed: an unsigned webhook must never be accepted, so no secret means no daemon.
  WriteFile(home() + "/config.yml", "webhook:\n  port: " + std::to_string(port_) + "\n");
  ProcessResult r = Orch({"serve"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("webhook.secret is empty"));
  EXPECT_THAT(r.err, HasSubstr("webhook.enabled: false"));
}

TEST_F(ServeTest, PortInUseExitsTwoNamingTheAddress) {
  auto first = StartServe();
  ASSERT_TRUE(Eventually([&] { return Log().find("ticking") != std::string::npos; }));
  // A second home, same port.
  std::map<std::string, std::string> env = Env();
  env["ORCH_HOME"] = dir_.Sub("other-home");
  WriteFile(dir_.Sub("other-home/config.yml"),
            "webhook:\n  secret: x\n  port: " + std::to_string(port_) + "\n");
  ProcessResult r = test::Run({ORCH_BINARY, "serve"}, dir_.path(), env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port_)));
  first->Signal(SIGTERM);
  EXPECT_EQ(first->Wait(std::chrono::seconds(5)), 0);
}

}  // namespace
}  // namespace orch::test
