// AttemptOutcome: what an agent's attempt at a task came to, worked out once the agent has
// ended, on a WorkQueue worker (dispatch.h applies it to the store on the engine's thread).
//
// ReadOutcome parses the agent's output through its adapter (agent.h) into a result, or the
// reason the attempt failed (a vanished session, output that does not parse, an agent error).
// PublishOutcome then does what orch does with worked answers: ends a base update's merge (the
// conflicts the agent was to resolve; unresolved ones stop it there), commits what the agent left
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
#include "agents/questions.h"
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
  std::optional<Question> asked;  // needs_input: the question, as asked (agents/questions.h)
  // A conflict follow-up whose agent left conflict markers: those paths (the merge aborted,
  // nothing pushed).
  std::vector<std::string> unresolved;
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

// For a worked attempt that ended needs_input (not a run's step): asks the agent's question on
// `target`'s thread, with the attempt's figures, and sets `out.asked` (thread 0 when it could
// not be asked on GitHub: then `orch task answer` answers it). PublishOutcome leaves such an
// attempt alone: nothing is pushed until the agent is done.
void AskQuestion(const Task& task, const Project& project, const AskTarget& target,
                 Publisher& publisher, AttemptOutcome& out);

// For an attempt that left conflicts unresolved: says so on `target`'s thread (the pull
// request), listing the paths.
void ReportConflicts(const Project& project, const AskTarget& target, Publisher& publisher,
                     const AttemptOutcome& out);

// The run's row as it ends: tokens, cost, session, outcome and summary from `out`.
Attempt FinishedRow(const Task& task, const AttemptOutcome& out);

// Where orch answers the person whose @mention made a task (engine/mentions.h): the issue or
// pull request of the comment, and who wrote it. Kept in the store's kv table under the
// task's project and source id, written before the task is made.
struct MentionReply {
  int64_t thread = 0;  // issue or pull request number
  std::string author;  // the login to address
  std::string url;     // the mentioning comment
};
Status SaveMentionReply(Store& store, int64_t project_id, const std::string& source_id,
                        const MentionReply& reply);
// nullopt for a task no mention made (or one made before replies were recorded).
Result<std::optional<MentionReply>> LoadMentionReply(Store& store, const Task& task);
// After a worked attempt of a mention's task: tells its author on the thread what came of it
// (the pull request pushed to, nothing to change, or why the agent stopped). Nothing for a
// failed attempt, which is retried; a failure to comment is logged.
void ReplyToMention(const MentionReply& reply, const Project& project, Publisher& publisher,
                    const AttemptOutcome& out);

}  // namespace orch

#endif  // ORCH_AGENTS_ATTEMPT_OUTCOME_H_
