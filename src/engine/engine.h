// Engine: orch's state machine driver. Tick() is one step over the store, public so that a test
// can drive the engine without a daemon or sleep (after watchman's stepIoThread).
//
// A tick, in order:
//   1. applies due webhook deliveries from the inbox (intake.h), marking each applied with what
//      it did, or failed (to be retried with backoff);
//   2. checks the webhook receiver's health every engine.webhook_health_check_interval, and
//      enters or leaves polling fallback mode, logging the change and its reason;
//   3. syncs every project with GitHub when due (issues, reviews, comments mentioning orch, the
//      checks of orch's open pull requests): every
//   engine.sync_interval, or every
//      engine.fallback_sync_interval while in fallback mode; a change the sync finds that no
//      webhook delivery brought within a grace period (delivery_watch.h) also enters fallback
//      mode, left once deliveries arrive again;
//   4. runs due scheduled jobs (jobs.h): tasks they create are routed in the same tick;
//   5. routes new tasks, starts agents for routed ones, and turns finished runs into pull
//      requests and task statuses (the dispatcher, dispatch.h);
//   6. unblocks blocked parents whose children are all done;
//   7. writes a heartbeat.
// In a fleet of hosts sharing one PostgreSQL store (set_cluster), a tick first renews this
// host's heartbeat and leases; steps 1 to 4 and 6, and routing, are the leader's alone. Without a
// GitHub client (no credentials) steps 1 and 3 wait, so deliveries stay queued rather than failing.
//
// Thread safety: one thread ticks (the daemon's writer thread); the engine owns no threads.
#ifndef ORCH_ENGINE_ENGINE_H_
#define ORCH_ENGINE_ENGINE_H_

#include <functional>
#include <memory>
#include <optional>

#include "base/clock.h"
#include "base/status.h"
#include "config/config_set.h"
#include "engine/delivery_watch.h"
#include "engine/intake.h"
#include "engine/sync.h"
#include "github/github.h"
#include "github/trust.h"
#include "store/store.h"

namespace orch {

class Dispatcher;
class RunEngine;
class ReviewHandler;
class CiHandler;
class JobScheduler;
class Cluster;

struct TickReport {
  int tasks_routed = 0;
  int agents_started = 0;
  int agents_finished = 0;
  int parents_unblocked = 0;
  int deliveries_applied = 0;
  int deliveries_failed = 0;
  int projects_synced = 0;
  int jobs_started = 0;
};

// Asks whether the webhook receiver can be reached; OK when it can.
using HealthProbe = std::function<Status()>;

class Engine {
 public:
  // `github` may be null (no credentials); `probe` is empty when webhooks are disabled.
  // Intake rules (trigger labels, allowed authors) and reviews follow each project's settings.
  Engine(Store& store, ConfigSet configs, const Clock& clock, GitHubClient* github = nullptr,
         HealthProbe probe = {});
  ~Engine();

  // One pass. A failed step is reported and the rest still run; the first failure is returned
  // after all steps, so one bad row cannot stall the loop.
  Result<TickReport> Tick();

  bool in_fallback() const { return fallback_; }
  // Routing, dispatch and reaping (dispatch.h); without one, tasks wait in `new`.
  void set_dispatcher(Dispatcher* d) { dispatcher_ = d; }
  // Scheduled jobs (jobs.h); without one, no job runs.
  void set_jobs(JobScheduler* j) { jobs_ = j; }
  // Orchestrated runs (runs.h); without one, runs wait.
  void set_runs(RunEngine* r) { runs_ = r; }
  // This host's part in a fleet sharing one store (cluster.h): each tick starts with its
  // Step, and only the leader takes steps 1 to 4 and 6 and routes; without one, this host does
  // everything.
  void set_cluster(Cluster* c) { cluster_ = c; }

  // The kv key of the heartbeat Tick() writes (unix seconds of the last tick).
  static constexpr const char* kHeartbeatKey = "engine.last_tick";
  // The kv key holding "webhook" or "polling fallback" or "polling" (for `orch status`).
  static constexpr const char* kModeKey = "engine.mode";
  // The kv key holding why the mode is polling fallback (empty otherwise), for `orch status`
  // and `orch doctor`.
  static constexpr const char* kModeReasonKey = "engine.mode_reason";

 private:
  // Fills rules_.bot_login from GitHub once; false while GitHub cannot say.
  bool KnowOwnIdentity();
  // Steps 1 to 4 (and the runs before dispatch): what only the leader of a fleet does.
  void LeaderSteps(TickReport* report, const std::function<void(const Status&, const char*)>& note);
  Result<int> ApplyDeliveries(int* failed);
  void CheckWebhookHealth();
  // Enters fallback when a change the sync saw came without a delivery; leaves the fallback that
  // entered once deliveries arrive again.
  void CheckDeliveries();
  enum class FallbackCause { kNone, kUnreachable, kMissingDeliveries };
  void EnterFallback(FallbackCause cause, const std::string& why);
  void LeaveFallback(const std::string& why);
  Result<int> SyncIfDue();
  // Parents in `blocked` that have children, all of them `done`, go back to `new`.
  Result<int> UnblockFinishedParents();

  // The rules for deliveries and polls of `project`: its trigger labels, orch's login.
  IntakeRules RulesFor(const Project& project) const;

  Store& store_;
  ConfigSet configs_;
  const Config& config_;  // the daemon-wide sections (engine.*)
  const Clock& clock_;
  GitHubClient* github_;
  HealthProbe probe_;
  Dispatcher* dispatcher_ = nullptr;
  JobScheduler* jobs_ = nullptr;
  RunEngine* runs_ = nullptr;
  Cluster* cluster_ = nullptr;
  std::unique_ptr<TrustPolicy> trust_;
  std::unique_ptr<Intake> intake_;
  std::unique_ptr<Syncer> syncer_;
  std::unique_ptr<ReviewHandler> reviews_;
  std::unique_ptr<MentionHandler> mentions_;
  std::unique_ptr<CiHandler> ci_;
  IntakeRules rules_;
  std::string identity_error_;  // the last failure to learn rules_.bot_login, logged once
  bool fallback_ = false;
  FallbackCause fallback_cause_ = FallbackCause::kNone;
  int64_t fallback_since_ = 0;                // unix seconds
  std::unique_ptr<DeliveryWatch> watch_;      // with webhooks and GitHub; else null
  std::optional<int64_t> next_health_check_;  // unix seconds
  std::optional<int64_t> next_sync_;
  int64_t next_prune_ = 0;
};

}  // namespace orch

#endif  // ORCH_ENGINE_ENGINE_H_
