// `orch serve` (the daemon) and `orch log`.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <ostream>
#include <thread>

#include "agents/agent_stack.h"
#include "base/log.h"
#include "base/subprocess.h"
#include "base/work_queue.h"
#include "cli/cli.h"
#include "config/config_loader.h"
#include "engine/cluster.h"
#include "engine/daemon.h"
#include "engine/engine.h"
#include "engine/jobs.h"
#include "github/github_locked.h"
#include "github/github_rest.h"
#include "notify/notify_service.h"
#include "receiver/http_receiver.h"
#include "receiver/inbox_writer.h"
#include "receiver/webhook_server.h"
#include "runs/run_engine.h"
#include "stream/api_server.h"
#include "version.h"

namespace orch {
namespace {

constexpr int kRunWorkers = 2;  // code steps (test commands) and flow publishing at once

// Waits for SIGINT/SIGTERM on its own thread (they are blocked everywhere else). The first asks
// the daemon to stop; a second exits at once.
void StartSignalThread(Daemon& daemon) {
  std::thread([&daemon] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    bool stopping = false;
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (stopping) {
        spdlog::warn("second signal ({}), exiting now", strsignal(sig));
        spdlog::default_logger()->flush();
        _exit(130);
      }
      stopping = true;
      spdlog::info("{} received, stopping (send again to exit at once)", strsignal(sig));
      daemon.RequestStop();
    }
  }).detach();
}

// Re-reads config.yml and jobs.yml for the scheduler when either file changed since last asked.
// A file that no longer parses is reported once and the jobs already loaded stay.
JobScheduler::Loader JobsReloader(const Home& home, EnvLookup env, Git& git) {
  auto stamp = [home] {
    std::error_code ec;
    std::string s;
    for (const std::string& path : {home.config_path(), home.jobs_path()}) {
      auto t = std::filesystem::last_write_time(path, ec);
      // In nanoseconds: libc++'s file_time_type counts in __int128, which to_string does not take.
      s += ec ? "-"
              : std::to_string(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
                        .count());
      s += ",";
    }
    return s;
  };
  return [home, env, &git, stamp,
          seen = stamp()]() mutable -> std::optional<std::vector<JobConfig>> {
    std::string now = stamp();
    if (now == seen) return std::nullopt;
    seen = now;
    Result<Config> config = LoadConfig(home, env, git, nullptr);
    if (!config.ok()) {
      spdlog::warn("jobs: configuration changed but does not parse, keeping the jobs loaded: {}",
                   config.status().message());
      return std::nullopt;
    }
    spdlog::info("jobs: configuration changed, {} job(s) loaded", config->jobs.size());
    return config->jobs;
  };
}

// Reads every project's .orch.yml once at start, so a file that does not parse is reported
// now (config_set.h logs it) rather than at the project's first event.
void CheckProjectConfigs(Store& store, const ConfigSet& configs) {
  Result<std::vector<Project>> projects = store.ListProjects();
  if (!projects.ok()) return;
  for (const Project& p : *projects) (void)configs.For(p);
}

// GETs `url` and expects 200: the receiver (or the tunnel in front of it) is up.
Status ProbeHealth(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  httplib::Client client(url.substr(0, path));
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  httplib::Result r = client.Get(path == std::string::npos ? "/" : url.substr(path));
  if (!r) return Status::Unavailable(url, httplib::to_string(r.error()));
  if (r->status != 200) return Status::Unavailable(url, "HTTP " + std::to_string(r->status));
  return Status::OK();
}

// The daemon's pid lock, held for as long as it runs.
Result<PidLock> LockDaemon(const Home& home) {
  Result<PidLock> lock = PidLock::Acquire(home.pid_path());
  if (lock.status().IsConflict()) {
    // Another daemon is running: the user's to deal with, so exit 2.
    return Status::InvalidArgument(lock.status().message());
  }
  return lock;
}

