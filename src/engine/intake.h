// Intake: how GitHub events become tasks. The same rules serve webhook deliveries and the
// polling sync, and both are idempotent together: one issue, one task, whoever sees it first.
//
//   issues labeled (a trigger label or agent:*), or opened with one  -> a task (source github,
//                                                                         external id = number)
//   issues closed                      -> its task done;  reopened -> back to new
//   issue_comment created, @<bot>      -> the mention handler (mentions.h): a task for the
//   pull_request_review_comment created, @<bot>   issue, or a follow-up on orch's PR
//   pull_request closed, merged        -> its task done;  closed unmerged -> needs_review
//   pull_request_review submitted      -> the review handler (reviews.h): follow-ups, approval
//   check_run, check_suite, workflow_run completed -> the CI handler (ci.h); these name whoever
//                                         pushed as sender, orch itself included, and are kept
//   anything else, and every event whose sender is orch itself -> recorded, ignored
// Work starts only for trusted actors (trust.h); everything ignored says why.
//
// DecideEvent is pure (payload in, decision out); Intake::Apply does what a decision says to
// the store. Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_INTAKE_H_
#define ORCH_ENGINE_INTAKE_H_

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/mentions.h"
#include "github/github.h"
#include "github/trust.h"
#include "store/store.h"

namespace orch {

struct IntakeRules {
  std::string bot_login;  // orch's own GitHub identity
  std::vector<std::string> trigger_labels;
};

enum class IntakeAction {
  kIgnore,
  kCreateTask,
  kCloseTask,
  kReopenTask,
  kPrMerged,
  kPrClosed,
  kReview,
  kMention,       // a comment mentioning orch (mentions.h)
  kCheck,         // a check run completed (ci.h)
  kCommitChecks,  // a check suite or workflow run on a commit completed (ci.h)
  kStartRun       // an orch:debug or orch:plan label (runs.h)
};

// Labels that start an orchestrated run on the issue instead of a task.
inline constexpr const char* kDebugLabel = "orch:debug";
inline constexpr const char* kPlanLabel = "orch:plan";

struct IntakeDecision {
  IntakeAction action = IntakeAction::kIgnore;
  std::string reason;  // why it is ignored, or what triggered it
  std::string repo;
  GitHubUser actor;         // the sender; must be trusted to create or reopen
  std::string external_id;  // the issue number
  TaskSource source = TaskSource::kGithub;
  std::optional<std::string> source_id;
  std::string title;
  std::string body;
  std::vector<std::string> labels;
  int64_t pr_number = 0;
  std::string pr_branch;  // the pull request's head branch, when the event says
  Review review;          // for kReview (state upper-cased as REST has it)
  std::string run_kind;   // for kStartRun: "debug" or "plan"
  Mention mention;        // for kMention
  CheckRun check;         // for kCheck
  std::string head_sha;   // for kCommitChecks
};

class ReviewHandler;
class CiHandler;

bool IsTriggerLabel(const std::string& label, const IntakeRules& rules);

// What a webhook delivery of `event_type` with `payload` asks for.
IntakeDecision DecideEvent(const std::string& event_type, const nlohmann::json& payload,
                           const IntakeRules& rules);
// What a polled issue asks for; `labeler` is who added its trigger label (from its events).
IntakeDecision DecideIssue(const std::string& repo, const Issue& issue,
                           const std::optional<GitHubUser>& labeler, const IntakeRules& rules);

class Intake {
 public:
  Intake(Store& store, TrustPolicy& trust) : store_(store), trust_(trust) {}
  // Where kReview decisions go; without one they are recorded and ignored.
  void set_reviews(ReviewHandler* reviews) { reviews_ = reviews; }
  // Where kMention decisions go; without one they are recorded and ignored.
  void set_mentions(MentionHandler* mentions) { mentions_ = mentions; }
  // Where kCheck and kCommitChecks decisions go; without one they are recorded and ignored.
  void set_ci(CiHandler* ci) { ci_ = ci; }
  // What starts a run for a trusted kStartRun (once per issue and kind: it says so when the
  // run exists); without one they are recorded and ignored.
  using RunStarter = std::function<Result<std::string>(const Project&, const IntakeDecision&)>;
  void set_run_starter(RunStarter starter) { start_run_ = std::move(starter); }

  // Applies `d` to `project`. Returns what happened ("created task 4", "ignored: eve has read
  // access ..."); fails only when the store or GitHub (for a trust check) did, so the caller can
  // retry. Applying the same decision twice changes nothing the second time.
  Result<std::string> Apply(const Project& project, const IntakeDecision& d);

 private:
  Result<std::string> CreateTask(const Project& project, const IntakeDecision& d);
  Result<std::string> CloseOrReopen(const Project& project, const IntakeDecision& d);
  Result<std::string> PullRequestClosed(const Project& project, const IntakeDecision& d);

  Store& store_;
  TrustPolicy& trust_;
  ReviewHandler* reviews_ = nullptr;
  MentionHandler* mentions_ = nullptr;
  CiHandler* ci_ = nullptr;
  RunStarter start_run_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_INTAKE_H_
