// DirWatcher: one inotify instance and one thread that wake the readers waiting on
// directories, so a stream sees an agent's new bytes the moment the shim writes them instead
// of polling (each SSE subscriber blocks on its run directory's generation counter).
//
// Watch() returns a handle; many handles on one directory share one inotify watch, removed
// with the last handle. Anything created, written, closed after writing or moved into the
// directory bumps its generation. Without inotify (ENOSYS, or the per-user limit reached)
// Wait() falls back to waking every 100 ms, so streams still work, just later.
//
// Thread safety: every method may be called from any thread. Handles must not outlive the
// watcher.
#ifndef ORCH_BASE_DIR_WATCHER_H_
#define ORCH_BASE_DIR_WATCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace orch {

class DirWatcher {
 public:
  DirWatcher();
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  class Handle {
   public:
    ~Handle();
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    // The directory's generation now; pass it to Wait() after reading what it guards.
    uint64_t generation() const;
    // Blocks until the generation differs from `seen`, Shutdown() is called, or `timeout`
    // passes. True when the generation changed.
    bool Wait(uint64_t seen, std::chrono::milliseconds timeout) const;
    const std::string& dir() const { return dir_; }

   private:
    friend class DirWatcher;
    Handle(DirWatcher& w, std::string dir) : watcher_(w), dir_(std::move(dir)) {}
    DirWatcher& watcher_;
    std::string dir_;
  };

  std::unique_ptr<Handle> Watch(const std::string& dir);
  // Wakes every waiter for good (the server is stopping).
  void Shutdown();
  bool stopped() const;

 private:
  struct Entry {
    int wd = -1;
    int refs = 0;
    uint64_t generation = 0;
    std::condition_variable cv;
  };
  void Release(const std::string& dir);
  void Loop();

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by directory
  std::map<int, Entry*> by_wd_;
  bool stopped_ = false;
  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace orch

#endif  // ORCH_BASE_DIR_WATCHER_H_
