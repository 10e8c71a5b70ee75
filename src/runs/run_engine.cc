#include "runs/run_engine.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/prompt.h"
#include "base/secret_scan.h"

namespace orch {
namespace {

using json = nlohmann::json;

constexpr int kMaxCodeAttempts = 3;  // a code step lost to restarts this often fails
constexpr size_t kMaxCodeOutput = 64 * 1024;

std::string StepKey(int64_t run, const std::string& step) {
  return std::to_string(run) + "/" + step;
}

std::string OneLine(const std::string& s) {
  std::string out = s.substr(0, s.find('\n'));
  return out.size() > 80 ? out.substr(0, 77) + "..." : out;
}

std::string FlowBranch(int64_t run_id) { return "orch/run-" + std::to_string(run_id); }

// A code step's output: the command, how it ended, and the tail of what it printed.
std::string CodeOutput(const std::string& command, const ProcessResult& r) {
  std::string all = r.out + r.err;
  if (all.size() > kMaxCodeOutput) all = "[...]\n" + all.substr(all.size() - kMaxCodeOutput);
  return "$ " + command + " ... (exit " + std::to_string(r.exit_code) +
         (r.timed_out ? ", timed out" : "") + ")\n" + RedactSecrets(all);
}

// The step's argv with {{test_command}} expanded from the project's config; `problem` says why
// it cannot run (the config does not load, or the test command is not set).
std::vector<std::string> CodeArgv(const FlowStep& step, const Result<Project>& project,
                                  const Result<Config>& config, std::string* problem) {
  std::vector<std::string> argv;
  if (!config.ok()) *problem = config.status().message();
  for (const std::string& a : step.command) {
    if (a != kTestCommandArg || !config.ok()) {
      argv.push_back(a);
      continue;
    }
    if (config->workflow.test_command.empty()) {
      *problem = "workflow.test_command is not set for project " + project->name +
                 " (in its .orch.yml or config.yml)";
    }
    argv.insert(argv.end(), config->workflow.test_command.begin(),
                config->workflow.test_command.end());
  }
  return argv;
}

}  // namespace

RunEngine::RunEngine(RunEngineParts p)
    : store_(p.store),
      config_(p.config),
      clock_(p.clock),
      processes_(p.processes),
      work_(p.work),
      files_(p.files),
      project_config_(std::move(p.project_config)),
      worktree_of_(std::move(p.worktree_of)),
      agent_check_(std::move(p.agent_check)),
      publisher_(p.publisher),
      wake_(std::move(p.wake)) {}

RunEngine::~RunEngine() { work_.Stop(); }

Status RunEngine::Step() {
  work_.ApplyDone();
  // Only running runs: ended ones (with their reports) are not read on every tick.
  Result<std::vector<RunRecord>> runs = store_.ListRunRecords(std::nullopt, RunStatus::kRunning);
  if (!runs.ok()) return runs.status();
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
  Result<RunRecord> run =
      kind == "debug"
          ? CreateDebugRun(store_, *config,
                           {.project = project, .issue = issue, .title = title, .body = body},
                           agent_check_)
          : CreatePlanRun(store_, *config,
                          {.project = project, .goal = title + "\n\n" + body, .issue = issue});
  if (!run.ok()) {
    if (!run.status().IsUsageError()) return run.status();
    return "ignored: " + run.status().message();  // e.g. no repository to plan in
  }
  spdlog::info("runs: {} #{}: {} run {} started", project.name, issue, kind, run->id);
  if (wake_) wake_();
  return "started " + kind + " run " + std::to_string(run->id);
}

Status RunEngine::Advance(const RunRecord& run) {
  if (publishing_.count(run.id)) return Status::OK();  // its pull request is being opened
  Result<Flow> flow = FlowFromJson(json::parse(run.definition, nullptr, false));
  if (!flow.ok())
    return Finish(run, RunStatus::kFailed, "Bad definition: " + flow.status().message());
  Result<std::vector<RunStepRecord>> stored = store_.ListRunSteps(run.id);
  if (!stored.ok()) return stored.status();
  Rows rows;
  for (const RunStepRecord& s : *stored) rows[s.step_id] = s;

  ORCH_RETURN_IF_ERROR(ReadAgentSteps(run, rows));
  ORCH_RETURN_IF_ERROR(LoopReviews(run, *flow, rows));
  FlowSchedule schedule(*flow);
  for (const auto& [id, row] : rows) schedule.Restore(id, row.status);
  ORCH_RETURN_IF_ERROR(SkipBlocked(schedule, rows));
  ORCH_RETURN_IF_ERROR(RestartLostCodeSteps(run, *flow, schedule, rows));
  ORCH_RETURN_IF_ERROR(StartWave(run, *flow, schedule, rows));
  if (!schedule.Done()) return Status::OK();
  switch (run.kind) {
    case RunKind::kDebug:
      return FinishDebug(run, *flow, rows);
    case RunKind::kPlan:
      return FinishPlan(run, *flow, schedule, rows);
    case RunKind::kFlow:
      break;
  }
  return FinishFlow(run, *flow, schedule, rows);
}

Status RunEngine::ReadAgentSteps(const RunRecord& run, Rows& rows) {
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
        Result<std::vector<Attempt>> attempts = store_.ListAttempts(task->id);
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
        if (task->status == TaskStatus::kBlocked) {
          ORCH_RETURN_IF_ERROR(AnswerStep(run, *task, rows));
        }
        continue;
      }
    }
    row.finished_at = clock_.NowUnix();
    ORCH_RETURN_IF_ERROR(store_.UpdateRunStep(row));
    spdlog::info("runs: run {} step {}: {}", run.id, id, StepStateName(row.status));
  }
  return Status::OK();
}

