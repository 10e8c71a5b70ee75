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
#include "base/secret_scan.h"
#include "base/subprocess.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kMaxCodeAttempts = 3;  // a code step lost to restarts this often fails
constexpr size_t kMaxCodeOutput = 64 * 1024;
constexpr const char* kOrchestrator = "orchestrator";
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

std::string StepKey(int64_t run, const std::string& step) {
  return std::to_string(run) + "/" + step;
}

// The text between the limits, cut with a marker saying how much was left out.
std::string Truncate(const std::string& text, size_t budget) {
  if (text.size() <= budget) return text;
  return text.substr(0, budget) + "\n[... truncated: " + std::to_string(text.size() - budget) +
         " of " + std::to_string(text.size()) + " characters not shown ...]";
}

Result<RunRecord> Create(SqliteStore& store, RunRecord run, const Flow& flow,
                         std::vector<RunStepRecord> extra = {}) {
  run.definition = FlowToJson(flow).dump();
  std::vector<RunStepRecord> steps;
  for (const FlowStep& s : flow.steps) {
    steps.push_back({.step_id = s.id, .kind = s.kind, .agent = s.agent});
  }
  for (RunStepRecord& s : extra) steps.push_back(std::move(s));
  return store.CreateRun(run, steps);
}

std::string OneLine(const std::string& s) {
  std::string out = s.substr(0, s.find('\n'));
  return out.size() > 80 ? out.substr(0, 77) + "..." : out;
}

// A flow run's input as {{input}} gives it: a string's text, an object's "text", other JSON as
// is.
std::string InputText(const RunRecord& run) {
  json input = json::parse(run.input, nullptr, false);
  if (input.is_string()) return input.get<std::string>();
  if (input.is_object() && input.contains("text") && input["text"].is_string()) {
    return input["text"].get<std::string>();
  }
  return input.is_discarded() ? std::string() : input.dump(2);
}

}  // namespace

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

