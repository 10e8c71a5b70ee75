#include "agents/dispatch.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace orch {
namespace {

constexpr int64_t kTmuxCheckEvery = 5;  // seconds between looks at a run's pane (backstop)

// Store writes after the fact are logged, not returned: the next tick sees the state as it is.
void LogIfError(const Status& s) {
  if (!s.ok()) spdlog::error("dispatch: {}", s.message());
}

std::string Described(const Route& r) {
  return r.agent + (r.model.empty() ? "" : " (" + r.model + ")") + ", " + r.complexity + ", by " +
         r.by + ": " + r.reason;
}

}  // namespace

Dispatcher::Dispatcher(DispatchParts p)
    : store_(p.store),
      configs_(p.configs),
      config_(configs_.global()),
      clock_(p.clock),
      router_(p.router),
      runner_(p.runner),
      publisher_(p.publisher),
      work_(p.work),
      files_(p.files),
      breakers_(p.breakers),
      retry_(p.store, configs_, p.clock, p.breakers,
             p.installed ? p.installed : PathAgentInstalled(config_)),
      end_(p.store, p.runner, retry_, p.breakers),
      housekeeping_(p.store, config_, p.clock, p.runner, p.files) {
  housekeeping_.pool().set_config_for([this](const Project& p) { return configs_.For(p); });
}

void Dispatcher::Submit(int64_t task_id, WorkQueue::Job job) {
  busy_.insert(task_id);
  work_.Submit([this, task_id, job = std::move(job)]() -> WorkQueue::Apply {
    WorkQueue::Apply apply = job();
    return [this, task_id, apply = std::move(apply)] {
      busy_.erase(task_id);
      if (apply) apply();
    };
  });
}

void Dispatcher::Drain() { work_.Drain(); }

Result<Project> Dispatcher::ProjectOf(const Task& task) {
  return store_.FindProject(std::to_string(task.project_id));
}

Result<DispatchReport> Dispatcher::Step() {
  DispatchReport report;
  work_.ApplyDone();
  Status first;
  auto note = [&first](const Status& s, const char* step) {
    if (s.ok()) return;
    spdlog::error("dispatch: {}: {}", step, s.message());
    if (first.ok()) first = s;
  };
  note(ReapExited(&report), "reaping finished agents");
  if (routing_) note(RouteNew(&report), "routing");
  note(StartRouted(&report), "starting agents");
  note(housekeeping_.Step([this](int64_t id) { return busy_.count(id) > 0; }), "housekeeping");
  if (!first.ok()) return first;
  return report;
}

// ---- Routing

Status Dispatcher::RouteNew(DispatchReport* report) {
  Result<std::vector<Task>> fresh = store_.ListTasks({.status = TaskStatus::kNew});
  if (!fresh.ok()) return fresh.status();
  for (const Task& task : *fresh) {
    if (Skip(task.id)) continue;
    if (IsFollowUp(task)) {
      // The agent that wrote the PR answers its review.
      Result<Task> parent = store_.GetTask(*task.parent_id);
      Result<Route> route = parent.ok() ? RouteFromJson(parent->route.value_or("{}"))
                                        : Result<Route>(parent.status());
      if (route.ok() && !route->agent.empty()) {
        route->by = "follow-up";
        route->reason = "the agent of parent task " + std::to_string(*task.parent_id);
        ApplyRoute(task, route, report);
        continue;
      }
    }
    std::shared_ptr<const Config> config = configs_.ForProject(task.project_id);
    if (!router_.NeedsModel(task, *config)) {
      ApplyRoute(task, router_.RouteTask(task, *config), report);
      continue;
    }
    Submit(task.id, [this, task, config]() -> WorkQueue::Apply {
      Result<Route> route = router_.RouteTask(task, *config);
      // Applied in a later Step; the report of this one has gone by then, so it is not counted
      // (the old code kept a pointer to it, which dangled).
      return [this, task, route] {
        DispatchReport ignored;
        ApplyRoute(task, route, &ignored);
      };
    });
  }
  return Status::OK();
}

