// Stream: a task's agent output as chunks addressed by byte offset (the "capture" of
// DESIGN.md), and the Server-Sent Events wire format that carries them.
//
// A task's output is the concatenation of its runs' output.log files, attempt 1 first (the
// shim appends everything the agent prints there as it arrives). A position in it is one
// byte offset: the SSE event id is the offset after the event's chunk, so every subscriber
// keeps its own cursor, resumes with Last-Event-ID, and never sees a byte twice or misses one.
// Attempts run one after another, so an earlier attempt's log no longer grows once a later
// one exists, and offsets into it stay put.
//
// Values and files only; no threads. Thread-compatible.
#ifndef ORCH_STREAM_STREAM_H_
#define ORCH_STREAM_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace orch {

// One run of a task, as the stream reads it.
struct RunLog {
  std::string dir;            // the run directory: output.log, and exit.json once it ended
  bool finished = false;      // known to have ended (the store recorded it); exit.json also counts
  std::string worktree = "";  // where the agent ran (events show paths relative to it)
  bool plain_text = false;    // the agent's output_format is text: no line is read as JSON
};

struct Chunk {
  std::string content;  // may be empty: nothing new yet
  uint64_t end = 0;     // the offset after `content`
  bool at_end = false;  // the last run has ended and nothing follows `end`
  size_t run = 0;       // the index in `runs` of the run `content` comes from
};

// Reads up to `max_bytes` of the task's output from `offset` on, from one run's log at most.
// A run counts as ended when `finished` is set, exit.json exists (checked before the log's
// size, so the bytes written before it are all seen) or a later run exists. A missing log is
// empty. A UTF-8 sequence cut at the end of what is there so far is held back until the rest
// arrives (or the run ends), so every chunk is whole characters as the agent wrote them.
// IOError when a log exists but cannot be read.
Result<Chunk> ReadChunk(const std::vector<RunLog>& runs, uint64_t offset, size_t max_bytes);

// The length of `s` without a trailing incomplete UTF-8 sequence (0..3 bytes shorter).
size_t Utf8CompleteLength(std::string_view s);

// One event of GET /api/tasks/{id}/stream.
struct StreamEvent {
  int64_t task_id = 0;
  std::string content = "";
  int64_t timestamp_ms = 0;  // unix milliseconds when the daemon read the chunk
  bool is_final = false;     // the run ended and everything was sent; the stream ends
  uint64_t id = 0;           // the byte offset after `content`
};

// "id: <id>\ndata: {"task_id", "content", "timestamp", "is_final"}\n\n". Bytes that are not
// UTF-8 become U+FFFD in the JSON (the id still counts the bytes of the log).
std::string FormatSseEvent(const StreamEvent& event);

// One message of an SSE stream, fields as received.
struct SseMessage {
  std::string id = "";
  std::string event = "";
  std::string data = "";  // data lines joined with '\n'
};

// Splits an SSE byte stream into messages (the WHATWG rules orch needs: LF or CRLF line ends,
// ':' comments, "field: value" with one optional space, a blank line ends a message). Bytes
// may arrive in pieces of any size.
class SseParser {
 public:
  void Feed(std::string_view bytes, const std::function<void(const SseMessage&)>& on_message);

 private:
  std::string line_;
  SseMessage message_;
  bool has_fields_ = false;
};

// Reads a message of the task stream. InvalidArgument when its data is not the event JSON or
// its id is not a number.
Result<StreamEvent> ParseStreamEvent(const SseMessage& message);

// Turns chunks that may end mid-line into whole lines, each prefixed (`orch stream` with no
// id writes "[project#id] " before every line of every task).
class LinePrefixer {
 public:
  explicit LinePrefixer(std::string prefix) : prefix_(std::move(prefix)) {}
  // The complete lines `chunk` finishes, prefixed, newlines kept.
  std::string Feed(std::string_view chunk);
  // What is left of an unfinished line, prefixed and ended with a newline ("" when none).
  std::string Flush();

 private:
  std::string prefix_;
  std::string partial_;
};

}  // namespace orch

#endif  // ORCH_STREAM_STREAM_H_
