// The kinds and states of an orchestrated run's steps (runs/flow.h defines the steps; the store
// keeps their rows, store.h). A leaf header so the store need not know flows. Values only.
#ifndef ORCH_STORE_RUN_TYPES_H_
#define ORCH_STORE_RUN_TYPES_H_

namespace orch {

enum class StepKind { kAgent, kCode };

enum class StepState { kPending, kRunning, kCompleted, kFailed, kSkipped };
const char* StepStateName(StepState s);

}  // namespace orch

#endif  // ORCH_STORE_RUN_TYPES_H_
