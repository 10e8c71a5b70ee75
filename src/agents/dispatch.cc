#include "agents/dispatch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

#include "agents/agent.h"
#include "base/secret_scan.h"

namespace orch {
namespace {

constexpr int kPublishTries = 3;
constexpr int64_t kRateLimitCooldown = 300;
constexpr int64_t kTmuxCheckEvery = 5;  // seconds between looks at a run's pane (backstop)
const char* const kBotName = "orch";
const char* const kBotEmail = "orch@users.noreply.github.com";

std::string Bullets(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "- " + i + "\n";
  return out;
}

// The contract as Markdown: the summary, then what was done, what remains, the files.
std::string ContractText(const AgentContract& c) {
  std::ostringstream b;
  b << c.summary << "\n\n";
  if (!c.accomplished.empty()) b << "### Done\n" << Bullets(c.accomplished) << "\n";
  if (!c.remaining.empty()) b << "### Remaining\n" << Bullets(c.remaining) << "\n";
  if (!c.files_changed.empty()) {
    std::vector<std::string> files;
    for (const auto& f : c.files_changed) files.push_back("`" + f + "`");
    b << "### Files changed\n" << Bullets(files) << "\n";
  }
  return b.str();
}

std::string PullRequestBody(const Task& task, const AgentContract& c, const std::string& agent,
                            const std::string& model) {
  std::ostringstream b;
  b << ContractText(c);
  b << "Written by " << agent << (model.empty() ? "" : " (" + model + ")") << " through orch.";
  if (std::optional<int64_t> n = IssueNumber(task)) b << "\n\nCloses #" << *n;
  b << "\n";
  return RedactSecrets(b.str());
}

// Tries `f` up to kPublishTries times, waiting 1 s, 2 s between tries on retryable errors.
template <typename F>
auto WithRetries(F f) -> decltype(f()) {
  auto r = f();
  for (int i = 1; i < kPublishTries; ++i) {
    Status s;
    if constexpr (std::is_same_v<decltype(r), Status>) {
      s = r;
    } else {
      s = r.status();
    }
    if (s.ok() || !s.IsRetryable()) break;
    std::this_thread::sleep_for(std::chrono::seconds(i));
    r = f();
  }
  return r;
}

// Store writes after the fact are logged, not returned: the next tick sees the state as it is.
void LogIfError(const Status& s) {
  if (!s.ok()) spdlog::error("dispatch: {}", s.message());
}

// Everything a finished run led to, computed on a worker, applied on the engine's thread.
struct Finished {
  TaskRun run;
  AgentResult result;
  std::string failure;        // non-empty: the attempt failed (agent or publishing)
  int commits = 0;            // on the branch beyond the base
  std::optional<PullRequest> pr;
  bool killed = false;  // `orch task kill`: a person stopped it
};

}  // namespace

Dispatcher::Dispatcher(SqliteStore& store, const Config& config, const Clock& clock, Router& router,
                       Runner& runner, GitHubClient* github, std::function<void()> wake,
                       Breakers* breakers, int workers)
    : store_(store),
      config_(config),
      clock_(clock),
      router_(router),
      runner_(runner),
      github_(github),
      wake_(std::move(wake)),
      breakers_(breakers) {
  for (int i = 0; i < workers; ++i) {
    threads_.emplace_back([this] {
      while (true) {
        Job job;
        {
          std::unique_lock<std::mutex> l(mu_);
          cv_.wait(l, [this] { return stop_ || !jobs_.empty(); });
          if (jobs_.empty()) return;
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        Apply apply = job();
        {
          std::lock_guard<std::mutex> l(mu_);
          done_.push_back(std::move(apply));
          --in_flight_;
        }
        cv_.notify_all();
        if (wake_) wake_();
      }
    });
  }
}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void Dispatcher::Submit(int64_t task_id, Job job) {
  busy_.insert(task_id);
  {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back([task_id, job = std::move(job), this]() -> Apply {
      Apply apply = job();
      return [this, task_id, apply = std::move(apply)] {
        busy_.erase(task_id);
        apply();
      };
    });
    ++in_flight_;
  }
  cv_.notify_all();
}

void Dispatcher::Drain() {
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return in_flight_ == 0; });
  }
  DispatchReport ignored;
  ApplyFinished(&ignored);
}

