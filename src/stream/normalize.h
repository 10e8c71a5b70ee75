// Normalizer: one event model for what every agent CLI prints, so people (`orch stream`) and
// clients (GET /api/tasks/{id}/events) read a run without knowing its agent's format.
//
// The agents print: Claude Code `--output-format stream-json` (system/init, assistant,
// user, result), Codex `exec --json` (thread.started, item.started/completed, turn.completed
// or turn.failed), OpenCode `run --format json` (step_start, text, tool_use, step_finish,
// error), or plain text (custom agents, and what any of them writes to stderr, which the shim
// puts into the same output.log). Each becomes AgentEvents: assistant text, a tool call (its
// name and gist: the command; the file and its +/- lines), a tool result (exit code, first
// lines), an error, usage (tokens, cost), the end. Lines are recognized one by one (a JSON
// object with a "type" a format defines), so a log that mixes stderr text into JSON reads
// right. An event type no format defines is kept as kOther with a compact rendering of the
// line: nothing the agent printed is dropped, except events that carry nothing to show
// (codex's turn.started, opencode's step_start).
//
// Bytes arrive in chunks that may cut a line (or a UTF-8 sequence) anywhere: Feed() buffers
// the unfinished line, Flush() reads it once the run has ended. Each event records the byte
// offset where its line began and its index among that line's events, so a client that saw
// it can resume exactly after it (the SSE id "<offset>:<index>").
//
// Values only; no I/O. Thread-compatible.
#ifndef ORCH_STREAM_NORMALIZE_H_
#define ORCH_STREAM_NORMALIZE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

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

enum class AgentFormat { kAuto, kText };

class Normalizer {
 public:
  // `offset`: the byte offset of the first byte that will be fed (a line's start).
  // `workdir`: the run's work tree; paths under it are shown relative to it.
  explicit Normalizer(uint64_t offset = 0, std::string workdir = "",
                      AgentFormat format = AgentFormat::kAuto);

  // The events of the lines `bytes` completes; an unfinished line waits for the next Feed.
  std::vector<AgentEvent> Feed(std::string_view bytes);
  // The events of the unfinished line, if any (the run ended without a last newline).
  std::vector<AgentEvent> Flush();
  // A new run follows: a new work tree; what each tool call was is forgotten. Call Flush()
  // first.
  void StartRun(std::string workdir);

  // What a line's meaning depends on from earlier lines.
  struct Memory {
    std::string workdir = "";                       // paths under it are shown relative to it
    std::string last_error = "";                    // codex repeats an error in turn.failed
    std::set<std::string> started = {};             // codex items whose item.started was seen
    std::map<std::string, std::string> tools = {};  // claude tool_use id -> tool name
  };

  // The offset after the last complete line read.
  uint64_t offset() const { return offset_; }

  // Longer lines are cut to this and reported as kOther (a runaway agent cannot take the
  // server's memory).
  static constexpr size_t kMaxLine = 8 << 20;
  // A tool result keeps this many lines of its output.
  static constexpr int kResultLines = 5;

 private:
  std::vector<AgentEvent> Line(std::string_view line);

  uint64_t offset_ = 0;
  AgentFormat format_ = AgentFormat::kAuto;
  std::string partial_;
  uint64_t line_bytes_ = 0;  // of the unfinished line, those left out of partial_ included
  bool overlong_ = false;    // the current line passed kMaxLine and is being skipped
  Memory memory_;
};

}  // namespace orch

#endif  // ORCH_STREAM_NORMALIZE_H_