void Dispatcher::ApplyRoute(const Task& task, const Result<Route>& route, DispatchReport* report) {
  if (!route.ok()) {
    spdlog::warn("router: task {}: {}", task.id, route.status().message());
    return;  // stays new; tried again next tick
  }
  LogIfError(store_.SetTaskRoute(task.id, RouteToJson(*route).dump()));
  Status s = store_.Transition(task.id, TaskStatus::kNew, TaskStatus::kRouted,
                               {"router", Described(*route)});
  if (s.ok()) {
    ++report->routed;
    spdlog::info("router: task {} -> {} {} ({}, by {})", task.id, route->agent, route->model,
                 route->complexity, route->by);
  } else if (!s.IsConflict()) {
    spdlog::error("router: task {}: {}", task.id, s.message());
  }
}

// ---- Starting

Status Dispatcher::StartRouted(DispatchReport* report) {
  Result<std::vector<Attempt>> running = store_.UnfinishedAttempts();
  if (!running.ok()) return running.status();
  std::set<std::string> busy_worktrees;
  for (const Attempt& r : *running) busy_worktrees.insert(r.worktree);
  int active = static_cast<int>(running->size());
  Result<std::vector<Task>> routed = store_.ListTasks({.status = TaskStatus::kRouted});
  if (!routed.ok()) return routed.status();
  for (const Task& task : *routed) {
    if (active >= config_.engine.max_parallel) break;
    if (Skip(task.id)) continue;
    Result<bool> started = StartOne(task, busy_worktrees);
    if (!started.ok()) return started.status();
    if (*started) {
      ++active;
      ++report->started;
    }
  }
  return Status::OK();
}

Result<std::optional<Route>> Dispatcher::StartingRoute(const Task& task, bool* switched) {
  Result<Route> route = RouteFromJson(task.route.value_or("{}"));
  if (!route.ok() || route->agent.empty()) {
    // Routed without a route (an older orch, or a hand edit): route again.
    LogIfError(store_.Transition(task.id, TaskStatus::kRouted, TaskStatus::kNew,
                                 {"engine", "no route recorded; routing again"}));
    return std::optional<Route>();
  }
  if (!breakers_ || breakers_->Available(route->agent)) return std::optional<Route>(*route);
  // Its breaker is open: another agent takes the task, or it waits for the cooldown. A run's
  // step keeps its agent (a debug run compares agents; a reviewer is not the coder).
  if (task.run_id) return std::optional<Route>();
  std::string next = retry_.NextAgent(task, route->agent);
  if (next == route->agent) return std::optional<Route>();
  Result<Route> moved = retry_.SwitchAgent(task, next, route->agent + "'s circuit breaker is open");
  if (!moved.ok()) return moved.status();
  spdlog::info("dispatch: task {}: {}'s breaker is open, {} takes it", task.id, route->agent, next);
  *switched = true;
  return std::optional<Route>(*moved);
}

Result<AttemptPlan> Dispatcher::PlanAttempt(const Task& task, const Project& project,
                                            const Route& route, bool switched) {
  std::string branch = BranchName(task);
  std::string resume_id = task.agent_session;
  if (IsFollowUp(task)) {
    // On the parent's branch, continuing the parent's conversation with the agent.
    Result<Task> parent = store_.GetTask(*task.parent_id);
    if (!parent.ok()) return parent.status();
    if (task.branch.empty() && !parent->branch.empty()) branch = parent->branch;
    if (resume_id.empty()) resume_id = parent->agent_session;
  }
  if (switched) resume_id.clear();  // another agent cannot resume the session
  Result<std::vector<Attempt>> runs = store_.ListAttempts(task.id);
  if (!runs.ok()) return runs.status();
  AttemptPlan plan{.task = task,
                   .project = project,
                   .agent = route.agent,
                   .model = route.model,
                   .attempt = static_cast<int>(runs->size()) + 1,
                   .resume_id = resume_id};
  plan.task.branch = branch;
  plan.config = configs_.For(project);
  Result<std::vector<Question>> asked = LoadQuestions(store_, task.id);
  if (!asked.ok()) return asked.status();
  plan.answers = AnswersForPrompt(*asked);
  if (std::optional<std::string> base = ConflictBase(task)) {
    plan.update_base = *base;
    plan.rebase = plan.config->workflow.update_strategy == UpdateStrategy::kRebase;
  }
  if (!runs->empty() && !runs->back().error_class.empty()) {
    plan.previous_failure = runs->back().error_class + ": " + runs->back().summary;
  }
  return plan;
}

