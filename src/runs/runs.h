// Orchestrated runs: several agents on one bug with one orchestrator after them (debug), a
// goal planned across repositories (plan), and flows (DAGs of agent and code steps).
//
// A run is rows in the store (runs, run_steps; store.h) and its definition: a Flow (flow.h)
// saved as JSON when it starts, so a restart resumes the same graph. This header finds flows on
// disk and starts, cancels and describes runs: store writes only. RunEngine (run_engine.h)
// drives them.
//
// Thread safety: the functions are stateless; each call uses only what it is given.
#ifndef ORCH_RUNS_RUNS_H_
#define ORCH_RUNS_RUNS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "config/config.h"
#include "runs/flow.h"
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
Result<Flow> FindFlow(const std::string& name, const std::string& orch_home, const Project& project,
                      const Config& config);

// The step of a debug run that reads every session's output once they have all ended.
inline constexpr const char* kOrchestratorStep = "orchestrator";
// A code step's argument that stands for the project's workflow.test_command.
inline constexpr const char* kTestCommandArg = "{{test_command}}";

// ---- Which agents can run

// Why agent `name` cannot run now, or "" when it can: "is not configured (...)", "is not
// installed (...)", "has its circuit breaker open (...)".
using AgentRunCheck = std::function<std::string(const std::string& name)>;
// The real check: configured or built in, its command in PATH (PathAgentInstalled), and its
// breaker (engine/breaker.h, kept in `store`) letting it run. `config` and `store` outlive it.
AgentRunCheck MakeAgentCheck(const Config& config, Store& store, const Clock& clock);

struct AgentChoice {
  std::string agent;
  std::string note = "";  // "" when `wanted` runs; else what was wanted, why not, and who instead
};
// The agent for a setting that names one (runs.orchestrator_agent, runs.roles.<role>):
// `wanted` when it can run, else the first of router.agents that can and is not `avoid`, as the
// router would choose. When none can, `wanted` (it fails as it would have), the note saying so.
AgentChoice ChooseAgent(const std::string& wanted, const std::string& setting, const Config& config,
                        const AgentRunCheck& check, const std::string& avoid = "");

// ---- Starting runs (store writes only)

struct DebugRequest {
  Project project;
  std::optional<int64_t> source_task_id = std::nullopt;
  std::optional<std::string> issue = std::nullopt;  // its number: the report goes there
  std::string title = "";  // the problem; from GitHub it is untrusted and reaches agents fenced
  std::string body = "";
  std::vector<std::string> agents =
      {};  // one session each; empty: runs.debug.agents, router.agents
};
// InvalidArgument, and no run, when an agent named by `r.agents` or runs.debug.agents cannot run
// (`check` says why); of router.agents (the default) the ones that can run take part, and
// InvalidArgument when none can.
Result<RunRecord> CreateDebugRun(Store& store, const Config& config, const DebugRequest& r,
                                 const AgentRunCheck& check);

struct PlanRequest {
  Project project;
  std::string goal;
  std::optional<std::string> issue = std::nullopt;
  std::optional<int64_t> source_task_id = std::nullopt;
};
// `config` is the project's (plan.repos in its .orch.yml). InvalidArgument "plan mode requires
// at least one repository" when there is none, and no run is created.
Result<RunRecord> CreatePlanRun(Store& store, const Config& config, const PlanRequest& r);

// `project_config` is the project's merged config. InvalidArgument, and no run, when a code step
// runs {{test_command}} and the project has no workflow.test_command, or an agent step names an
// agent that cannot run (`check` says why): the run would fail there after the agents worked.
Result<RunRecord> CreateFlowRun(Store& store, const Flow& flow, const Project& project,
                                const Config& project_config, const AgentRunCheck& check,
                                const std::string& input_json,
                                std::optional<std::string> issue = std::nullopt);

// Whether `project` already has a run of `kind` ("debug" or "plan") for issue `issue`: a label
// starts one once per issue and kind (RunEngine::StartFromIssue, and the sync before it asks
// who added the label).
Result<std::optional<RunRecord>> FindIssueRun(Store& store, int64_t project_id,
                                              const std::string& issue, const std::string& kind);

// For `orch task retry/unblock` and their chat commands: Conflict when `task` is an agent step
// of a run that has moved on from it (the step failed, was skipped or cancelled, or the run
// ended), since running it again would feed nothing back into the run; the message says so and
// names the run. OK for any other task.
Status CheckStepTaskRestartable(Store& store, const Task& task);

// Cancels a running run: pending and running steps are skipped, and the agents of running
// steps are stopped through `kill` (given each step's task). Conflict when it has ended.
Status CancelRun(Store& store, int64_t run_id, const std::function<void(const Task&)>& kill);

// A flow run's input as {{input}} gives it: a string's text, an object's "text", other JSON as
// is.
std::string InputText(const RunRecord& run);

// The prompt of the orchestrator's answer to step `step_id`'s question (run_engine.h): the
// question, the run's input and the other steps' outputs, within `total_budget` characters.
std::string AnswerPrompt(const RunRecord& run, const std::string& step_id,
                         const std::string& question, const std::vector<RunStepRecord>& steps,
                         int total_budget);

// The orchestrator's prompt: each session's agent, status and output, cut to
// min(session_budget, total_budget / sessions) characters with a visible marker.
std::string OrchestratorPrompt(const RunRecord& run, const std::vector<RunStepRecord>& sessions,
                               int session_budget, int total_budget);

// A run with its steps as JSON, for `orch run show --json` and GET /api/runs/{id}.
nlohmann::json RunJson(const RunRecord& run, const std::vector<RunStepRecord>& steps);

}  // namespace orch

#endif  // ORCH_RUNS_RUNS_H_
