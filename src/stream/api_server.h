// ApiServer: the daemon's local HTTP API (cpp-httplib) on api.bind:api.port, for `orch stream`
// and any SSE client.
//
//   GET /api/tasks[?status=S]     [{id, project, status, title, external_id}]
//   GET /api/tasks/{id}/stream    the task's agent output as Server-Sent Events (stream.h):
//                                 every attempt's output.log in order, from Last-Event-ID (a
//                                 byte offset) or 0; live bytes as the shim writes them
//                                 (inotify, DirWatcher); a final `is_final` event once the
//                                 last run has ended and all was sent, then the end. 404 for an
//                                 unknown task.
//   GET /api/tasks/{id}/events    the same output normalized (normalize.h), as SSE: each
//                                 event `id: <line offset>:<index>`, `data: {"kind", "task_id",
//                                 ...}` (AgentEventToJson); resumes after Last-Event-ID (such an
//                                 id, or a byte offset at a line's start); ends with a `final`
//                                 event (its id the end's byte offset) carrying the runs'
//                                 duration_ms. 404, 410 as the stream.
//
//   POST /api/runs {project, flow, input, model?}   starts a flow run (runs.h): 201 with the
//                                 run as GET /api/runs/{id} shows it; 400 for bad JSON or a
//                                 flow that cannot run there (no workflow.test_command for its
//                                 tests, an agent that cannot run), 404 for an unknown project
//                                 or flow
//   GET /api/runs[?project=P]     the runs, newest first, with their steps
//   GET /api/runs/{id}            one run: its steps (status, agent, task, output) and report
//   GET /api/runs/{id}/events     SSE: `run_started {run_id, flow_name, steps[{step_id, agent,
//                                 kind, label}]}`, then `run_step_updated {run_id, step_id,
//                                 status, run_status?, report?}` whenever a step's status
//                                 changes (run_status and report once the run has ended, then
//                                 the end). Each step's live output is its task's stream;
//                                 its task_id is in both events. Pushed: the stream waits on
//                                 orch.db's directory (inotify: any commit writes the WAL).
//
//   /, /login and the dashboard's JSON: dashboard/dashboard.h.
//
// Every request but the page's needs `Authorization: Bearer <token>` or a dashboard session's
// cookie (dashboard/auth.h; a write with the cookie also needs X-CSRF-Token, 403 otherwise);
// 401 without either. The token is the
// contents of $ORCH_HOME/state/api.token: random, mode 0600, made on the first start and kept.
// Start() writes {url} to $ORCH_HOME/state/api.json (write, then rename) for clients; Stop()
// removes it. The server reads the store through its own connection, one request at a time.
// Each open stream holds one of the pool's threads (cpp-httplib's model), so `threads` bounds
// the streams served at once.
//
// Thread safety: Start() and Stop() from one thread; handlers run on the pool's threads.
#ifndef ORCH_STREAM_API_SERVER_H_
#define ORCH_STREAM_API_SERVER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/dir_watcher.h"
#include "base/home.h"
#include "base/status.h"
#include "config/config.h"
#include "store/store.h"
#include "stream/stream.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class DataSink;
}  // namespace httplib

