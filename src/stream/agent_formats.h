// The agent CLIs' JSON line formats, read into AgentEvents (agent_event.h): which format a line
// is in (Claude Code stream-json, Codex exec --json, OpenCode run --format json) follows from
// its "type" and fields, and each format's events map to the one model. The Normalizer frames
// lines and calls these; nothing else should need them.
//
// Pure functions. Thread-compatible.
#ifndef ORCH_STREAM_AGENT_FORMATS_H_
#define ORCH_STREAM_AGENT_FORMATS_H_

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "stream/agent_event.h"

namespace orch {

// What a line's meaning depends on from earlier lines of the run.
struct LineMemory {
  std::string workdir = "";                       // paths under it are shown relative to it
  std::string last_error = "";                    // codex repeats an error in turn.failed
  std::set<std::string> started = {};             // codex items whose item.started was seen
  std::map<std::string, std::string> tools = {};  // claude tool_use id -> tool name
  bool said = false;  // claude printed assistant text (else its result's text is shown)
};

// A tool result keeps this many lines of its output.
constexpr int kResultLines = 5;

// The events of one JSON object line with a string "type". A type no format defines is one
// kOther event with the line, compact. `memory` carries what later lines need (tool names by
// id, the work tree, codex's last error).
std::vector<AgentEvent> JsonLineEvents(LineMemory& memory, const nlohmann::json& line);

// A line of plain output without escape sequences; of a line redrawn with '\r', the last
// drawing.
std::string PlainLine(std::string_view line);

// `s` cut to at most `n` bytes at a UTF-8 character boundary, with "…" when cut.
std::string Cut(std::string_view s, size_t n);

}  // namespace orch

#endif  // ORCH_STREAM_AGENT_FORMATS_H_