// Logs the start and, for `orch status`, records who runs and since when.
void RecordStart(Store& store, const Clock& clock, const Home& home) {
  spdlog::info("orch {} ({}) starting, pid {}", ORCH_VERSION, ORCH_GIT_DESCRIBE, getpid());
  (void)store.SetKv("daemon.started_at", std::to_string(clock.NowUnix()));
  (void)store.SetKv("daemon.version", std::string(ORCH_VERSION) + " (" + ORCH_GIT_DESCRIBE + ")");
  spdlog::info("store: {}", store.path());
  spdlog::info("log: {}", home.log_path());
}

// The GitHub client for the configured credentials, or null when none are configured (the
// daemon then stores webhooks without applying them); broken credentials are an error.
Result<std::unique_ptr<RestGitHubClient>> MakeGitHubClient(const GitHubConfig& config,
                                                           const EnvLookup& env,
                                                           ProcessRunner& runner,
                                                           const Clock& clock) {
  Result<std::unique_ptr<RestGitHubClient>> made =
      RestGitHubClient::Make(config, env, runner, clock);
  if (made.ok()) {
    spdlog::info("github: {} with credentials from {}", config.api_url,
                 (*made)->tokens().Describe());
    return made;
  }
  if (made.status().IsUsageError() && made.status().message().rfind("no GitHub", 0) == 0) {
    spdlog::warn("github: {}; webhooks are stored but not applied until credentials are set",
                 made.status().message());
    return std::unique_ptr<RestGitHubClient>();
  }
  return made.status();
}

// The webhook receiver and what it writes through: its own store connections, so the
// engine's stays on the daemon's thread. Declared in the order they are built, so that the
// server is destroyed first.
struct WebhookReceiver {
  std::unique_ptr<Store> inbox_store;
  std::unique_ptr<InboxWriter> inbox;
  std::unique_ptr<WebhookServer> server;
};

// With a PostgreSQL store, this host's part in the fleet that shares it (cluster.h): its host id
// on the store, leases, the leader lease. Null with SQLite: one machine, which does everything.
std::unique_ptr<Cluster> JoinFleet(Store& store, const Config& config) {
  if (!store.postgres()) return nullptr;
  store.SetHost(HostId(config.cluster.host_id), config.cluster.lease_ttl);
  spdlog::info("cluster: host {} on {}, leases of {}s", store.host(), store.path(),
               config.cluster.lease_ttl.count());
  return std::make_unique<Cluster>(store, ORCH_VERSION, config.engine.max_parallel);
}

// Opens the receiver's store connections and starts it listening; `wake` runs for each
// delivery stored.
Status StartReceiver(const Home& home, const WebhookConfig& config, const Clock& clock,
                     std::function<void()> wake, WebhookReceiver* receiver) {
  // A service manager's soft descriptor limit (1024 under systemd, 256 under launchd) would cap
  // the receiver's connections; the hard limit is ours to take (http_receiver.h).
  RaiseOpenFileLimit();
  Result<std::unique_ptr<Store>> s = Store::Open(home.store(), clock);
  if (!s.ok()) return s.status();
  receiver->inbox_store = std::move(s).value();
  if (Status keys = receiver->inbox_store->LoadInboxKeys(); !keys.ok()) return keys;
  Result<std::unique_ptr<Store>> checkpointer = Store::Open(home.store(), clock);
  if (!checkpointer.ok()) return checkpointer.status();
  receiver->inbox =
      std::make_unique<InboxWriter>(*receiver->inbox_store, std::move(checkpointer).value());
  Result<std::optional<int64_t>> last = receiver->inbox_store->LastWebhookAt();
  WebhookServerOptions opts{.bind = config.bind,
                            .port = config.port,
                            .secret = config.secret,
                            .max_payload_bytes = config.max_payload_bytes,
                            .last_webhook_at = last.ok() ? *last : std::nullopt};
  receiver->server =
      std::make_unique<WebhookServer>(opts, *receiver->inbox, clock, std::move(wake));
  return receiver->server->Start();
}

// How the engine checks that webhooks still arrive: GET webhook.health_url (default the
// receiver's own /health at `url`). None when webhooks are off.
HealthProbe WebhookHealthProbe(const WebhookConfig& webhook, const std::string& url) {
  if (!webhook.enabled) return {};
  std::string health_url = webhook.health_url.empty() ? url + "/health" : webhook.health_url;
  return [health_url] { return ProbeHealth(health_url); };
}

