// The command line: one table of commands (kCommands in cli.cc), each a small class that
// declares its flags and runs against a Context. RunCli() is the dispatcher and the one place
// exceptions stop; everything below it returns Status.
//
// Exit codes: 0 ok; 1 runtime failure; 2 usage or config error. Errors go to stderr as
// "orch: <what>: <why>"; listings take --json.
// Thread safety: a Context belongs to one invocation on one thread.
#ifndef ORCH_CLI_CLI_H_
#define ORCH_CLI_CLI_H_

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agents/git.h"
#include "base/clock.h"
#include "base/home.h"
#include "base/status.h"
#include "base/time_format.h"
#include "config/config.h"
#include "config/projects.h"
#include "store/store.h"

namespace CLI {
class App;
}

namespace orch {

// What a command works with. The store is opened, and ORCH_HOME created, on first use.
class Context {
 public:
  Context(std::ostream& out, std::ostream& err, EnvLookup env, const Clock& clock, Git& git)
      : out(out), err(err), env(std::move(env)), clock(clock), git(git) {}

  std::ostream& out;
  std::ostream& err;
  const EnvLookup env;
  const Clock& clock;
  Git& git;

  Result<Home> home();
  Result<Store*> store();
  // Global config merged with `project`'s .orch.yml when a project is given.
  Result<Config> config(const Project* project = nullptr);
  // Looks a project up by name or id; with no name, the only registered project.
  Result<Project> project(const std::optional<std::string>& name);
  // The project registry over this invocation's store, git and global config.
  Result<ProjectRegistry> registry();
  // "cli:<user>", recorded on the events this invocation causes.
  std::string actor() const;

 private:
  std::optional<Home> home_;
  std::unique_ptr<Store> store_;
};

class Command {
 public:
  virtual ~Command() = default;
  // Declares flags and positionals on the command's CLI11 app.
  virtual void Define(CLI::App& app) = 0;
  virtual Status Run(Context& ctx) = 0;
};

struct CommandRow {
  const char* group;  // "" for top-level commands
  const char* name;
  const char* help;
  std::unique_ptr<Command> (*make)();
};

// Runs `orch` with argv; returns the exit code.
int RunCli(int argc, const char* const* argv, Context& ctx);

// Which agent CLIs can run (orch agents, orch doctor): the built-in three and agents.<name>.
struct AgentCheck {
  std::string name;
  std::string command;
  bool installed = false;
  std::string version;
  bool usable = false;
  std::string problem;  // why not usable
};
std::vector<AgentCheck> CheckAgents(const Config& config, const EnvLookup& env);

// Shared output helpers (times are written with FormatUnixTime, base/time_format.h).
// A positive id given on the command line; InvalidArgument `<what> "<s>": <hint>` otherwise.
Result<int64_t> ParseId(const std::string& s, const std::string& what = "task id",
                        const std::string& hint = "expected a positive number");

// Factories for the rows of kCommands, defined in the cli_*.cc files.
std::unique_ptr<Command> MakeVersionCommand();
std::unique_ptr<Command> MakeInitCommand();
std::unique_ptr<Command> MakeConfigValidateCommand();
std::unique_ptr<Command> MakeConfigShowCommand();
std::unique_ptr<Command> MakeProjectAddCommand();
std::unique_ptr<Command> MakeProjectListCommand();
std::unique_ptr<Command> MakeProjectRemoveCommand();
std::unique_ptr<Command> MakeTaskAddCommand();
std::unique_ptr<Command> MakeTaskListCommand();
std::unique_ptr<Command> MakeTaskShowCommand();
std::unique_ptr<Command> MakeTaskLogCommand();
std::unique_ptr<Command> MakeTaskRetryCommand();
std::unique_ptr<Command> MakeTaskAnswerCommand();
std::unique_ptr<Command> MakeTaskUnblockCommand();
std::unique_ptr<Command> MakeLogCommand();
std::unique_ptr<Command> MakeWebhookStatsCommand();
std::unique_ptr<Command> MakeWebhookDeliveriesCommand();
std::unique_ptr<Command> MakeWebhookRedeliverCommand();
std::unique_ptr<Command> MakeServeCommand();
std::unique_ptr<Command> MakeDashboardCommand();
std::unique_ptr<Command> MakeTaskRunCommand();
std::unique_ptr<Command> MakeTaskAttachCommand();
std::unique_ptr<Command> MakeTaskKillCommand();
std::unique_ptr<Command> MakeRouteCommand();
std::unique_ptr<Command> MakeAgentsCommand();
std::unique_ptr<Command> MakeStatusCommand();
std::unique_ptr<Command> MakeDoctorCommand();
std::unique_ptr<Command> MakeServiceInstallCommand();
std::unique_ptr<Command> MakeServiceUninstallCommand();
std::unique_ptr<Command> MakeServiceStartCommand();
std::unique_ptr<Command> MakeServiceStopCommand();
std::unique_ptr<Command> MakeServiceRestartCommand();
std::unique_ptr<Command> MakeServiceStatusCommand();
std::unique_ptr<Command> MakeJobListCommand();
std::unique_ptr<Command> MakeJobAddCommand();
std::unique_ptr<Command> MakeJobRemoveCommand();
std::unique_ptr<Command> MakeJobEnableCommand();
std::unique_ptr<Command> MakeJobDisableCommand();
std::unique_ptr<Command> MakeJobRunCommand();
std::unique_ptr<Command> MakeStreamCommand();
std::unique_ptr<Command> MakeFlowListCommand();
std::unique_ptr<Command> MakeFlowValidateCommand();
std::unique_ptr<Command> MakeFlowRunCommand();
std::unique_ptr<Command> MakeRunListCommand();
std::unique_ptr<Command> MakeRunShowCommand();
std::unique_ptr<Command> MakeRunCancelCommand();
std::unique_ptr<Command> MakeRunOrchestrateCommand();
std::unique_ptr<Command> MakeRunDebugCommand();
std::unique_ptr<Command> MakeRunPlanCommand();
std::unique_ptr<Command> MakeDemoStartCommand();
std::unique_ptr<Command> MakeDemoLabelCommand();
std::unique_ptr<Command> MakeDemoReviewCommand();

}  // namespace orch

#endif  // ORCH_CLI_CLI_H_
