// The client side of the daemon's local API (api_server.h): how `orch stream` finds the
// daemon ($ORCH_HOME/state/api.json and api.token) and reads a task's SSE stream, resuming
// with Last-Event-ID after a dropped connection.
//
// Thread safety: free functions; each call uses its own connection.
#ifndef ORCH_STREAM_API_CLIENT_H_
#define ORCH_STREAM_API_CLIENT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/home.h"
#include "base/status.h"
#include "stream/agent_event.h"
#include "stream/stream.h"

namespace orch {

struct ApiAddress {
  std::string url;    // http://host:port
  std::string token;  // for Authorization: Bearer
};

// Unavailable ("orch serve is not running ...") when api.json is missing; IOError or
// Corruption when it or the token cannot be read.
Result<ApiAddress> ReadApiAddress(const Home& home);

struct ApiTask {
  int64_t id = 0;
  std::string project;
  std::string status;
  std::string title;
};

// GET /api/tasks, only tasks in `status` unless it is empty. Unavailable when the daemon
// cannot be reached; InvalidArgument when it refuses the token.
Result<std::vector<ApiTask>> ListApiTasks(const ApiAddress& address, const std::string& status);

using StreamCallback = std::function<void(const StreamEvent&)>;

// One connection to task `id`'s stream, from `*offset` (sent as Last-Event-ID when not 0).
// Calls `on_event` for each event and moves `*offset` to its id. OK once the final event came;
// Unavailable when the connection failed or ended before it (or `stop` was set); NotFound
// for an unknown task; InvalidArgument when the token is refused. `*connected` (if given) is
// set once the daemon answered 200.
Status StreamOnce(const ApiAddress& address, int64_t id, uint64_t* offset,
                  const StreamCallback& on_event, const std::atomic<bool>* stop = nullptr,
                  bool* connected = nullptr);

// StreamOnce until the final event, reconnecting after a drop (reading api.json again, since
// a restarted daemon may listen elsewhere) with waits from 100 ms doubling to 2 s. Gives up
// with the last Unavailable after `patience` without reaching the daemon, and at once when the
// first attempt cannot reach it (the daemon is not running).
Status FollowTaskStream(const Home& home, int64_t id, uint64_t* offset,
                        const StreamCallback& on_event, std::chrono::milliseconds patience,
                        const std::atomic<bool>* stop = nullptr);

// Each event of GET /api/tasks/{id}/events, and its data as it came (one line of JSON).
using AgentEventCallback = std::function<void(const AgentEvent&, const std::string& data)>;

// FollowTaskStream for the normalized events: from `*cursor` (the id of the last event seen,
// "" for the start; it is moved along), until the `final` event, which is passed on too.
// Fails as FollowTaskStream; InvalidArgument when an event cannot be read.
Status FollowTaskEvents(const Home& home, int64_t id, std::string* cursor,
                        const AgentEventCallback& on_event, std::chrono::milliseconds patience,
                        const std::atomic<bool>* stop = nullptr);

}  // namespace orch

#endif  // ORCH_STREAM_API_CLIENT_H_
