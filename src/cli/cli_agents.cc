// `orch route` (a dry run of the router) and `orch agents` (which agent CLIs can run).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "agents/agent.h"
#include "agents/router.h"
#include "base/subprocess.h"
#include "cli/cli.h"
#include "engine/breaker.h"

namespace orch {
namespace {

class RouteCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--title", title_, "The task's title")->required();
    app.add_option("--body", body_, "The task's body");
    app.add_option("--label", labels_, "A label (repeatable)");
  }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    PosixProcessRunner processes;
    // No store: a dry run must not move the round-robin position.
    Router router(*config, nullptr, processes, PathAgentInstalled(*config), home->root);
    Task task;
    task.title = title_;
    task.body = body_;
    task.labels = labels_;
    Result<Route> route = router.RouteTask(task);
    if (!route.ok()) return route.status();
    ctx.out << RouteToJson(*route).dump(2) << "\n";
    return Status::OK();
  }

 private:
  std::string title_;
  std::string body_;
  std::vector<std::string> labels_;
};

class AgentsCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    std::vector<AgentCheck> checks = CheckAgents(*config, ctx.env);
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Breakers breakers(**store, config->router, ctx.clock);
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const AgentCheck& a : checks) {
        out.push_back({{"name", a.name},
                       {"command", a.command},
                       {"installed", a.installed},
                       {"version", a.version},
                       {"usable", a.usable},
                       {"problem", a.problem},
                       {"breaker", BreakerStateName(breakers.Get(a.name).state)},
                       {"breaker_detail", breakers.Describe(a.name)}});
      }
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    for (const AgentCheck& a : checks) {
      ctx.out << a.name << ": " << (a.usable ? "usable, " + a.version : "not usable: " + a.problem)
              << "; breaker " << breakers.Describe(a.name) << "\n";
    }
    return Status::OK();
  }

 private:
  bool json_ = false;
};

}  // namespace

std::vector<AgentCheck> CheckAgents(const Config& config, const EnvLookup& env) {
  std::vector<std::string> names = {"claude", "codex", "opencode"};
  for (const auto& [name, _] : config.agents) {
    if (!IsBuiltinAgent(name)) names.push_back(name);
  }
  PosixProcessRunner processes;
  AgentInstalled installed = PathAgentInstalled(config);
  std::vector<AgentCheck> out;
  for (const auto& name : names) {
    AgentCheck a;
    a.name = name;
    Result<std::unique_ptr<AgentAdapter>> adapter = MakeAgentAdapter(name, config, env);
    if (!adapter.ok()) {
      a.problem = adapter.status().message();
      out.push_back(a);
      continue;
    }
    a.command = (*adapter)->command();
    if (!installed(name)) {
      a.problem = a.command + " not found in PATH";
      out.push_back(a);
      continue;
    }
    a.installed = true;
    ProcessOptions opts{.argv = (*adapter)->VersionArgv(), .timeout = std::chrono::seconds(20)};
    Result<ProcessResult> r = processes.Run(opts);
    if (!r.ok()) {
      a.problem = r.status().message();
    } else if (r->exit_code != 0 || r->timed_out) {
      a.problem = "--version " + std::string(r->timed_out ? "timed out" : "failed") + ": " +
                  r->err.substr(0, 200);
    } else {
      a.version = r->out.substr(0, r->out.find('\n'));
      a.usable = true;
    }
    out.push_back(a);
  }
  return out;
}

std::unique_ptr<Command> MakeRouteCommand() { return std::make_unique<RouteCommand>(); }
std::unique_ptr<Command> MakeAgentsCommand() { return std::make_unique<AgentsCommand>(); }

}  // namespace orch
