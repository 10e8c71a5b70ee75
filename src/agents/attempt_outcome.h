// AttemptOutcome: what an agent's attempt at a task came to, worked out once the agent has
// ended, on a WorkQueue worker (dispatch.h applies it to the store on the engine's thread).
//
// ReadOutcome parses the agent's output through its adapter (agent.h) into a result, or the
// reason the attempt failed (a vanished session, output that does not parse, an agent error).
// PublishOutcome then does what orch does with worked answers: commits what the agent left
// (a run's step only commits, for the steps after it), pushes the branch, finds or opens the
// pull request (publisher.h), and comments once per attempt on the issue.
//
// Thread safety: the functions share nothing; each outcome belongs to one job.
#ifndef ORCH_AGENTS_ATTEMPT_OUTCOME_H_
#define ORCH_AGENTS_ATTEMPT_OUTCOME_H_

#include <optional>
#include <string>

#include "agents/agent.h"
#include "agents/publisher.h"
#include "agents/runner.h"
#include "base/file_system.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

struct AttemptOutcome {
  Attempt run;  // finished_at and exit_code set
  AgentResult result;
  std::string failure;  // non-empty: the attempt failed (agent or publishing)
  int commits = 0;      // on the branch beyond the base
  std::optional<PullRequest> pr;
  bool killed = false;         // `orch task kill`: a person stopped it
  bool never_started = false;  // orch stopped between recording the run and starting it
};

// The contract as Markdown: the summary, then what was done, what remains, the files.
std::string ContractText(const AgentContract& c);

// Reads how `run` ended (`check`, from the shim's exit file or tmux) and what its agent said.
AttemptOutcome ReadOutcome(const Attempt& run, const AttemptCheck& check, int64_t now,
                           const Config& config, Runner& runner, const FileSystem& files);

// Commits, pushes, opens the pull request and comments for a worked attempt of `task` (see
// above); sets `out.failure` when publishing failed, `out.commits` and `out.pr` otherwise.
void PublishOutcome(const Task& task, const Project& project, Publisher& publisher,
                    AttemptOutcome& out);

// The run's row as it ends: tokens, cost, session, outcome and summary from `out`.
Attempt FinishedRow(const Task& task, const AttemptOutcome& out);

}  // namespace orch

#endif  // ORCH_AGENTS_ATTEMPT_OUTCOME_H_