Status RunEngine::LoopReviews(const RunRecord& run, const Flow& flow, Rows& rows) {
  for (const FlowStep& s : flow.steps) {
    if (s.loop_to.empty()) continue;
    RunStepRecord& review = rows[s.id];
    RunStepRecord& target = rows[s.loop_to];
    if (review.status != StepState::kCompleted || !RequestsChanges(review.output)) continue;
    if (target.cycle >= s.max_cycles) continue;  // the report says changes were still asked
    // Everything from the target to the reviewer runs again: the reviewer's ancestors that
    // need the target.
    std::set<std::string> again = {s.loop_to, s.id};
    for (const std::string& a : Ancestors(flow, s.id)) {
      if (Ancestors(flow, a).count(s.loop_to)) again.insert(a);
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
  return Status::OK();
}

Status RunEngine::SkipBlocked(FlowSchedule& schedule, Rows& rows) {
  std::vector<std::string> skipped = schedule.SkipBlocked();
  if (skipped.empty()) return Status::OK();
  std::vector<RunStepRecord> changed;
  for (const std::string& id : skipped) {
    RunStepRecord r = rows[id];
    r.status = StepState::kSkipped;
    changed.push_back(r);
    rows[id] = r;
  }
  return store_.UpdateRunSteps(changed);
}

Status RunEngine::RestartLostCodeSteps(const RunRecord& run, const Flow& flow,
                                       FlowSchedule& schedule, Rows& rows) {
  for (auto& [id, row] : rows) {
    if (row.kind != StepKind::kCode || row.status != StepState::kRunning) continue;
    if (code_running_.count(StepKey(run.id, id))) continue;
    const FlowStep* def = flow.Find(id);
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
  return Status::OK();
}

Status RunEngine::StartWave(const RunRecord& run, const Flow& flow, FlowSchedule& schedule,
                            Rows& rows) {
  for (const std::string& id : schedule.NextWave(config_.engine.max_parallel)) {
    const FlowStep* step = flow.Find(id);
    if (step->kind == StepKind::kCode) {
      StartCodeStep(run, *step, rows[id]);
    } else {
      ORCH_RETURN_IF_ERROR(StartAgentStep(run, flow, *step, rows));
    }
  }
  return Status::OK();
}

// ---- Starting steps

std::string RunEngine::StepAgent(const RunRecord& run, const FlowStep& step,
                                 const Rows& rows) const {
  if (!step.agent.empty()) return step.agent;
  // A reviewer is never the coder: not the agent that ran the step named by not_agent_of.
  std::string avoid;
  if (auto other = rows.find(step.not_agent_of); other != rows.end()) avoid = other->second.agent;
  std::shared_ptr<const Config> config = ConfigOf(run);
  const Config& c = *config;
  if (!step.role.empty()) {
    auto configured = c.runs.roles.find(step.role);
    if (configured != c.runs.roles.end() && configured->second != avoid) {
      AgentChoice choice =
          ChooseAgent(configured->second, "runs.roles." + step.role, c, agent_check_, avoid);
      if (!choice.note.empty())
        spdlog::warn("runs: run {} step {}: {}", run.id, step.id, choice.note);
      return choice.agent;
    }
  }
  if (step.not_agent_of.empty()) return "";
  for (const std::string& a : c.router.agents) {
    if (a != avoid && agent_check_(a).empty()) return a;
  }
  return "";
}

std::string RunEngine::SubstitutionNotes(const RunRecord& run, const Flow& flow,
                                         const Rows& rows) const {
  std::shared_ptr<const Config> config = ConfigOf(run);
  const Config& c = *config;
  std::string notes;
  for (const FlowStep& s : flow.steps) {
    auto configured = c.runs.roles.find(s.role);
    auto row = rows.find(s.id);
    if (!s.agent.empty() || configured == c.runs.roles.end() || row == rows.end() ||
        row->second.agent.empty() || row->second.agent == configured->second) {
      continue;
    }
    std::string why = agent_check_(configured->second);
    if (why.empty()) continue;  // passed over for another reason (a reviewer is not the coder)
    notes += "\nNote: step " + s.id + ": runs.roles." + s.role + " " + configured->second + " " +
             why + "; " + row->second.agent + " took its place.\n";
  }
  return notes;
}

Status RunEngine::StartAgentStep(const RunRecord& run, const Flow& flow, const FlowStep& step,
                                 const Rows& rows) {
  Result<Project> project =
      store_.FindProject(step.project.empty() ? std::to_string(run.project_id) : step.project);
  if (!project.ok()) return project.status();
  std::map<std::string, std::string> outputs;
  for (const auto& [id, row] : rows) outputs[id] = row.output;
  std::string prompt =
      run.kind == RunKind::kFlow ? RenderPrompt(step, InputText(run), outputs) : step.prompt;
  // Sent back by a review: what the reviewer asked for.
  for (const FlowStep& s : flow.steps) {
    if (s.loop_to != step.id) continue;
    auto r = rows.find(s.id);
    if (r != rows.end() && r->second.cycle > 0 && !r->second.output.empty()) {
      prompt +=
          "\n\nThe review (" + s.id + ") asked for changes; address them:\n\n" + r->second.output;
    }
  }
  std::string agent = StepAgent(run, step, rows);
  NewTask t{.project_id = project->id,
            .title = std::string(RunKindName(run.kind)) + " run " + std::to_string(run.id) + ": " +
                     (step.project.empty() ? step.id : "plan for " + step.project),
            .body = prompt,
            .run_id = run.id,
            .read_only = step.read_only};
  if (!agent.empty()) t.labels = {"agent:" + agent};
  if (!flow.model.empty()) t.labels.push_back("model:" + flow.model);
  // A flow's agent steps share one branch, so each sees the work of the ones before it.
  if (run.kind == RunKind::kFlow) t.branch = FlowBranch(run.id);
  Result<Task> made = store_.StartAgentStep(
      run.id, step.id, t,
      {"engine", std::string(RunKindName(run.kind)) + " run " + std::to_string(run.id)});
  if (!made.ok()) return made.status().IsConflict() ? Status::OK() : made.status();
  spdlog::info("runs: run {} step {}: task {}{}", run.id, step.id, made->id,
               agent.empty() ? "" : " (" + agent + ")");
  return Status::OK();
}

void RunEngine::StartCodeStep(const RunRecord& run, const FlowStep& step,
                              const RunStepRecord& row) {
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
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  Result<Config> config =
      project.ok() ? project_config_(*project) : Result<Config>(project.status());
  std::string problem;
  std::vector<std::string> argv = CodeArgv(step, project, config, &problem);
  std::string cwd;
  if (project.ok()) {
    std::string tree = worktree_of_(project->name, FlowBranch(run.id));
    cwd = files_.IsDirectory(tree) ? tree : project->path;
  }
  ProcessOptions options{.argv = argv,
                         .cwd = cwd,
                         .timeout = std::chrono::milliseconds(
                             config.ok() ? config->workflow.timeout : config_.workflow.timeout),
                         .cancel = &work_.stopping()};
  spdlog::info("runs: run {} step {}: running {} in {}", run.id, step.id,
               argv.empty() ? "" : argv[0], cwd);
  code_running_.insert(StepKey(run.id, step.id));
  work_.Submit([this, run_id = run.id, step_id = step.id, options, problem]() -> WorkQueue::Apply {
    bool ok = false;
    std::string output = problem;
    if (problem.empty()) {
      Result<ProcessResult> r = processes_.Run(options);
      ok = r.ok() && r->exit_code == 0;
      output = r.ok() ? CodeOutput(options.argv[0], *r) : r.status().message();
    }
    return [this, run_id, step_id, ok, output] { ApplyCodeResult(run_id, step_id, ok, output); };
  });
}

void RunEngine::ApplyCodeResult(int64_t run_id, const std::string& step_id, bool ok,
                                const std::string& output) {
  code_running_.erase(StepKey(run_id, step_id));
  Result<std::vector<RunStepRecord>> steps = store_.ListRunSteps(run_id);
  if (!steps.ok()) return;
  for (RunStepRecord s : *steps) {
    if (s.step_id != step_id || s.status != StepState::kRunning) continue;
    s.status = ok ? StepState::kCompleted : StepState::kFailed;
    s.output = output;
    s.finished_at = clock_.NowUnix();
    if (Status st = store_.UpdateRunStep(s); !st.ok()) spdlog::error("runs: {}", st.message());
  }
}

// ---- Ending runs

Status RunEngine::FinishDebug(const RunRecord& run, const Flow& flow, Rows& rows) {
  std::shared_ptr<const Config> config = ConfigOf(run);  // the run's project's runs.*
  const Config& c = *config;
  auto orch = rows.find(kOrchestratorStep);
  if (orch == rows.end()) {
    if (!c.runs.auto_orchestrate) return Status::OK();  // orch run orchestrate
    AgentChoice choice =
        ChooseAgent(c.runs.orchestrator_agent, "runs.orchestrator_agent", c, agent_check_);
    Result<bool> claimed =
        store_.ClaimOrchestration(run.id, {.step_id = kOrchestratorStep, .agent = choice.agent});
    if (!claimed.ok()) return claimed.status();
    if (*claimed && !choice.note.empty()) spdlog::warn("runs: run {}: {}", run.id, choice.note);
    return *claimed ? Advance(run) : Status::OK();  // the next pass starts it
  }
  RunStepRecord& o = orch->second;
  if (o.status == StepState::kPending) {
    std::vector<RunStepRecord> sessions;
    for (const FlowStep& s : flow.steps) sessions.push_back(rows[s.id]);
    NewTask t{.project_id = run.project_id,
              .title = "Debug run " + std::to_string(run.id) + ": orchestrate " +
                       std::to_string(sessions.size()) + " sessions",
              .body = OrchestratorPrompt(run, sessions, c.runs.session_output_budget,
                                         c.runs.total_output_budget),
              .labels = {"agent:" + o.agent},
              .run_id = run.id,
              .read_only = true};
    Result<Task> made = store_.StartAgentStep(run.id, kOrchestratorStep, t,
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
  for (const FlowStep& s : flow.steps) {
    report << "- " << s.id << " (" << rows[s.id].agent << "): " << StepStateName(rows[s.id].status)
           << "\n";
  }
  report << "\n## Orchestrator (" << o.agent;
  if (const std::string& wanted = c.runs.orchestrator_agent; o.agent != wanted) {
    std::string why = agent_check_(wanted);
    report << ", in place of runs.orchestrator_agent " << wanted << ", which "
           << (why.empty() ? "could not run when the sessions ended" : why);
  }
  report << "): " << StepStateName(o.status) << "\n\n" << o.output << "\n";
  return Finish(run, o.status == StepState::kCompleted ? RunStatus::kCompleted : RunStatus::kFailed,
                report.str());
}

Status RunEngine::FinishPlan(const RunRecord& run, const Flow& flow, const FlowSchedule& schedule,
                             Rows& rows) {
  std::ostringstream report;
  json input = json::parse(run.input, nullptr, false);
  report << "# Plan run " << run.id << ": "
         << (input.is_object() ? OneLine(input.value("goal", "")) : std::string()) << "\n";
  for (const FlowStep& s : flow.steps) {
    const RunStepRecord& r = rows[s.id];
    report << "\n## " << s.project << " (" << r.agent << "): " << StepStateName(r.status) << "\n\n"
           << r.output << "\n";
  }
  report << SubstitutionNotes(run, flow, rows);
  return Finish(run, schedule.Succeeded() ? RunStatus::kCompleted : RunStatus::kFailed,
                report.str());
}

Status RunEngine::FinishFlow(const RunRecord& run, const Flow& flow, const FlowSchedule& schedule,
                             Rows& rows) {
  std::map<std::string, std::string> outputs;
  for (const auto& [id, row] : rows) outputs[id] = row.output;
  std::string report = schedule.Report(outputs) + SubstitutionNotes(run, flow, rows);
  bool unresolved = false;  // a review still asks for changes: its pull request is a draft
  for (const FlowStep& s : flow.steps) {
    if (!s.loop_to.empty() && RequestsChanges(rows[s.id].output)) {
      unresolved = true;
      report += "\nNote: " + s.id + " still asked for changes after " +
                std::to_string(rows[s.loop_to].cycle) + " cycle(s).\n";
    }
  }
  std::string branch = FlowBranch(run.id);
  RunStatus status = schedule.Succeeded() ? RunStatus::kCompleted : RunStatus::kFailed;
  if (status != RunStatus::kCompleted || !flow.pull_request) {
    return Finish(run, status, report + "\nThe work is on branch " + branch + ".\n");
  }
  // Where there is no GitHub to open it on, the run still did its work.
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  if (!project.ok()) return project.status();
  std::string nowhere = !publisher_ || !publisher_->has_github()
                            ? "orch has no GitHub credentials (github.token)"
                        : !project->repo ? "project " + project->name + " has no GitHub repository"
                                         : "";
  if (!nowhere.empty()) {
    return Finish(
        run, status,
        report + "\nNo pull request: " + nowhere + ". The work is on branch " + branch + ".\n");
  }
  PublishFlow(run, *project, flow, report, unresolved, status);
  return Status::OK();
}

void RunEngine::PublishFlow(const RunRecord& run, const Project& project, const Flow& flow,
                            const std::string& report, bool draft, RunStatus status) {
  // The branch's work tree, and so the base it remembers (runner.h), came with the first task
  // on it: the lowest id, as tasks are added when their steps start (a review loop's later
  // tasks reuse the tree).
  std::string branch = FlowBranch(run.id);
  Result<std::vector<Task>> tasks = store_.ListTasks({.project_id = project.id});
  if (!tasks.ok()) {
    spdlog::error("runs: run {}: {}", run.id, tasks.status().message());
    return;  // the next tick tries again
  }
  std::optional<int64_t> task;
  for (const Task& t : *tasks) {
    if (t.run_id == run.id && t.branch == branch && (!task || t.id < *task)) task = t.id;
  }
  std::string tree = worktree_of_(project.name, branch);
  bool has_tree = task && files_.IsDirectory(tree);
  std::string what = OneLine(InputText(run));
  NewPullRequest pr{
      .title = flow.name + (what.empty() ? "" : ": " + what),
      .body = RedactSecrets("**orch** flow run " + std::to_string(run.id) + "\n\n" + report),
      .head = branch,
      .base = has_tree ? publisher_->Base(*task) : "",
      .draft = draft};
  publishing_.insert(run.id);
  work_.Submit([this, run, project, tree, task, has_tree, pr, report,
                status]() -> WorkQueue::Apply {
    Result<int> ahead = has_tree ? publisher_->Ahead(tree, *task) : Result<int>(0);
    Result<std::optional<PullRequest>> made =
        !ahead.ok()   ? Result<std::optional<PullRequest>>(ahead.status())
        : *ahead == 0 ? Result<std::optional<PullRequest>>(std::optional<PullRequest>())
                      : publisher_->Publish(project, tree, pr);
    return [this, run, made, report, status, task] {
      publishing_.erase(run.id);
      std::string branch = FlowBranch(run.id);
      Status s;
      if (!made.ok() && made.status().IsRetryable()) {
        spdlog::warn("runs: run {}: {}; trying again", run.id, made.status().message());
        return;  // the next tick publishes again
      } else if (!made.ok()) {
        s = Finish(run, RunStatus::kFailed,
                   report + "\nThe pull request could not be opened: " + made.status().message() +
                       ". The work is on branch " + branch + ".\n");
      } else if (!*made) {
        s = Finish(run, status, report + "\nNothing was committed: no pull request.\n");
      } else {
        spdlog::info("runs: run {}: pull request #{}", run.id, (*made)->number);
        // Its first step's task owns it, as a task owns its own: a review requesting changes
        // makes follow-ups that resume that agent's session on the flow's branch (reviews.h).
        if (task) s = store_.SetTaskPullRequest(*task, (*made)->number);
        if (!s.ok()) spdlog::error("runs: run {}: {}", run.id, s.message());
        s = Finish(run, status,
                   report + "\nPull request #" + std::to_string((*made)->number) + " (branch " +
                       branch + ").\n");
      }
      if (!s.ok()) spdlog::error("runs: run {}: {}", run.id, s.message());
    };
  });
}

std::shared_ptr<const Config> RunEngine::ConfigOf(const RunRecord& run) const {
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  Result<Config> config =
      project.ok() && project_config_ ? project_config_(*project) : Result<Config>(config_);
  if (!config.ok()) {
    spdlog::warn("runs: run {}: its project's settings: {}; the global ones apply", run.id,
                 config.status().message());
    return std::make_shared<const Config>(config_);
  }
  return std::make_shared<const Config>(std::move(*config));
}

Status RunEngine::Finish(const RunRecord& run, RunStatus status, const std::string& report) {
  Status s = store_.FinishRunRecord(run.id, status, report);
  if (s.IsConflict()) return Status::OK();  // cancelled meanwhile
  ORCH_RETURN_IF_ERROR(s);
  spdlog::info("runs: run {} ({}) {}", run.id, RunKindName(run.kind), RunStatusName(status));
  if (!publisher_ || !publisher_->has_github() || !run.issue ||
      !ConfigOf(run)->runs.report_to_comment) {
    return Status::OK();
  }
  Result<Project> project = store_.FindProject(std::to_string(run.project_id));
  if (!project.ok() || !project->repo) return Status::OK();
  int64_t number = std::atoll(run.issue->c_str());
  std::string text = "**orch** " + std::string(RunKindName(run.kind)) + " run " +
                     std::to_string(run.id) + ": **" + RunStatusName(status) + "**\n\n" + report;
  work_.Submit([this, project = *project, number, text]() -> WorkQueue::Apply {
    publisher_->Comment(project, number, text);
    return {};
  });
  return Status::OK();
}

}  // namespace orch
