#include "base/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "testing/test_util.h"

namespace orch {
namespace {

TEST(LogTest, TailReturnsTheLastLines) {
  test::TempDir dir;
  std::string text;
  for (int i = 1; i <= 1000; ++i) text += "line " + std::to_string(i) + "\n";
  test::WriteFile(dir.Sub("a.log"), text);
  Result<std::vector<std::string>> tail = TailLines(dir.Sub("a.log"), 3);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, (std::vector<std::string>{"line 998", "line 999", "line 1000"}));
  EXPECT_EQ(TailLines(dir.Sub("a.log"), 5000)->size(), 1000u);
  EXPECT_TRUE(TailLines(dir.Sub("none.log"), 3).status().IsNotFound());
}

TEST(LogTest, InitLoggingWritesToTheFile) {
  test::TempDir dir;
  std::string path = dir.Sub("state/orch.log");
  ASSERT_TRUE(InitLogging(path, false).ok());
  spdlog::info("hello from the test");
  spdlog::default_logger()->flush();
  EXPECT_NE(test::ReadFile(path).find("hello from the test"), std::string::npos);
  // Put back a logger that writes nowhere near the deleted directory (unregistered, so the
  // test can run again in the same process).
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
}

TEST(LogTest, FollowSeesAppendsAndRestartsAfterRotation) {
  test::TempDir dir;
  std::string path = dir.Sub("f.log");
  test::WriteFile(path, "old\n");
  std::atomic<bool> stop{false};
  std::string seen;
  std::mutex mu;
  std::thread follower([&] {
    FollowFile(path, 4, 5, stop, [&](std::string_view s) {
      std::lock_guard<std::mutex> l(mu);
      seen += s;
    });
  });
  auto wait_for = [&](const std::string& want) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard<std::mutex> l(mu);
        if (seen.find(want) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  {
    std::ofstream out(path, std::ios::app);
    out << "new line\n";
  }
  EXPECT_TRUE(wait_for("new line\n"));
  std::filesystem::rename(path, path + ".1");
  test::WriteFile(path, "after rotation\n");
  EXPECT_TRUE(wait_for("after rotation\n"));
  stop = true;
  follower.join();
  EXPECT_EQ(seen.find("old"), std::string::npos);
}

}  // namespace
}  // namespace orch
