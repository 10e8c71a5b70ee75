// AgentEvent: one thing an agent did, in the one model every agent CLI's output is read into
// (normalize.h): assistant text, a tool call, its result, an error, usage, the end; and the
// wire forms clients read it in (JSON, the SSE event of GET /api/tasks/{id}/events).
//
// Values only. Thread-compatible.
#ifndef ORCH_STREAM_AGENT_EVENT_H_
#define ORCH_STREAM_AGENT_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace orch {

enum class AgentEventKind {
  kStart,       // the agent started: model, session
  kText,        // the assistant's text (or a plain line)
  kToolCall,    // tool, command or file (+ added/removed lines)
  kToolResult,  // tool, exit code, output (first lines), failed
  kError,       // text
  kUsage,       // tokens and cost of a step or a run (to be added up), duration
  kEnd,         // the agent ended its run: failed, duration
  kOther,       // an event no format defines: text is its compact form
  kFinal,       // the task's stream ended (sent by the API, never by the Normalizer)
};

// "start", "text", "tool_call", "tool_result", "error", "usage", "end", "other", "final".
const char* AgentEventKindName(AgentEventKind kind);

struct AgentEvent {
  AgentEventKind kind = AgentEventKind::kOther;
  std::string text = "";     // kText, kError, kOther
  std::string tool = "";     // kToolCall, kToolResult: the tool as the agent names it
  std::string command = "";  // kToolCall of a shell: the command line
  std::string file = "";     // kToolCall of an edit or write (relative to the run's work tree)
  int added = -1;            // lines added by the edit, -1 when not known
  int removed = -1;          // lines removed by the edit, -1 when not known
  int exit_code = -1;        // kToolResult: the command's exit code, -1 when not known
  std::string output = "";   // kToolResult: the first lines of the output
  int more_lines = 0;        // kToolResult: lines of output left out
  bool failed = false;       // kToolResult, kEnd
  int64_t input_tokens = 0;  // kUsage (cache reads and writes included)
  int64_t output_tokens = 0;
  double cost_usd = -1;      // kUsage: -1 when the agent does not say
  int64_t duration_ms = 0;   // kUsage, kEnd, kFinal: 0 when not known
  std::string model = "";    // kStart
  std::string session = "";  // kStart
  int64_t task_id = 0;       // set by the API
  uint64_t line_offset = 0;  // the byte offset where the line that made it began
  int index = 0;             // its index among the events of that line
};

// The event as one JSON object: "kind" and the fields that are set.
std::string AgentEventToJson(const AgentEvent& event);
// Reads what AgentEventToJson wrote. InvalidArgument when `json` is not such an object.
Result<AgentEvent> ParseAgentEventJson(std::string_view json);

// Where a client is in a task's events: after event `index` of the line that starts at byte
// `offset` (index -1: before that line). The SSE id of an event is "<offset>:<index>".
struct EventCursor {
  uint64_t offset = 0;
  int index = -1;
};

// "123:2" or a bare byte offset "123" (a line's start). InvalidArgument otherwise.
Result<EventCursor> ParseEventCursor(std::string_view id);

// "id: <line_offset>:<index>\ndata: <AgentEventToJson>\n\n"; the id is the bare offset when
// `index` is negative (the final event: resuming there misses nothing a later attempt adds).
std::string FormatAgentEventSse(const AgentEvent& event);

}  // namespace orch

#endif  // ORCH_STREAM_AGENT_EVENT_H_
