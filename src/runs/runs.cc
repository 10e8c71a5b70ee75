#include "runs/runs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "agents/prompt.h"
#include "agents/router.h"
#include "base/secret_scan.h"
#include "base/subprocess.h"
#include "engine/breaker.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kShipped = "(shipped)";

std::vector<std::string> ShippedFlowDirs() {
  std::vector<std::string> dirs;
  std::string exe = ExecutablePath();
  if (!exe.empty()) dirs.push_back(fs::path(exe).parent_path().string() + "/../share/orch/flows");
#ifdef ORCH_SOURCE_FLOWS
  dirs.push_back(ORCH_SOURCE_FLOWS);
#endif
  return dirs;
}

std::vector<std::string> YamlFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yml" || ext == ".yaml")) found.push_back(e.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// The text between the limits, cut with a marker saying how much was left out.
std::string Truncate(const std::string& text, size_t budget) {
  if (text.size() <= budget) return text;
  return text.substr(0, budget) + "\n[... truncated: " + std::to_string(text.size() - budget) +
         " of " + std::to_string(text.size()) + " characters not shown ...]";
}

Result<RunRecord> Create(Store& store, RunRecord run, const Flow& flow,
                         std::vector<RunStepRecord> extra = {}) {
  run.definition = FlowToJson(flow).dump();
  std::vector<RunStepRecord> steps;
  for (const FlowStep& s : flow.steps) {
    steps.push_back({.step_id = s.id, .kind = s.kind, .agent = s.agent});
  }
  for (RunStepRecord& s : extra) steps.push_back(std::move(s));
  return store.CreateRun(run, steps);
}

// A debug run's agents: the ones asked for (or runs.debug.agents), each of which must be able to
// run, else those of router.agents that can.
Result<std::vector<std::string>> DebugAgents(const Config& config,
                                             const std::vector<std::string>& asked,
                                             const AgentRunCheck& check) {
  bool from_config = asked.empty() && !config.runs.debug_agents.empty();
  const std::vector<std::string>& named = asked.empty() ? config.runs.debug_agents : asked;
  for (const std::string& a : named) {
    if (std::string why = check(a); !why.empty()) {
      return Status::InvalidArgument(
          std::string(from_config ? "runs.debug.agents: " : "") + "agent \"" + a + "\"", why);
    }
  }
  if (!named.empty()) return named;
  if (config.router.agents.empty()) return Status::InvalidArgument("debug run", "no agents to run");
  std::vector<std::string> usable;
  std::string why_not;
  for (const std::string& a : config.router.agents) {
    std::string why = check(a);
    if (why.empty()) {
      usable.push_back(a);
    } else {
      why_not += (why_not.empty() ? "" : "; ") + a + " " + why;
    }
  }
  if (usable.empty()) {
    return Status::InvalidArgument("debug run", "none of router.agents can run: " + why_not);
  }
  return usable;
}

// What would make a flow fail after its agents had worked, found before it starts.
Status CheckFlowCanRun(const Flow& flow, const Project& project, const Config& project_config,
                       const AgentRunCheck& check) {
  for (const FlowStep& s : flow.steps) {
    std::string where = "flow " + flow.name + ": step " + s.id;
    if (s.kind == StepKind::kCode) {
      bool tests =
          std::find(s.command.begin(), s.command.end(), kTestCommandArg) != s.command.end();
      if (tests && project_config.workflow.test_command.empty()) {
        return Status::InvalidArgument(
            where + " runs " + kTestCommandArg,
            "workflow.test_command is not set for project " + project.name +
                " (set it in the project's .orch.yml, e.g. `workflow: {test_command: [make, "
                "test]}`, or in config.yml)");
      }
    } else if (!s.agent.empty()) {
      if (std::string why = check(s.agent); !why.empty()) {
        return Status::InvalidArgument(where + ": agent \"" + s.agent + "\"", why);
      }
    }
  }
  return Status::OK();
}

}  // namespace

AgentRunCheck MakeAgentCheck(const Config& config, Store& store, const Clock& clock) {
  return [&config, &store, &clock,
          installed = PathAgentInstalled(config)](const std::string& name) -> std::string {
    auto it = config.agents.find(name);
    if (!IsBuiltinAgent(name) && it == config.agents.end()) {
      return "is not configured (not a built-in agent, and not under agents: in config.yml)";
    }
    if (!installed(name)) {
      std::string command =
          it != config.agents.end() && !it->second.command.empty() ? it->second.command : name;
      return "is not installed (no executable " + command +
             (command.find('/') == std::string::npos ? " in PATH)" : ")");
    }
    Breakers breakers(store, config.router, clock);
    if (!breakers.Available(name)) {
      return "cannot run now: its circuit breaker is " + breakers.Describe(name);
    }
    return "";
  };
}

