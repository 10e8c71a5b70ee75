// `orch status`: is the daemon up, since when, in which webhook mode, and what is it doing.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/engine.h"
#include "base/subprocess.h"
#include "agents/tmux.h"

namespace orch {
namespace {

std::string Duration(int64_t s) {
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

class StatusCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    nlohmann::json out;
    // The daemon holds the pid lock while it runs: failing to take it means it is up.
    std::optional<std::string> pid;
    {
      Result<PidLock> lock = PidLock::Acquire(home->pid_path());
      if (lock.status().IsConflict()) {
        std::string m = lock.status().message();
        size_t at = m.find("(pid ");
        pid = at == std::string::npos ? "?" : m.substr(at + 5, m.find(')', at) - at - 5);
      } else if (!lock.ok()) {
        return lock.status();
      }
    }
    Result<SqliteStore*> store = ctx.store();
    if (!store.ok()) return store.status();
    auto kv = [&](const std::string& key) {
      Result<std::optional<std::string>> v = (*store)->GetKv(key);
      return v.ok() && *v ? **v : std::string();
    };
    out["running"] = pid.has_value();
    out["pid"] = pid ? nlohmann::json(std::atoi(pid->c_str())) : nlohmann::json();
    std::string started = kv("daemon.started_at");
    out["version"] = kv("daemon.version");
    out["uptime_seconds"] = pid && !started.empty()
                                ? nlohmann::json(ctx.clock.NowUnix() - std::atoll(started.c_str()))
                                : nlohmann::json();
    std::string mode = kv(Engine::kModeKey);
    out["webhook_mode"] = mode.empty() ? "unknown" : mode;
    std::string last_tick = kv(Engine::kHeartbeatKey);
    out["last_tick"] =
        last_tick.empty()
            ? nlohmann::json()
            : nlohmann::json(FormatUnixTime(std::atoll(last_tick.c_str()), TimeFormat::kIso8601));
    nlohmann::json by_status = nlohmann::json::object();
    for (TaskStatus s : kAllTaskStatuses) {
      Result<std::vector<Task>> tasks = (*store)->ListTasks({.status = s});
      if (!tasks.ok()) return tasks.status();
      by_status[TaskStatusName(s)] = tasks->size();
    }
    out["tasks"] = by_status;
    Result<std::vector<TaskRun>> runs = (*store)->UnfinishedRuns();
    if (!runs.ok()) return runs.status();
    PosixProcessRunner processes;
    Tmux tmux(processes, TmuxSocketName(ctx.env));
    Result<std::vector<std::string>> sessions = tmux.ListSessions();
    nlohmann::json live = nlohmann::json::array();
    for (const TaskRun& r : *runs) {
      bool alive = false;
      if (sessions.ok()) {
        for (const auto& s : *sessions) alive = alive || s == r.tmux_session;
      }
      live.push_back({{"task_id", r.task_id}, {"agent", r.agent}, {"session", r.tmux_session},
                      {"alive", alive},
                      {"started_at", FormatUnixTime(r.started_at, TimeFormat::kIso8601)}});
    }
    out["live_sessions"] = live;
    Result<WebhookStats> stats = (*store)->GetWebhookStats(ctx.clock.NowUnix() - 86400);
    if (!stats.ok()) return stats.status();
    out["failed_deliveries_24h"] = stats->failed;
    out["pending_deliveries"] = stats->pending;
    if (json_) {
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    if (pid) {
      ctx.out << "orch is running (pid " << *pid << ")";
      if (!out["version"].get<std::string>().empty()) ctx.out << ", " << out["version"].get<std::string>();
      if (!out["uptime_seconds"].is_null()) {
        ctx.out << ", up " << Duration(out["uptime_seconds"].get<int64_t>());
      }
      ctx.out << "\n";
    } else {
      ctx.out << "orch is not running (start it with orch serve, or orch service start)\n";
    }
    ctx.out << "webhooks: " << out["webhook_mode"].get<std::string>() << "; deliveries failed "
            << "in 24h: " << stats->failed << ", pending: " << stats->pending << "\n";
    ctx.out << "tasks:";
    for (TaskStatus s : kAllTaskStatuses) {
      ctx.out << " " << TaskStatusName(s) << " " << by_status[TaskStatusName(s)].get<size_t>();
    }
    ctx.out << "\n";
    ctx.out << "agents running: " << live.size() << "\n";
    for (const auto& l : live) {
      ctx.out << "  task " << l["task_id"].get<int64_t>() << ": " << l["agent"].get<std::string>()
              << " in " << l["session"].get<std::string>()
              << (l["alive"].get<bool>() ? "" : " (session gone; reaped on the next tick)") << "\n";
    }
    return Status::OK();
  }

 private:
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeStatusCommand() { return std::make_unique<StatusCommand>(); }

}  // namespace orch
