#include "stream/normalize.h"

#include <nlohmann/json.hpp>

#include "stream/agent_formats.h"

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

AgentEvent Make(AgentEventKind kind, std::string text = "") {
  AgentEvent e;
  e.kind = kind;
  e.text = std::move(text);
  return e;
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

Normalizer::Normalizer(uint64_t offset, std::string workdir, AgentFormat format)
    : offset_(offset), format_(format) {
  memory_.workdir = std::move(workdir);
}

void Normalizer::StartRun(std::string workdir) {
  memory_ = Memory();
  memory_.workdir = std::move(workdir);
}

std::vector<AgentEvent> Normalizer::Feed(std::string_view bytes) {
  std::vector<AgentEvent> out;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view piece = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl);
    line_bytes_ += piece.size();
    if (!overlong_) {
      partial_.append(piece.substr(0, std::min(piece.size(), kMaxLine + 1 - partial_.size())));
      if (partial_.size() > kMaxLine) {
        overlong_ = true;
        AgentEvent e = Make(AgentEventKind::kOther,
                            "a line longer than 8 MiB, left out: " + Cut(partial_, kCompact));
        e.line_offset = offset_;
        out.push_back(e);
        std::string().swap(partial_);
      }
    }
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
    uint64_t start = offset_;
    offset_ += line_bytes_ + 1;
    if (!overlong_) {
      for (AgentEvent& e : Line(partial_)) {
        e.line_offset = start;
        out.push_back(std::move(e));
      }
    }
    overlong_ = false;
    partial_.clear();
    line_bytes_ = 0;
  }
  return out;
}

std::vector<AgentEvent> Normalizer::Flush() {
  uint64_t start = offset_;
  offset_ += line_bytes_;
  std::vector<AgentEvent> out;
  if (!partial_.empty() && !overlong_) out = Line(partial_);
  for (AgentEvent& e : out) e.line_offset = start;
  partial_.clear();
  overlong_ = false;
  line_bytes_ = 0;
  return out;
}

std::vector<AgentEvent> Normalizer::Line(std::string_view line) {
  std::vector<AgentEvent> out;
  size_t first = line.find_first_not_of(" \t");
  Json j;
  if (format_ == AgentFormat::kAuto && first != std::string_view::npos && line[first] == '{') {
    j = Json::parse(line, nullptr, false);
  }
  if (!j.is_object() || !j["type"].is_string()) {
    out.push_back(Make(AgentEventKind::kText, PlainLine(line)));
  } else {
    out = JsonLineEvents(memory_, j);
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].index = static_cast<int>(i);
  return out;
}

}  // namespace orch