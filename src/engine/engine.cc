#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "agents/dispatch.h"
#include "engine/ci.h"
#include "engine/cluster.h"
#include "engine/jobs.h"
#include "engine/reviews.h"
#include "runs/run_engine.h"

namespace orch {
namespace {

constexpr int kDeliveriesPerTick = 200;
constexpr int64_t kReceiptRetention = 7 * 86400;
constexpr int64_t kDeliveryRetention = 30 * 86400;  // applied deliveries, for dedup and replay

// The registered project for `repo` (owner/name, compared without case), if any.
std::optional<Project> ProjectForRepo(const std::vector<Project>& projects,
                                      const std::string& repo) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
  };
  for (const Project& p : projects) {
    if (p.repo && lower(*p.repo) == lower(repo)) return p;
  }
  return std::nullopt;
}

}  // namespace

Engine::Engine(Store& store, ConfigSet configs, const Clock& clock, GitHubClient* github,
               HealthProbe probe)
    : store_(store),
      configs_(std::move(configs)),
      config_(configs_.global()),
      clock_(clock),
      github_(github),
      probe_(std::move(probe)) {
  if (github_) {
    trust_ = std::make_unique<TrustPolicy>(*github_, clock_, config_.workflow.allowed_authors);
    trust_->set_allowed_for([this](const std::string& repo) {
      Result<std::vector<Project>> projects = store_.ListProjects();
      std::optional<Project> p;
      if (projects.ok()) p = ProjectForRepo(*projects, repo);
      return p ? configs_.For(*p)->workflow.allowed_authors : config_.workflow.allowed_authors;
    });
    intake_ = std::make_unique<Intake>(store_, *trust_);
    syncer_ = std::make_unique<Syncer>(store_, *github_, *intake_);
    reviews_ = std::make_unique<ReviewHandler>(store_, *github_, *trust_, configs_);
    mentions_ = std::make_unique<MentionHandler>(store_, *github_, *trust_, configs_);
    intake_->set_reviews(reviews_.get());
    intake_->set_mentions(mentions_.get());
    ci_ = std::make_unique<CiHandler>(store_, *github_, configs_);
    intake_->set_ci(ci_.get());
    reviews_->set_ci(ci_.get());  // its sync reads each PR once, for reviews and checks
    reviews_->set_mentions(mentions_.get());
    intake_->set_run_starter(
        [this](const Project& p, const IntakeDecision& d) -> Result<std::string> {
          if (!runs_) return std::string("ignored: runs are not driven here");
          return runs_->StartFromIssue(p, d.run_kind, d.external_id, d.title, d.body);
        });
    // With webhooks on, every change a sync finds should have come as a delivery first. The
    // grace covers GitHub's delivery time (seconds), and never exceeds the sync interval, so
    // fallback starts within one interval of the sync that saw the change.
    if (probe_) {
      watch_ = std::make_unique<DeliveryWatch>(store_, clock_,
                                               std::min(Seconds(60), config_.engine.sync_interval));
    }
  }
}

Engine::~Engine() = default;

Result<TickReport> Engine::Tick() {
  TickReport report;
  Status first;
  auto note = [&first](const Status& s, const char* step) {
    if (s.ok()) return;
    spdlog::error("engine: {}: {}", step, s.message());
    if (first.ok()) first = s;
  };
  // In a fleet (cluster.h) only the leader takes the steps that must run once; every host
  // starts and reaps its own agents.
  bool leader = true;
  if (cluster_) {
    Result<bool> leads = cluster_->Step();
    note(leads.status(), "taking part in the fleet");
    leader = leads.ok() && *leads;
  }
  if (leader) LeaderSteps(&report, note);
  if (dispatcher_) {
    dispatcher_->set_routing(leader);
    Result<DispatchReport> d = dispatcher_->Step();
    if (d.ok()) {
      report.tasks_routed = d->routed;
      report.agents_started = d->started;
      report.agents_finished = d->finished;
    }
    note(d.status(), "dispatching agents");
  }
  if (leader) {
    // After the dispatcher too: a step whose task it just finished leads to the next at once.
    if (runs_) note(runs_->Step(), "advancing runs");
    Result<int> unblocked = UnblockFinishedParents();
    if (unblocked.ok()) report.parents_unblocked = *unblocked;
    note(unblocked.status(), "unblocking parents");
    int64_t now = clock_.NowUnix();
    if (now >= next_prune_) {
      note(store_.PruneWebhookReceipts(now - kReceiptRetention), "pruning webhook receipts");
      note(store_.PruneAppliedDeliveries(now - kDeliveryRetention), "pruning applied deliveries");
      next_prune_ = now + 3600;
    }
  }
  note(store_.SetKv(kHeartbeatKey, std::to_string(clock_.NowUnix())), "heartbeat");
  if (!first.ok()) return first;
  return report;
}

