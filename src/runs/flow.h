// Flows: DAGs of steps that run in waves. This is the pure part: a flow's definition, parsed
// from YAML and validated, and FlowSchedule, which derives each wave from the steps' states.
// It does no I/O; the dispatcher that starts the steps and the store that keeps their states
// drive it (a restart rebuilds the schedule from the stored states with Restore()).
//
//   name: fix-and-check
//   steps:
//     - id: code
//       kind: agent            # agent (default) or code
//       agent: claude          # or `role: coder`, resolved by the router
//       prompt: "Fix it: {{input}}"
//       writes: [src]
//     - id: test
//       kind: code
//       needs: [code]
//       command: [make, test]  # an argv, never a shell string
//
// Prompt templates may use {{input}} and {{steps.<id>.output}} of any step they need,
// directly or through others.
//
// Thread safety: values; a FlowSchedule belongs to one thread.
#ifndef ORCH_RUNS_FLOW_H_
#define ORCH_RUNS_FLOW_H_

#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/run_types.h"

namespace orch {

struct FlowStep {
  std::string id;
  StepKind kind = StepKind::kAgent;
  std::string agent = "";                 // kAgent: a configured agent, or "" with a role
  std::string role = "";                  // kAgent: for the router when no agent is named
  std::string prompt = "";                // kAgent: the template
  std::vector<std::string> command = {};  // kCode: the argv
  std::vector<std::string> needs = {};    // ids of steps that must complete first
  std::vector<std::string> writes = {};   // paths it may change; overlapping ones never run at once
  bool read_only = false;                 // kAgent: the CLI's read-only mode (reviewers, plans)
  std::string not_agent_of = "";          // kAgent: never the agent that ran this other step
  // A review loop: when this step's output asks for changes (a line `VERDICT: changes`),
  // `loop_to` (a step it needs) and everything between run again, at most `max_cycles` times.
  std::string loop_to = "";
  int max_cycles = 2;
  std::string project = "";  // the project it runs in; empty: the run's (plan children)
  int line = 0;              // where it is defined, for messages
};

struct Flow {
  std::string name;
  std::string description = "";
  std::string file = "";
  std::vector<FlowStep> steps = {};
  std::string model = "";  // a run's model for its agent steps (a `model:<name>` label)
  // When the run completes, push its branch (orch/run-<id>) and open a pull request with the
  // report, if its steps committed anything.
  bool pull_request = false;

  const FlowStep* Find(const std::string& id) const;
};

// Parses and validates a flow definition. `file` names it in messages; `is_agent` says whether
// an agent name is known (configured or built in). Every problem is reported, one per line, as
// "<file>:<line>: <key>: <why>" (Config status); a cycle as "cycle: plan → code → review → plan".
Result<Flow> ParseFlow(const std::string& yaml, const std::string& file,
                       const std::function<bool(const std::string&)>& is_agent);

// The steps `id` needs, directly or through others. Safe on a graph with cycles (a step is
// entered once).
std::set<std::string> Ancestors(const Flow& flow, const std::string& id);

// A flow as JSON (runs.definition) and back. FlowFromJson checks only the shape.
nlohmann::json FlowToJson(const Flow& flow);
Result<Flow> FlowFromJson(const nlohmann::json& j);

// True when a reviewer's output asks for changes: a line `VERDICT: changes` (or
// `changes_requested`, any case) and no later `VERDICT: approve`.
bool RequestsChanges(const std::string& output);

// The steps grouped by depth: wave 0 needs nothing, wave n needs only earlier waves. What the
// schedule does with no limit on parallel steps and no write conflicts.
std::vector<std::vector<std::string>> StaticWaves(const Flow& flow);

// Fills a step's prompt template.
std::string RenderPrompt(const FlowStep& step, const std::string& input,
                         const std::map<std::string, std::string>& outputs);

// True when two `writes` paths overlap: equal, or one is a directory holding the other.
bool PathsOverlap(const std::string& a, const std::string& b);

class FlowSchedule {
 public:
  explicit FlowSchedule(const Flow& flow);

  // Sets a step's state as stored (after a restart). Unknown ids are ignored.
  void Restore(const std::string& step, StepState state);
  // The steps to start now, in definition order: pending, every need completed, at most
  // `max_parallel` running in all, and none whose writes overlap a running step's or another
  // chosen one's. Marks them running.
  std::vector<std::string> NextWave(int max_parallel);
  // A running step ended. On failure every pending step that needs it, directly or not, is
  // skipped; they are returned. Unrelated branches go on.
  std::vector<std::string> Finish(const std::string& step, bool ok);
  // Skips every pending step that needs a failed or skipped one (after a Restore); returns them.
  std::vector<std::string> SkipBlocked();
  // Nothing pending or running.
  bool Done() const;
  // Done and every step completed.
  bool Succeeded() const;
  StepState state(const std::string& step) const;

  // A Markdown report: each step's state and (for completed and failed steps) its output.
  std::string Report(const std::map<std::string, std::string>& outputs) const;

 private:
  const Flow& flow_;
  std::map<std::string, StepState> states_;
};

}  // namespace orch

#endif  // ORCH_RUNS_FLOW_H_