void Dispatcher::ApplyFinished(DispatchReport*) {
  std::vector<Apply> done;
  {
    std::lock_guard<std::mutex> l(mu_);
    done.swap(done_);
  }
  for (auto& a : done) a();
}

Result<Project> Dispatcher::ProjectOf(const Task& task) {
  return store_.FindProject(std::to_string(task.project_id));
}

Result<DispatchReport> Dispatcher::Step() {
  DispatchReport report;
  ApplyFinished(&report);
  Status first;
  auto note = [&first](const Status& s, const char* step) {
    if (s.ok()) return;
    spdlog::error("dispatch: {}: {}", step, s.message());
    if (first.ok()) first = s;
  };
  note(ReapExited(&report), "reaping finished agents");
  note(RouteNew(&report), "routing");
  note(StartRouted(&report), "starting agents");
  if (clock_.NowUnix() >= next_sweep_) {
    next_sweep_ = clock_.NowUnix() + 60;
    note(SweepWorktrees().status(), "sweeping work trees");
  }
  if (clock_.NowUnix() >= next_log_prune_) {
    next_log_prune_ = clock_.NowUnix() + 3600;
    note(PruneRunLogs().status(), "pruning run logs");
  }
  if (!first.ok()) return first;
  return report;
}

Status Dispatcher::RouteNew(DispatchReport* report) {
  Result<std::vector<Task>> fresh = store_.ListTasks({.status = TaskStatus::kNew});
  if (!fresh.ok()) return fresh.status();
  for (const Task& task : *fresh) {
    if (busy_.count(task.id) || (only_ && *only_ != task.id)) continue;
    auto apply_route = [this, report](const Task& task, const Result<Route>& route) {
      if (!route.ok()) {
        spdlog::warn("router: task {}: {}", task.id, route.status().message());
        return;  // stays new; tried again next tick
      }
      LogIfError(store_.SetTaskRoute(task.id, RouteToJson(*route).dump()));
      Status s = store_.Transition(
          task.id, TaskStatus::kNew, TaskStatus::kRouted,
          {"router", route->agent + (route->model.empty() ? "" : " (" + route->model + ")") +
                         ", " + route->complexity + ", by " + route->by + ": " + route->reason});
      if (s.ok()) {
        ++report->routed;
        spdlog::info("router: task {} -> {} {} ({}, by {})", task.id, route->agent, route->model,
                     route->complexity, route->by);
      } else if (!s.IsConflict()) {
        spdlog::error("router: task {}: {}", task.id, s.message());
      }
    };
    if (IsReviewFollowUp(task)) {
      // The agent that wrote the PR answers its review.
      Result<Task> parent = store_.GetTask(*task.parent_id);
      Result<Route> route = parent.ok() ? RouteFromJson(parent->route.value_or("{}"))
                                        : Result<Route>(parent.status());
      if (route.ok() && !route->agent.empty()) {
        route->by = "follow-up";
        route->reason = "the agent of parent task " + std::to_string(*task.parent_id);
        apply_route(task, route);
        continue;
      }
    }
    if (!router_.NeedsModel(task)) {
      apply_route(task, router_.RouteTask(task));
      continue;
    }
    Submit(task.id, [this, task, apply_route]() -> Apply {
      Result<Route> route = router_.RouteTask(task);
      return [task, route, apply_route] { apply_route(task, route); };
    });
  }
  return Status::OK();
}

