// `orch run list | show | cancel | orchestrate | debug | plan` and `orch flow run`: orchestrated
// runs (runs.h). These commands write the store; `orch serve` starts and follows the steps.
#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "agents/runner.h"
#include "agents/tmux.h"
#include "base/subprocess.h"
#include "cli/cli.h"
#include "config/config_loader.h"
#include "runs/runs.h"

namespace orch {
namespace {

using json = nlohmann::json;

Result<int64_t> ParseRunId(const std::string& s) {
  return ParseId(s, "run", "expected a run id (orch run list)");
}

void PrintCreated(Context& ctx, const RunRecord& run, bool as_json) {
  if (as_json) {
    ctx.out << json({{"id", run.id}, {"kind", RunKindName(run.kind)}}).dump() << "\n";
    return;
  }
  ctx.out << RunKindName(run.kind) << " run " << run.id
          << " created; orch serve starts its steps (orch run show " << run.id << ")\n";
}

class RunListCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("-p,--project", project_, "Only this project's runs");
    app.add_flag("--json", json_, "Print JSON");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    std::optional<int64_t> project_id;
    if (project_) {
      Result<Project> p = (*store)->FindProject(*project_);
      if (!p.ok()) return p.status();
      project_id = p->id;
    }
    Result<std::vector<RunRecord>> runs = (*store)->ListRunRecords(project_id);
    if (!runs.ok()) return runs.status();
    json out = json::array();
    for (const RunRecord& r : *runs) {
      Result<std::vector<RunStepRecord>> steps = (*store)->ListRunSteps(r.id);
      if (!steps.ok()) return steps.status();
      json j = RunJson(r, *steps);
      j.erase("report");
      out.push_back(j);
    }
    if (json_) {
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    if (out.empty()) ctx.out << "no runs (orch run debug, orch run plan, orch flow run)\n";
    for (const json& r : out) {
      int done = 0;
      for (const json& s : r["steps"]) done += s["status"] != "pending" && s["status"] != "running";
      ctx.out << r["id"] << "  " << r["kind"].get<std::string>() << "  "
              << r["status"].get<std::string>() << "  " << done << "/" << r["steps"].size()
              << " step(s) ended"
              << (r["flow_name"].get<std::string>().empty()
                      ? ""
                      : "  " + r["flow_name"].get<std::string>())
              << (r["issue"].is_null() ? "" : "  #" + r["issue"].get<std::string>()) << "\n";
    }
    return Status::OK();
  }

 private:
  std::optional<std::string> project_;
  bool json_ = false;
};

class RunShowCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("run", run_, "The run's id")->required();
    app.add_flag("--json", json_, "Print JSON");
  }
  Status Run(Context& ctx) override {
    Result<int64_t> id = ParseRunId(run_);
    if (!id.ok()) return id.status();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<RunRecord> run = (*store)->GetRun(*id);
    if (!run.ok()) return run.status();
    Result<std::vector<RunStepRecord>> steps = (*store)->ListRunSteps(*id);
    if (!steps.ok()) return steps.status();
    json j = RunJson(*run, *steps);
    if (json_) {
      ctx.out << j.dump(2) << "\n";
      return Status::OK();
    }
    Result<Project> project = (*store)->FindProject(std::to_string(run->project_id));
    ctx.out << RunKindName(run->kind) << " run " << run->id << ": " << RunStatusName(run->status)
            << "  project " << (project.ok() ? project->name : "?")
            << (run->flow_name.empty() ? "" : "  flow " + run->flow_name)
            << (run->issue ? "  issue #" + *run->issue : "") << "\n";
    // The hierarchy: the run, then each step (a plan's children, a debug run's sessions and
    // its orchestrator, a flow's steps) with its task.
    for (const json& s : j["steps"]) {
      ctx.out << "  \u2514 " << s["label"].get<std::string>() << "  "
              << s["status"].get<std::string>();
      if (!s["agent"].get<std::string>().empty()) ctx.out << "  " << s["agent"].get<std::string>();
      if (!s["task_id"].is_null()) ctx.out << "  task " << s["task_id"];
      if (s["cycle"].get<int>() > 0) ctx.out << "  cycle " << s["cycle"];
      ctx.out << "\n";
    }
    if (!run->report.empty()) ctx.out << "\n" << run->report;
    return Status::OK();
  }

 private:
  std::string run_;
  bool json_ = false;
};

class RunCancelCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_option("run", run_, "The run's id")->required(); }
  Status Run(Context& ctx) override {
    Result<int64_t> id = ParseRunId(run_);
    if (!id.ok()) return id.status();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    PosixProcessRunner processes;
    Tmux tmux(processes, TmuxSocketName(ctx.env));
    int killed = 0;
    ORCH_RETURN_IF_ERROR(CancelRun(**store, *id, [&](const Task& t) {
      Result<std::vector<Attempt>> runs = (*store)->ListAttempts(t.id);
      if (!runs.ok() || runs->empty() || runs->back().finished_at) return;
      // As `orch task kill`: the marker says a person stopped it.
      std::ofstream(runs->back().run_dir + "/" + kKilledMarker) << ctx.actor() << "\n";
      if (tmux.KillSession(runs->back().tmux_session).ok()) ++killed;
    }));
    ctx.out << "run " << *id << " cancelled; " << killed << " agent(s) stopped\n";
    return Status::OK();
  }

 private:
  std::string run_;
};

class RunOrchestrateCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("run", run_, "The debug run's id")->required();
  }
  Status Run(Context& ctx) override {
    Result<int64_t> id = ParseRunId(run_);
    if (!id.ok()) return id.status();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<RunRecord> run = (*store)->GetRun(*id);
    if (!run.ok()) return run.status();
    Result<Project> project = (*store)->FindProject(std::to_string(run->project_id));
    if (!project.ok()) return project.status();
    Result<Config> config = ctx.config(&*project);  // its runs.orchestrator_agent
    if (!config.ok()) return config.status();
    if (run->kind != RunKind::kDebug) {
      return Status::InvalidArgument("run " + run_, "is not a debug run");
    }
    Result<std::vector<RunStepRecord>> steps = (*store)->ListRunSteps(*id);
    if (!steps.ok()) return steps.status();
    int open = 0;
    for (const RunStepRecord& s : *steps) {
      open += s.status == StepState::kPending || s.status == StepState::kRunning;
    }
    if (open > 0) {
      return Status::Conflict("run " + run_, std::to_string(open) +
                                                 " session(s) have not ended; the orchestrator "
                                                 "runs once all have");
    }
    AgentChoice choice = ChooseAgent(config->runs.orchestrator_agent, "runs.orchestrator_agent",
                                     *config, MakeAgentCheck(*config, **store, ctx.clock));
    Result<bool> claimed =
        (*store)->ClaimOrchestration(*id, {.step_id = kOrchestratorStep, .agent = choice.agent});
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) {
      return Status::Conflict("run " + run_, "was orchestrated already, or has ended");
    }
    if (!choice.note.empty()) ctx.err << "orch: " << choice.note << "\n";
    ctx.out << "run " << *id << ": the orchestrator (" << choice.agent
            << ") starts with orch serve's next tick\n";
    return Status::OK();
  }

 private:
  std::string run_;
};

class RunDebugCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("target", target_, "A task id, or an issue as #N")->required();
    app.add_option("--agents", agents_,
                   "Agents, one session each (default: runs.debug.agents, "
                   "else router.agents)")
        ->delimiter(',');
    app.add_option("-p,--project", project_, "The issue's project");
    app.add_flag("--json", json_, "Print the new run as JSON");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    DebugRequest r;
    if (!target_.empty() && target_[0] == '#') {
      Result<Project> project = ctx.project(project_);
      if (!project.ok()) return project.status();
      r.project = *project;
      r.issue = target_.substr(1);
      Result<std::vector<Task>> tasks =
          (*store)->ListTasks({.project_id = project->id, .external_id = *r.issue});
      if (tasks.ok() && !tasks->empty()) {
        r.source_task_id = tasks->front().id;
        r.title = tasks->front().title;
        r.body = tasks->front().body;
      } else {
        r.title = "GitHub issue #" + *r.issue;
        r.body = "Read the issue on GitHub: orch has no task for it.";
      }
    } else {
      Result<int64_t> id = ParseId(target_, "target", "expected a task id or #N");
      if (!id.ok()) return id.status();
      Result<Task> task = (*store)->GetTask(*id);
      if (!task.ok()) return task.status();
      Result<Project> project = (*store)->FindProject(std::to_string(task->project_id));
      if (!project.ok()) return project.status();
      r.project = *project;
      r.source_task_id = task->id;
      r.title = task->title;
      r.body = task->body;
      if (IssueNumber(*task)) r.issue = task->external_id;
    }
    r.agents = agents_;
    // The project's settings, as the orch:debug label would use (runs.*, router.agents).
    Result<Config> config = ctx.config(&r.project);
    if (!config.ok()) return config.status();
    Result<RunRecord> run =
        CreateDebugRun(**store, *config, r, MakeAgentCheck(*config, **store, ctx.clock));
    if (!run.ok()) return run.status();
    PrintCreated(ctx, *run, json_);
    return Status::OK();
  }

 private:
  std::string target_;
  std::vector<std::string> agents_;
  std::optional<std::string> project_;
  bool json_ = false;
};

class RunPlanCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("goal", goal_, "What to plan")->required();
    app.add_option("-p,--project", project_, "The project (its plan.repos)");
    app.add_flag("--json", json_, "Print the new run as JSON");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<Project> project = ctx.project(project_);
    if (!project.ok()) return project.status();
    Result<Config> config = ctx.config(&*project);
    if (!config.ok()) return config.status();
    Result<RunRecord> run = CreatePlanRun(**store, *config, {.project = *project, .goal = goal_});
    if (!run.ok()) return run.status();
    PrintCreated(ctx, *run, json_);
    return Status::OK();
  }

 private:
  std::string goal_;
  std::optional<std::string> project_;
  bool json_ = false;
};

class FlowRunCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("name", name_, "The flow's name (orch flow list)")->required();
    app.add_option("--input", input_, "The flow's input: JSON, or plain text ({{input}})");
    app.add_option("--model", model_, "The model of its agent steps (default: model_map)");
    app.add_option("-p,--project", project_, "The project it runs in");
    app.add_flag("--json", json_, "Print the new run as JSON");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<Project> project = ctx.project(project_);
    if (!project.ok()) return project.status();
    Result<Config> config = ctx.config(&*project);
    if (!config.ok()) return config.status();
    Result<Flow> flow = FindFlow(name_, home->root, *project, *config);
    if (!flow.ok()) return flow.status();
    flow->model = model_;
    // Plain text is the input as a string; JSON stays JSON.
    json input = json::parse(input_, nullptr, false);
    if (input.is_discarded() || input_.empty()) input = input_;
    Result<RunRecord> run =
        CreateFlowRun(**store, *flow, *project, *config,
                      MakeAgentCheck(*config, **store, ctx.clock), input.dump());
    if (!run.ok()) return run.status();
    PrintCreated(ctx, *run, json_);
    return Status::OK();
  }

 private:
  std::string name_;
  std::string input_;
  std::string model_;
  std::optional<std::string> project_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeRunListCommand() { return std::make_unique<RunListCommand>(); }
std::unique_ptr<Command> MakeRunShowCommand() { return std::make_unique<RunShowCommand>(); }
std::unique_ptr<Command> MakeRunCancelCommand() { return std::make_unique<RunCancelCommand>(); }
std::unique_ptr<Command> MakeRunOrchestrateCommand() {
  return std::make_unique<RunOrchestrateCommand>();
}
std::unique_ptr<Command> MakeRunDebugCommand() { return std::make_unique<RunDebugCommand>(); }
std::unique_ptr<Command> MakeRunPlanCommand() { return std::make_unique<RunPlanCommand>(); }
std::unique_ptr<Command> MakeFlowRunCommand() { return std::make_unique<FlowRunCommand>(); }

}  // namespace orch
