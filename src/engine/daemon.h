// Daemon: what `orch serve` runs. A single-instance lock, and the loop that calls
// Engine::Tick() every engine.tick_interval until asked to stop.
//
// Only the daemon sleeps; the engine never does. RequestStop() may be called from any thread
// (the signal thread does); Run() returns after the tick in progress, if any, finishes.
#ifndef ORCH_ENGINE_DAEMON_H_
#define ORCH_ENGINE_DAEMON_H_

#include <condition_variable>
#include <mutex>
#include <string>

#include "base/status.h"
#include "config/config.h"
#include "engine/engine.h"

namespace orch {

// Holds an flock on a pid file for its lifetime; the file holds the owner's pid.
class PidLock {
 public:
  // Conflict, naming the running pid, when another process holds the lock; IOError when the
  // file cannot be created.
  static Result<PidLock> Acquire(const std::string& path);
  PidLock(PidLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  PidLock(const PidLock&) = delete;
  PidLock& operator=(const PidLock&) = delete;
  ~PidLock();

 private:
  PidLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

class Daemon {
 public:
  Daemon(Engine& engine, Seconds tick_interval) : engine_(engine), tick_interval_(tick_interval) {}

  // Ticks at once, then again one tick interval after each tick ends, until RequestStop().
  // Returns the number of ticks.
  int Run();
  void RequestStop();
  // Starts the next tick now instead of after the interval (a webhook arrived). Any thread.
  void Wake();

 private:
  Engine& engine_;
  Seconds tick_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
};

// Blocks SIGINT and SIGTERM in the calling thread and in the threads it starts afterwards, so
// that only a thread waiting for them with sigwait (the daemon's signal thread) receives them.
void BlockStopSignals();

}  // namespace orch

#endif  // ORCH_ENGINE_DAEMON_H_