// Orchestrated runs' parts: a run's project's settings (runs.*, workflow.test_command) come
// from the same ConfigSet as the dispatcher's, read when the run needs them; engine.* from the
// global config. Their work trees are the agents'.
RunEngineParts RunParts(const ConfigSet& configs, Store& store, const Clock& clock,
                        ProcessRunner& runner, WorkQueue& work, AgentStack& agents,
                        std::function<void()> wake) {
  const Config& config = configs.global();
  return {
      .store = store,
      .config = config,
      .clock = clock,
      .processes = runner,
      .work = work,
      .files = agents.files,
      .project_config = [configs](const Project& p) -> Result<Config> { return *configs.For(p); },
      .worktree_of =
          [&agents](const std::string& project, const std::string& branch) {
            return agents.runner.WorktreePath(project, branch);
          },
      .agent_check = MakeAgentCheck(config, store, clock),
      .publisher = &agents.publisher,
      .wake = std::move(wake)};
}

class ServeCommand : public Command {
 public:
  void Define(CLI::App&) override {}
  // Takes the daemon's lock, log and store, then serves until a stop signal.
  Status Run(Context& ctx) override {
    BlockStopSignals();
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    UseStoreUrl(*home, *config);  // the receiver, the API and the notifier open their own
    Result<PidLock> lock = LockDaemon(*home);
    if (!lock.ok()) return lock.status();
    // The log goes to the rotated file, and to stderr too unless a service manager that keeps
    // stderr in an unrotated file of its own (launchd, brew services) says ORCH_LOG_STDERR=0.
    ORCH_RETURN_IF_ERROR(
        InitLogging(home->log_path(), ctx.env("ORCH_LOG_STDERR").value_or("1") != "0"));
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    RecordStart(**store, ctx.clock, *home);
    // Each project's .orch.yml is read when a decision about it is made (config_set.h).
    Result<ConfigSet> configs = LoadConfigSet(*home, ctx.env, ctx.git, [db = *store](int64_t id) {
      return db->FindProject(std::to_string(id));
    });
    if (!configs.ok()) return configs.status();
    CheckProjectConfigs(**store, *configs);

    PosixProcessRunner runner;
    Result<std::unique_ptr<RestGitHubClient>> github =
        MakeGitHubClient(config->github, ctx.env, runner, ctx.clock);
    if (!github.ok()) return github.status();
    return Serve(ctx, *home, *configs, **store, runner, github->get());
  }

