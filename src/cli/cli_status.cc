// `orch status`: is the daemon up, since when, in which webhook mode, and what is it doing.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "agents/tmux.h"
#include "base/subprocess.h"
#include "cli/cli.h"
#include "engine/cluster.h"
#include "engine/daemon.h"
#include "engine/engine.h"

namespace orch {
namespace {

std::string Duration(int64_t s) {
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

// The running daemon's pid ("?" when its lock names none), or nullopt when no daemon runs. The
// daemon holds the pid lock while it runs: failing to take it means it is up.
Result<std::optional<std::string>> DaemonPid(const Home& home) {
  Result<PidLock> lock = PidLock::Acquire(home.pid_path());
  if (lock.status().IsConflict()) {
    std::string m = lock.status().message();
    size_t at = m.find("(pid ");
    return std::optional<std::string>(
        at == std::string::npos ? "?" : m.substr(at + 5, m.find(')', at) - at - 5));
  }
  if (!lock.ok()) return lock.status();
  return std::optional<std::string>();
}

// How many tasks are in each status, by the status's name.
Result<nlohmann::json> CountTasks(Store& store) {
  nlohmann::json by_status = nlohmann::json::object();
  for (TaskStatus s : kAllTaskStatuses) {
    Result<std::vector<Task>> tasks = store.ListTasks({.status = s});
    if (!tasks.ok()) return tasks.status();
    by_status[TaskStatusName(s)] = tasks->size();
  }
  return by_status;
}

// The runs not yet finished, each with whether its tmux session still exists (null for another
// host's: its tmux is not this machine's).
Result<nlohmann::json> LiveSessions(Store& store, const EnvLookup& env, const std::string& me) {
  Result<std::vector<Attempt>> runs = store.UnfinishedAttempts();
  if (!runs.ok()) return runs.status();
  PosixProcessRunner processes;
  Tmux tmux(processes, TmuxSocketName(env));
  Result<std::vector<std::string>> sessions = tmux.ListSessions();
  nlohmann::json live = nlohmann::json::array();
  for (const Attempt& r : *runs) {
    bool alive = false;
    if (sessions.ok()) {
      for (const auto& s : *sessions) alive = alive || s == r.tmux_session;
    }
    bool here = r.host.empty() || r.host == me;
    live.push_back({{"task_id", r.task_id},
                    {"agent", r.agent},
                    {"session", r.tmux_session},
                    {"host", r.host},
                    {"alive", here ? nlohmann::json(alive) : nlohmann::json()},
                    {"started_at", FormatUnixTime(r.started_at, TimeFormat::kIso8601)}});
  }
  return live;
}

// The hosts of a fleet sharing this store (cluster.h): empty on one machine.
Result<nlohmann::json> Hosts(Store& store, int64_t now) {
  Result<std::vector<HostRecord>> hosts = store.ListHosts();
  if (!hosts.ok()) return hosts.status();
  Result<std::string> leader = Cluster::CurrentLeader(store, now);
  if (!leader.ok()) return leader.status();
  nlohmann::json out = nlohmann::json::array();
  for (const HostRecord& h : *hosts) {
    out.push_back({{"id", h.id},
                   {"version", h.version},
                   {"heartbeat_at", FormatUnixTime(h.heartbeat_at, TimeFormat::kIso8601)},
                   {"heartbeat_age_seconds", now - h.heartbeat_at},
                   {"running", h.running},
                   {"max_parallel", h.max_parallel},
                   {"leases", h.leases},
                   {"leader", h.id == *leader}});
  }
  return out;
}

void PrintHosts(const nlohmann::json& hosts, std::ostream& out) {
  if (hosts.empty()) return;
  out << "hosts: " << hosts.size() << "\n";
  for (const auto& h : hosts) {
    out << "  " << h["id"].get<std::string>() << (h["leader"].get<bool>() ? " (leader)" : "")
        << ": heartbeat " << Duration(h["heartbeat_age_seconds"].get<int64_t>()) << " ago, "
        << h["running"].get<int>() << " of " << h["max_parallel"].get<int>() << " agents, "
        << h["leases"].get<int>() << " lease(s), " << h["version"].get<std::string>() << "\n";
  }
}

// The text form of `status` (the --json object); `pid` as DaemonPid gave it.
void PrintStatus(const nlohmann::json& status, const std::optional<std::string>& pid,
                 std::ostream& out) {
  if (pid) {
    out << "orch is running (pid " << *pid << ")";
    if (!status["version"].get<std::string>().empty()) {
      out << ", " << status["version"].get<std::string>();
    }
    if (!status["uptime_seconds"].is_null()) {
      out << ", up " << Duration(status["uptime_seconds"].get<int64_t>());
    }
    out << "\n";
  } else {
    out << "orch is not running (start it with orch serve, or orch service start)\n";
  }
  out << "webhooks: " << status["webhook_mode"].get<std::string>() << "; deliveries failed "
      << "in 24h: " << status["failed_deliveries_24h"].get<int64_t>()
      << ", pending: " << status["pending_deliveries"].get<int64_t>() << "\n";
  if (status.contains("webhook_mode_reason")) {
    out << "  why: " << status["webhook_mode_reason"].get<std::string>() << "\n";
  }
  out << "tasks:";
  for (TaskStatus s : kAllTaskStatuses) {
    out << " " << TaskStatusName(s) << " " << status["tasks"].at(TaskStatusName(s)).get<size_t>();
  }
  out << "\n";
  PrintHosts(status["hosts"], out);
  const nlohmann::json& live = status["live_sessions"];
  out << "agents running: " << live.size() << "\n";
  for (const auto& l : live) {
    std::string host = l.value("host", "");
    out << "  task " << l["task_id"].get<int64_t>() << ": " << l["agent"].get<std::string>()
        << " in " << l["session"].get<std::string>() << (host.empty() ? "" : " on " + host)
        << (l["alive"].is_null() || l["alive"].get<bool>()
                ? ""
                : " (session gone; reaped on the next tick)")
        << "\n";
  }
}

class StatusCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    nlohmann::json out;
    Result<std::optional<std::string>> running = DaemonPid(*home);
    if (!running.ok()) return running.status();
    std::optional<std::string> pid = std::move(running).value();
    Result<Store*> store = ctx.store();
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
    std::string why = kv(Engine::kModeReasonKey);  // why polling fallback, when it is
    if (!why.empty()) out["webhook_mode_reason"] = why;
    std::string last_tick = kv(Engine::kHeartbeatKey);
    out["last_tick"] =
        last_tick.empty()
            ? nlohmann::json()
            : nlohmann::json(FormatUnixTime(std::atoll(last_tick.c_str()), TimeFormat::kIso8601));
    Result<nlohmann::json> tasks = CountTasks(**store);
    if (!tasks.ok()) return tasks.status();
    out["tasks"] = *tasks;
    Result<Config> config = ctx.config();
    std::string me = config.ok() ? HostId(config->cluster.host_id) : HostId("");
    Result<nlohmann::json> live = LiveSessions(**store, ctx.env, me);
    if (!live.ok()) return live.status();
    out["live_sessions"] = *live;
    Result<nlohmann::json> hosts = Hosts(**store, ctx.clock.NowUnix());
    if (!hosts.ok()) return hosts.status();
    out["hosts"] = *hosts;
    Result<WebhookStats> stats = (*store)->GetWebhookStats(ctx.clock.NowUnix() - 86400);
    if (!stats.ok()) return stats.status();
    out["failed_deliveries_24h"] = stats->failed;
    out["pending_deliveries"] = stats->pending;
    if (json_) {
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    PrintStatus(out, pid, ctx.out);
    return Status::OK();
  }

 private:
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeStatusCommand() { return std::make_unique<StatusCommand>(); }

}  // namespace orch