AgentChoice ChooseAgent(const std::string& wanted, const std::string& setting, const Config& config,
                        const AgentRunCheck& check, const std::string& avoid) {
  std::string why = check(wanted);
  if (why.empty()) return {.agent = wanted};
  for (const std::string& a : config.router.agents) {
    if (a == wanted || a == avoid || !check(a).empty()) continue;
    return {.agent = a, .note = setting + " " + wanted + " " + why + "; " + a + " takes its place"};
  }
  return {.agent = wanted,
          .note = setting + " " + wanted + " " + why + ", and no other of router.agents can run"};
}

std::vector<FlowFile> FindFlowFiles(const std::string& orch_home,
                                    const std::vector<Project>& projects) {
  std::vector<FlowFile> files;
  for (const std::string& f : YamlFiles(orch_home + "/flows")) files.push_back({f, ""});
  for (const Project& p : projects) {
    for (const std::string& f : YamlFiles(p.path + "/flows")) files.push_back({f, p.name});
  }
  for (const std::string& dir : ShippedFlowDirs()) {
    std::vector<std::string> found = YamlFiles(dir);
    if (found.empty()) continue;
    for (const std::string& f : found) files.push_back({f, kShipped});
    break;  // the installed copy, else the source tree's: not both
  }
  return files;
}

Result<Flow> LoadFlow(const std::string& path, const Config& config) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path, "cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseFlow(text.str(), path, [&config](const std::string& agent) {
    return IsBuiltinAgent(agent) || config.agents.count(agent) > 0;
  });
}

Result<Flow> FindFlow(const std::string& name, const std::string& orch_home, const Project& project,
                      const Config& config) {
  std::vector<FlowFile> files = FindFlowFiles(orch_home, {project});
  // The project's own first, then $ORCH_HOME's, then shipped.
  std::stable_sort(files.begin(), files.end(), [&](const FlowFile& a, const FlowFile& b) {
    auto rank = [&](const FlowFile& f) {
      return f.project == project.name ? 0 : f.project.empty() ? 1 : 2;
    };
    return rank(a) < rank(b);
  });
  std::string looked;
  for (const FlowFile& f : files) {
    Result<Flow> flow = LoadFlow(f.path, config);
    if (flow.ok() && flow->name == name) return flow;
    if (!flow.ok() && fs::path(f.path).stem() == name) return flow.status();
    looked += (looked.empty() ? "" : ", ") + f.path;
  }
  return Status::NotFound("flow \"" + name + "\"",
                          looked.empty() ? "no flow files (orch flow list)" : "not in " + looked);
}

Result<RunRecord> CreateDebugRun(Store& store, const Config& config, const DebugRequest& r,
                                 const AgentRunCheck& check) {
  Result<std::vector<std::string>> chosen = DebugAgents(config, r.agents, check);
  if (!chosen.ok()) return chosen.status();
  const std::vector<std::string>& agents = *chosen;
  Flow flow{.name = "debug"};
  std::map<std::string, int> seen;
  for (const std::string& a : agents) {
    int n = ++seen[a];
    flow.steps.push_back({.id = n == 1 ? a : a + "-" + std::to_string(n),
                          .agent = a,
                          .prompt = "Find the cause of this problem and fix it in your work tree. "
                                    "Say what you found, what you changed and how sure you "
                                    "are.\n\n" +
                                    r.title + "\n\n" + r.body});
  }
  json input = {{"title", r.title}, {"body", r.body}, {"agents", agents}};
  return Create(store,
                {.kind = RunKind::kDebug,
                 .project_id = r.project.id,
                 .source_task_id = r.source_task_id,
                 .issue = r.issue,
                 .input = input.dump()},
                flow);
}

