// Engine: orch's state machine driver. Tick() is one step over the store, public so that a test
// can drive the engine without a daemon, clock or sleep (after watchman's stepIoThread).
//
// Today a tick unblocks parents whose children are all done and records a heartbeat; the
// webhook inbox, polling, routing, dispatch and reaping join it as their issues land.
// Thread safety: one thread ticks (the daemon's writer thread); the engine owns no threads.
#ifndef ORCH_ENGINE_H_
#define ORCH_ENGINE_H_

#include "clock.h"
#include "config.h"
#include "status.h"
#include "store.h"

namespace orch {

struct TickReport {
  int parents_unblocked = 0;
};

class Engine {
 public:
  Engine(SqliteStore& store, const Config& config, const Clock& clock)
      : store_(store), config_(config), clock_(clock) {}

  // One pass. A failed step is reported and the rest still run; the first failure is returned
  // after all steps, so one bad row cannot stall the loop.
  Result<TickReport> Tick();

  // The kv key of the heartbeat Tick() writes (unix seconds of the last tick).
  static constexpr const char* kHeartbeatKey = "engine.last_tick";

 private:
  // Parents in `blocked` that have children, all of them `done`, go back to `new`.
  Result<int> UnblockFinishedParents();

  SqliteStore& store_;
  const Config& config_;
  const Clock& clock_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_H_
