// StopServer: cpp-httplib's Server::stop() does nothing until the listening thread has entered
// its accept loop (is_running()), and that thread then serves for ever, so a stop right after
// the thread was started (a daemon refusing to start a moment later) hung the join. This waits
// for the loop first, for at most five seconds.
#ifndef ORCH_BASE_HTTP_STOP_H_
#define ORCH_BASE_HTTP_STOP_H_

#include <httplib.h>

#include <chrono>
#include <thread>

namespace orch {

inline void StopServer(httplib::Server& server) {
  for (int i = 0; i < 5000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server.stop();
}

}  // namespace orch

#endif  // ORCH_BASE_HTTP_STOP_H_
