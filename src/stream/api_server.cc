#include "stream/api_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/http_stop.h"
#include "dashboard/dashboard.h"
#include "runs/runs.h"
#include "stream/stream.h"

namespace orch {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxChunk = 64 * 1024;
// How long a stream waits for new bytes before it asks the store again (a run that ended
// without exit.json, a newer attempt) and considers a keep-alive comment.
constexpr std::chrono::milliseconds kRecheck{1000};

void Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

// Clock has whole seconds; a chunk's time wants milliseconds.
int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return Status::IOError(tmp, "cannot write");
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError(path, std::strerror(errno));
  return Status::OK();
}

// One server-sent event: `event` with `data` as JSON.
std::string EventWire(const char* event, const Json& data) {
  return std::string("event: ") + event +
         "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

// The run_started event's data for `run` (RunJson), which tells the client each step is
// pending: `told` records that.
Json RunStartedData(int64_t id, const Json& run, std::map<std::string, std::string>& told) {
  Json steps = Json::array();
  for (const Json& s : run["steps"]) {
    steps.push_back({{"step_id", s["step_id"]},
                     {"agent", s["agent"]},
                     {"kind", s["kind"]},
                     {"label", s["label"]},
                     {"needs", s.value("needs", Json::array())},
                     {"task_id", s["task_id"]}});
    told[s["step_id"].get<std::string>()] = "pending";
  }
  return {{"run_id", id}, {"flow_name", run["flow_name"]}, {"steps", steps}};
}

// The run_step_updated events' data for the steps of `run` (RunJson) whose status differs from
// what `told` says the client knows, updating `told`. When the run has ended the last update
// carries the run's end and its report (a step-less one if no step changed since the last look).
std::vector<Json> StepUpdates(int64_t id, const Json& run,
                              std::map<std::string, std::string>& told) {
  std::vector<Json> updates;
  for (const Json& s : run["steps"]) {
    std::string step = s["step_id"], status = s["status"];
    if (told[step] == status) continue;
    told[step] = status;
    updates.push_back(
        {{"run_id", id}, {"step_id", step}, {"status", status}, {"task_id", s["task_id"]}});
  }
  if (run["status"] != "running") {
    if (updates.empty()) {
      const Json& last = run["steps"].empty() ? Json() : run["steps"].back();
      updates.push_back({{"run_id", id},
                         {"step_id", last.is_null() ? "" : last["step_id"]},
                         {"status", last.is_null() ? "" : last["status"]}});
    }
    updates.back()["run_status"] = run["status"];
    updates.back()["report"] = run["report"];
  }
  return updates;
}

}  // namespace

Result<std::string> LoadOrCreateApiToken(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) {
      close(fd);
      unlink(path.c_str());
      return Status::Internal("api token", "no random bytes from OpenSSL");
    }
    std::string token;
    static const char kHex[] = "0123456789abcdef";
    for (unsigned char b : raw) {
      token += kHex[b >> 4];
      token += kHex[b & 15];
    }
    std::string line = token + "\n";
    bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    close(fd);
    if (!ok) return Status::IOError(path, "cannot write the token");
    return token;
  }
  if (errno != EEXIST) return Status::IOError(path, std::strerror(errno));
  std::ifstream in(path);
  std::string token;
  if (!in) return Status::IOError(path, "cannot read the token");
  in >> token;
  if (token.empty()) return Status::Corruption(path, "empty token file; delete it to make one");
  return token;
}