Status Dispatcher::StartRouted(DispatchReport* report) {
  Result<std::vector<TaskRun>> running = store_.UnfinishedRuns();
  if (!running.ok()) return running.status();
  std::set<std::string> busy_worktrees;
  for (const TaskRun& r : *running) busy_worktrees.insert(r.worktree);
  int active = static_cast<int>(running->size());
  Result<std::vector<Task>> routed = store_.ListTasks({.status = TaskStatus::kRouted});
  if (!routed.ok()) return routed.status();
  for (const Task& task : *routed) {
    if (active >= config_.engine.max_parallel) break;
    if (busy_.count(task.id) || (only_ && *only_ != task.id)) continue;
    // A retry after a transient error waits for its backoff.
    Result<std::optional<std::string>> not_before = store_.GetKv(RetryKey(task.id));
    if (not_before.ok() && *not_before && clock_.NowUnix() < std::atoll((*not_before)->c_str())) {
      continue;
    }
    Result<Project> project = ProjectOf(task);
    if (!project.ok()) return project.status();
    Result<Route> route = RouteFromJson(task.route.value_or("{}"));
    if (!route.ok() || route->agent.empty()) {
      // Routed without a route (an older orch, or a hand edit): route again.
      LogIfError(store_.Transition(task.id, TaskStatus::kRouted, TaskStatus::kNew,
                                          {"engine", "no route recorded; routing again"}));
      continue;
    }
    bool switched = false;
    if (breakers_ && !breakers_->Available(route->agent)) {
      // Its breaker is open: another agent takes the task, or it waits for the cooldown. A
      // run's step keeps its agent (a debug run compares agents; a reviewer is not the coder).
      if (task.run_id) continue;
      std::string next = NextAgent(route->agent);
      if (next == route->agent) continue;
      std::string was = route->agent;
      route->agent = next;
      route->by = "failover";
      route->reason = was + "'s circuit breaker is open";
      route->model = ModelFor(config_, route->complexity, next);
      ORCH_RETURN_IF_ERROR(store_.SetTaskRoute(task.id, RouteToJson(*route).dump()));
      ORCH_RETURN_IF_ERROR(store_.SetTaskAgentSession(task.id, ""));  // not this agent's
      switched = true;
      spdlog::info("dispatch: task {}: {}'s breaker is open, {} takes it", task.id, was, next);
    }
    std::string branch = BranchName(task);
    std::string resume_id = task.agent_session;
    if (IsReviewFollowUp(task)) {
      // On the parent's branch, continuing the parent's conversation with the agent.
      Result<Task> parent = store_.GetTask(*task.parent_id);
      if (!parent.ok()) return parent.status();
      if (task.branch.empty() && !parent->branch.empty()) branch = parent->branch;
      if (resume_id.empty()) resume_id = parent->agent_session;
    }
    if (switched) resume_id.clear();  // another agent cannot resume the session
    std::string worktree = runner_.WorktreePath(project->name, branch);
    if (busy_worktrees.count(worktree)) continue;  // one agent per branch at a time
    Result<std::vector<TaskRun>> runs = store_.ListRuns(task.id);
    if (!runs.ok()) return runs.status();
    RunPlan plan{.task = task,
                 .project = *project,
                 .agent = route->agent,
                 .model = route->model,
                 .attempt = static_cast<int>(runs->size()) + 1,
                 .resume_id = resume_id};
    if (!runs->empty() && !runs->back().error_class.empty()) {
      plan.previous_failure = runs->back().error_class + ": " + runs->back().summary;
    }
    Status moved = store_.Transition(task.id, TaskStatus::kRouted, TaskStatus::kInProgress,
                                     {"engine", "starting " + route->agent});
    if (moved.IsConflict()) continue;
    ORCH_RETURN_IF_ERROR(moved);
    if (breakers_) breakers_->Started(route->agent);
    if (task.branch.empty()) ORCH_RETURN_IF_ERROR(store_.SetTaskBranch(task.id, branch));
    plan.task.branch = branch;
    TaskRun row;
    row.task_id = task.id;
    row.agent = route->agent;
    row.model = route->model;
    row.tmux_session = SessionName(project->name, task.id);
    row.run_dir = runner_.RunDir(task.id, plan.attempt);
    row.worktree = worktree;
    Result<std::vector<std::string>> argv = runner_.Argv(plan);
    if (argv.ok()) row.command = *argv;
    Result<TaskRun> run = store_.StartRun(row);
    ORCH_RETURN_IF_ERROR(run.status());
    busy_worktrees.insert(worktree);
    ++active;
    ++report->started;
    spdlog::info("dispatch: task {} attempt {}: starting {} in {}", task.id, plan.attempt,
                 route->agent, worktree);
    Submit(task.id, [this, plan, run = *run]() -> Apply {
      Result<RunHandle> started = runner_.Start(plan);
      if (started.ok() && github_ && plan.project.repo) {
        if (std::optional<int64_t> n = IssueNumber(plan.task)) {
          Result<Route> route = RouteFromJson(plan.task.route.value_or("{}"));
          std::vector<std::string> labels = {"agent:" + plan.agent};
          if (route.ok() && !route->complexity.empty()) {
            labels.push_back("complexity:" + route->complexity);
          }
          Status s = github_->AddLabels(*plan.project.repo, *n, labels);
          if (!s.ok()) spdlog::warn("github: labelling #{}: {}", *n, s.message());
        }
      }
      return [this, plan, run, started] {
        if (started.ok()) {
          if (on_run_started) on_run_started(started->run_dir);
          return;
        }
        spdlog::warn("dispatch: task {}: could not start {}: {}", plan.task.id, plan.agent,
                     started.status().message());
        TaskRun failed = run;
        failed.outcome = "failed";
        failed.error_class = "spawn";
        failed.summary = started.status().message();
        LogIfError(store_.FinishRun(failed));
        LogIfError(FailAttempt(plan.task, plan.agent, plan.model,
                               "could not start: " + started.status().message(),
                               AgentError::kNone));
      };
    });
  }
  return Status::OK();
}