Result<RunRecord> CreatePlanRun(Store& store, const Config& config, const PlanRequest& r) {
  std::vector<Project> repos;
  if (config.plan.repos) {
    for (const std::string& name : *config.plan.repos) {
      Result<Project> p = store.FindProject(name);
      if (!p.ok())
        return Status::InvalidArgument("plan.repos: \"" + name + "\"", p.status().message());
      repos.push_back(*p);
    }
  } else if (fs::exists(r.project.path)) {
    repos.push_back(r.project);
  }
  if (repos.empty()) {
    return Status::InvalidArgument("plan mode requires at least one repository",
                                   "set plan.repos in the project's .orch.yml");
  }
  Flow flow{.name = "plan"};
  for (const Project& p : repos) {
    FlowStep step{.id = p.name,
                  .role = "planner",
                  .prompt = "Plan this goal for the repository " + p.name +
                            ". Do not change any file: read the code and write a plan of the "
                            "changes this repository needs, step by step, with the files.\n\n"
                            "Goal: " +
                            r.goal,
                  .read_only = true,
                  .project = p.name};
    // Sequential: one session at a time, and one child's failure does not stop the next.
    if (config.plan.sequential) step.writes = {"*"};
    flow.steps.push_back(std::move(step));
  }
  json input = {{"goal", r.goal}, {"mode", config.plan.sequential ? "sequential" : "parallel"}};
  return Create(store,
                {.kind = RunKind::kPlan,
                 .project_id = r.project.id,
                 .source_task_id = r.source_task_id,
                 .issue = r.issue,
                 .input = input.dump()},
                flow);
}

Result<RunRecord> CreateFlowRun(Store& store, const Flow& flow, const Project& project,
                                const Config& project_config, const AgentRunCheck& check,
                                const std::string& input_json, std::optional<std::string> issue) {
  json input = json::parse(input_json, nullptr, false);
  if (input.is_discarded()) return Status::InvalidArgument("flow input", "is not JSON");
  ORCH_RETURN_IF_ERROR(CheckFlowCanRun(flow, project, project_config, check));
  return Create(store,
                {.kind = RunKind::kFlow,
                 .project_id = project.id,
                 .issue = std::move(issue),
                 .flow_name = flow.name,
                 .input = input.dump()},
                flow);
}

Result<std::optional<RunRecord>> FindIssueRun(Store& store, int64_t project_id,
                                              const std::string& issue, const std::string& kind) {
  Result<std::vector<RunRecord>> runs = store.ListRunRecords(project_id);
  if (!runs.ok()) return runs.status();
  for (const RunRecord& r : *runs) {
    if (r.issue == issue && RunKindName(r.kind) == kind) return std::optional<RunRecord>(r);
  }
  return std::optional<RunRecord>();
}

Status CheckStepTaskRestartable(Store& store, const Task& task) {
  if (!task.run_id) return Status::OK();
  Result<RunRecord> run = store.GetRun(*task.run_id);
  if (!run.ok()) return run.status().IsNotFound() ? Status::OK() : run.status();
  Result<std::vector<RunStepRecord>> steps = store.ListRunSteps(run->id);
  if (!steps.ok()) return steps.status();
  std::string run_name = "run " + std::to_string(run->id);
  for (const RunStepRecord& s : *steps) {
    if (s.task_id != task.id) continue;
    if (run->status == RunStatus::kRunning && s.status == StepState::kRunning) return Status::OK();
    return Status::Conflict(
        "task " + std::to_string(task.id) + " is step " + s.step_id + " of " + run_name,
        std::string("the step is ") + StepStateName(s.status) + " and the run " +
            (run->status == RunStatus::kRunning ? "has gone on without it"
                                                : std::string("is ") + RunStatusName(run->status)) +
            ", so another attempt would feed nothing back; start a new run instead (`orch run "
            "show " +
            std::to_string(run->id) + "`)");
  }
  return Status::OK();
}

Status CancelRun(Store& store, int64_t run_id, const std::function<void(const Task&)>& kill) {
  Result<std::vector<RunStepRecord>> steps = store.ListRunSteps(run_id);
  if (!steps.ok()) return steps.status();
  ORCH_RETURN_IF_ERROR(store.FinishRunRecord(run_id, RunStatus::kCancelled, "Cancelled.\n"));
  std::vector<RunStepRecord> changed;
  for (RunStepRecord s : *steps) {
    if (s.status != StepState::kPending && s.status != StepState::kRunning) continue;
    if (s.status == StepState::kRunning && s.task_id) {
      Result<Task> t = store.GetTask(*s.task_id);
      if (t.ok() && t->status == TaskStatus::kInProgress) {
        kill(*t);  // the dispatcher then sends it to needs_review
      } else if (t.ok() && (t->status == TaskStatus::kNew || t->status == TaskStatus::kRouted)) {
        // Not started: it never will be.
        Status moved = store.Transition(t->id, t->status, TaskStatus::kDone,
                                        {"cli", "run " + std::to_string(run_id) + " cancelled"});
        if (!moved.ok() && !moved.IsConflict()) return moved;
      }
    }
    s.status = StepState::kSkipped;
    s.output += (s.output.empty() ? "" : "\n") + std::string("cancelled");
    changed.push_back(s);
  }
  return store.UpdateRunSteps(changed);
}