Result<Flow> FindFlow(const std::string& name, const std::string& orch_home,
                      const Project& project, const Config& config) {
  std::vector<FlowFile> files = FindFlowFiles(orch_home, {project});
  // The project's own first, then $ORCH_HOME's, then shipped.
  std::stable_sort(files.begin(), files.end(), [&](const FlowFile& a, const FlowFile& b) {
    auto rank = [&](const FlowFile& f) { return f.project == project.name ? 0 : f.project.empty() ? 1 : 2; };
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

Result<RunRecord> CreateDebugRun(SqliteStore& store, const Config& config, const DebugRequest& r) {
  std::vector<std::string> agents = r.agents;
  if (agents.empty()) agents = config.runs.debug_agents;
  if (agents.empty()) agents = config.router.agents;
  if (agents.empty()) return Status::InvalidArgument("debug run", "no agents to run");
  Flow flow{.name = "debug"};
  std::map<std::string, int> seen;
  for (const std::string& a : agents) {
    if (!IsBuiltinAgent(a) && config.agents.count(a) == 0) {
      return Status::InvalidArgument("agent \"" + a + "\"", "is not configured");
    }
    int n = ++seen[a];
    flow.steps.push_back({.id = n == 1 ? a : a + "-" + std::to_string(n),
                          .agent = a,
                          .prompt = "Find the cause of this problem and fix it in your work tree. "
                                    "Say what you found, what you changed and how sure you "
                                    "are.\n\n" + r.title + "\n\n" + r.body});
  }
  json input = {{"title", r.title}, {"body", r.body}, {"agents", agents}};
  return Create(store,
                {.kind = RunKind::kDebug, .project_id = r.project.id,
                 .source_task_id = r.source_task_id, .issue = r.issue, .input = input.dump()},
                flow);
}

Result<RunRecord> CreatePlanRun(SqliteStore& store, const Config& config, const PlanRequest& r) {
  std::vector<Project> repos;
  if (config.plan.repos) {
    for (const std::string& name : *config.plan.repos) {
      Result<Project> p = store.FindProject(name);
      if (!p.ok()) return Status::InvalidArgument("plan.repos: \"" + name + "\"", p.status().message());
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
                            "Goal: " + r.goal,
                  .read_only = true,
                  .project = p.name};
    // Sequential: one session at a time, and one child's failure does not stop the next.
    if (config.plan.sequential) step.writes = {"*"};
    flow.steps.push_back(std::move(step));
  }
  json input = {{"goal", r.goal}, {"mode", config.plan.sequential ? "sequential" : "parallel"}};
  return Create(store,
                {.kind = RunKind::kPlan, .project_id = r.project.id,
                 .source_task_id = r.source_task_id, .issue = r.issue, .input = input.dump()},
                flow);
}

Result<RunRecord> CreateFlowRun(SqliteStore& store, const Flow& flow, const Project& project,
                                const std::string& input_json, std::optional<std::string> issue) {
  json input = json::parse(input_json, nullptr, false);
  if (input.is_discarded()) return Status::InvalidArgument("flow input", "is not JSON");
  return Create(store,
                {.kind = RunKind::kFlow, .project_id = project.id, .issue = std::move(issue),
                 .flow_name = flow.name, .input = input.dump()},
                flow);
}

Result<std::optional<RunRecord>> FindIssueRun(SqliteStore& store, int64_t project_id,
                                              const std::string& issue, const std::string& kind) {
  Result<std::vector<RunRecord>> runs = store.ListRunRecords(project_id);
  if (!runs.ok()) return runs.status();
  for (const RunRecord& r : *runs) {
    if (r.issue == issue && RunKindName(r.kind) == kind) return std::optional<RunRecord>(r);
  }
  return std::optional<RunRecord>();
}

Status CheckStepTaskRestartable(SqliteStore& store, const Task& task) {
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
            "show " + std::to_string(run->id) + "`)");
  }
  return Status::OK();
}

Status CancelRun(SqliteStore& store, int64_t run_id, const std::function<void(const Task&)>& kill) {
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
    p << "## The problem\n\n" << input.value("title", "") << "\n\n" << input.value("body", "")
      << "\n\n";
  }
  for (const RunStepRecord& s : sessions) {
    p << "## Session " << s.step_id << " (agent " << s.agent << "): " << StepStateName(s.status)
      << "\n\n" << Truncate(s.output, each) << "\n\n";
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
                {"label", def && !def->project.empty() ? "plan for " + def->project
                          : s.step_id == kOrchestrator ? std::string("orchestrator")
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

RunEngine::RunEngine(SqliteStore& store, const Config& config, const Clock& clock,
                     GitHubClient* github,
                     std::function<Result<Config>(const Project&)> project_config,
                     std::function<std::string(const std::string&, const std::string&)> worktree_of,
                     std::function<void()> wake)
    : store_(store),
      config_(config),
      clock_(clock),
      github_(github),
      project_config_(std::move(project_config)),
      worktree_of_(std::move(worktree_of)),
      wake_(std::move(wake)),
      code_(std::make_shared<CodeShared>()) {
  code_->wake = wake_;
}

RunEngine::~RunEngine() {
  std::lock_guard<std::mutex> l(code_->mu);
  code_->stopped = true;
}

Status RunEngine::Step() {
  // Only running runs: ended ones (with their reports) are not read on every tick.
  Result<std::vector<RunRecord>> runs = store_.ListRunRecords(std::nullopt, RunStatus::kRunning);
  if (!runs.ok()) return runs.status();
  std::vector<CodeResult> done;
  {
    std::lock_guard<std::mutex> l(code_->mu);
    done.swap(code_->done);
  }
  for (const CodeResult& c : done) {
    code_running_.erase(StepKey(c.run_id, c.step_id));
    Result<std::vector<RunStepRecord>> steps = store_.ListRunSteps(c.run_id);
    if (!steps.ok()) continue;
    for (RunStepRecord s : *steps) {
      if (s.step_id != c.step_id || s.status != StepState::kRunning) continue;
      s.status = c.ok ? StepState::kCompleted : StepState::kFailed;
      s.output = c.output;
      s.finished_at = clock_.NowUnix();
      if (Status st = store_.UpdateRunStep(s); !st.ok()) spdlog::error("runs: {}", st.message());
    }
  }
  Status first;
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {  // oldest first
    Status s = Advance(*it);
    if (!s.ok()) {
      spdlog::error("runs: run {}: {}", it->id, s.message());
      if (first.ok()) first = s;
    }
  }
  return first;
}

Result<std::string> RunEngine::StartFromIssue(const Project& project, const std::string& kind,
                                              const std::string& issue, const std::string& title,
                                              const std::string& body) {
  Result<std::optional<RunRecord>> existing = FindIssueRun(store_, project.id, issue, kind);
  if (!existing.ok()) return existing.status();
  if (*existing) return "run " + std::to_string((*existing)->id) + " already exists";
  Result<Config> config = project_config_(project);
  if (!config.ok()) return config.status();
  Result<RunRecord> run = kind == "debug"
                              ? CreateDebugRun(store_, *config,
                                               {.project = project, .issue = issue,
                                                .title = title, .body = body})
                              : CreatePlanRun(store_, *config,
                                              {.project = project,
                                               .goal = title + "\n\n" + body,
                                               .issue = issue});
  if (!run.ok()) {
    if (!run.status().IsUsageError()) return run.status();
    return "ignored: " + run.status().message();  // e.g. no repository to plan in
  }
  spdlog::info("runs: {} #{}: {} run {} started", project.name, issue, kind, run->id);
  if (wake_) wake_();
  return "started " + kind + " run " + std::to_string(run->id);
}

Status RunEngine::Advance(const RunRecord& run) {
  Result<Flow> flow = FlowFromJson(json::parse(run.definition, nullptr, false));
  if (!flow.ok()) return Finish(run, RunStatus::kFailed, "Bad definition: " + flow.status().message());
  Result<std::vector<RunStepRecord>> stored = store_.ListRunSteps(run.id);
  if (!stored.ok()) return stored.status();
  std::map<std::string, RunStepRecord> rows;
  for (const RunStepRecord& s : *stored) rows[s.step_id] = s;

  // Running agent steps end when their tasks do.
  for (auto& [id, row] : rows) {
    if (row.status != StepState::kRunning || row.kind != StepKind::kAgent) continue;
    if (!row.task_id) {
      row.status = StepState::kFailed;
      row.output = "its task was deleted";
    } else {
      Result<Task> task = store_.GetTask(*row.task_id);
      if (!task.ok()) {
        if (!task.status().IsNotFound()) return task.status();
        row.status = StepState::kFailed;
        row.output = "its task " + std::to_string(*row.task_id) + " was deleted";
      } else if (task->status == TaskStatus::kDone || task->status == TaskStatus::kNeedsReview) {
        Result<std::vector<TaskRun>> attempts = store_.ListRuns(task->id);
        std::string out = attempts.ok() && !attempts->empty() ? attempts->back().summary : "";
        if (task->status == TaskStatus::kDone) {
          row.status = StepState::kCompleted;
          row.output = out;
        } else {
          row.status = StepState::kFailed;
          row.output = "failed: " + task->status_reason + (out.empty() ? "" : "\n\n" + out);
        }
        if (attempts.ok() && !attempts->empty()) row.agent = attempts->back().agent;
      } else {
        continue;
      }
    }
    row.finished_at = clock_.NowUnix();
    ORCH_RETURN_IF_ERROR(store_.UpdateRunStep(row));
    spdlog::info("runs: run {} step {}: {}", run.id, id, StepStateName(row.status));
  }

  // A review loop: changes requested send the work back, at most max_cycles times.
  for (const FlowStep& s : flow->steps) {
    if (s.loop_to.empty()) continue;
    RunStepRecord& review = rows[s.id];
    RunStepRecord& target = rows[s.loop_to];
    if (review.status != StepState::kCompleted || !RequestsChanges(review.output)) continue;
    if (target.cycle >= s.max_cycles) continue;  // the report says changes were still asked
    // Everything from the target to the reviewer runs again: the reviewer's ancestors that
    // need the target.
    std::set<std::string> again = {s.loop_to, s.id};
    for (const std::string& a : Ancestors(*flow, s.id)) {
      if (Ancestors(*flow, a).count(s.loop_to)) again.insert(a);
    }
    std::vector<RunStepRecord> reset;
    int cycle = target.cycle + 1;
    for (const std::string& id : again) {
      RunStepRecord r = rows[id];
      r.status = StepState::kPending;
      r.cycle = cycle;
      r.finished_at = std::nullopt;
      reset.push_back(r);
    }
    ORCH_RETURN_IF_ERROR(store_.UpdateRunSteps(reset));
    for (const RunStepRecord& r : reset) rows[r.step_id] = r;
    spdlog::info("runs: run {}: {} asked for changes; {} again (cycle {} of {})", run.id, s.id,
                 s.loop_to, cycle, s.max_cycles);
  }

  FlowSchedule schedule(*flow);
  for (const auto& [id, row] : rows) schedule.Restore(id, row.status);
  std::vector<std::string> skipped = schedule.SkipBlocked();
  if (!skipped.empty()) {
    std::vector<RunStepRecord> changed;
    for (const std::string& id : skipped) {
      RunStepRecord r = rows[id];
      r.status = StepState::kSkipped;
      changed.push_back(r);
      rows[id] = r;
    }
    ORCH_RETURN_IF_ERROR(store_.UpdateRunSteps(changed));
  }

  // Code steps that were running when orch stopped run again, a bounded number of times.
  for (auto& [id, row] : rows) {
    if (row.kind != StepKind::kCode || row.status != StepState::kRunning) continue;
    if (code_running_.count(StepKey(run.id, id))) continue;
    const FlowStep* def = flow->Find(id);
    if (def == nullptr || row.attempt >= kMaxCodeAttempts) {
      row.status = StepState::kFailed;
      row.output = "lost " + std::to_string(row.attempt) + " time(s) when orch stopped";
      row.finished_at = clock_.NowUnix();
      ORCH_RETURN_IF_ERROR(store_.UpdateRunStep(row));
      schedule.Restore(id, StepState::kFailed);
      continue;
    }
    spdlog::info("runs: run {} step {}: was running when orch stopped; running it again", run.id,
                 id);
    StartCodeStep(run, *def, row);
  }

  for (const std::string& id : schedule.NextWave(config_.engine.max_parallel)) {
    const FlowStep* step = flow->Find(id);
    if (step->kind == StepKind::kCode) {
      StartCodeStep(run, *step, rows[id]);
    } else {
      ORCH_RETURN_IF_ERROR(StartAgentStep(run, *flow, *step, rows));
    }
  }

  if (!schedule.Done()) return Status::OK();
  std::map<std::string, std::string> outputs;
  for (const auto& [id, row] : rows) outputs[id] = row.output;

  if (run.kind == RunKind::kDebug) {
    auto orch = rows.find(kOrchestrator);
    if (orch == rows.end()) {
      if (!config_.runs.auto_orchestrate) return Status::OK();  // orch run orchestrate
      Result<bool> claimed = store_.ClaimOrchestration(
          run.id, {.step_id = kOrchestrator, .agent = config_.runs.orchestrator_agent});
      if (!claimed.ok()) return claimed.status();
      return *claimed ? Advance(run) : Status::OK();  // the next pass starts it
    }
    RunStepRecord& o = orch->second;
    if (o.status == StepState::kPending) {
      std::vector<RunStepRecord> sessions;
      for (const FlowStep& s : flow->steps) sessions.push_back(rows[s.id]);
      Result<Project> project = store_.FindProject(std::to_string(run.project_id));
      if (!project.ok()) return project.status();
      NewTask t{.project_id = run.project_id,
                .title = "Debug run " + std::to_string(run.id) + ": orchestrate " +
                         std::to_string(sessions.size()) + " sessions",
                .body = OrchestratorPrompt(run, sessions, config_.runs.session_output_budget,
                                           config_.runs.total_output_budget),
                .labels = {"agent:" + o.agent},
                .run_id = run.id,
                .read_only = true};
      Result<Task> made = store_.StartAgentStep(run.id, kOrchestrator, t,
                                                {"engine", "debug run " + std::to_string(run.id)});
      if (!made.ok() && !made.status().IsConflict()) return made.status();
      if (made.ok()) {
        spdlog::info("runs: run {}: every session ended; the orchestrator ({}) is task {}", run.id,
                     o.agent, made->id);
      }
      return Status::OK();
    }
    if (o.status == StepState::kRunning) return Status::OK();
    std::ostringstream report;
    report << "# Debug run " << run.id << "\n\n";
    for (const FlowStep& s : flow->steps) {
      report << "- " << s.id << " (" << rows[s.id].agent << "): " << StepStateName(rows[s.id].status)
             << "\n";
    }
    report << "\n## Orchestrator (" << o.agent << "): " << StepStateName(o.status) << "\n\n"
           << o.output << "\n";
    return Finish(run,
                  o.status == StepState::kCompleted ? RunStatus::kCompleted : RunStatus::kFailed,
                  report.str());
  }
  if (run.kind == RunKind::kPlan) {
    std::ostringstream report;
    json input = json::parse(run.input, nullptr, false);
    report << "# Plan run " << run.id << ": "
           << (input.is_object() ? OneLine(input.value("goal", "")) : std::string()) << "\n";
    for (const FlowStep& s : flow->steps) {
      const RunStepRecord& r = rows[s.id];
      report << "\n## " << s.project << " (" << r.agent << "): " << StepStateName(r.status)
             << "\n\n" << r.output << "\n";
    }
    return Finish(run, schedule.Succeeded() ? RunStatus::kCompleted : RunStatus::kFailed,
                  report.str());
  }
  std::string report = schedule.Report(outputs);
  bool unresolved = false;  // a review still asks for changes: its pull request is a draft
  for (const FlowStep& s : flow->steps) {
    if (!s.loop_to.empty() && RequestsChanges(rows[s.id].output)) {
      unresolved = true;
      report += "\nNote: " + s.id + " still asked for changes after " +
                std::to_string(rows[s.loop_to].cycle) + " cycle(s).\n";
    }
  }
  std::string branch = "orch/run-" + std::to_string(run.id);
  RunStatus status = schedule.Succeeded() ? RunStatus::kCompleted : RunStatus::kFailed;
  if (status != RunStatus::kCompleted || !flow->pull_request) {
    return Finish(run, status, report + "\nThe work is on branch " + branch + ".\n");
  }
  // Where there is no GitHub to open it on, the run still did its work.
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  if (!project.ok()) return project.status();
  std::string nowhere = !runner_ || !github_ ? "orch has no GitHub credentials (github.token)"
                        : !project->repo     ? "project " + project->name +
                                               " has no GitHub repository"
                                             : "";
  if (!nowhere.empty()) {
    return Finish(run, status,
                  report + "\nNo pull request: " + nowhere + ". The work is on branch " + branch +
                      ".\n");
  }
  Result<std::optional<int64_t>> pr = PublishFlow(run, *project, *flow, report, unresolved);
  if (!pr.ok() && pr.status().IsRetryable()) return pr.status();  // the next tick tries again
  if (!pr.ok()) {
    return Finish(run, RunStatus::kFailed,
                  report + "\nThe pull request could not be opened: " + pr.status().message() +
                      ". The work is on branch " + branch + ".\n");
  }
  if (!*pr) return Finish(run, status, report + "\nNothing was committed: no pull request.\n");
  return Finish(run, status,
                report + "\nPull request #" + std::to_string(**pr) + " (branch " + branch + ").\n");
}

Result<std::optional<int64_t>> RunEngine::PublishFlow(const RunRecord& run, const Project& project,
                                                      const Flow& flow, const std::string& report,
                                                      bool draft) {
  // The branch's work tree, and so the base it remembers (runner.h), came with the first task
  // on it: the lowest id, as tasks are added when their steps start (a review loop's later
  // tasks reuse the tree).
  std::string branch = "orch/run-" + std::to_string(run.id);
  Result<std::vector<Task>> tasks = store_.ListTasks({.project_id = project.id});
  if (!tasks.ok()) return tasks.status();
  std::optional<int64_t> task;
  for (const Task& t : *tasks) {
    if (t.run_id == run.id && t.branch == branch && (!task || t.id < *task)) task = t.id;
  }
  std::string tree = worktree_of_(project.name, branch);
  if (!task || !fs::is_directory(tree)) return std::optional<int64_t>();
  Result<int> ahead = runner_->Ahead(tree, *task);
  if (!ahead.ok()) return ahead.status();
  if (*ahead == 0) return std::optional<int64_t>();
  ORCH_RETURN_IF_ERROR(runner_->Push(project, tree, branch));
  Result<std::vector<PullRequest>> open = github_->ListPullRequests(*project.repo, branch, "open");
  if (!open.ok()) return open.status();
  if (!open->empty()) return std::optional<int64_t>(open->front().number);
  std::string what = OneLine(InputText(run));
  NewPullRequest pr{.title = flow.name + (what.empty() ? "" : ": " + what),
                    .body = RedactSecrets("**orch** flow run " + std::to_string(run.id) + "\n\n" +
                                          report),
                    .head = branch,
                    .base = runner_->Base(*task),
                    .draft = draft};
  Result<PullRequest> made = github_->CreatePullRequest(*project.repo, pr);
  if (!made.ok()) return made.status();
  spdlog::info("runs: run {}: pull request #{}", run.id, made->number);
  return std::optional<int64_t>(made->number);
}

Status RunEngine::StartAgentStep(const RunRecord& run, const Flow& flow, const FlowStep& step,
                                 const std::map<std::string, RunStepRecord>& rows) {
  Result<Project> project = store_.FindProject(
      step.project.empty() ? std::to_string(run.project_id) : step.project);
  if (!project.ok()) return project.status();
  std::string input_text = InputText(run);
  std::map<std::string, std::string> outputs;
  for (const auto& [id, row] : rows) outputs[id] = row.output;
  std::string prompt = run.kind == RunKind::kFlow ? RenderPrompt(step, input_text, outputs)
                                                  : step.prompt;
  // Sent back by a review: what the reviewer asked for.
  for (const FlowStep& s : flow.steps) {
    if (s.loop_to != step.id) continue;
    auto r = rows.find(s.id);
    if (r != rows.end() && r->second.cycle > 0 && !r->second.output.empty()) {
      prompt += "\n\nThe review (" + s.id + ") asked for changes; address them:\n\n" +
                r->second.output;
    }
  }
  std::string agent = step.agent;
  // A reviewer is never the coder: not the agent that ran the step named by not_agent_of.
  std::string avoid;
  if (auto other = rows.find(step.not_agent_of); other != rows.end()) avoid = other->second.agent;
  if (agent.empty() && !step.role.empty()) {
    auto configured = config_.runs.roles.find(step.role);
    if (configured != config_.runs.roles.end() && configured->second != avoid) {
      agent = configured->second;
    }
  }
  if (agent.empty() && !step.not_agent_of.empty()) {
    for (const std::string& a : config_.router.agents) {
      if (a != avoid) {
        agent = a;
        break;
      }
    }
  }
  NewTask t{.project_id = project->id,
            .title = std::string(RunKindName(run.kind)) + " run " + std::to_string(run.id) + ": " +
                     (step.project.empty() ? step.id : "plan for " + step.project),
            .body = prompt,
            .run_id = run.id,
            .read_only = step.read_only};
  if (!agent.empty()) t.labels = {"agent:" + agent};
  if (!flow.model.empty()) t.labels.push_back("model:" + flow.model);
  // A flow's agent steps share one branch, so each sees the work of the ones before it.
  if (run.kind == RunKind::kFlow) t.branch = "orch/run-" + std::to_string(run.id);
  Result<Task> made = store_.StartAgentStep(run.id, step.id, t,
                                            {"engine", std::string(RunKindName(run.kind)) +
                                                           " run " + std::to_string(run.id)});
  if (!made.ok()) return made.status().IsConflict() ? Status::OK() : made.status();
  spdlog::info("runs: run {} step {}: task {}{}", run.id, step.id, made->id,
               agent.empty() ? "" : " (" + agent + ")");
  return Status::OK();
}

void RunEngine::StartCodeStep(const RunRecord& run, const FlowStep& step, const RunStepRecord& row) {
  RunStepRecord r = row;
  r.status = StepState::kRunning;
  r.attempt += 1;
  r.started_at = clock_.NowUnix();
  r.finished_at = std::nullopt;
  r.output.clear();
  if (Status s = store_.UpdateRunStep(r); !s.ok()) {
    spdlog::error("runs: run {} step {}: {}", run.id, step.id, s.message());
    return;
  }
  std::vector<std::string> argv;
  std::string problem;
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  Result<Config> config = project.ok() ? project_config_(*project) : Result<Config>(project.status());
  if (!config.ok()) problem = config.status().message();
  for (const std::string& a : step.command) {
    if (a == "{{test_command}}" && config.ok()) {
      if (config->workflow.test_command.empty()) {
        problem = "workflow.test_command is not set for project " + project->name +
                  " (in its .orch.yml or config.yml)";
      }
      argv.insert(argv.end(), config->workflow.test_command.begin(),
                  config->workflow.test_command.end());
    } else {
      argv.push_back(a);
    }
  }
  std::string cwd;
  if (project.ok()) {
    std::string tree = worktree_of_(project->name, "orch/run-" + std::to_string(run.id));
    cwd = fs::is_directory(tree) ? tree : project->path;
  }
  Seconds timeout = config.ok() ? config->workflow.timeout : config_.workflow.timeout;
  int64_t run_id = run.id;
  std::string step_id = step.id;
  spdlog::info("runs: run {} step {}: running {} in {}", run_id, step_id,
               argv.empty() ? "" : argv[0], cwd);
  code_running_.insert(StepKey(run_id, step_id));
  std::thread([shared = code_, run_id, step_id, argv, cwd, timeout, problem] {
    CodeResult c{run_id, step_id, false, problem};
    if (problem.empty()) {
      PosixProcessRunner processes;
      Result<ProcessResult> r = processes.Run({.argv = argv,
                                               .cwd = cwd,
                                               .timeout = std::chrono::milliseconds(timeout)});
      if (!r.ok()) {
        c.output = r.status().message();
      } else {
        std::string all = r->out + r->err;
        if (all.size() > kMaxCodeOutput) all = "[...]\n" + all.substr(all.size() - kMaxCodeOutput);
        c.ok = r->exit_code == 0;
        c.output = "$ " + argv[0] + " ... (exit " + std::to_string(r->exit_code) +
                   (r->timed_out ? ", timed out" : "") + ")\n" + RedactSecrets(all);
      }
    }
    std::lock_guard<std::mutex> l(shared->mu);
    if (shared->stopped) return;
    shared->done.push_back(std::move(c));
    if (shared->wake) shared->wake();
  }).detach();
}

Status RunEngine::Finish(const RunRecord& run, RunStatus status, const std::string& report) {
  Status s = store_.FinishRunRecord(run.id, status, report);
  if (s.IsConflict()) return Status::OK();  // cancelled meanwhile
  ORCH_RETURN_IF_ERROR(s);
  spdlog::info("runs: run {} ({}) {}", run.id, RunKindName(run.kind), RunStatusName(status));
  if (!github_ || !run.issue || !config_.runs.report_to_comment) return Status::OK();
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  if (!project.ok() || !project->repo) return Status::OK();
  int64_t number = std::atoll(run.issue->c_str());
  Result<Comment> posted = github_->CreateComment(
      *project->repo, number,
      RedactSecrets("**orch** " + std::string(RunKindName(run.kind)) + " run " +
                    std::to_string(run.id) + ": **" + RunStatusName(status) + "**\n\n" + report));
  if (!posted.ok()) spdlog::warn("github: the report of run {}: {}", run.id, posted.status().message());
  return Status::OK();
}

}  // namespace orch
