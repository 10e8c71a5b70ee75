// DirWatcher: one libuv loop on one thread that tells orch when files change in the directories
// it watches, so nothing has to poll for them (uv_fs_event: inotify on Linux, FSEvents on macOS).
// Two kinds of interest share it:
//
//  - Watch(dir) returns a Handle for a reader that blocks: anything created, written, renamed or
//    removed in the directory bumps its generation and wakes Wait() (each SSE subscriber of the
//    API server waits on its run directory so it sees an agent's new bytes the moment the shim
//    writes them). Many handles on one directory share one watch, removed with the last handle.
//  - OnFile(dir, name, callback) calls the callback each time an event names that file (it is
//    created, written, renamed in or out, or removed), until the directory is removed (the
//    daemon's RunWatcher wakes the engine when a shim renames exit.json into place). libuv reports
//    no close-after-write, so a callback must read the file rather than trust it is complete:
//    the shim writes exit.json whole under another name and renames it.
//
// Without file watching (no libuv loop, or the system's limit on watches reached) the warning it
// was given is logged once; Wait() then wakes every 100 ms, so readers still see changes, just
// later, and OnFile() says it cannot watch.
//
// Thread safety: every method may be called from any thread; watches are made and dropped on the
// loop thread, and a call from another thread waits for it there. Callbacks run on the loop
// thread with no lock held, so they may call back into the watcher. Handles must not outlive the
// watcher; the destructor stops the thread before it returns, so no callback runs after.
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
#include <vector>

struct uv_handle_s;
typedef struct uv_handle_s uv_handle_t;

namespace orch {

class DirWatcher {
 public:
  // `unavailable_warning` is logged when directories cannot be watched: what comes late then.
  explicit DirWatcher(std::string_view unavailable_warning = "file watching unavailable");
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
  // Calls `callback` (on the watcher's thread) whenever an event in `dir` names the file `name`
  // (see above), until `dir` is removed or the watcher destroyed; a second call for the same
  // directory and name replaces the callback. False when `dir` cannot be watched (no file
  // watching, or no such directory): nothing will be called, the caller must look itself.
  bool OnFile(const std::string& dir, const std::string& name, std::function<void()> callback);
  // Wakes every waiter for good (the server is stopping). Callbacks keep being called.
  void Shutdown();
  bool stopped() const;

 private:
  struct Loop;  // the libuv loop, its thread and the jobs handed to it (dir_watcher.cc)
  struct DirWatch;
  struct Entry {
    std::string dir;
    DirWatch* watch = nullptr;  // null: not watched (yet, or the directory went away)
    int refs = 0;               // handles
    uint64_t generation = 0;
    std::condition_variable cv;
    std::map<std::string, std::function<void()>> on_file;  // by file name
  };
  Entry& EntryFor(const std::string& dir);
  // On the loop thread, mu_ held: (re)starts the watch of `e`. The directory may have been
  // removed and made again, and then it is a new one: a new watch is started before the old one
  // stops, so nothing is missed when it is the same.
  bool Arm(Entry& e);
  void Disarm(Entry& e);
  static void Free(uv_handle_t* h);  // a DirWatch's close callback
  // Runs `job` on the loop thread and returns once it ran (at once when called there). False
  // when there is no loop.
  bool OnLoop(const std::function<void()>& job);
  void Release(const std::string& dir);
  // On the loop thread: an event on `w`'s directory, naming `file` (may be null).
  void Changed(DirWatch& w, const char* file, bool renamed);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by directory
  bool stopped_ = false;
  bool warned_ = false;
  std::string unavailable_warning_;
  std::unique_ptr<Loop> loop_;  // last: its thread stops first
};

}  // namespace orch

#endif  // ORCH_BASE_DIR_WATCHER_H_