std::string InputText(const RunRecord& run) {
  json input = json::parse(run.input, nullptr, false);
  if (input.is_string()) return input.get<std::string>();
  if (input.is_object() && input.contains("text") && input["text"].is_string()) {
    return input["text"].get<std::string>();
  }
  return input.is_discarded() ? std::string() : input.dump(2);
}

std::string AnswerPrompt(const RunRecord& run, const std::string& step_id,
                         const std::string& question, const std::vector<RunStepRecord>& steps,
                         int total_budget) {
  size_t each = static_cast<size_t>(total_budget) / std::max<size_t>(steps.size(), 1);
  std::ostringstream p;
  p << "You are the orchestrator of " << RunKindName(run.kind) << " run " << run.id << ". Its step "
    << step_id << " stopped to ask a question. Answer it from the run's context below (its "
    << "input and the other steps' outputs so far), in `summary`, with status done. When the "
       "context does not hold the answer, say status needs_input and why in `reason`: the "
       "question then goes to a person.\n\n## The question\n\n"
    << question << "\n\n## The run's input\n\n"
    << InputText(run) << "\n\n";
  for (const RunStepRecord& s : steps) {
    if (s.step_id == step_id) continue;
    p << "## Step " << s.step_id << " (" << StepStateName(s.status) << ")\n\n"
      << Truncate(s.output, each) << "\n\n";
  }
  return p.str();
}

std::string OrchestratorPrompt(const RunRecord& run, const std::vector<RunStepRecord>& sessions,
                               int session_budget, int total_budget) {
  json input = json::parse(run.input, nullptr, false);
  size_t each = static_cast<size_t>(session_budget);
  if (!sessions.empty()) {
    each = std::min(each, static_cast<size_t>(total_budget) / sessions.size());
  }
  std::ostringstream p;
  p << "You are the orchestrator of debug run " << run.id << ". " << sessions.size()
    << " agent session(s) worked on the same problem, each in its own work tree. Compare what "
       "they found, say which cause and fix are right (or what is still unknown), and write the "
       "report a maintainer should read. Failed sessions are listed too.\n\n";
  if (input.is_object()) {
    p << "## The problem\n\n"
      << input.value("title", "") << "\n\n"
      << input.value("body", "") << "\n\n";
  }
  for (const RunStepRecord& s : sessions) {
    p << "## Session " << s.step_id << " (agent " << s.agent << "): " << StepStateName(s.status)
      << "\n\n"
      << Truncate(s.output, each) << "\n\n";
  }
  return p.str();
}

json RunJson(const RunRecord& run, const std::vector<RunStepRecord>& steps) {
  json j = {{"id", run.id},
            {"kind", RunKindName(run.kind)},
            {"status", RunStatusName(run.status)},
            {"project_id", run.project_id},
            {"flow_name", run.flow_name},
            {"input", json::parse(run.input, nullptr, false)},
            {"report", run.report},
            {"created_at", run.created_at},
            {"updated_at", run.updated_at}};
  j["source_task_id"] = run.source_task_id ? json(*run.source_task_id) : json(nullptr);
  j["issue"] = run.issue ? json(*run.issue) : json(nullptr);
  j["orchestrated_at"] = run.orchestrated_at ? json(*run.orchestrated_at) : json(nullptr);
  j["finished_at"] = run.finished_at ? json(*run.finished_at) : json(nullptr);
  Result<Flow> flow = FlowFromJson(json::parse(run.definition, nullptr, false));
  json rows = json::array();
  for (const RunStepRecord& s : steps) {
    const FlowStep* def = flow.ok() ? flow->Find(s.step_id) : nullptr;
    json row = {{"step_id", s.step_id},
                {"kind", s.kind == StepKind::kCode ? "code" : "agent"},
                {"agent", s.agent},
                {"status", StepStateName(s.status)},
                {"output", s.output},
                {"attempt", s.attempt},
                {"cycle", s.cycle},
                {"label", def && !def->project.empty()     ? "plan for " + def->project
                          : s.step_id == kOrchestratorStep ? std::string("orchestrator")
                                                           : s.step_id}};
    if (def) row["needs"] = def->needs;
    if (def && !def->project.empty()) row["project"] = def->project;
    row["task_id"] = s.task_id ? json(*s.task_id) : json(nullptr);
    row["started_at"] = s.started_at ? json(*s.started_at) : json(nullptr);
    row["finished_at"] = s.finished_at ? json(*s.finished_at) : json(nullptr);
    rows.push_back(row);
  }
  j["steps"] = rows;
  return j;
}

}  // namespace orch
