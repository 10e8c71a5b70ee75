// Normalizer: one event model for what every agent CLI prints, so people (`orch stream`) and
// clients (GET /api/tasks/{id}/events) read a run without knowing its agent's format.
//
// The agents print: Claude Code `--output-format stream-json` (system/init, assistant,
// user, result), Codex `exec --json` (thread.started, item.started/completed, turn.completed
// or turn.failed), OpenCode `run --format json` (step_start, text, tool_use, step_finish,
// error), or plain text (custom agents, and what any of them writes to stderr, which the shim
// puts into the same output.log). Each becomes AgentEvents (agent_event.h): assistant text,
// a tool call (its name and gist: the command; the file and its +/- lines), a tool result
// (exit code, first lines), an error, usage (tokens, cost), the end. Lines are recognized one by
// one (a JSON object with a "type" a format defines), so a log that mixes stderr text into JSON
// reads right. An event type no format defines is kept as kOther with a compact rendering of the
// line: nothing the agent printed is dropped, except events that carry nothing to show
// (codex's turn.started and item.updated, opencode's step_start).
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
#include <string>
#include <string_view>
#include <vector>

#include "stream/agent_event.h"
#include "stream/agent_formats.h"

namespace orch {

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
  // A new run follows: a new work tree (and format); what each tool call was is forgotten.
  // Call Flush() first.
  void StartRun(std::string workdir, AgentFormat format = AgentFormat::kAuto);

  // The offset after the last complete line read.
  uint64_t offset() const { return offset_; }

  // Longer lines are cut to this and reported as kOther (a runaway agent cannot take the
  // server's memory).
  static constexpr size_t kMaxLine = 8 << 20;

 private:
  std::vector<AgentEvent> Line(std::string_view line);

  uint64_t offset_ = 0;
  AgentFormat format_ = AgentFormat::kAuto;
  std::string partial_;
  uint64_t line_bytes_ = 0;  // of the unfinished line, those left out of partial_ included
  bool overlong_ = false;    // the current line passed kMaxLine and is being skipped
  LineMemory memory_;
};

}  // namespace orch

#endif  // ORCH_STREAM_NORMALIZE_H_