Status Dispatcher::ReapExited(DispatchReport* report) {
  Result<std::vector<TaskRun>> running = store_.UnfinishedRuns();
  if (!running.ok()) return running.status();
  int64_t now = clock_.NowUnix();
  for (const TaskRun& run : *running) {
    if (busy_.count(run.task_id) || (only_ && *only_ != run.task_id)) continue;
    // The exit file is one stat; the pane is a tmux client, so only every few seconds.
    Result<ShimExit> exit = ReadShimExit(run.run_dir);
    RunCheck check;
    if (exit.ok()) {
      check.state = RunState::kExited;
      check.exit = *exit;
    } else {
      int64_t& next = next_tmux_check_[run.id];
      if (now < next) continue;
      next = now + kTmuxCheckEvery;
      check = runner_.Check(run.tmux_session, run.run_dir);
      if (check.state == RunState::kRunning) continue;
    }
    next_tmux_check_.erase(run.id);
    Result<Task> task = store_.GetTask(run.task_id);
    if (!task.ok()) return task.status();
    Result<Project> project = ProjectOf(*task);
    if (!project.ok()) return project.status();
    ++report->finished;
    Submit(run.task_id, [this, run, check, task = *task, project = *project]() -> Apply {
      Finished f;
      f.run = run;
      f.run.finished_at = clock_.NowUnix();
      f.killed = std::filesystem::exists(run.run_dir + "/" + kKilledMarker);
      if (check.state == RunState::kVanished &&
          !std::filesystem::exists(run.run_dir + "/spec.json")) {
        // orch stopped between recording the run and starting it: no agent ever ran.
        return [this, f, task] {
          TaskRun run = f.run;
          run.outcome = "not started";
          run.summary = "orch stopped before the agent started";
          LogIfError(store_.FinishRun(run));
          LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kRouted,
                                       {"engine", "the agent had not started when orch stopped; "
                                                  "starting it again"}));
        };
      }
      if (check.state == RunState::kVanished) {
        f.failure = "the agent's tmux session vanished without an exit status";
        f.result.error = AgentError::kFailed;
        f.result.error_message = f.failure;
      } else {
        f.run.exit_code = check.exit.exit_code;
        Result<std::unique_ptr<AgentAdapter>> adapter = MakeAgentAdapter(run.agent, config_);
        Result<AgentOutput> out = runner_.ReadOutput(run.run_dir, check.exit);
        if (!adapter.ok() || !out.ok()) {
          f.failure = !adapter.ok() ? adapter.status().message() : out.status().message();
        } else {
          f.result = (*adapter)->Parse(*out);
          if (!f.result.ok()) {
            f.failure = std::string(AgentErrorName(f.result.error)) + ": " + f.result.error_message;
          }
        }
      }
      if (f.failure.empty() && task.run_id) {
        // A run's step publishes nothing; what it changed is committed on its branch for the
        // steps after it, and its output goes to the run (runs.h).
        if (!task.read_only) {
          Result<bool> committed = runner_.Commit(
              run.worktree, task.title + "\n\n" + f.result.contract->summary + "\n", kBotName,
              kBotEmail);
          if (!committed.ok()) {
            f.failure = "committing the agent's work: " + committed.status().message();
          }
        }
      } else if (f.failure.empty()) {
        // orch, not the agent, commits what is left and publishes it.
        std::string message = task.title + (IssueNumber(task) ? " (#" + *task.external_id + ")" : "") +
                              "\n\n" + f.result.contract->summary + "\n";
        Result<bool> committed = runner_.Commit(run.worktree, message, kBotName, kBotEmail);
        Result<int> ahead = committed.ok()
                                ? runner_.Ahead(run.worktree, task.id)
                                : Result<int>(committed.status());
        if (!ahead.ok()) {
          f.failure = "committing the agent's work: " + ahead.status().message();
        } else {
          f.commits = *ahead;
        }
      }
      if (f.failure.empty() && f.commits > 0 && !task.run_id) {
        std::string branch = BranchName(task);
        Status pushed = WithRetries([&] { return runner_.Push(project, run.worktree, branch); });
        if (!pushed.ok()) {
          f.failure = "push failed: " + pushed.message();
        } else if (github_ && project.repo) {
          Result<std::vector<PullRequest>> open =
              WithRetries([&] { return github_->ListPullRequests(*project.repo, branch, "open"); });
          if (open.ok() && !open->empty()) {
            f.pr = open->front();
          } else if (open.ok()) {
            NewPullRequest pr{.title = task.title,
                              .body = PullRequestBody(task, *f.result.contract, run.agent,
                                                      run.model),
                              .head = branch,
                              .base = runner_.Base(task.id)};
            Result<PullRequest> made =
                WithRetries([&] { return github_->CreatePullRequest(*project.repo, pr); });
            if (made.ok()) {
              f.pr = *made;
            } else {
              f.failure = "opening the pull request failed: " + made.status().message();
            }
          } else {
            f.failure = "looking for the branch's pull request failed: " + open.status().message();
          }
        }
      }
      // One comment per attempt on the issue (a run's steps have none: the run reports).
      if (github_ && project.repo && !task.run_id) {
        if (std::optional<int64_t> n = IssueNumber(task)) {
          std::ostringstream c;
          int64_t secs = run.finished_at.value_or(f.run.finished_at.value_or(0)) - run.started_at;
          c << "**orch** attempt " << run.attempt << " by `" << run.agent << "`"
            << (run.model.empty() ? "" : " (`" + run.model + "`)") << ": **"
            << (f.failure.empty() ? ContractStatusName(f.result.contract->status) : "failed")
            << "** in " << std::max<int64_t>(secs, 0) << "s, tokens " << f.result.input_tokens
            << " in / " << f.result.output_tokens << " out, cost $" << f.result.cost_usd << "\n\n";
          if (!f.failure.empty()) {
            c << f.failure << "\n";
          } else {
            c << f.result.contract->summary << "\n";
            if (f.pr) c << "\nPull request: #" << f.pr->number << "\n";
          }
          Result<Comment> posted = github_->CreateComment(*project.repo, *n, RedactSecrets(c.str()));
          if (!posted.ok()) spdlog::warn("github: commenting on #{}: {}", *n, posted.status().message());
        }
      }
      return [this, f, task] {
        TaskRun run = f.run;
        run.input_tokens = f.result.input_tokens;
        run.output_tokens = f.result.output_tokens;
        run.cost_usd = f.result.cost_usd;
        run.agent_session = f.result.session_id;
        if (!f.failure.empty()) {
          run.outcome = "failed";
          run.error_class = f.result.ok() ? "publish" : AgentErrorName(f.result.error);
          run.summary = f.failure;
          if (f.result.error == AgentError::kUnparseable) {
            run.summary += "\n--- final text ---\n" + f.result.final_text.substr(0, 4000);
          }
        } else {
          run.outcome = ContractStatusName(f.result.contract->status);
          // A run's step keeps the whole answer: it is the step's output.
          run.summary = task.run_id ? ContractText(*f.result.contract) : f.result.contract->summary;
        }
        LogIfError(store_.FinishRun(run));
        if (breakers_ && !f.killed) {
          // The backend's own outcome: an answer that parsed, or an agent error (a session that
          // vanished included). A failed push or PR is not the agent's doing.
          if (!f.result.ok()) {
            breakers_->Failed(run.agent);
          } else if (f.result.contract) {
            breakers_->Succeeded(run.agent);
          }
        }
        if (!f.result.session_id.empty()) {
          LogIfError(store_.SetTaskAgentSession(task.id, f.result.session_id));
        }
        spdlog::info("dispatch: task {} attempt {} by {}: {}", task.id, run.attempt, run.agent,
                     f.failure.empty() ? run.outcome : f.failure);
        if (!f.failure.empty() && !f.result.ok() && f.result.session_id.empty()) {
          // The CLI did not even report a session: if it was asked to resume one, that one is
          // gone; the next attempt starts afresh.
          LogIfError(store_.SetTaskAgentSession(task.id, ""));
        }
        if (f.killed) {
          LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                                       {"cli", "the agent was killed (orch task kill)"},
                                       AttemptEffect::kCount));
          return;
        }
        if (!f.failure.empty()) {
          LogIfError(FailAttempt(task, run.agent, run.model, f.failure, f.result.error));
          return;
        }
        const AgentContract& c = *f.result.contract;
        if (task.run_id) {
          if (!c.delegations.empty()) {
            spdlog::info("dispatch: task {} is a step of run {}: its delegations are not made",
                         task.id, *task.run_id);
          }
          if (c.status == ContractStatus::kInProgress) {
            LogIfError(FailAttempt(task, run.agent, run.model,
                                   "the agent stopped before finishing: " + c.summary,
                                   AgentError::kNone));
          } else if (c.status == ContractStatus::kDone) {
            LogIfError(store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kDone,
                                         {"engine", "step of run " + std::to_string(*task.run_id) +
                                                        " done"}));
          } else {
            LogIfError(store_.Transition(
                task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                {"agent:" + run.agent, std::string(ContractStatusName(c.status)) + ": " +
                                           (c.reason.empty() ? c.summary : c.reason)}));
          }
          return;
        }
        bool follow_up = IsReviewFollowUp(task);
        if (follow_up && !f.result.session_id.empty()) {
          LogIfError(store_.SetTaskAgentSession(*task.parent_id, f.result.session_id));
        }
        if (follow_up && c.status == ContractStatus::kDone && c.delegations.empty()) {
          // Its work went to the parent's PR; the parent stays in review.
          LogIfError(store_.Transition(
              task.id, TaskStatus::kInProgress, TaskStatus::kDone,
              {"engine", f.pr ? "pushed to pull request #" + std::to_string(f.pr->number)
                              : std::string("the agent is done; nothing to change")}));
          return;
        }
        if (f.pr && !follow_up) LogIfError(store_.SetTaskPullRequest(task.id, f.pr->number));
        if (!c.delegations.empty()) {
          for (const Delegation& d : c.delegations) {
            NewTask child{.project_id = task.project_id,
                          .parent_id = task.id,
                          .source = task.source,
                          .title = d.title,
                          .body = d.body,
                          .labels = d.labels};
            Result<Task> made = store_.AddTask(child, {"agent:" + run.agent, "delegated by task " +
                                                                                 std::to_string(task.id)});
            if (!made.ok()) spdlog::error("dispatch: delegation: {}", made.status().message());
          }
          LogIfError(store_.Transition(
              task.id, TaskStatus::kInProgress, TaskStatus::kBlocked,
              {"engine", "waiting on " + std::to_string(c.delegations.size()) + " delegated task(s)"}));
          return;
        }
        switch (c.status) {
          case ContractStatus::kDone:
            if (f.pr) {
              LogIfError(store_.Transition(
                  task.id, TaskStatus::kInProgress, TaskStatus::kInReview,
                  {"engine", "pull request #" + std::to_string(f.pr->number) + " is open"}));
            } else if (f.commits > 0) {
              // Pushed, but nowhere to open a PR (no GitHub): a person takes it from here.
              LogIfError(store_.Transition(
                  task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                  {"engine", "branch " + BranchName(task) + " pushed; no GitHub to open a PR"}));
            } else {
              LogIfError(store_.Transition(task.id, TaskStatus::kInProgress,
                                                  TaskStatus::kDone,
                                                  {"engine", "the agent is done; nothing to change"}));
              Result<Project> project = ProjectOf(task);
              if (project.ok()) {
                LogIfError(runner_.RemoveWorktree(*project, run.worktree, BranchName(task)));
              }
            }
            break;
          case ContractStatus::kInProgress:
            // Worked, not finished: another attempt resumes the same session.
            LogIfError(FailAttempt(task, run.agent, run.model,
                                   "the agent stopped before finishing: " + c.summary,
                                   AgentError::kNone));
            break;
          case ContractStatus::kBlocked:
          case ContractStatus::kNeedsReview:
            LogIfError(store_.Transition(
                task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                {"agent:" + run.agent, std::string(ContractStatusName(c.status)) + ": " +
                                           (c.reason.empty() ? c.summary : c.reason)}));
            break;
        }
      };
    });
  }
  return Status::OK();
}

