// `orch serve` (the daemon) and `orch log`.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <ostream>
#include <thread>

#include "cli.h"
#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "version.h"

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
    ORCH_RETURN_IF_ERROR(InitLogging(home->log_path(), true));
    Result<SqliteStore*> store = ctx.store();
    if (!store.ok()) return store.status();

    spdlog::info("orch {} ({}) starting, pid {}", ORCH_VERSION, ORCH_GIT_DESCRIBE, getpid());
    spdlog::info("store: {}", (*store)->path());
    spdlog::info("log: {}", home->log_path());
    Engine engine(**store, *config, ctx.clock);
    Daemon daemon(engine, config->engine.tick_interval);
    spdlog::info("engine: ticking every {}s", config->engine.tick_interval.count());
    StartSignalThread(daemon);
    int ticks = daemon.Run();
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
