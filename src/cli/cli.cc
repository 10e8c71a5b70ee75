#include "cli/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <map>

#include "config/config_loader.h"
#include "version.h"

namespace orch {
namespace {

// Every command orch has, one row each. Groups ("task", "project", ...) are made from the rows.
const CommandRow kCommands[] = {
    {"", "version", "Print orch's version", MakeVersionCommand},
    {"", "init", "Register the git checkout here as a project and write its .orch.yml",
     MakeInitCommand},
    {"", "serve", "Run the daemon in the foreground", MakeServeCommand},
    {"", "log", "Print the daemon's log", MakeLogCommand},
    {"", "status", "Is the daemon up; its mode, tasks by status and live agents",
     MakeStatusCommand},
    {"", "doctor", "Check tmux, git, agent CLIs, GitHub, the webhook, ports and disk",
     MakeDoctorCommand},
    {"", "stream", "Print agents' output live: one task's, or every running task's",
     MakeStreamCommand},
    {"", "dashboard", "Print (and on a desktop open) a one-time login URL for the web dashboard",
     MakeDashboardCommand},
    {"config", "validate", "Check configuration files", MakeConfigValidateCommand},
    {"config", "show", "Print the merged configuration, secrets masked", MakeConfigShowCommand},
    {"project", "add", "Register a repository (owner/repo, clone URL or local path)",
     MakeProjectAddCommand},
    {"project", "list", "List registered projects", MakeProjectListCommand},
    {"project", "remove", "Unregister a project and delete its tasks", MakeProjectRemoveCommand},
    {"task", "add", "Add a task", MakeTaskAddCommand},
    {"task", "list", "List tasks", MakeTaskListCommand},
    {"task", "show", "Show one task", MakeTaskShowCommand},
    {"task", "log", "Show a task's history", MakeTaskLogCommand},
    {"task", "retry", "Send a task back to new for another attempt", MakeTaskRetryCommand},
    {"task", "answer", "Answer the question a task's agent asked; it resumes",
     MakeTaskAnswerCommand},
    {"task", "unblock", "Return blocked and needs_review tasks to new, attempts reset",
     MakeTaskUnblockCommand},
    {"task", "run", "Route a task if needed and run its agent in the foreground",
     MakeTaskRunCommand},
    {"task", "attach", "Attach the terminal to the task's agent session (tmux)",
     MakeTaskAttachCommand},
    {"task", "kill", "Kill the task's running agent", MakeTaskKillCommand},
    {"", "route", "Print the route the router would choose for a task (dry run)", MakeRouteCommand},
    {"", "agents", "Which agent CLIs are installed, their versions, and whether usable",
     MakeAgentsCommand},
    {"service", "install", "Install orch as a user service (systemd, or launchd on macOS)",
     MakeServiceInstallCommand},
    {"service", "uninstall", "Stop and remove the user service", MakeServiceUninstallCommand},
    {"service", "start", "Start the service", MakeServiceStartCommand},
    {"service", "stop", "Stop the service (agents keep running)", MakeServiceStopCommand},
    {"service", "restart", "Restart the service (agents are adopted)", MakeServiceRestartCommand},
    {"service", "status", "The service manager's view of orch", MakeServiceStatusCommand},
    {"job", "list", "List scheduled jobs: next run, last run and result", MakeJobListCommand},
    {"job", "add", "Add a scheduled job to $ORCH_HOME/jobs.yml", MakeJobAddCommand},
    {"job", "remove", "Remove a job from $ORCH_HOME/jobs.yml", MakeJobRemoveCommand},
    {"job", "enable", "Switch a job on (kept in the store, not the YAML)", MakeJobEnableCommand},
    {"job", "disable", "Switch a job off (kept in the store, not the YAML)", MakeJobDisableCommand},
    {"job", "run", "Run a job now, whatever its schedule", MakeJobRunCommand},
    {"demo", "start",
     "Run the offline demo: a simulated GitHub, a stand-in agent, orch serving both",
     MakeDemoStartCommand},
    {"demo", "label", "In the demo, label an issue as its maintainer", MakeDemoLabelCommand},
    {"demo", "review", "In the demo, review an issue's pull request", MakeDemoReviewCommand},
    {"flow", "list", "List the flow definitions orch finds", MakeFlowListCommand},
    {"flow", "validate", "Check flow definitions: steps, agents, references, cycles",
     MakeFlowValidateCommand},
    {"flow", "run", "Start a run of a flow", MakeFlowRunCommand},
    {"run", "list", "List orchestrated runs, newest first", MakeRunListCommand},
    {"run", "show", "Show a run: its steps, their tasks and the report", MakeRunShowCommand},
    {"run", "cancel", "Cancel a run and stop its agents", MakeRunCancelCommand},
    {"run", "orchestrate", "Start a debug run's orchestrator once every session has ended",
     MakeRunOrchestrateCommand},
    {"run", "debug", "Run several agents on one task or issue, then one orchestrator",
     MakeRunDebugCommand},
    {"run", "plan", "Plan a goal across the project's repositories, read-only", MakeRunPlanCommand},
    {"webhook", "stats", "Webhook deliveries of the last 24 hours, by outcome and event",
     MakeWebhookStatsCommand},
    {"webhook", "deliveries", "List webhook deliveries, newest first",
     MakeWebhookDeliveriesCommand},
    {"webhook", "redeliver", "Apply a stored delivery again", MakeWebhookRedeliverCommand},
};

const std::map<std::string, const char*> kGroupHelp = {
    {"config", "Check and show configuration"},
    {"project", "Manage the repositories orch works on"},
    {"task", "Add, inspect and steer tasks"},
    {"service", "Run orch as a service that starts at login"},
    {"job", "Scheduled jobs: tasks or commands run on a cron schedule"},
    {"webhook", "Inspect and replay GitHub webhook deliveries"},
    {"flow", "Flows: DAGs of agent and code steps"},
    {"run", "Orchestrated runs: debug (many agents, one orchestrator), plan, flows"},
    {"demo", "The offline demo `make run` starts without GitHub credentials"},
};

int ExitCode(const Status& s) {
  if (s.ok()) return 0;
  return s.IsUsageError() ? 2 : 1;
}

class VersionCommand : public Command {
 public:
  void Define(CLI::App&) override {}
  Status Run(Context& ctx) override {
    ctx.out << "orch " << ORCH_VERSION << " (" << ORCH_GIT_DESCRIBE << ")\n";
    return Status::OK();
  }
};

}  // namespace

std::unique_ptr<Command> MakeVersionCommand() { return std::make_unique<VersionCommand>(); }

Result<int64_t> ParseId(const std::string& s, const std::string& what, const std::string& hint) {
  try {
    size_t used = 0;
    long long id = std::stoll(s, &used);
    if (used == s.size() && id > 0) return static_cast<int64_t>(id);
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument(what + " \"" + s + "\"", hint);
}

Result<Home> Context::home() {
  if (!home_) {
    Result<Home> h = ResolveHome(env);
    if (!h.ok()) return h.status();
    home_ = *h;
  }
  return *home_;
}

Result<Store*> Context::store() {
  if (store_) return store_.get();
  Result<Home> h = home();
  if (!h.ok()) return h.status();
  std::error_code ec;
  std::filesystem::create_directories(h->root, ec);
  if (ec) return Status::IOError(h->root, ec.message());
  if (h->store_url.empty() && std::filesystem::exists(h->config_path(), ec)) {
    // store.url: a config that cannot be read must not silently mean "the SQLite file".
    Result<Config> c = config();
    if (!c.ok()) return c.status();
    UseStoreUrl(*home_, *c);
    h = *home_;
  }
  Result<std::unique_ptr<Store>> s = Store::Open(h->store(), clock);
  if (!s.ok()) return s.status();
  store_ = std::move(s).value();
  return store_.get();
}

Result<Config> Context::config(const Project* project) {
  Result<Home> h = home();
  if (!h.ok()) return h.status();
  return LoadConfig(*h, env, git, project);
}

Result<Project> Context::project(const std::optional<std::string>& name) {
  Result<Store*> s = store();
  if (!s.ok()) return s.status();
  if (name) return (*s)->FindProject(*name);
  Result<std::vector<Project>> all = (*s)->ListProjects();
  if (!all.ok()) return all.status();
  if (all->size() == 1) return all->front();
  return Status::InvalidArgument(
      all->empty() ? "no project registered" : "more than one project registered",
      all->empty() ? "run `orch init` in a checkout or `orch project add`" : "pass --project");
}

Result<ProjectRegistry> Context::registry() {
  Result<Store*> s = store();
  if (!s.ok()) return s.status();
  Result<Config> c = config();
  if (!c.ok()) return c.status();
  return ProjectRegistry(**s, git, *home_, c->github.api_url);
}

std::string Context::actor() const {
  if (auto user = env("USER"); user && !user->empty()) return "cli:" + *user;
  if (passwd* pw = getpwuid(getuid()); pw != nullptr) return std::string("cli:") + pw->pw_name;
  return "cli";
}

int RunCli(int argc, const char* const* argv, Context& ctx) {
  CLI::App app{"orch: turns labelled GitHub issues into pull requests written by AI agents",
               "orch"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  std::map<std::string, CLI::App*> groups;
  std::vector<std::pair<CLI::App*, std::unique_ptr<Command>>> commands;
  for (const CommandRow& row : kCommands) {
    CLI::App* parent = &app;
    if (*row.group != '\0') {
      auto [it, fresh] = groups.try_emplace(row.group, nullptr);
      if (fresh) {
        it->second = app.add_subcommand(row.group, kGroupHelp.at(row.group));
        it->second->require_subcommand(1);
      }
      parent = it->second;
    }
    CLI::App* sub = parent->add_subcommand(row.name, row.help);
    std::unique_ptr<Command> cmd = row.make();
    cmd->Define(*sub);
    commands.emplace_back(sub, std::move(cmd));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::ParseError& e) {
    // "A subcommand is required" hides the word the user typed; name it instead.
    std::vector<std::string> extra = app.remaining(true);
    if (!extra.empty() && extra.front().rfind("-", 0) != 0) {
      ctx.err << "orch: unknown command \"" << extra.front() << "\"";
    } else {
      ctx.err << "orch: " << e.what();
    }
    ctx.err << "\n(run `orch --help` for usage)\n";
    return 2;
  }
  for (auto& [sub, cmd] : commands) {
    if (!sub->parsed()) continue;
    Status s;
    try {
      s = cmd->Run(ctx);
    } catch (const std::exception& e) {
      s = Status::Internal("unexpected error", e.what());
    }
    if (!s.ok()) ctx.err << "orch: " << s.message() << "\n";
    ctx.out.flush();
    return ExitCode(s);
  }
  return 2;
}

}  // namespace orch