std::string Dispatcher::NextAgent(const std::string& failed) const {
  const auto& agents = config_.router.agents;
  int64_t now = clock_.NowUnix();
  auto it = std::find(agents.begin(), agents.end(), failed);
  size_t start = it == agents.end() ? 0 : static_cast<size_t>(it - agents.begin()) + 1;
  for (size_t i = 0; i < agents.size(); ++i) {
    const std::string& a = agents[(start + i) % agents.size()];
    if (a == failed) continue;
    bool cooling = false;
    for (const auto& [key, until] : cooldown_until_) {
      cooling = cooling || (key.rfind(a + ":", 0) == 0 && until > now);
    }
    if (cooling || (breakers_ && !breakers_->Available(a))) continue;
    if (PathAgentInstalled(config_)(a)) return a;
  }
  return failed;
}

int64_t RetryDelay(int attempt, int64_t base, int64_t cap, std::mt19937_64& rng) {
  int64_t ceiling = std::min(cap, base << std::clamp(attempt - 1, 0, 20));
  if (ceiling <= 0) return 0;
  return std::uniform_int_distribution<int64_t>(0, ceiling)(rng);
}

bool IsTransient(AgentError e) {
  return e == AgentError::kRateLimit || e == AgentError::kModelUnavailable ||
         e == AgentError::kTimeout || e == AgentError::kFailed;
}