ApiServer::ApiServer(const Home& home, const ApiConfig& config, const Clock& clock,
                     ApiServerOptions options)
    : home_(home), config_(config), clock_(clock), options_(options) {}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start() {
  Result<std::string> token = LoadOrCreateApiToken(ApiTokenPath(home_));
  if (!token.ok()) return token.status();
  token_ = *token;
  Result<std::unique_ptr<Store>> store = Store::Open(home_.store(), clock_);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  dashboard_ = std::make_unique<Dashboard>(DashboardParts{.home = home_,
                                                          .clock = clock_,
                                                          .store = *store_,
                                                          .store_mu = store_mu_,
                                                          .watcher = watcher_,
                                                          .config = runs_config_,
                                                          .project_config = project_config_,
                                                          .wake = wake_,
                                                          .keepalive = options_.keepalive});
  {
    std::lock_guard<std::mutex> lock(share_mu_);
    dashboard_->set_share(share_);
  }
  db_watch_ = watcher_.Watch(home_.root);

  server_ = std::make_unique<httplib::Server>();
  httplib::Server& s = *server_;
  size_t threads = static_cast<size_t>(options_.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_tcp_nodelay(true);  // each event goes out as it is written, not after delayed ACK
  s.set_keep_alive_timeout(5);
  s.set_read_timeout(10);
  s.set_write_timeout(10);
  // httplib's default also sets SO_REUSEPORT, which would let a second daemon (another
  // ORCH_HOME) bind the same port and take half of this one's clients.
  s.set_socket_options([](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  Route();
  int port = config_.port == 0 ? s.bind_to_any_port(config_.bind)
                               : (s.bind_to_port(config_.bind, config_.port) ? config_.port : -1);
  std::string where = config_.bind + ":" + std::to_string(config_.port);
  if (port <= 0) {
    server_.reset();
    std::filesystem::remove(ApiAddressPath(home_));  // a crashed daemon's, now wrong
    return Status::InvalidArgument("cannot listen on " + where,
                                   "the port is in use; change api.port or api.bind");
  }
  // Clients on this machine reach a wildcard bind through loopback.
  std::string host = config_.bind == "0.0.0.0" || config_.bind == "::" ? "127.0.0.1" : config_.bind;
  url_ = "http://" + host + ":" + std::to_string(port);
  ORCH_RETURN_IF_ERROR(WriteFileAtomically(ApiAddressPath(home_), Json{{"url", url_}}.dump()));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("api: listening on {} (orch stream; token in {})", url_, ApiTokenPath(home_));
  return Status::OK();
}

void ApiServer::Stop() {
  if (!server_) return;
  watcher_.Shutdown();  // open streams end at once
  StopServer(*server_);
  if (thread_.joinable()) thread_.join();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove(ApiAddressPath(home_), ec);
}

void ApiServer::set_share(ShareFn share) {
  std::lock_guard<std::mutex> lock(share_mu_);
  share_ = std::move(share);
  if (dashboard_) dashboard_->set_share(share_);
}

void ApiServer::Route() {
  httplib::Server& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    Dashboard::Access access = dashboard_->Check(req, token_);
    if (access == Dashboard::Access::kPublic || access == Dashboard::Access::kAllowed) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (access == Dashboard::Access::kNoCsrf) {
      Reply(res, 403, {{"error", "missing or wrong X-CSRF-Token (GET /api/session gives it)"}});
    } else {
      res.set_header("WWW-Authenticate", "Bearer");
      Reply(res, 401,
            {{"error",
              "missing or wrong token (Authorization: Bearer <api.token>, or `orch dashboard`)"}});
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  dashboard_->Route(s);
  s.Get("/api/tasks",
        [this](const httplib::Request& req, httplib::Response& res) { ListTasks(req, res); });
  s.Get(R"(/api/tasks/(\d+)/stream)",
        [this](const httplib::Request& req, httplib::Response& res) { Stream(req, res); });
  s.Get(R"(/api/tasks/(\d+)/events)",
        [this](const httplib::Request& req, httplib::Response& res) { Events(req, res); });
  s.Post("/api/runs",
         [this](const httplib::Request& req, httplib::Response& res) { CreateRun(req, res); });
  s.Get("/api/runs",
        [this](const httplib::Request& req, httplib::Response& res) { ListRuns(req, res); });
  s.Get(R"(/api/runs/(\d+))",
        [this](const httplib::Request& req, httplib::Response& res) { ShowRun(req, res); });
  s.Get(R"(/api/runs/(\d+)/events)",
        [this](const httplib::Request& req, httplib::Response& res) { RunEvents(req, res); });
}

void ApiServer::CreateRun(const httplib::Request& req, httplib::Response& res) {
  if (!runs_config_) return Reply(res, 503, {{"error", "runs are not served here"}});
  Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("project") || !body["project"].is_string() ||
      !body.contains("flow") || !body["flow"].is_string()) {
    return Reply(res, 400, {{"error", "expected {project, flow, input, model?}"}});
  }
  if (body.contains("model") && !body["model"].is_string()) {
    return Reply(res, 400, {{"error", "model must be a string"}});
  }
  std::lock_guard<std::mutex> lock(store_mu_);
  Result<Project> project = store_->FindProject(body["project"].get<std::string>());
  if (!project.ok()) return Reply(res, 404, {{"error", project.status().message()}});
  Result<Flow> flow =
      FindFlow(body["flow"].get<std::string>(), home_.root, *project, *runs_config_);
  if (!flow.ok()) {
    return Reply(res, flow.status().IsNotFound() ? 404 : 400, {{"error", flow.status().message()}});
  }
  flow->model = body.value("model", "");
  Json input = body.contains("input") ? body["input"] : Json("");
  Result<Config> project_config =
      project_config_ ? project_config_(*project) : Result<Config>(*runs_config_);
  if (!project_config.ok()) return Reply(res, 400, {{"error", project_config.status().message()}});
  Result<RunRecord> run =
      orch::CreateFlowRun(*store_, *flow, *project, *project_config,
                          MakeAgentCheck(*project_config, *store_, clock_), input.dump());
  if (!run.ok()) return Reply(res, 400, {{"error", run.status().message()}});
  Result<std::vector<RunStepRecord>> steps = store_->ListRunSteps(run->id);
  if (!steps.ok()) return Reply(res, 500, {{"error", steps.status().message()}});
  if (wake_) wake_();
  Reply(res, 201, RunJson(*run, *steps));
}

void ApiServer::ListRuns(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard<std::mutex> lock(store_mu_);
  std::optional<int64_t> project_id;
  if (req.has_param("project")) {
    Result<Project> p = store_->FindProject(req.get_param_value("project"));
    if (!p.ok()) return Reply(res, 404, {{"error", p.status().message()}});
    project_id = p->id;
  }
  Result<std::vector<RunRecord>> runs = store_->ListRunRecords(project_id);
  if (!runs.ok()) return Reply(res, 500, {{"error", runs.status().message()}});
  Json out = Json::array();
  for (const RunRecord& r : *runs) {
    Result<std::vector<RunStepRecord>> steps = store_->ListRunSteps(r.id);
    if (!steps.ok()) return Reply(res, 500, {{"error", steps.status().message()}});
    out.push_back(RunJson(r, *steps));
  }
  Reply(res, 200, out);
}

void ApiServer::ShowRun(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard<std::mutex> lock(store_mu_);
  Result<RunRecord> run = store_->GetRun(std::stoll(req.matches[1]));
  if (!run.ok()) {
    return Reply(res, run.status().IsNotFound() ? 404 : 500, {{"error", run.status().message()}});
  }
  Result<std::vector<RunStepRecord>> steps = store_->ListRunSteps(run->id);
  if (!steps.ok()) return Reply(res, 500, {{"error", steps.status().message()}});
  Reply(res, 200, RunJson(*run, *steps));
}

void ApiServer::RunEvents(const httplib::Request& req, httplib::Response& res) {
  int64_t id = std::stoll(req.matches[1]);
  Json first;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    Result<RunRecord> run = store_->GetRun(id);
    if (!run.ok()) {
      return Reply(res, run.status().IsNotFound() ? 404 : 500, {{"error", run.status().message()}});
    }
    Result<std::vector<RunStepRecord>> steps = store_->ListRunSteps(id);
    if (!steps.ok()) return Reply(res, 500, {{"error", steps.status().message()}});
    first = RunJson(*run, *steps);
  }
  // What the client has been told: each step's status, and whether it knows the run ended.
  struct State {
    bool started = false;
    std::map<std::string, std::string> told;
    std::chrono::steady_clock::time_point last_write;
  };
  auto state = std::make_shared<State>();
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, id, first, state](size_t, httplib::DataSink& sink) {
        auto send = [&](const char* event, const Json& data) {
          std::string wire = EventWire(event, data);
          state->last_write = clock_.Monotonic();
          return sink.write(wire.data(), wire.size());
        };
        if (!state->started) {
          state->started = true;
          return send("run_started", RunStartedData(id, first, state->told));
        }
        while (!watcher_.stopped()) {
          uint64_t seen = db_watch_->generation();  // before reading: no commit slips between
          Json now;
          {
            std::lock_guard<std::mutex> lock(store_mu_);
            Result<RunRecord> run = store_->GetRun(id);
            Result<std::vector<RunStepRecord>> steps = store_->ListRunSteps(id);
            if (!run.ok() || !steps.ok()) return false;
            now = RunJson(*run, *steps);
          }
          bool ended = now["status"] != "running";
          std::vector<Json> updates = StepUpdates(id, now, state->told);
          for (const Json& u : updates) {
            if (!send("run_step_updated", u)) return false;
          }
          if (ended) {
            sink.done();
            return true;
          }
          if (!updates.empty()) return true;
          // Any process's commit writes the WAL beside orch.db, which wakes this.
          db_watch_->Wait(seen, kRecheck);
          if (clock_.Monotonic() - state->last_write >= options_.keepalive) {
            static const char kKeepalive[] = ": keep-alive\n\n";
            state->last_write = clock_.Monotonic();
            return sink.write(kKeepalive, sizeof kKeepalive - 1);
          }
        }
        return false;
      });
}