Result<bool> Dispatcher::StartOne(const Task& task, std::set<std::string>& busy_worktrees) {
  // A retry after a transient error waits for its backoff.
  Result<std::optional<std::string>> not_before = store_.GetKv(RetryKey(task.id));
  if (not_before.ok() && *not_before && clock_.NowUnix() < std::atoll((*not_before)->c_str())) {
    return false;
  }
  if (IsFollowUp(task) && task.branch.empty()) {
    // A follow-up works on its parent's branch: it waits until the parent's first run has
    // fixed one (a mention on an issue whose task has not started yet).
    Result<Task> parent = store_.GetTask(*task.parent_id);
    if (!parent.ok()) return parent.status();
    if (parent->branch.empty()) return false;
  }
  Result<Project> project = ProjectOf(task);
  if (!project.ok()) return project.status();
  bool switched = false;
  Result<std::optional<Route>> route = StartingRoute(task, &switched);
  if (!route.ok()) return route.status();
  if (!*route) return false;
  Result<AttemptPlan> plan = PlanAttempt(task, *project, **route, switched);
  if (!plan.ok()) return plan.status();
  std::string worktree = runner_.WorktreePath(project->name, plan->task.branch);
  if (busy_worktrees.count(worktree)) return false;  // one agent per branch at a time
  Status moved = store_.Transition(task.id, TaskStatus::kRouted, TaskStatus::kInProgress,
                                   {"engine", "starting " + plan->agent});
  if (moved.IsConflict()) return false;
  ORCH_RETURN_IF_ERROR(moved);
  if (breakers_) breakers_->Started(plan->agent);
  if (task.branch.empty()) ORCH_RETURN_IF_ERROR(store_.SetTaskBranch(task.id, plan->task.branch));
  Attempt row;
  row.task_id = task.id;
  row.agent = plan->agent;
  row.model = plan->model;
  row.tmux_session = SessionName(project->name, task.id);
  row.run_dir = runner_.AttemptDir(task.id, plan->attempt);
  row.worktree = worktree;
  Result<std::vector<std::string>> argv = runner_.Argv(*plan);
  if (argv.ok()) row.command = *argv;
  Result<Attempt> run = store_.StartAttempt(row);
  ORCH_RETURN_IF_ERROR(run.status());
  busy_worktrees.insert(worktree);
  spdlog::info("dispatch: task {} attempt {}: starting {} in {}", task.id, plan->attempt,
               plan->agent, worktree);
  Launch(*plan, *run);
  return true;
}

void Dispatcher::Launch(const AttemptPlan& planned, const Attempt& run) {
  AttemptPlan plan = planned;  // a task without a work tree borrows a pooled one, if any
  plan.pooled_worktree = housekeeping_.pool().Lend(plan.project, plan.task.id, run.worktree);
  Submit(plan.task.id, [this, plan, run]() -> WorkQueue::Apply {
    Result<AttemptHandle> started = runner_.Start(plan);
    std::optional<int64_t> issue = IssueNumber(plan.task);
    if (started.ok() && issue) {
      Result<Route> route = RouteFromJson(plan.task.route.value_or("{}"));
      std::vector<std::string> labels = {"agent:" + plan.agent};
      if (route.ok() && !route->complexity.empty()) {
        labels.push_back("complexity:" + route->complexity);
      }
      publisher_.Label(plan.project, *issue, labels);
    }
    return [this, plan, run, started] {
      housekeeping_.pool().Returned(plan.pooled_worktree);
      if (started.ok()) {
        if (on_run_started) on_run_started(started->run_dir);
        return;
      }
      spdlog::warn("dispatch: task {}: could not start {}: {}", plan.task.id, plan.agent,
                   started.status().message());
      Attempt failed = run;
      failed.outcome = "failed";
      failed.error_class = "spawn";
      failed.summary = started.status().message();
      LogIfError(store_.FinishAttempt(failed));
      LogIfError(retry_.Fail(plan.task, plan.agent, plan.model,
                             "could not start: " + started.status().message(), AgentError::kNone));
    };
  });
}

// ---- Reaping

std::optional<AttemptCheck> Dispatcher::Ended(const Attempt& run, int64_t now) {
  // The exit file is one stat; the pane is a tmux client, so only every few seconds.
  Result<ShimExit> exit = ReadShimExit(run.run_dir);
  if (exit.ok()) return AttemptCheck{.state = AttemptState::kExited, .exit = *exit};
  int64_t& next = next_tmux_check_[run.id];
  if (now < next) return std::nullopt;
  next = now + kTmuxCheckEvery;
  AttemptCheck check = runner_.Check(run.tmux_session, run.run_dir);
  if (check.state == AttemptState::kRunning) return std::nullopt;
  return check;
}