std::string RetryKey(int64_t task_id) { return "retry.not_before." + std::to_string(task_id); }

Status Dispatcher::FailAttempt(const Task& task, const std::string& agent, const std::string& model,
                               const std::string& why, AgentError error) {
  if (error == AgentError::kRateLimit) {
    cooldown_until_[agent + ":" + model] = clock_.NowUnix() + kRateLimitCooldown;
  }
  Result<Task> now = store_.GetTask(task.id);
  if (!now.ok()) return now.status();
  if (now->status != TaskStatus::kInProgress) return Status::OK();  // moved meanwhile
  if (now->attempts + 1 >= config_.workflow.max_attempts) {
    return store_.Transition(task.id, TaskStatus::kInProgress, TaskStatus::kNeedsReview,
                             {"engine", "attempt " + std::to_string(now->attempts + 1) + " of " +
                                            std::to_string(config_.workflow.max_attempts) +
                                            " failed: " + why},
                             AttemptEffect::kCount);
  }
  std::string next = now->run_id ? agent : NextAgent(agent);  // a run's step keeps its agent
  if (next != agent) {
    Result<Route> route = RouteFromJson(now->route.value_or("{}"));
    if (route.ok()) {
      route->agent = next;
      route->by = "failover";
      route->reason = agent + " failed: " + why;
      route->model = ModelFor(config_, route->complexity, next);
      ORCH_RETURN_IF_ERROR(store_.SetTaskRoute(task.id, RouteToJson(*route).dump()));
      // Another agent cannot resume this one's session.
      ORCH_RETURN_IF_ERROR(store_.SetTaskAgentSession(task.id, ""));
    }
  }
  std::string wait;
  if (IsTransient(error) && config_.workflow.retry_base_delay.count() > 0) {
    int64_t delay = RetryDelay(now->attempts + 1, config_.workflow.retry_base_delay.count(),
                               config_.workflow.retry_max_delay.count(), rng_);
    ORCH_RETURN_IF_ERROR(store_.SetKv(RetryKey(task.id), std::to_string(clock_.NowUnix() + delay)));
    wait = " in " + std::to_string(delay) + "s";
  }
  return store_.Transition(
      task.id, TaskStatus::kInProgress, TaskStatus::kRouted,
      {"engine",
       why + (next != agent ? "; failing over to " + next : "; retrying " + agent) + wait},
      AttemptEffect::kCount);
}

