#include "dashboard/dashboard.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "agents/tmux.h"
#include "base/subprocess.h"
#include "dashboard/assets.h"
#include "engine/task_actions.h"
#include "runs/runs.h"

namespace orch {
namespace {

using Json = nlohmann::json;

Json OptJson(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

// GitHub's page for `what` ("issues/4", "pull/7") of `repo`; null without a repository.
Json GitHubLink(const std::optional<std::string>& repo, const std::string& what) {
  return repo ? Json("https://github.com/" + *repo + "/" + what) : Json(nullptr);
}

// A task as the board shows it.
Json BoardTask(const Task& t, const std::optional<std::string>& repo) {
  Json route = t.route ? Json::parse(*t.route, nullptr, false) : Json();
  std::optional<int64_t> issue = IssueNumber(t);
  Json j = {{"id", t.id},
            {"project", t.project},
            {"status", TaskStatusName(t.status)},
            {"reason", t.status_reason},
            {"title", t.title},
            {"attempts", t.attempts},
            {"created_at", t.created_at},
            {"updated_at", t.updated_at},
            {"agent", route.is_object() ? route.value("agent", "") : ""},
            {"model", route.is_object() ? route.value("model", "") : ""}};
  j["issue"] = OptJson(issue);
  j["issue_url"] = issue ? GitHubLink(repo, "issues/" + std::to_string(*issue)) : Json(nullptr);
  j["pr"] = OptJson(t.pr_number);
  j["pr_url"] =
      t.pr_number ? GitHubLink(repo, "pull/" + std::to_string(*t.pr_number)) : Json(nullptr);
  j["run_id"] = OptJson(t.run_id);
  j["parent_id"] = OptJson(t.parent_id);
  return j;
}

Json AttemptJson(const Attempt& a) {
  Json j = {{"attempt", a.attempt},
            {"agent", a.agent},
            {"model", a.model},
            {"started_at", a.started_at},
            {"outcome", a.outcome},
            {"error_class", a.error_class},
            {"summary", a.summary},
            {"input_tokens", a.input_tokens},
            {"output_tokens", a.output_tokens},
            {"cost_usd", a.cost_usd}};
  j["finished_at"] = OptJson(a.finished_at);
  j["exit_code"] = a.exit_code ? Json(*a.exit_code) : Json(nullptr);
  return j;
}

bool IsWrite(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH";
}

}  // namespace

// A JSON document pushed to every client whenever it changes (the board, the runs list, the
// fleet), as last read: the database's generation it was read at, its text, and a version that
// changes only when the text does, so each client sends only what is new to it.
struct Dashboard::Feed {
  Feed(const char* e, std::function<std::optional<std::string>()> r)
      : event(e), read(std::move(r)) {}
  const char* event;
  std::function<std::optional<std::string>()> read;  // nullopt when the store cannot say now
  std::mutex mu;
  bool read_once = false;
  uint64_t generation = 0;
  uint64_t version = 0;
  std::shared_ptr<const std::string> text = std::make_shared<const std::string>();
};

void Dashboard::Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

Dashboard::Dashboard(DashboardParts parts)
    : parts_(std::move(parts)),
      sessions_(parts_.store, parts_.store_mu),
      db_watch_(parts_.watcher.Watch(parts_.home.root)),
      board_(std::make_unique<Feed>("board", [this] { return BoardText(); })),
      runs_(std::make_unique<Feed>("runs", [this] { return RunsText(); })),
      fleet_(std::make_unique<Feed>("fleet", [this]() -> std::optional<std::string> {
        Result<Json> fleet = FleetJson();
        if (!fleet.ok()) return std::nullopt;
        return fleet->dump(-1, ' ', false, Json::error_handler_t::replace);
      })) {}

Dashboard::~Dashboard() = default;

Dashboard::Access Dashboard::Check(const httplib::Request& req, std::string_view token) {
  if (req.method == "GET" && (req.path == "/login" || FindDashboardAsset(req.path))) {
    return Access::kPublic;
  }
  std::string auth = req.get_header_value("Authorization");
  const std::string kBearer = "Bearer ";
  if (auth.rfind(kBearer, 0) == 0 && SameSecret(auth.substr(kBearer.size()), token)) {
    return Access::kAllowed;
  }
  std::optional<Sessions::Session> session = sessions_.Find(
      CookieValue(req.get_header_value("Cookie"), kSessionCookie), parts_.clock.NowUnix());
  if (!session) return Access::kUnauthorized;
  if (IsWrite(req.method) && !SameSecret(req.get_header_value("X-CSRF-Token"), session->csrf)) {
    return Access::kNoCsrf;
  }
  return Access::kAllowed;
}

void Dashboard::Route(httplib::Server& s) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  for (size_t i = 0; i < kDashboardAssetCount; ++i) {
    const DashboardAsset& a = kDashboardAssets[i];
    auto serve = [&a](Req, Res res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
      res.set_content(a.body.data(), a.body.size(), a.content_type);
    };
    s.Get(a.path, serve);
    if (std::string_view(a.path) == "/index.html") s.Get("/", serve);
  }
  s.Get("/login", [this](Req req, Res res) { Login(req, res); });
  s.Get("/api/session", [this](Req req, Res res) { Session(req, res); });
  s.Post("/api/logout", [this](Req req, Res res) { Logout(req, res); });
  s.Get("/api/board/events", [this](Req, Res res) { Push(*board_, res); });
  s.Get("/api/runs/events", [this](Req, Res res) { Push(*runs_, res); });
  s.Post(R"(/api/runs/(\d+)/share)", [this](Req req, Res res) { Share(req, res); });
  s.Get(R"(/api/tasks/(\d+))", [this](Req req, Res res) { ShowTask(req, res); });
  s.Post(R"(/api/tasks/(\d+)/(retry|unblock|kill))", [this](Req req, Res res) { Act(req, res); });
  s.Get("/api/fleet", [this](Req req, Res res) { Fleet(req, res); });
  s.Get("/api/fleet/events", [this](Req, Res res) { Push(*fleet_, res); });
  s.Get("/api/settings", [this](Req req, Res res) { GetSettings(req, res); });
  s.Put("/api/settings", [this](Req req, Res res) { PutSettings(req, res); });
}

void Dashboard::Login(const httplib::Request& req, httplib::Response& res) {
  int64_t now = parts_.clock.NowUnix();
  if (!ClaimLoginCode(parts_.home, req.get_param_value("code"), now)) {
    res.status = 403;
    res.set_content(
        "This login link was used already, has expired or is wrong. Run `orch dashboard` for "
        "a new one.\n",
        "text/plain; charset=utf-8");
    return;
  }
  Result<Sessions::Session> session = sessions_.Open(now);
  if (!session.ok()) return Reply(res, 500, {{"error", session.status().message()}});
  res.set_header("Set-Cookie",
                 std::string(kSessionCookie) + "=" + session->id +
                     "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(kSessionTtl));
  res.set_redirect("/", 303);
}

void Dashboard::Session(const httplib::Request& req, httplib::Response& res) {
  std::optional<Sessions::Session> session = sessions_.Find(
      CookieValue(req.get_header_value("Cookie"), kSessionCookie), parts_.clock.NowUnix());
  Reply(res, 200, {{"csrf", session ? Json(session->csrf) : Json(nullptr)}});
}

void Dashboard::Logout(const httplib::Request& req, httplib::Response& res) {
  Status closed = sessions_.Close(CookieValue(req.get_header_value("Cookie"), kSessionCookie));
  if (!closed.ok()) return Reply(res, 500, {{"error", closed.message()}});
  res.set_header("Set-Cookie",
                 std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  Reply(res, 200, {{"message", "signed out"}});
}

void Dashboard::set_share(ShareFn share) {
  std::lock_guard<std::mutex> lock(share_mu_);
  share_ = std::move(share);
}

void Dashboard::Share(const httplib::Request& req, httplib::Response& res) {
  int64_t id = std::stoll(req.matches[1]);
  Result<RunRecord> run = [&] {
    std::lock_guard<std::mutex> lock(parts_.store_mu);
    return parts_.store.GetRun(id);
  }();
  if (!run.ok()) {
    return Reply(res, run.status().IsNotFound() ? 404 : 500, {{"error", run.status().message()}});
  }
  if (run->report.empty()) {
    return Reply(res, 409, {{"error", "run " + std::to_string(id) + " has no report yet"}});
  }
  // Held while sending: set_share(nullptr) waits for a send in progress to finish.
  std::lock_guard<std::mutex> lock(share_mu_);
  if (!share_) {
    return Reply(res, 409,
                 {{"error",
                   "no chat configured (channels.telegram or channels.discord in "
                   "config.yml, then restart orch serve)"}});
  }
  Result<std::string> sent = share_(run->report);
  if (!sent.ok()) return Reply(res, 502, {{"error", sent.status().message()}});
  Reply(res, 200, {{"message", *sent}});
}

std::optional<std::string> Dashboard::BoardText() {
  Json tasks = Json::array();
  {
    std::lock_guard<std::mutex> store_lock(parts_.store_mu);
    Result<std::vector<Project>> projects = parts_.store.ListProjects();
    Result<std::vector<Task>> all = parts_.store.ListTasks({});
    if (!projects.ok() || !all.ok()) return std::nullopt;
    std::map<int64_t, std::optional<std::string>> repos;
    for (const Project& p : *projects) repos[p.id] = p.repo;
    for (const Task& t : *all) tasks.push_back(BoardTask(t, repos[t.project_id]));
  }
  return tasks.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<std::string> Dashboard::RunsText() {
  Json list = Json::array();
  std::lock_guard<std::mutex> store_lock(parts_.store_mu);
  Result<std::vector<RunRecord>> runs = parts_.store.ListRunRecords(std::nullopt);
  if (!runs.ok()) return std::nullopt;
  for (const RunRecord& r : *runs) {
    Result<std::vector<RunStepRecord>> steps = parts_.store.ListRunSteps(r.id);
    if (!steps.ok()) return std::nullopt;
    Json run = RunJson(r, *steps);
    // What the list shows: not the report, the input or the steps' output, which may be long
    // and would be sent again to every client at each change.
    run.erase("report");
    run.erase("input");
    for (Json& step : run["steps"]) step.erase("output");
    list.push_back(std::move(run));
  }
  return list.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::pair<uint64_t, std::shared_ptr<const std::string>> Dashboard::Snapshot(Feed& feed,
                                                                            uint64_t generation) {
  std::lock_guard<std::mutex> lock(feed.mu);
  if (feed.read_once && feed.generation == generation) return {feed.version, feed.text};
  std::optional<std::string> text = feed.read();
  if (!text) return {feed.version, feed.text};
  feed.read_once = true;
  feed.generation = generation;
  if (*text != *feed.text) {
    feed.text = std::make_shared<const std::string>(std::move(*text));
    ++feed.version;
  }
  return {feed.version, feed.text};
}

uint64_t Dashboard::Generation() const {
  uint64_t changes = db_watch_->generation();
  if (!parts_.store.postgres()) return changes;
  // Other hosts write a PostgreSQL store too, and no file here changes: a new generation each
  // second, so each feed is read once a second for all its clients (Snapshot keeps the text).
  auto second =
      std::chrono::duration_cast<std::chrono::seconds>(parts_.clock.Monotonic().time_since_epoch());
  return changes + (static_cast<uint64_t>(second.count()) << 32);
}

void Dashboard::Push(Feed& feed, httplib::Response& res) {
  struct State {
    uint64_t sent = 0;  // the feed's version the client has; 0: none yet
    std::chrono::steady_clock::time_point last_write;
  };
  auto state = std::make_shared<State>();
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [this, &feed, state](
                                                            size_t, httplib::DataSink& sink) {
    while (!parts_.watcher.stopped()) {
      uint64_t seen = Generation();  // before reading: no write slips between
      auto [version, text] = Snapshot(feed, seen);
      if (version != state->sent) {
        state->sent = version;
        state->last_write = parts_.clock.Monotonic();
        std::string wire = std::string("event: ") + feed.event + "\ndata: " + *text + "\n\n";
        return sink.write(wire.data(), wire.size());
      }
      auto idle = parts_.clock.Monotonic() - state->last_write;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(parts_.keepalive - idle);
      // A PostgreSQL store has no file here to watch: its feeds are read again each second.
      auto wait = parts_.store.postgres() ? std::min(left, std::chrono::milliseconds(1000)) : left;
      if (left.count() <= 0 || !db_watch_->Wait(seen, wait)) {
        if (parts_.watcher.stopped()) break;
        if (parts_.clock.Monotonic() - state->last_write < parts_.keepalive) continue;
        static const char kKeepalive[] = ": keep-alive\n\n";
        state->last_write = parts_.clock.Monotonic();
        return sink.write(kKeepalive, sizeof kKeepalive - 1);
      }
    }
    return false;
  });
}

void Dashboard::ShowTask(const httplib::Request& req, httplib::Response& res) {
  int64_t id = std::stoll(req.matches[1]);
  std::lock_guard<std::mutex> lock(parts_.store_mu);
  Result<Task> t = parts_.store.GetTask(id);
  if (!t.ok()) {
    return Reply(res, t.status().IsNotFound() ? 404 : 500, {{"error", t.status().message()}});
  }
  Result<Project> project = parts_.store.FindProject(std::to_string(t->project_id));
  Json j = BoardTask(*t, project.ok() ? project->repo : std::nullopt);
  j["body"] = t->body;
  j["branch"] = t->branch;
  j["labels"] = t->labels;
  Result<std::vector<Attempt>> attempts = parts_.store.ListAttempts(id);
  Result<std::vector<Event>> events = parts_.store.TaskEvents(id);
  if (!attempts.ok() || !events.ok()) return Reply(res, 500, {{"error", "cannot read the task"}});
  j["attempts_list"] = Json::array();
  for (const Attempt& a : *attempts) j["attempts_list"].push_back(AttemptJson(a));
  j["events"] = Json::array();
  for (const Event& e : *events) {
    j["events"].push_back({{"at", e.created_at},
                           {"kind", e.kind},
                           {"from", e.from_status},
                           {"to", e.to_status},
                           {"actor", e.actor},
                           {"reason", e.reason}});
  }
  Reply(res, 200, j);
}

void Dashboard::Act(const httplib::Request& req, httplib::Response& res) {
  int64_t id = std::stoll(req.matches[1]);
  std::string action = req.matches[2];
  std::string actor = "dashboard";
  Result<std::string> done = Status::Internal("dashboard", "no action");
  {
    std::lock_guard<std::mutex> lock(parts_.store_mu);
    if (action == "retry") {
      Result<Task> t = parts_.store.GetTask(id);
      int max_attempts = parts_.config ? parts_.config->workflow.max_attempts : 3;
      if (t.ok() && parts_.project_config) {
        Result<Project> p = parts_.store.FindProject(std::to_string(t->project_id));
        Result<Config> c = p.ok() ? parts_.project_config(*p) : Result<Config>(p.status());
        if (c.ok()) max_attempts = c->workflow.max_attempts;
      }
      done = RetryTask(parts_.store, id, max_attempts, actor);
    } else if (action == "unblock") {
      done = UnblockTask(parts_.store, id, actor);
    } else {
      PosixProcessRunner processes;
      Tmux tmux(processes, TmuxSocketName(ProcessEnv()));
      done = KillTask(parts_.store, tmux, id, actor);
    }
  }
  if (!done.ok()) {
    const Status& s = done.status();
    int code = s.IsNotFound() ? 404 : s.IsConflict() || s.IsUsageError() ? 409 : 500;
    return Reply(res, code, {{"error", s.message()}});
  }
  if (parts_.wake) parts_.wake();
  Reply(res, 200, {{"message", *done}});
}

}  // namespace orch
