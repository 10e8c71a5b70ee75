// RunEngine: drives every running orchestrated run (runs.h) one step per engine tick.
//
//   - an agent step becomes a task marked with the run (the dispatcher routes, runs, retries
//     and adopts it like any other, but publishes nothing: no push, PR or comment), started
//     in the same transaction that marks the step running;
//   - a code step runs its argv on the WorkQueue (base/work_queue.h);
//   - a step's end is read back from its task (done: completed; needs_review: failed) and the
//     next wave is derived from the stored states (FlowSchedule::Restore), never from memory;
//   - a review step that asks for changes sends the work back to its loop_to step, at most
//     max_cycles times;
//   - a completed flow with pull_request: true is pushed and its pull request opened through the
//     Publisher, on the WorkQueue; reports go to the issue as a comment the same way. The PR is
//     tied to the first agent step's task, so reviews and @mentions of it become follow-ups on
//     the flow's branch that resume that agent (engine/reviews.h), as for a task's own PR.
// So a kill -9 at any moment re-runs no completed step: running steps follow their tasks (the
// dispatcher adopts live sessions), and a code step that was running starts again (bounded).
//
// A step's question (contract status needs_input) goes to the run's orchestrator agent first,
// which answers from the run's context while the other steps go on (AnswerStep).
//
// Debug runs: when every session has ended, done or failed, the orchestrator agent runs once
// with all their outputs (each cut to a budget with a visible marker). ClaimOrchestration in
// the store is the once-only guard across restarts and double triggers. The orchestrator is
// runs.orchestrator_agent when it can run, else another of router.agents (ChooseAgent, runs.h),
// and the log and the report say so; a step's runs.roles agent gives way the same way.
//
// Thread safety: the engine's thread only.
#ifndef ORCH_RUNS_RUN_ENGINE_H_
#define ORCH_RUNS_RUN_ENGINE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agents/publisher.h"
#include "agents/questions.h"
#include "base/clock.h"
#include "base/file_system.h"
#include "base/subprocess.h"
#include "base/work_queue.h"
#include "config/config.h"
#include "runs/flow.h"
#include "runs/runs.h"
#include "store/store.h"

namespace orch {

// What the run engine works with; every reference outlives it.
struct RunEngineParts {
  Store& store;
  const Config& config;
  const Clock& clock;
  ProcessRunner& processes;  // runs code steps
  WorkQueue& work;           // code steps, publishing and reports run here
  FileSystem& files;
  // A project's merged config: its workflow.test_command and timeout, runs.* and router.agents.
  std::function<Result<Config>(const Project&)> project_config;
  // Where a branch's work tree is: worktree_of(project, branch). Code steps run there.
  std::function<std::string(const std::string&, const std::string&)> worktree_of;
  // Whether an agent can run (MakeAgentCheck): the orchestrator and runs.roles give way to
  // another of router.agents when theirs cannot, and a debug run from a label refuses one.
  AgentRunCheck agent_check;
  // Pushes flows' branches, opens their pull requests, posts reports. Null without GitHub:
  // such a flow ends with its work on its local branch and its report says why.
  Publisher* publisher = nullptr;
  std::function<void()> wake = {};  // a run was started: tick now
};

class RunEngine {
 public:
  explicit RunEngine(RunEngineParts parts);
  ~RunEngine();  // stops the queue: a code step's command is killed, and runs again after a start
  RunEngine(const RunEngine&) = delete;
  RunEngine& operator=(const RunEngine&) = delete;

  // Applies finished background work, then advances every running run once. Errors of one run
  // are logged; the others go on.
  Status Step();
  // An orch:debug or orch:plan label on issue `issue`: starts that run, once per issue and
  // kind (a second label or a redelivery says the run exists). Says what it did.
  Result<std::string> StartFromIssue(const Project& project, const std::string& kind,
                                     const std::string& issue, const std::string& title,
                                     const std::string& body);

 private:
  using Rows = std::map<std::string, RunStepRecord>;

  Status Advance(const RunRecord& run);
  // Running agent steps end when their tasks do.
  Status ReadAgentSteps(const RunRecord& run, Rows& rows);
  // A step blocked on its agent's question (agents/questions.h): the run's orchestrator
  // answers it in a read-only task of its own from the run's input and the other steps'
  // outputs, and the answer resumes the step; the other steps go on meanwhile. When it cannot,
  // the question goes to the run's issue on GitHub, or without one waits for `orch task
  // answer` (run_questions.cc).
  Status AnswerStep(const RunRecord& run, const Task& step, const Rows& rows);
  Status StartAnswer(const RunRecord& run, const Task& step, const Question& q,
                     const std::string& key, const Rows& rows);
  Status EscalateQuestion(const RunRecord& run, const Task& step, const Question& q);
  // Review steps that asked for changes send the work back to their loop_to step.
  Status LoopReviews(const RunRecord& run, const Flow& flow, Rows& rows);
  Status SkipBlocked(FlowSchedule& schedule, Rows& rows);
  // Code steps that were running when orch stopped run again, a bounded number of times.
  Status RestartLostCodeSteps(const RunRecord& run, const Flow& flow, FlowSchedule& schedule,
                              Rows& rows);
  Status StartWave(const RunRecord& run, const Flow& flow, FlowSchedule& schedule, Rows& rows);

  Status StartAgentStep(const RunRecord& run, const Flow& flow, const FlowStep& step,
                        const Rows& rows);
  // The agent a step asks for: its own, its role's (runs.roles, or another of router.agents when
  // that one cannot run), or for a reviewer the first of router.agents that can run and is not
  // the coder's. "" lets the router choose.
  std::string StepAgent(const RunRecord& run, const FlowStep& step, const Rows& rows) const;
  // The report's lines for the steps whose agent stood in for one that could not run.
  std::string SubstitutionNotes(const RunRecord& run, const Flow& flow, const Rows& rows) const;
  // The run's project's settings (runs.*, router.agents), through project_config.
  std::shared_ptr<const Config> ConfigOf(const RunRecord& run) const;
  void StartCodeStep(const RunRecord& run, const FlowStep& step, const RunStepRecord& row);
  void ApplyCodeResult(int64_t run_id, const std::string& step_id, bool ok,
                       const std::string& output);

  // Once every step has ended: the report, by kind.
  Status FinishDebug(const RunRecord& run, const Flow& flow, Rows& rows);
  Status FinishPlan(const RunRecord& run, const Flow& flow, const FlowSchedule& schedule,
                    Rows& rows);
  Status FinishFlow(const RunRecord& run, const Flow& flow, const FlowSchedule& schedule,
                    Rows& rows);
  // Publishes a completed flow's branch on the queue; its result finishes the run.
  void PublishFlow(const RunRecord& run, const Project& project, const Flow& flow,
                   const std::string& report, bool draft, RunStatus status);
  Status Finish(const RunRecord& run, RunStatus status, const std::string& report);

  Store& store_;
  const Config& config_;
  const Clock& clock_;
  ProcessRunner& processes_;
  WorkQueue& work_;
  FileSystem& files_;
  std::function<Result<Config>(const Project&)> project_config_;
  std::function<std::string(const std::string&, const std::string&)> worktree_of_;
  AgentRunCheck agent_check_;
  Publisher* publisher_;
  std::function<void()> wake_;

  std::set<std::string> code_running_;  // "run/step" with a command on the queue
  std::set<int64_t> publishing_;        // runs whose pull request is being opened
  std::set<int64_t> escalating_;        // step tasks whose question is being asked on GitHub
};

}  // namespace orch

#endif  // ORCH_RUNS_RUN_ENGINE_H_