Result<std::vector<std::string>> Dispatcher::SweepWorktrees() {
  std::vector<std::string> orphans;
  Result<std::vector<Project>> projects = store_.ListProjects();
  if (!projects.ok()) return projects.status();
  for (const Project& p : *projects) {
    std::string dir = runner_.WorktreePath(p.name, "orch");
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    Result<std::vector<Task>> tasks = store_.ListTasks({.project_id = p.id});
    if (!tasks.ok()) return tasks.status();
    std::map<std::string, const Task*> by_branch;
    std::set<std::string> keep;
    for (const Task& t : *tasks) {
      // Follow-ups share their parent's branch; the parent decides when it goes.
      if (!t.branch.empty() && !IsReviewFollowUp(t)) by_branch[t.branch] = &t;
      // A run's steps that may write keep their work trees: a flow's branch holds its work,
      // a debug session's its fix. Read-only ones (plans, reviews) go like any other.
      if (!t.branch.empty() && t.run_id && !t.read_only) keep.insert(t.branch);
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::string branch = "orch/" + entry.path().filename().string();
      if (keep.count(branch)) continue;
      auto it = by_branch.find(branch);
      if (it == by_branch.end()) {
        spdlog::warn("dispatch: orphan work tree {} (no task has branch {}); remove it with "
                     "git -C {} worktree remove {}",
                     entry.path().string(), branch, p.path, entry.path().string());
        orphans.push_back(entry.path().string());
      } else if (it->second->status == TaskStatus::kDone && !busy_.count(it->second->id)) {
        Status s = runner_.RemoveWorktree(p, entry.path().string(), branch);
        if (s.ok()) {
          spdlog::info("dispatch: removed the work tree of done task {}", it->second->id);
        } else {
          spdlog::warn("dispatch: removing {}: {}", entry.path().string(), s.message());
        }
      }
    }
  }
  return orphans;
}