void ApiServer::ListTasks(const httplib::Request& req, httplib::Response& res) {
  TaskFilter filter;
  if (req.has_param("status")) {
    Result<TaskStatus> status = ParseTaskStatus(req.get_param_value("status"));
    if (!status.ok()) return Reply(res, 400, {{"error", status.status().message()}});
    filter.status = *status;
  }
  Result<std::vector<Task>> tasks = [&] {
    std::lock_guard<std::mutex> lock(store_mu_);
    return store_->ListTasks(filter);
  }();
  if (!tasks.ok()) return Reply(res, 500, {{"error", tasks.status().message()}});
  Json out = Json::array();
  for (const Task& t : *tasks) {
    out.push_back({{"id", t.id},
                   {"project", t.project},
                   {"status", TaskStatusName(t.status)},
                   {"title", t.title},
                   {"external_id", t.external_id ? Json(*t.external_id) : Json(nullptr)}});
  }
  Reply(res, 200, out);
}

void ApiServer::Stream(const httplib::Request& req, httplib::Response& res) {
  auto sub = std::make_shared<Subscriber>();
  sub->task_id = std::stoll(req.matches[1]);
  if (req.has_header("Last-Event-ID")) {
    std::string last = req.get_header_value("Last-Event-ID");
    try {
      size_t used = 0;
      sub->offset = std::stoull(last, &used);
      if (used != last.size()) throw std::invalid_argument(last);
    } catch (const std::exception&) {
      return Reply(res, 400, {{"error", "Last-Event-ID must be a byte offset"}});
    }
  }
  if (!OpenStream(*sub, res)) return;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, sub](size_t, httplib::DataSink& sink) {
        auto send = [&](const std::string& content, bool final) {
          StreamEvent e{.task_id = sub->task_id,
                        .content = content,
                        .timestamp_ms = NowMillis(),
                        .is_final = final,
                        .id = sub->offset};
          std::string wire = FormatSseEvent(e);
          sub->last_write = clock_.Monotonic();
          return sink.write(wire.data(), wire.size());
        };
        return Pump(
            *sub, sink,
            [&](const Chunk& chunk) {
              return send(chunk.content, false) ? Sent::kSent : Sent::kFailed;
            },
            [&] {
              if (!send("", true)) return false;
              sink.done();
              return true;
            });
      });
}