Status Dispatcher::ReapExited(DispatchReport* report) {
  Result<std::vector<Attempt>> running = store_.UnfinishedAttempts();
  if (!running.ok()) return running.status();
  int64_t now = clock_.NowUnix();
  for (const Attempt& run : *running) {
    if (Skip(run.task_id)) continue;
    std::optional<AttemptCheck> check = Ended(run, now);
    if (!check) continue;
    next_tmux_check_.erase(run.id);
    Result<Task> task = store_.GetTask(run.task_id);
    if (!task.ok()) return task.status();
    Result<Project> project = ProjectOf(*task);
    if (!project.ok()) return project.status();
    ++report->finished;
    std::shared_ptr<const Config> config = configs_.For(*project);
    // A mention's task answers its author on the thread once its work is pushed.
    Result<std::optional<MentionReply>> reply = LoadMentionReply(store_, *task);
    if (!reply.ok()) return reply.status();
    // Where a question the agent may ask goes (questions.h).
    Result<AskTarget> ask =
        AskTargetOf(store_, *task, *reply ? (*reply)->thread : 0, *reply ? (*reply)->author : "");
    if (!ask.ok()) return ask.status();
    Submit(run.task_id,
           [this, run, check = *check, task = *task, project = *project, config, reply = *reply,
            ask = *ask]() -> WorkQueue::Apply {
             AttemptOutcome out =
                 ReadOutcome(run, check, clock_.NowUnix(), *config, runner_, files_);
             if (!out.never_started) PublishOutcome(task, project, publisher_, out);
             if (!out.never_started) AskQuestion(task, project, ask, publisher_, out);
             ReportConflicts(project, ask, publisher_, out);
             if (reply && !out.never_started) ReplyToMention(*reply, project, publisher_, out);
             return [this, task, out] {
               end_.Apply(task, out);
               housekeeping_.SessionFinished(out.run.tmux_session);
             };
           });
  }
  return Status::OK();
}

// ---- After a restart

Status Dispatcher::Adopt() {
  Result<std::vector<Attempt>> running = store_.UnfinishedAttempts();
  if (!running.ok()) return running.status();
  std::set<int64_t> with_run;
  std::set<std::string> sessions_in_use;
  std::set<std::string> started_worktrees;  // a pooled tree lent to them was fully switched
  for (const Attempt& run : *running) {
    with_run.insert(run.task_id);
    AttemptCheck c = runner_.Check(run.tmux_session, run.run_dir);
    if (c.state == AttemptState::kRunning) {
      spdlog::info("dispatch: adopted task {}'s live session {}", run.task_id, run.tmux_session);
      sessions_in_use.insert(run.tmux_session);
      if (on_run_started) on_run_started(run.run_dir);
    }
    if (c.state != AttemptState::kVanished || files_.Exists(run.run_dir + "/spec.json")) {
      started_worktrees.insert(run.worktree);
    }
    // Exited and vanished runs are reaped by the next Step().
  }
  LogIfError(housekeeping_.pool().Adopt(started_worktrees));
  // In progress with no run: the daemon stopped between the two writes. Try again. (In a
  // fleet, only this host's: another's tasks are leased to it.)
  Result<std::vector<Task>> active =
      store_.ListTasks({.status = TaskStatus::kInProgress, .lease_owner = store_.host()});
  if (!active.ok()) return active.status();
  for (const Task& t : *active) {
    if (with_run.count(t.id)) continue;
    LogIfError(store_.Transition(t.id, TaskStatus::kInProgress, TaskStatus::kRouted,
                                 {"engine", "no agent was running after a restart"}));
  }
  // Sessions of ours that no unfinished run owns: dead leftovers.
  Result<std::vector<std::string>> sessions = runner_.tmux().ListSessions();
  if (sessions.ok()) {
    for (const auto& s : *sessions) {
      if (s.rfind("orch-", 0) != 0 || sessions_in_use.count(s)) continue;
      Result<bool> dead = runner_.tmux().PaneDead(s);
      if (dead.ok() && *dead) LogIfError(runner_.tmux().KillSession(s));
    }
  }
  return Status::OK();
}

}  // namespace orch