void Engine::LeaderSteps(TickReport* r,
                         const std::function<void(const Status&, const char*)>& note) {
  TickReport& report = *r;
  // Without knowing its own login, orch cannot tell its own events from people's: wait.
  bool intake = github_ && KnowOwnIdentity();
  if (intake) {
    Result<int> applied = ApplyDeliveries(&report.deliveries_failed);
    if (applied.ok()) report.deliveries_applied = *applied;
    note(applied.status(), "applying webhook deliveries");
  }
  CheckWebhookHealth();
  if (intake) {
    Result<int> synced = SyncIfDue();
    if (synced.ok()) report.projects_synced = *synced;
    note(synced.status(), "syncing with GitHub");
    CheckDeliveries();
  }
  if (jobs_) {
    Result<JobReport> j = jobs_->Step();
    if (j.ok()) report.jobs_started = j->started;
    note(j.status(), "running scheduled jobs");
  }
  // Before the dispatcher: a step's new task is routed this tick.
  if (runs_) note(runs_->Step(), "advancing runs");
}

IntakeRules Engine::RulesFor(const Project& project) const {
  IntakeRules rules = rules_;
  rules.trigger_labels = configs_.For(project)->workflow.trigger_labels;
  return rules;
}

bool Engine::KnowOwnIdentity() {
  if (!rules_.bot_login.empty()) return true;
  Result<GitHubUser> me = github_->AuthenticatedUser();
  if (!me.ok()) {
    if (me.status().message() != identity_error_) {  // once per distinct failure, not per tick
      spdlog::warn("engine: cannot tell who orch is on GitHub, intake waits: {}",
                   me.status().message());
      identity_error_ = me.status().message();
    }
    return false;
  }
  rules_.bot_login = me->login;
  reviews_->set_bot_login(me->login);
  mentions_->set_bot_login(me->login);
  spdlog::info("github: acting as {} (its own events start nothing)", me->login);
  return true;
}

Result<int> Engine::ApplyDeliveries(int* failed) {
  Result<std::vector<Delivery>> due = store_.DueDeliveries(kDeliveriesPerTick);
  if (!due.ok()) return due.status();
  if (due->empty()) return 0;
  Result<std::vector<Project>> projects = store_.ListProjects();
  if (!projects.ok()) return projects.status();
  int applied = 0;
  for (const Delivery& d : *due) {
    std::string label =
        d.event_type + (d.action.empty() ? "" : "." + d.action) + " " + d.delivery_id;
    Result<std::string> result = std::string();
    std::optional<Project> project = ProjectForRepo(*projects, d.repo);
    nlohmann::json payload = nlohmann::json::parse(d.payload, nullptr, false);
    if (!d.payload_error.empty()) {
      result = Status::Corruption("payload", d.payload_error);
    } else if (payload.is_discarded()) {
      result = Status::Corruption("payload", "not JSON");  // the receiver checked it; disk?
    } else if (!project) {
      result = "ignored: " + (d.repo.empty() ? std::string("no repository in the event")
                                             : d.repo + " is not a registered project");
    } else {
      result = intake_->Apply(*project, DecideEvent(d.event_type, payload, RulesFor(*project)));
    }
    if (result.ok()) {
      ORCH_RETURN_IF_ERROR(store_.MarkDeliveryApplied(d.id, *result));
      spdlog::info("webhook: {}: {}", label, *result);
      ++applied;
    } else {
      ORCH_RETURN_IF_ERROR(store_.MarkDeliveryFailed(d.id, result.status().message()));
      spdlog::warn("webhook: {} failed (attempt {} of {}): {}", label, d.retry_count + 1,
                   kMaxDeliveryAttempts, result.status().message());
      ++*failed;
    }
  }
  return applied;
}

void Engine::CheckWebhookHealth() {
  if (!probe_) return;
  int64_t now = clock_.NowUnix();
  if (next_health_check_ && now < *next_health_check_) return;
  next_health_check_ = now + config_.engine.webhook_health_check_interval.count();
  Status health = probe_();
  if (!health.ok() && fallback_cause_ != FallbackCause::kUnreachable) {
    EnterFallback(FallbackCause::kUnreachable,
                  "webhook receiver unreachable (" + health.message() + ")");
  } else if (health.ok() && fallback_cause_ == FallbackCause::kUnreachable) {
    LeaveFallback("webhook receiver reachable again");
  } else if (health.ok() && !fallback_ && !next_sync_) {
    (void)store_.SetKv(kModeKey, "webhook");
    (void)store_.SetKv(kModeReasonKey, "");
  }
}

