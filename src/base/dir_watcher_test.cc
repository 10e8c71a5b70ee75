// DirWatcher's OnFile: the callbacks the daemon's RunWatcher is made of. (Handles and Wait()
// are tested with the API server's streams, in stream/stream_test.cc.)
#include "base/dir_watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "testing/test_util.h"

namespace orch {
namespace {

// Writes `name` in `dir` the way the shim writes exit.json: a temporary file, then rename.
void WriteByRename(const std::string& dir, const std::string& name) {
  test::WriteFile(dir + "/" + name + ".tmp", "{}\n");
  ASSERT_EQ(std::rename((dir + "/" + name + ".tmp").c_str(), (dir + "/" + name).c_str()), 0);
}

TEST(DirWatcherTest, OnFileCallsBackForItsFileAlone) {
  // Given a callback for exit.json, output written beside it calls nothing; exit.json moved
  // into the directory calls it once.
  test::TempDir dir;
  DirWatcher watcher;
  std::atomic<int> calls{0};
  ASSERT_TRUE(watcher.OnFile(dir.path(), "exit.json", [&] { ++calls; }));
  test::WriteFile(dir.Sub("output.log"), "agent output\n");
  WriteByRename(dir.path(), "exit.json");
  EXPECT_TRUE(test::Eventually([&] { return calls.load() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(calls.load(), 1);
}

TEST(DirWatcherTest, OnFileIsFalseForADirectoryThatDoesNotExist) {
  test::TempDir dir;
  DirWatcher watcher;
  EXPECT_FALSE(watcher.OnFile(dir.Sub("missing"), "exit.json", [] {}));
}

TEST(DirWatcherTest, ADirectoryRemovedAndMadeAgainIsWatchedAfresh) {
  // The kernel drops the watch of a removed directory; watching the new one under the same
  // name works (a run directory pruned and made again for a retried task).
  test::TempDir base;
  std::string dir = base.Sub("run");
  std::filesystem::create_directories(dir);
  DirWatcher watcher;
  std::atomic<int> calls{0};
  ASSERT_TRUE(watcher.OnFile(dir, "exit.json", [&] { ++calls; }));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(watcher.OnFile(dir, "exit.json", [&] { ++calls; }));
  WriteByRename(dir, "exit.json");
  EXPECT_TRUE(test::Eventually([&] { return calls.load() == 1; }));
}

TEST(DirWatcherTest, AHandleAndACallbackShareADirectory) {
  // A stream's handle on a run directory the daemon also watches: a write bumps the handle's
  // generation, and releasing the handle keeps the callback.
  test::TempDir dir;
  DirWatcher watcher;
  std::atomic<int> calls{0};
  ASSERT_TRUE(watcher.OnFile(dir.path(), "exit.json", [&] { ++calls; }));
  {
    std::unique_ptr<DirWatcher::Handle> h = watcher.Watch(dir.path());
    uint64_t seen = h->generation();
    test::WriteFile(dir.Sub("output.log"), "x");
    EXPECT_TRUE(h->Wait(seen, std::chrono::seconds(5)));
  }
  WriteByRename(dir.path(), "exit.json");
  EXPECT_TRUE(test::Eventually([&] { return calls.load() == 1; }));
}

TEST(DirWatcherTest, ACallbackMayWatchAnotherDirectory) {
  // Callbacks run on the watcher's loop thread; one that asks for a watch is served there at
  // once instead of waiting for the thread it is on.
  test::TempDir first, second;
  DirWatcher watcher;
  std::atomic<bool> armed{false};
  std::atomic<int> calls{0};
  ASSERT_TRUE(watcher.OnFile(first.path(), "exit.json", [&] {
    armed = watcher.OnFile(second.path(), "exit.json", [&] { ++calls; });
  }));
  WriteByRename(first.path(), "exit.json");
  ASSERT_TRUE(test::Eventually([&] { return armed.load(); }));
  WriteByRename(second.path(), "exit.json");
  EXPECT_TRUE(test::Eventually([&] { return calls.load() == 1; }));
}

}  // namespace
}  // namespace orch
