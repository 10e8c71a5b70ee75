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

#include "cli/cli.h"
#include "agents/agent_stack.h"
#include "stream/api_server.h"
#include "engine/daemon.h"
#include "engine/engine.h"
#include "github/github_locked.h"
#include "github/github_rest.h"
#include "config/config_loader.h"
#include "receiver/inbox_writer.h"
#include "engine/jobs.h"
#include "runs/runs.h"
#include "base/log.h"
#include "notify/notify_service.h"
#include "base/subprocess.h"
#include "version.h"
#include "receiver/webhook_server.h"

namespace orch {
namespace {

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
      s += ec ? "-" : std::to_string(t.time_since_epoch().count());
      s += ",";
    }
    return s;
  };
  return [home, env, &git, stamp, seen = stamp()]() mutable
         -> std::optional<std::vector<JobConfig>> {
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

class ServeCommand : public Command {
 public:
  void Define(CLI::App&) override {}
  Status Run(Context& ctx) override {
    // Block the stop signals before any thread starts, so only the signal thread sees them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    Result<PidLock> lock = PidLock::Acquire(home->pid_path());
    if (lock.status().IsConflict()) {
      // Another daemon is running: the user's to deal with, so exit 2.
      return Status::InvalidArgument(lock.status().message());
    }
    if (!lock.ok()) return lock.status();
    // The log goes to the rotated file, and to stderr too unless a service manager that keeps
    // stderr in an unrotated file of its own (launchd, brew services) says ORCH_LOG_STDERR=0.
    ORCH_RETURN_IF_ERROR(
        InitLogging(home->log_path(), ctx.env("ORCH_LOG_STDERR").value_or("1") != "0"));
    Result<SqliteStore*> store = ctx.store();
    if (!store.ok()) return store.status();

    spdlog::info("orch {} ({}) starting, pid {}", ORCH_VERSION, ORCH_GIT_DESCRIBE, getpid());
    // For `orch status`: who runs and since when.
    (void)(*store)->SetKv("daemon.started_at", std::to_string(ctx.clock.NowUnix()));
    (void)(*store)->SetKv("daemon.version",
                          std::string(ORCH_VERSION) + " (" + ORCH_GIT_DESCRIBE + ")");
    spdlog::info("store: {}", (*store)->path());
    spdlog::info("log: {}", home->log_path());

    PosixProcessRunner runner;
    std::unique_ptr<RestGitHubClient> github;
    Result<std::unique_ptr<RestGitHubClient>> made =
        RestGitHubClient::Make(config->github, ctx.env, runner, ctx.clock);
    if (made.ok()) {
      github = std::move(made).value();
      spdlog::info("github: {} with credentials from {}", config->github.api_url,
                   github->tokens().Describe());
    } else if (made.status().IsUsageError() && made.status().message().rfind("no GitHub", 0) == 0) {
      spdlog::warn("github: {}; webhooks are stored but not applied until credentials are set",
                   made.status().message());
    } else {
      return made.status();
    }

    HealthProbe probe;
    std::string url = "http://" + config->webhook.bind + ":" + std::to_string(config->webhook.port);
    if (config->webhook.enabled) {
      std::string health_url =
          config->webhook.health_url.empty() ? url + "/health" : config->webhook.health_url;
      probe = [health_url] { return ProbeHealth(health_url); };
    }
    // The engine's thread and the dispatcher's workers share one client, one call at a time.
    std::unique_ptr<LockedGitHubClient> shared_github;
    if (github) shared_github = std::make_unique<LockedGitHubClient>(*github);
    Engine engine(**store, *config, ctx.clock, shared_github.get(), probe);
    Daemon daemon(engine, config->engine.tick_interval);

    // Agents: router, runner (work trees + tmux) and the dispatcher that drives them.
    AgentStack agents(*home, *config, ctx.env, **store, ctx.clock, runner, github.get(),
                      shared_github.get(), [&daemon] { daemon.Wake(); });
    RunWatcher watcher([&daemon] { daemon.Wake(); });
    agents.dispatcher.on_run_started = [&watcher](const std::string& dir) { watcher.Watch(dir); };
    spdlog::info(
        "capture: agents' output in {}/runs/<task>/<attempt>/output.log, exits seen "
        "through inotify",
        home->root);
    Status adopted = agents.dispatcher.Adopt();
    if (!adopted.ok()) spdlog::warn("dispatch: adopting sessions: {}", adopted.message());
    engine.set_dispatcher(&agents.dispatcher);
    JobScheduler jobs(**store, config->jobs, ctx.clock, runner, home->root);
    jobs.set_loader(JobsReloader(*home, ctx.env, ctx.git));
    engine.set_jobs(&jobs);
    // Orchestrated runs: each step's project config is read when the step starts (its
    // workflow.test_command), the rest of orch's config once, here.
    RunEngine runs(
        **store, *config, ctx.clock, shared_github.get(),
        [&](const Project& p) { return LoadConfig(*home, ctx.env, ctx.git, &p); },
        [&agents](const std::string& project, const std::string& branch) {
          return agents.runner.WorktreePath(project, branch);
        },
        [&daemon] { daemon.Wake(); });
    runs.set_runner(&agents.runner);
    engine.set_runs(&runs);
    spdlog::info("jobs: {} job(s) configured (orch job list)", config->jobs.size());
    spdlog::info("agents: tmux -L {} (attach: orch task attach ID), at most {} at once",
                 agents.tmux.socket(), config->engine.max_parallel);

    ApiServer api(*home, config->api, ctx.clock);  // `orch stream`; agents run without it
    api.set_runs(&*config, [&daemon] { daemon.Wake(); });
    if (Status s = api.Start(); !s.ok()) {
      spdlog::warn("api: {}; orch stream cannot connect", s.message());
    }

    // The receiver writes through its own connection; the engine's stays on this thread.
    std::unique_ptr<SqliteStore> inbox_store;
    std::unique_ptr<InboxWriter> inbox;
    std::unique_ptr<WebhookServer> receiver;
    if (config->webhook.enabled) {
      Result<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(home->db_path(), ctx.clock);
      if (!s.ok()) return s.status();
      inbox_store = std::move(s).value();
      if (Status keys = inbox_store->LoadInboxKeys(); !keys.ok()) return keys;
      Result<std::unique_ptr<SqliteStore>> checkpointer =
          SqliteStore::Open(home->db_path(), ctx.clock);
      if (!checkpointer.ok()) return checkpointer.status();
      inbox = std::make_unique<InboxWriter>(*inbox_store, std::move(checkpointer).value());
      Result<std::optional<int64_t>> last = inbox_store->LastWebhookAt();
      WebhookServerOptions opts{.bind = config->webhook.bind,
                                .port = config->webhook.port,
                                .secret = config->webhook.secret,
                                .max_payload_bytes = config->webhook.max_payload_bytes,
                                .last_webhook_at = last.ok() ? *last : std::nullopt};
      receiver = std::make_unique<WebhookServer>(opts, *inbox, ctx.clock,
                                                 [&daemon] { daemon.Wake(); });
      ORCH_RETURN_IF_ERROR(receiver->Start());
      spdlog::info("webhook: listening on {}/webhook (signatures checked; health at {}/health)",
                   url, url);
    } else {
      spdlog::info("webhook: disabled; polling GitHub every {}s",
                   config->engine.sync_interval.count());
    }
    spdlog::info("engine: ticking every {}s", config->engine.tick_interval.count());
    Result<std::unique_ptr<NotifyService>> notify =  // chat channels, on their own threads
        NotifyService::Start(home->db_path(), *config, ctx.clock, [&daemon] { daemon.Wake(); });
    if (!notify.ok()) return notify.status();
    StartSignalThread(daemon);
    int ticks = daemon.Run();
    if (receiver) receiver->Stop();  // in-flight deliveries finish and commit first
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
