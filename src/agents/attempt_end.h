// AttemptEnd: what an attempt's outcome (attempt_outcome.h) does to its task, applied on the
// engine's thread. It finishes the run's row, tells the breakers how the backend did, keeps the
// agent's session for the next attempt or follow-up, and moves the task: in review with its
// pull request, done, blocked on the tasks the agent delegated, needs_review (a person must
// look), or routed for another attempt (retry.h). A run's step publishes nothing: done or
// needs_review, and the run engine reads it back (runs/run_engine.h).
//
// Thread safety: the engine's thread only.
#ifndef ORCH_AGENTS_ATTEMPT_END_H_
#define ORCH_AGENTS_ATTEMPT_END_H_

#include "agents/attempt_outcome.h"
#include "agents/retry.h"
#include "agents/runner.h"
#include "engine/breaker.h"
#include "store/store.h"

namespace orch {

class AttemptEnd {
 public:
  // `breakers` may be null.
  AttemptEnd(Store& store, Runner& runner, RetryPolicy& retry, Breakers* breakers);

  // Applies `out`, the outcome of an attempt at `task` (as the task was when it ended). Store
  // failures are logged: the next tick sees the state as it is.
  void Apply(const Task& task, const AttemptOutcome& out);

 private:
  void EndStepTask(const Task& task, const Attempt& run, const AgentContract& c);
  void EndByContract(const Task& task, const Attempt& run, const AttemptOutcome& out);
  void Delegate(const Task& task, const Attempt& run, const AgentContract& c);
  void EndUnresolved(const Task& task, const AttemptOutcome& out);
  void TellBreakers(const AttemptOutcome& out);

  Store& store_;
  Runner& runner_;
  RetryPolicy& retry_;
  Breakers* breakers_;
};

}  // namespace orch

#endif  // ORCH_AGENTS_ATTEMPT_END_H_
