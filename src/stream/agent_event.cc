#include "stream/agent_event.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "stream/stream.h"

namespace orch {
namespace {

using Json = nlohmann::json;

// The longest piece of a line shown for a line too long to read.
constexpr size_t kCompact = 200;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Int(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

// `s` cut to `n` bytes at a character boundary, with "…" when cut.
std::string Cut(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, Utf8CompleteLength(s.substr(0, n)))) + "…";
}

}  // namespace

const char* AgentEventKindName(AgentEventKind kind) {
  switch (kind) {
    case AgentEventKind::kStart:
      return "start";
    case AgentEventKind::kText:
      return "text";
    case AgentEventKind::kToolCall:
      return "tool_call";
    case AgentEventKind::kToolResult:
      return "tool_result";
    case AgentEventKind::kError:
      return "error";
    case AgentEventKind::kUsage:
      return "usage";
    case AgentEventKind::kEnd:
      return "end";
    case AgentEventKind::kOther:
      return "other";
    case AgentEventKind::kFinal:
      return "final";
  }
  return "other";
}

std::string AgentEventToJson(const AgentEvent& e) {
  Json j = {{"kind", AgentEventKindName(e.kind)}};
  if (e.task_id != 0) j["task_id"] = e.task_id;
  auto text = [&](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  text("text", e.text);
  text("tool", e.tool);
  text("command", e.command);
  text("file", e.file);
  if (e.added >= 0) j["added"] = e.added;
  if (e.removed >= 0) j["removed"] = e.removed;
  if (e.exit_code >= 0) j["exit_code"] = e.exit_code;
  text("output", e.output);
  if (e.more_lines > 0) j["more_lines"] = e.more_lines;
  if (e.failed) j["failed"] = true;
  if (e.kind == AgentEventKind::kUsage) {
    j["input_tokens"] = e.input_tokens;
    j["output_tokens"] = e.output_tokens;
    if (e.cost_usd >= 0) j["cost_usd"] = e.cost_usd;
  }
  if (e.duration_ms > 0) j["duration_ms"] = e.duration_ms;
  text("model", e.model);
  text("session", e.session);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<AgentEvent> ParseAgentEventJson(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (!j.is_object() || !j["kind"].is_string()) {
    return Status::InvalidArgument("agent event", "not an event: " + Cut(json, kCompact));
  }
  AgentEvent e;
  std::string kind = Str(j, "kind");
  for (int k = 0; k <= static_cast<int>(AgentEventKind::kFinal); ++k) {
    if (kind == AgentEventKindName(static_cast<AgentEventKind>(k))) {
      e.kind = static_cast<AgentEventKind>(k);
    }
  }
  e.task_id = Int(j, "task_id");
  e.text = Str(j, "text");
  e.tool = Str(j, "tool");
  e.command = Str(j, "command");
  e.file = Str(j, "file");
  e.added = j.contains("added") ? static_cast<int>(Int(j, "added")) : -1;
  e.removed = j.contains("removed") ? static_cast<int>(Int(j, "removed")) : -1;
  e.exit_code = j.contains("exit_code") ? static_cast<int>(Int(j, "exit_code")) : -1;
  e.output = Str(j, "output");
  e.more_lines = static_cast<int>(Int(j, "more_lines"));
  e.failed = j.value("failed", false);
  e.input_tokens = Int(j, "input_tokens");
  e.output_tokens = Int(j, "output_tokens");
  if (j["cost_usd"].is_number()) e.cost_usd = j["cost_usd"].get<double>();
  e.duration_ms = Int(j, "duration_ms");
  e.model = Str(j, "model");
  e.session = Str(j, "session");
  return e;
}

Result<EventCursor> ParseEventCursor(std::string_view id) {
  EventCursor cursor;
  std::string text(id);
  try {
    if (text.empty() || !isdigit(static_cast<unsigned char>(text[0]))) {
      throw std::invalid_argument(text);
    }
    size_t used = 0;
    cursor.offset = std::stoull(text, &used);
    if (used < text.size()) {
      if (text[used] != ':' || used + 1 == text.size() ||
          !isdigit(static_cast<unsigned char>(text[used + 1]))) {
        throw std::invalid_argument(text);
      }
      size_t more = 0;
      cursor.index = std::stoi(text.substr(used + 1), &more);
      if (used + 1 + more != text.size()) throw std::invalid_argument(text);
    }
  } catch (const std::exception&) {
    return Status::InvalidArgument("event id \"" + Cut(id, kCompact) + "\"",
                                   "expected <byte offset>:<index>");
  }
  return cursor;
}

std::string FormatAgentEventSse(const AgentEvent& e) {
  std::string id = std::to_string(e.line_offset);
  if (e.index >= 0) id += ":" + std::to_string(e.index);
  return "id: " + id + "\ndata: " + AgentEventToJson(e) + "\n\n";
}

}  // namespace orch
