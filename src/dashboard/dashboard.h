// Dashboard: the web page the daemon's local API serves at `/` (the files of the source tree's
// dashboard/ folder, compiled into the binary: assets.h) and the JSON behind it.
//
//   GET  /, /app.js, /app.css      the page; no credentials needed (it asks for them)
//   GET  /login?code=C             claims a login code (auth.h): a session cookie and 303 to /;
//                                  403 for a used, expired or unknown code
//   GET  /api/session              {csrf} for a cookie session, {csrf: null} for the token
//   POST /api/logout               ends the cookie's session (auth.h) and clears the cookie
//   GET  /api/board/events         SSE: `board` events, each every task as the board shows it
//                                  (BoardTask), sent at once and again whenever it changes.
//   GET  /api/runs/events          SSE: `runs` events, the runs list as GET /api/runs gives it
//   GET  /api/fleet/events         SSE: `fleet` events, GET /api/fleet's JSON (without
//                                  last_tick, which changes every tick and is not shown)
//                                  These three are pushed (Push): each client waits on the
//                                  database's directory (DirWatcher on the WAL, which any
//                                  process's commit writes); one read per change is shared by
//                                  every client, and a client is sent only a changed text
//   POST /api/runs/{id}/share      posts the run's Markdown report to the configured chat
//                                  channels (set_share); 409 without a report or without a chat
//                                  ("no chat configured"), 502 when a channel failed
//   GET  /api/tasks/{id}           one task: attempts and events
//   POST /api/tasks/{id}/retry|unblock|kill   engine/task_actions.h, the rules of `orch task
//                                  retry|unblock|kill`; 409 with the reason when the task cannot
//   GET  /api/fleet                agents and breakers, running sessions, webhook deliveries
//                                  and the engine's mode (webhook or polling fallback, and why)
//   GET  /api/settings             the global config and each project's .orch.yml
//   PUT  /api/settings {target, text}  checks the text with the same parser as `orch config
//                                  validate`; 422 with each error's line and key and nothing
//                                  written, or saved (settings.h) with what needs a restart
//
// Access (Check): the page and /login are public; every other path needs the bearer token or a
// session cookie, and with the cookie a write (POST, PUT, DELETE) also needs X-CSRF-Token.
//
// Thread safety: handlers run on the API server's pool; the store is used under `store_mu`.
// set_share may be called from any thread.
#ifndef ORCH_DASHBOARD_DASHBOARD_H_
#define ORCH_DASHBOARD_DASHBOARD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/dir_watcher.h"
#include "base/home.h"
#include "config/config.h"
#include "dashboard/auth.h"
#include "store/store.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace orch {

struct DashboardParts {
  Home home;
  const Clock& clock;
  Store& store;
  std::mutex& store_mu;
  DirWatcher& watcher;
  const Config* config = nullptr;  // orch's global config; null: defaults
  std::function<Result<Config>(const Project&)> project_config = nullptr;
  std::function<void()> wake = nullptr;  // the engine, after an action
  std::chrono::milliseconds keepalive{10'000};
};

// Posts a text (a run's report) to the configured chat channels; what was done ("sent to
// telegram"), or why not.
using ShareFn = std::function<Result<std::string>(const std::string& text)>;

class Dashboard {
 public:
  explicit Dashboard(DashboardParts parts);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  enum class Access { kPublic, kAllowed, kUnauthorized, kNoCsrf };
  // What `req` may do, `token` being the API's bearer token.
  Access Check(const httplib::Request& req, std::string_view token);
  // Adds the routes above to `server`.
  void Route(httplib::Server& server);
  // Where POST /api/runs/{id}/share sends (set once the chat channels run; null: none). Waits
  // for a share in progress, so once set_share(nullptr) returns the old one is not called.
  void set_share(ShareFn share);

 private:
  struct Feed;  // a pushed JSON document (the board, the runs list, the fleet)
  static void Reply(httplib::Response& res, int status, const nlohmann::json& body);
  void Login(const httplib::Request& req, httplib::Response& res);
  void Session(const httplib::Request& req, httplib::Response& res);
  void Logout(const httplib::Request& req, httplib::Response& res);
  void Share(const httplib::Request& req, httplib::Response& res);
  void ShowTask(const httplib::Request& req, httplib::Response& res);
  void Act(const httplib::Request& req, httplib::Response& res);
  void Fleet(const httplib::Request& req, httplib::Response& res);
  void GetSettings(const httplib::Request& req, httplib::Response& res);
  void PutSettings(const httplib::Request& req, httplib::Response& res);
  // The feeds' documents as of now; nullopt when the store cannot say.
  std::optional<std::string> BoardText();
  std::optional<std::string> RunsText();
  Result<nlohmann::json> FleetJson();
  // Sends `feed` as SSE: at once, then whenever its text changes; a comment when idle.
  void Push(Feed& feed, httplib::Response& res);
  // What the feeds are read at: the count of changes to orch.db's directory, and with a
  // PostgreSQL store the second too.
  uint64_t Generation() const;
  // `feed`'s text as of the database's generation `generation`: the cached one when nothing was
  // written since; with its version, which changes only when the text does.
  std::pair<uint64_t, std::shared_ptr<const std::string>> Snapshot(Feed& feed, uint64_t generation);

  DashboardParts parts_;
  Sessions sessions_;
  std::unique_ptr<DirWatcher::Handle> db_watch_;  // the directory of orch.db and its WAL
  std::unique_ptr<Feed> board_;
  std::unique_ptr<Feed> runs_;
  std::unique_ptr<Feed> fleet_;
  std::mutex share_mu_;  // held while share_ runs
  ShareFn share_;
};

}  // namespace orch

#endif  // ORCH_DASHBOARD_DASHBOARD_H_
