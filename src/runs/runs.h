// Orchestrated runs: several agents on one bug with one orchestrator after them (debug), a
// goal planned across repositories (plan), and flows (DAGs of agent and code steps).
//
// A run is rows in the store (runs, run_steps; store.h) and its definition: a Flow (flow.h)
// saved as JSON when it starts, so a restart resumes the same graph. Starting a run only writes
// those rows; `orch serve`'s RunEngine then drives every running run on the engine's thread:
//   - an agent step becomes a task marked with the run (the dispatcher routes, runs, retries
//     and adopts it like any other, but publishes nothing: no push, PR or comment), started
//     in the same transaction that marks the step running;
//   - a code step runs its argv on a thread of its own;
//   - a step's end is read back from its task (done: completed; needs_review: failed) and the
//     next wave is derived from the stored states (FlowSchedule::Restore), never from memory.
// So a kill -9 at any moment re-runs no completed step: running steps follow their tasks (the
// dispatcher adopts live sessions), and a code step that was running starts again (bounded).
//
// Debug runs: when every session has ended, done or failed, the orchestrator agent runs once
// with all their outputs (each cut to a budget with a visible marker). ClaimOrchestration in
// the store is the once-only guard across restarts and double triggers.
//
// Thread safety: the Create* functions are stateless; RunEngine belongs to the engine's thread.
#ifndef ORCH_RUNS_RUNS_H_
#define ORCH_RUNS_RUNS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "config/config.h"
#include "runs/flow.h"
#include "github/github.h"
#include "agents/runner.h"
#include "store/store.h"

namespace orch {

// ---- Flows on disk

struct FlowFile {
  std::string path;
  std::string project;  // "" for $ORCH_HOME/flows, "(shipped)" for orch's own
};

// Every flows/*.yml orch looks at: $ORCH_HOME's, then each project's, then the ones shipped
// with orch (share/orch/flows beside the binary, else the source tree's flows/).
std::vector<FlowFile> FindFlowFiles(const std::string& orch_home,
                                    const std::vector<Project>& projects);
Result<Flow> LoadFlow(const std::string& path, const Config& config);
// The flow called `name` for `project`: the project's own first, then $ORCH_HOME's, then
// shipped. NotFound naming where it looked.
Result<Flow> FindFlow(const std::string& name, const std::string& orch_home,
                      const Project& project, const Config& config);

// ---- Starting runs (store writes only)

struct DebugRequest {
  Project project;
  std::optional<int64_t> source_task_id = std::nullopt;
  std::optional<std::string> issue = std::nullopt;  // its number: the report goes there
  std::string title = "";  // the problem; from GitHub it is untrusted and reaches agents fenced
  std::string body = "";
  std::vector<std::string> agents = {};  // one session each; empty: runs.debug.agents, router.agents
};
Result<RunRecord> CreateDebugRun(SqliteStore& store, const Config& config, const DebugRequest& r);

struct PlanRequest {
  Project project;
  std::string goal;
  std::optional<std::string> issue = std::nullopt;
  std::optional<int64_t> source_task_id = std::nullopt;
};
// `config` is the project's (plan.repos in its .orch.yml). InvalidArgument "plan mode requires
// at least one repository" when there is none, and no run is created.
Result<RunRecord> CreatePlanRun(SqliteStore& store, const Config& config, const PlanRequest& r);

Result<RunRecord> CreateFlowRun(SqliteStore& store, const Flow& flow, const Project& project,
                                const std::string& input_json,
                                std::optional<std::string> issue = std::nullopt);

// Whether `project` already has a run of `kind` ("debug" or "plan") for issue `issue`: a label
// starts one once per issue and kind (RunEngine::StartFromIssue, and the sync before it asks
// who added the label).
Result<std::optional<RunRecord>> FindIssueRun(SqliteStore& store, int64_t project_id,
                                              const std::string& issue, const std::string& kind);

// For `orch task retry/unblock` and their chat commands: Conflict when `task` is an agent step
// of a run that has moved on from it (the step failed, was skipped or cancelled, or the run
// ended), since running it again would feed nothing back into the run; the message says so and
// names the run. OK for any other task.
Status CheckStepTaskRestartable(SqliteStore& store, const Task& task);

// Cancels a running run: pending and running steps are skipped, and the agents of running
// steps are stopped through `kill` (given each step's task). Conflict when it has ended.
Status CancelRun(SqliteStore& store, int64_t run_id,
                 const std::function<void(const Task&)>& kill);

// The orchestrator's prompt: each session's agent, status and output, cut to
// min(session_budget, total_budget / sessions) characters with a visible marker.
std::string OrchestratorPrompt(const RunRecord& run, const std::vector<RunStepRecord>& sessions,
                               int session_budget, int total_budget);

// A run with its steps as JSON, for `orch run show --json` and GET /api/runs/{id}.
nlohmann::json RunJson(const RunRecord& run, const std::vector<RunStepRecord>& steps);

// ---- Driving them

class RunEngine {
 public:
  // `project_config` gives a project's merged config (its workflow.test_command); `github`
  // (may be null) gets the reports of runs with an issue when runs.report_to is comment.
  // `worktree_of(project, branch)` is where a branch's work tree is (code steps run there).
  RunEngine(SqliteStore& store, const Config& config, const Clock& clock, GitHubClient* github,
            std::function<Result<Config>(const Project&)> project_config,
            std::function<std::string(const std::string&, const std::string&)> worktree_of,
            std::function<void()> wake);
  ~RunEngine();  // code steps still running are left to finish on their own
  RunEngine(const RunEngine&) = delete;
  RunEngine& operator=(const RunEngine&) = delete;