bool ApiServer::OpenStream(Subscriber& sub, httplib::Response& res) {
  Status loaded = LoadRuns(sub);
  if (loaded.IsNotFound()) {
    Reply(res, 404, {{"error", loaded.message()}});
    return false;
  }
  if (!loaded.ok()) {
    Reply(res, 500, {{"error", loaded.message()}});
    return false;
  }
  // Every attempt ended and none left its directory: deleted as old
  // (engine.run_log_retention_days).
  if (!sub.runs.empty() && std::all_of(sub.runs.begin(), sub.runs.end(), [](const RunLog& r) {
        std::error_code ec;
        return r.finished && !std::filesystem::exists(r.dir, ec);
      })) {
    Reply(res, 410,
          {{"error", "the output of task " + std::to_string(sub.task_id) +
                         " was deleted with its run directories, as old "
                         "(engine.run_log_retention_days); `orch task show` keeps each "
                         "attempt's summary"}});
    return false;
  }
  sub.last_write = clock_.Monotonic();
  return true;
}

Status ApiServer::LoadRuns(Subscriber& sub) {
  std::lock_guard<std::mutex> lock(store_mu_);
  Result<std::vector<Attempt>> runs = store_->ListAttempts(sub.task_id);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) {
    Result<Task> task = store_->GetTask(sub.task_id);
    if (!task.ok()) return task.status();
    sub.may_run = task->status == TaskStatus::kNew || task->status == TaskStatus::kRouted ||
                  task->status == TaskStatus::kInProgress;
    return Status::OK();
  }
  sub.runs.clear();
  for (const Attempt& r : *runs) {
    // A custom agent whose output is text is never read as JSON (orch's own config; a
    // project's .orch.yml may differ, which only matters for text that looks like JSON).
    auto agent = runs_config_ ? runs_config_->agents.find(r.agent)
                              : std::map<std::string, AgentConfig>::const_iterator();
    bool text = runs_config_ && agent != runs_config_->agents.end() &&
                agent->second.output_format == OutputFormat::kText;
    sub.runs.push_back({r.run_dir, r.finished_at.has_value(), r.worktree, text});
  }
  if (!sub.watch || sub.watch->dir() != sub.runs.back().dir) {
    sub.watch = watcher_.Watch(sub.runs.back().dir);
  }
  return Status::OK();
}

