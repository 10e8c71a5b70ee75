// DirWatcher: one inotify instance and one thread that tell orch when files change in the
// directories it watches, so nothing has to poll for them. Two kinds of interest share it:
//
//  - Watch(dir) returns a Handle for a reader that blocks: anything created, written, closed
//    after writing or moved into the directory bumps its generation and wakes Wait() (each SSE
//    subscriber of the API server waits on its run directory so it sees an agent's new bytes
//    the moment the shim writes them). Many handles on one directory share one inotify watch,
//    removed with the last handle.
//  - OnFile(dir, name, callback) calls the callback each time a file of that name is closed
//    after writing or moved into the directory, until the directory is removed (the daemon's
//    RunWatcher wakes the engine when a shim writes exit.json).
//
// Without inotify (ENOSYS, or the per-user limit reached) the constructor logs the warning it
// was given; Wait() then wakes every 100 ms, so readers still see changes, just later, and
// OnFile() says it cannot watch.
//
// Thread safety: every method may be called from any thread. Callbacks run on the watcher's
// thread with no lock held, so they may call back into the watcher. Handles must not outlive
// the watcher; the destructor stops the thread before it returns, so no callback runs after.
#ifndef ORCH_BASE_DIR_WATCHER_H_
#define ORCH_BASE_DIR_WATCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

struct inotify_event;

namespace orch {

class DirWatcher {
 public:
  // `unavailable_warning` is logged when there is no inotify: what comes late without it.
  explicit DirWatcher(std::string_view unavailable_warning = "inotify unavailable");
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
  // Calls `callback` (on the watcher's thread) whenever a file `name` is closed after writing
  // or moved into `dir`, until `dir` is removed or the watcher destroyed; a second call for the
  // same directory and name replaces the callback. False when `dir` cannot be watched (no
  // inotify, or no such directory): nothing will be called, the caller must look itself.
  bool OnFile(const std::string& dir, const std::string& name, std::function<void()> callback);
  // Wakes every waiter for good (the server is stopping). Callbacks keep being called.
  void Shutdown();
  bool stopped() const;

 private:
  struct Entry {
    std::string dir;
    int wd = -1;
    uint32_t mask = 0;  // the events asked of inotify for this directory
    int refs = 0;       // handles
    uint64_t generation = 0;
    std::condition_variable cv;
    std::map<std::string, std::function<void()>> on_file;  // by file name
  };
  Entry& EntryFor(const std::string& dir);
  bool AddWatch(const std::string& dir, Entry& e, uint32_t mask);
  void Release(const std::string& dir);
  void Loop();
  void ReadEvents(std::vector<std::function<void()>>& due);
  void Apply(const inotify_event& ev, std::vector<std::function<void()>>& due);

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