  // What pushes a flow's branch and opens its pull request (Flow::pull_request); without it
  // (or without `github`, or a project without a GitHub repository) such a flow ends with its
  // work on its local branch, and its report says why there is no pull request.
  void set_runner(Runner* runner) { runner_ = runner; }

  // Advances every running run once. Errors of one run are logged; the others go on.
  Status Step();
  // An orch:debug or orch:plan label on issue `issue`: starts that run, once per issue and
  // kind (a second label or a redelivery says the run exists). Says what it did.
  Result<std::string> StartFromIssue(const Project& project, const std::string& kind,
                                     const std::string& issue, const std::string& title,
                                     const std::string& body);

 private:
  struct CodeResult {
    int64_t run_id;
    std::string step_id;
    bool ok;
    std::string output;
  };
  Status Advance(const RunRecord& run);
  Status StartAgentStep(const RunRecord& run, const Flow& flow, const FlowStep& step,
                        const std::map<std::string, RunStepRecord>& rows);
  void StartCodeStep(const RunRecord& run, const FlowStep& step, const RunStepRecord& row);
  Status Finish(const RunRecord& run, RunStatus status, const std::string& report);
  // Pushes a completed flow's branch to `project`'s origin and opens (or finds) its pull
  // request on GitHub (runner_ and github_ set, project.repo too), whose body is the report; a
  // draft when `draft`. Its number; nullopt when the steps committed nothing. Again after a
  // crash it pushes the same branch and finds the same pull request.
  Result<std::optional<int64_t>> PublishFlow(const RunRecord& run, const Project& project,
                                             const Flow& flow, const std::string& report,
                                             bool draft);

  SqliteStore& store_;
  const Config& config_;
  const Clock& clock_;
  GitHubClient* github_;
  std::function<Result<Config>(const Project&)> project_config_;
  std::function<std::string(const std::string&, const std::string&)> worktree_of_;
  std::function<void()> wake_;
  Runner* runner_ = nullptr;

  // Shared with the code steps' threads, which are detached: a daemon that stops does not
  // wait for a test command (the step runs again after the restart). Once `stopped`, a
  // thread that ends reports to no one.
  struct CodeShared {
    std::mutex mu;
    bool stopped = false;              // under mu
    std::vector<CodeResult> done;      // under mu
    std::function<void()> wake;        // called under mu, never once stopped
  };
  std::shared_ptr<CodeShared> code_;
  std::set<std::string> code_running_;  // "run/step" (engine thread)
};

}  // namespace orch

#endif  // ORCH_RUNS_RUNS_H_