bool ApiServer::Pump(Subscriber& sub, httplib::DataSink& sink, const ChunkSender& send_chunk,
                     const EndSender& finish) {
  while (!watcher_.stopped()) {
    if (sub.runs.empty()) {
      if (!LoadRuns(sub).ok()) return false;
      if (sub.runs.empty() && !sub.may_run) return finish();
      if (sub.runs.empty()) {  // routed, not started yet: ask again soon
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
    }
    uint64_t seen = sub.watch->generation();  // before reading, so no write slips between
    Result<Chunk> chunk = ReadChunk(sub.runs, sub.offset, kMaxChunk);
    if (!chunk.ok()) {
      spdlog::warn("api: task {}'s stream: {}", sub.task_id, chunk.status().message());
      return false;
    }
    if (!chunk->content.empty()) {
      sub.offset = chunk->end;
      Sent sent = send_chunk(*chunk);
      if (sent == Sent::kNothing) continue;  // e.g. half a line: read on
      return sent == Sent::kSent;
    }
    if (chunk->at_end) return finish();
    if (sub.watch->Wait(seen, kRecheck)) continue;
    if (watcher_.stopped()) break;
    // Quiet: the store may know of a run that ended without exit.json, or a newer attempt.
    if (!LoadRuns(sub).ok()) return false;
    if (clock_.Monotonic() - sub.last_write >= options_.keepalive) {
      static const char kKeepalive[] = ": keep-alive\n\n";
      sub.last_write = clock_.Monotonic();
      return sink.write(kKeepalive, sizeof kKeepalive - 1);
    }
  }
  return false;
}

}  // namespace orch