void Engine::CheckDeliveries() {
  if (!watch_) return;
  if (fallback_cause_ == FallbackCause::kMissingDeliveries) {
    Result<bool> back = watch_->DeliveredSince(fallback_since_);
    if (back.ok() && *back) LeaveFallback("webhook deliveries arrive again");
  }
  Result<std::optional<std::string>> missing = watch_->MissingDelivery();
  if (!missing.ok()) {
    spdlog::warn("engine: cannot tell whether webhook deliveries arrive: {}",
                 missing.status().message());
    return;
  }
  // Already polling in fallback, for whatever cause, it stays so; the reason stands.
  if (*missing && !fallback_) EnterFallback(FallbackCause::kMissingDeliveries, **missing);
}

void Engine::EnterFallback(FallbackCause cause, const std::string& why) {
  bool was = fallback_;
  fallback_ = true;
  fallback_cause_ = cause;
  fallback_since_ = clock_.NowUnix();
  if (!was) next_sync_ = fallback_since_;  // catch up at once
  spdlog::warn("{}: entering polling fallback mode, syncing every {}s", why,
               config_.engine.fallback_sync_interval.count());
  (void)store_.SetKv(kModeKey, "polling fallback");
  (void)store_.SetKv(kModeReasonKey, why);
}

void Engine::LeaveFallback(const std::string& why) {
  fallback_ = false;
  fallback_cause_ = FallbackCause::kNone;
  spdlog::info("{}: exiting polling fallback mode", why);
  (void)store_.SetKv(kModeKey, "webhook");
  (void)store_.SetKv(kModeReasonKey, "");
}

Result<int> Engine::SyncIfDue() {
  int64_t now = clock_.NowUnix();
  if (next_sync_ && now < *next_sync_) return 0;
  Seconds every = fallback_ ? config_.engine.fallback_sync_interval : config_.engine.sync_interval;
  next_sync_ = now + every.count();
  Result<std::vector<Project>> projects = store_.ListProjects();
  if (!projects.ok()) return projects.status();
  int synced = 0;
  Status first;
  for (const Project& p : *projects) {
    if (!p.repo) continue;
    Result<SyncReport> r = syncer_->SyncProject(p, RulesFor(p));
    if (!r.ok()) {
      spdlog::warn("sync: {}: {}", *p.repo, r.status().message());
      // GitHub said how long to back off (rate limit): no sync before then, in any mode.
      int64_t wait = r.status().retry_after_seconds();
      if (wait > 0) next_sync_ = std::max(*next_sync_, now + wait);
      if (first.ok()) first = r.status();
      continue;
    }
    ++synced;
    if (watch_) {
      for (const SyncChange& c : r->changes) {
        watch_->Saw(*p.repo, "#" + std::to_string(c.number) + " changed", c.updated_at);
      }
      Status record = watch_->CheckGitHubRecord(*github_, *p.repo);
      if (!record.ok()) spdlog::warn("sync: {}: webhook record: {}", *p.repo, record.message());
    }
    // Reviews and PR states of in_review tasks, comments mentioning orch and the checks of
    // orch's pull requests, so nothing depends on webhooks alone. Each goes on if one fails.
    auto note = [&](const char* what, const Status& s) {
      if (s.ok()) return;
      spdlog::warn("sync: {}: {}: {}", *p.repo, what, s.message());
      if (first.ok()) first = s;
    };
    note("reviews and checks", reviews_->Sync(p).status());
    note("mentions", mentions_->Sync(p).status());
    if (r->not_modified) {
      spdlog::debug("sync: {}: not modified", *p.repo);
    } else {
      spdlog::info("sync: {}: {} issue(s) changed, {} task(s) created", *p.repo, r->issues_seen,
                   r->tasks_created);
    }
  }
  if (!first.ok()) return first;
  return synced;
}

Result<int> Engine::UnblockFinishedParents() {
  Result<std::vector<Task>> blocked = store_.ListTasks({.status = TaskStatus::kBlocked});
  if (!blocked.ok()) return blocked.status();
  int moved = 0;
  for (const Task& parent : *blocked) {
    Result<std::vector<Task>> children = store_.ListTasks({.parent_id = parent.id});
    if (!children.ok()) return children.status();
    if (children->empty()) continue;  // blocked on something other than children
    bool all_done = true;
    for (const Task& c : *children) all_done = all_done && c.status == TaskStatus::kDone;
    if (!all_done) continue;
    Status s = store_.Transition(
        parent.id, TaskStatus::kBlocked, TaskStatus::kNew,
        {"engine", "all " + std::to_string(children->size()) + " child tasks are done"});
    if (s.IsConflict()) continue;  // someone moved it meanwhile; their move stands
    if (!s.ok()) return s;
    spdlog::info("engine: task {} unblocked, its children are done", parent.id);
    ++moved;
  }
  return moved;
}

}  // namespace orch