Result<int> Dispatcher::PruneRunLogs() {
  int days = config_.engine.run_log_retention_days;
  if (days <= 0) return 0;
  int64_t before = clock_.NowUnix() - int64_t{days} * 86400;
  std::error_code ec;
  std::filesystem::directory_iterator dir(runner_.RunsDir(), ec);
  if (ec) return 0;  // no run yet
  int removed = 0;
  for (const auto& entry : dir) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int64_t id = std::atoll(name.c_str());
    if (busy_.count(id)) continue;
    Result<Task> task = store_.GetTask(id);
    if (!task.ok() && !task.status().IsNotFound()) return task.status();
    if (task.ok()) {
      if (task->status != TaskStatus::kDone || task->updated_at >= before) continue;
    } else {
      // No such task (its project was removed): by the directory's age.
      auto changed = std::filesystem::last_write_time(entry.path(), ec);
      if (ec) continue;
      auto age = std::filesystem::file_time_type::clock::now() - changed;
      if (age < std::chrono::hours(24) * days) continue;
    }
    std::filesystem::remove_all(entry.path(), ec);
    if (ec) {
      spdlog::warn("dispatch: deleting {}: {}", entry.path().string(), ec.message());
      continue;
    }
    ++removed;
  }
  if (removed > 0) spdlog::info("dispatch: deleted the run logs of {} old task(s)", removed);
  return removed;
}

Status Dispatcher::Adopt() {
  Result<std::vector<TaskRun>> running = store_.UnfinishedRuns();
  if (!running.ok()) return running.status();
  std::set<int64_t> with_run;
  std::set<std::string> sessions_in_use;
  for (const TaskRun& run : *running) {
    with_run.insert(run.task_id);
    RunCheck c = runner_.Check(run.tmux_session, run.run_dir);
    if (c.state == RunState::kRunning) {
      spdlog::info("dispatch: adopted task {}'s live session {}", run.task_id, run.tmux_session);
      sessions_in_use.insert(run.tmux_session);
      if (on_run_started) on_run_started(run.run_dir);
    }
    // Exited and vanished runs are reaped by the next Step().
  }
  // In progress with no run: the daemon stopped between the two writes. Try again.
  Result<std::vector<Task>> active = store_.ListTasks({.status = TaskStatus::kInProgress});
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