namespace orch {

class Dashboard;
using ShareFn = std::function<Result<std::string>(const std::string& text)>;

inline std::string ApiTokenPath(const Home& home) { return home.state_dir() + "/api.token"; }
inline std::string ApiAddressPath(const Home& home) { return home.state_dir() + "/api.json"; }

// The token in `path`, made (32 random bytes, hex, mode 0600) when there is none. IOError when
// it cannot be read or written; Corruption when the file is empty.
Result<std::string> LoadOrCreateApiToken(const std::string& path);

struct ApiServerOptions {
  int threads = 256;  // the most connections (streams included) served at once
  // Idle streams send an SSE comment this often, so a dead client is noticed.
  std::chrono::milliseconds keepalive{10'000};
};

class ApiServer {
 public:
  ApiServer(const Home& home, const ApiConfig& config, const Clock& clock,
            ApiServerOptions options = {});
  ~ApiServer();  // Stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Makes or reads the token, opens the store, binds, writes api.json, starts serving on a
  // background thread and logs the address. InvalidArgument naming the address when it is
  // taken; IOError for the token or api.json.
  Status Start();
  // Ends open streams, stops accepting, joins the threads, removes api.json. Idempotent.
  void Stop();
  const std::string& url() const { return url_; }
  // What POST /api/runs needs: orch's config (flows' agents), a way to wake the engine, and a
  // project's merged config (its workflow.test_command), read on the handler's thread. Without
  // a config it answers 503.
  void set_runs(const Config* config, std::function<void()> wake,
                std::function<Result<Config>(const Project&)> project_config) {
    runs_config_ = config;
    wake_ = std::move(wake);
    project_config_ = std::move(project_config);
  }
  // Where the dashboard sends a run's report (Dashboard::set_share): set once the chat channels
  // run, null before and after. Any thread; waits for a send in progress.
  void set_share(ShareFn share);

 private:
  // One client's place in a task's output.
  struct Subscriber {
    int64_t task_id = 0;
    uint64_t offset = 0;
    std::vector<RunLog> runs = {};
    bool may_run = true;  // no run yet, but the task may still get one
    std::unique_ptr<DirWatcher::Handle> watch = {};
    std::chrono::steady_clock::time_point last_write = {};
  };
  // What Pump does with the output: sends a chunk's worth (kNothing when the chunk made
  // nothing to send yet, e.g. half a line), and the last event at the end.
  enum class Sent { kFailed, kNothing, kSent };
  using ChunkSender = std::function<Sent(const Chunk&)>;
  using EndSender = std::function<bool()>;

  void Route();
  void ListTasks(const httplib::Request& req, httplib::Response& res);
  void Stream(const httplib::Request& req, httplib::Response& res);
  // GET /api/tasks/{id}/events (api_events.cc).
  void Events(const httplib::Request& req, httplib::Response& res);
  // Loads the subscriber's runs; false after answering 404, 410 or 500.
  bool OpenStream(Subscriber& sub, httplib::Response& res);
  // The time the subscriber's runs took, in ms (a run not finished yet counts until now).
  int64_t RunsMillis(const Subscriber& sub) const;
  void CreateRun(const httplib::Request& req, httplib::Response& res);
  void ListRuns(const httplib::Request& req, httplib::Response& res);
  void ShowRun(const httplib::Request& req, httplib::Response& res);
  void RunEvents(const httplib::Request& req, httplib::Response& res);
  // Hands `send_chunk` what the subscriber has not seen yet, or waits for it; calls `send_end`
  // at the end. False ends the connection.
  bool Pump(Subscriber& sub, httplib::DataSink& sink, const ChunkSender& send_chunk,
            const EndSender& send_end);
  // Reloads the task's runs (and moves the watch to the newest run's directory).
  Status LoadRuns(Subscriber& sub);

  Home home_;
  ApiConfig config_;
  const Clock& clock_;
  ApiServerOptions options_;
  std::string token_;
  std::string url_;
  std::mutex store_mu_;  // one request at a time on the store connection
  std::unique_ptr<Store> store_;
  DirWatcher watcher_{"api: inotify unavailable, streams look for new output every 100 ms"};
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<Dashboard> dashboard_;          // `/`, its login and its JSON
  std::unique_ptr<DirWatcher::Handle> db_watch_;  // orch.db's directory: its WAL's writes
  const Config* runs_config_ = nullptr;
  std::function<void()> wake_;
  std::function<Result<Config>(const Project&)> project_config_;
  std::mutex share_mu_;  // share_, and handing it to dashboard_
  ShareFn share_;
  std::thread thread_;
};

}  // namespace orch

#endif  // ORCH_STREAM_API_SERVER_H_