 private:
  // The daemon's wiring: the engine, the agents, jobs, runs, the API, the webhook receiver and
  // the chat channels, built in this order; runs the daemon until it stops. `github` is null
  // without credentials.
  static Status Serve(Context& ctx, const Home& home, const ConfigSet& configs, Store& store,
                      ProcessRunner& runner, RestGitHubClient* github) {
    const Config& config = configs.global();
    std::string url = "http://" + config.webhook.bind + ":" + std::to_string(config.webhook.port);
    HealthProbe probe = WebhookHealthProbe(config.webhook, url);
    // The engine's thread and the dispatcher's workers share one client, one call at a time.
    std::unique_ptr<LockedGitHubClient> shared_github;
    if (github) shared_github = std::make_unique<LockedGitHubClient>(*github);
    Engine engine(store, configs, ctx.clock, shared_github.get(), probe);
    Daemon daemon(engine, config.engine.tick_interval);
    std::unique_ptr<Cluster> cluster = JoinFleet(store, config);
    engine.set_cluster(cluster.get());

    // Agents: router, runner (work trees + tmux) and the dispatcher that drives them.
    AgentStack agents(home, configs, ctx.env, store, ctx.clock, runner, github, shared_github.get(),
                      [&daemon] { daemon.Wake(); });
    RunWatcher watcher([&daemon] { daemon.Wake(); });
    agents.dispatcher.on_run_started = [&watcher](const std::string& dir) { watcher.Watch(dir); };
    spdlog::info(
        "capture: agents' output in {}/runs/<task>/<attempt>/output.log, exits seen "
        "through inotify",
        home.root);
    Status adopted = agents.dispatcher.Adopt();
    if (!adopted.ok()) spdlog::warn("dispatch: adopting sessions: {}", adopted.message());
    engine.set_dispatcher(&agents.dispatcher);
    JobScheduler jobs(store, config.jobs, ctx.clock, runner, home.root);
    jobs.set_loader(JobsReloader(home, ctx.env, ctx.git));
    engine.set_jobs(&jobs);
    // Their code steps, publishing and reports run on a queue of their own (a test command may
    // take minutes; it must not hold up the agents' jobs).
    WorkQueue run_work(kRunWorkers, [&daemon] { daemon.Wake(); });
    RunEngine runs(RunParts(configs, store, ctx.clock, runner, run_work, agents,
                            [&daemon] { daemon.Wake(); }));
    engine.set_runs(&runs);
    spdlog::info("jobs: {} job(s) configured (orch job list)", config.jobs.size());
    spdlog::info("agents: tmux -L {} (attach: orch task attach ID), at most {} at once",
                 agents.tmux.socket(), config.engine.max_parallel);

    ApiServer api(home, config.api, ctx.clock);  // `orch stream`; agents run without it
    api.set_runs(
        &config, [&daemon] { daemon.Wake(); },
        [&](const Project& p) { return LoadConfig(home, ctx.env, ctx.git, &p); });
    if (Status s = api.Start(); !s.ok()) {
      spdlog::warn("api: {}; orch stream cannot connect", s.message());
    }

    WebhookReceiver receiver;
    if (config.webhook.enabled) {
      ORCH_RETURN_IF_ERROR(StartReceiver(
          home, config.webhook, ctx.clock, [&daemon] { daemon.Wake(); }, &receiver));
      spdlog::info("webhook: listening on {}/webhook (signatures checked; health at {}/health)",
                   url, url);
    } else {
      spdlog::info("webhook: disabled; polling GitHub every {}s",
                   config.engine.sync_interval.count());
    }
    spdlog::info("engine: ticking every {}s", config.engine.tick_interval.count());
    Result<std::unique_ptr<NotifyService>> notify =  // chat channels, on their own threads
        NotifyService::Start(
            home.store(), config, ctx.clock, [&daemon] { daemon.Wake(); },
            [&cluster] { return !cluster || cluster->leader(); });
    if (!notify.ok()) return notify.status();
    // The dashboard sends a run's report through the channels while they run: cleared before
    // they stop (waiting for a send in progress).
    struct ShareWhileNotifying {
      ApiServer& api;
      ~ShareWhileNotifying() { api.set_share(nullptr); }
    } share{api};
    if (*notify) {
      api.set_share(
          [service = notify->get()](const std::string& text) { return service->Share(text); });
    }
    StartSignalThread(daemon);
    int ticks = daemon.Run();
    if (receiver.server) receiver.server->Stop();  // in-flight deliveries finish and commit first
    spdlog::info("stopped after {} tick(s)", ticks);
    spdlog::default_logger()->flush();
    return Status::OK();
  }
};

class LogCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("lines", lines_, "How many of the last lines to print")
        ->check(CLI::PositiveNumber);
    app.add_flag("--follow,-f", follow_, "Keep printing lines as they are written");
  }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<std::vector<std::string>> lines = TailLines(home->log_path(), lines_);
    if (!lines.ok() && !follow_) return lines.status();
    if (lines.ok()) {
      for (const auto& l : *lines) ctx.out << l << "\n";
    }
    ctx.out.flush();
    if (!follow_) return Status::OK();
    std::error_code ec;
    uint64_t size = std::filesystem::exists(home->log_path(), ec)
                        ? std::filesystem::file_size(home->log_path(), ec)
                        : 0;
    std::atomic<bool> stop{false};  // ends with the process (Ctrl-C)
    FollowFile(home->log_path(), size, 200, stop, [&](std::string_view chunk) {
      ctx.out << chunk;
      ctx.out.flush();
    });
    return Status::OK();
  }

 private:
  size_t lines_ = 50;
  bool follow_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeServeCommand() { return std::make_unique<ServeCommand>(); }
std::unique_ptr<Command> MakeLogCommand() { return std::make_unique<LogCommand>(); }

}  // namespace orch
