#include "stream/agent_formats.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "stream/stream.h"

namespace orch {
namespace {

using Json = nlohmann::json;
using Events = std::vector<AgentEvent>;
using Memory = LineMemory;

constexpr size_t kCompact = 200;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Int(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

const Json& Obj(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

const Json& Arr(const Json& j, const char* key) {
  static const Json kEmpty = Json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

// The first string of `keys` that `j` has (the formats name one thing differently).
std::string AnyStr(const Json& j, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (std::string s = Str(j, key); !s.empty()) return s;
  }
  return "";
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// `s` cut to `n` bytes at a character boundary, with "…" when cut.
int CountLines(std::string_view s) {
  if (s.empty()) return 0;
  int n = static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  return s.back() == '\n' ? n : n + 1;
}

// Escape sequences (colours, cursor moves) out; of a line redrawn with '\r', the last drawing.
std::string PlainLineImpl(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (size_t cr = line.rfind('\r'); cr != std::string_view::npos) line.remove_prefix(cr + 1);
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\x1b') {
      out += line[i];
      continue;
    }
    if (i + 1 < line.size() && line[i + 1] == '[') {  // CSI: up to a final byte @..~
      i += 2;
      while (i < line.size() && !(line[i] >= '@' && line[i] <= '~')) ++i;
    } else if (i + 1 < line.size() && line[i + 1] == ']') {  // OSC: up to BEL or ESC '\'
      i += 2;
      while (i < line.size() && line[i] != '\a' && line[i] != '\x1b') ++i;
      if (i + 1 < line.size() && line[i] == '\x1b') ++i;
    } else {
      ++i;  // a two-byte escape
    }
  }
  return out;
}

AgentEvent Make(AgentEventKind kind, std::string text = "") {
  AgentEvent e;
  e.kind = kind;
  e.text = std::move(text);
  return e;
}

AgentEvent Other(const Json& j) {
  return Make(AgentEventKind::kOther, Cut(Str(j, "type") + " " + Dump(j), kCompact));
}

std::string Relative(const Memory& m, std::string path) {
  if (!m.workdir.empty() && path.size() > m.workdir.size() && path.rfind(m.workdir, 0) == 0 &&
      path[m.workdir.size()] == '/') {
    return path.substr(m.workdir.size() + 1);
  }
  return path;
}

// `bash -lc 'pytest -q'` (how codex reports a command) as `pytest -q`.
std::string Unwrap(std::string command) {
  for (const char* shell : {"/bin/bash -lc ", "bash -lc ", "/bin/zsh -lc ", "/bin/sh -c "}) {
    if (command.rfind(shell, 0) != 0) continue;
    std::string rest = command.substr(std::string_view(shell).size());
    if (rest.size() >= 2 && rest.front() == '\'' && rest.back() == '\'' &&
        rest.find('\'', 1) == rest.size() - 1) {
      return rest.substr(1, rest.size() - 2);
    }
    return rest;
  }
  return command;
}

// A tool call of any format, from the tool's name and input: the command of a shell, the file
// and lines of an edit or write, else the tool's main argument or its input, compact.
AgentEvent ToolCall(const Memory& m, const std::string& tool, const Json& input) {
  AgentEvent e = Make(AgentEventKind::kToolCall);
  e.tool = tool;
  std::string name = tool;
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  std::string file = AnyStr(input, {"file_path", "filePath", "notebook_path", "path"});
  if (name == "bash" || name == "shell") {
    e.command = Unwrap(Str(input, "command"));
  } else if (name == "write") {
    e.file = Relative(m, file);
    e.added = CountLines(Str(input, "content"));
  } else if (name == "edit" || name == "multiedit") {
    e.file = Relative(m, file);
    e.added = e.removed = 0;
    const Json& edits = Arr(input, "edits");
    for (const Json& edit : edits.empty() ? Json::array({input}) : edits) {
      e.added += CountLines(AnyStr(edit, {"new_string", "newString"}));
      e.removed += CountLines(AnyStr(edit, {"old_string", "oldString"}));
    }
  } else if (!file.empty()) {
    e.file = Relative(m, file);
  } else {
    std::string gist = AnyStr(input, {"pattern", "url", "query", "description", "prompt"});
    e.text = Cut(gist.empty() && !input.empty() ? Dump(input) : gist, kCompact);
  }
  return e;
}

// A tool's output as its first lines, paths in the work tree relative to it.
void SetOutput(const Memory& m, AgentEvent& e, std::string_view output) {
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) {
    output.remove_suffix(1);
  }
  size_t at = 0;
  for (int i = 0; i < kResultLines && at < output.size(); ++i) {
    size_t nl = output.find('\n', at);
    at = nl == std::string_view::npos ? output.size() : nl + 1;
  }
  e.output = Cut(output.substr(0, at), 4096);
  if (!e.output.empty() && e.output.back() == '\n') e.output.pop_back();
  std::string dir = m.workdir + "/";
  for (size_t p = 0; m.workdir.size() > 1 && (p = e.output.find(dir, p)) != std::string::npos;) {
    e.output.erase(p, dir.size());
  }
  e.more_lines = CountLines(output.substr(std::min(at, output.size())));
}

// --- Claude Code stream-json ---

// A tool_result's content: a string, or text blocks.
std::string ResultText(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  for (const Json& block : content.is_array() ? content : Json::array()) {
    if (block.is_object() && Str(block, "type") == "text") out += Str(block, "text");
  }
  return out;
}

Events ClaudeContent(Memory& m, const Json& j, bool assistant) {
  Events out;
  const Json& content = Obj(j, "message").value("content", Json::array());
  if (content.is_string()) out.push_back(Make(AgentEventKind::kText, content.get<std::string>()));
  for (const Json& block : content.is_array() ? content : Json::array()) {
    std::string type = block.is_object() ? Str(block, "type") : "";
    if (assistant && (type == "text" || type == "thinking")) {
      m.said = true;
      out.push_back(Make(AgentEventKind::kText, Str(block, type.c_str())));
    } else if (assistant && type == "tool_use") {
      m.tools[Str(block, "id")] = Str(block, "name");
      out.push_back(ToolCall(m, Str(block, "name"), Obj(block, "input")));
    } else if (!assistant && type == "tool_result") {
      AgentEvent e = Make(AgentEventKind::kToolResult);
      e.tool = m.tools[Str(block, "tool_use_id")];
      e.failed = block.value("is_error", false);
      std::string text = ResultText(block.value("content", Json()));
      // A failed Bash call's result starts "Exit code N".
      if (int code = 0; sscanf(text.c_str(), "Exit code %d", &code) == 1) e.exit_code = code;
      SetOutput(m, e, text);
      out.push_back(e);
    } else {
      out.push_back(Make(AgentEventKind::kOther, Cut(type + " " + Dump(block), kCompact)));
    }
  }
  return out;
}

Events ClaudeResult(const Memory& m, const Json& j) {
  Events out;
  bool failed = j.value("is_error", false);
  if (!failed && !m.said && !Str(j, "result").empty()) {
    // --output-format json prints this line alone: its result is all the text there is.
    out.push_back(Make(AgentEventKind::kText, Str(j, "result")));
  }
  if (failed) {
    std::string why = Str(j, "result");
    for (const Json& e : Arr(j, "errors")) {
      if (e.is_string()) why += (why.empty() ? "" : "; ") + e.get<std::string>();
    }
    out.push_back(Make(AgentEventKind::kError, why.empty() ? Str(j, "subtype") : why));
  }
  const Json& usage = Obj(j, "usage");
  AgentEvent u = Make(AgentEventKind::kUsage);
  u.input_tokens = Int(usage, "input_tokens") + Int(usage, "cache_creation_input_tokens") +
                   Int(usage, "cache_read_input_tokens");
  u.output_tokens = Int(usage, "output_tokens");
  if (auto it = j.find("total_cost_usd"); it != j.end() && it->is_number()) {
    u.cost_usd = it->get<double>();
  }
  u.duration_ms = Int(j, "duration_ms");
  out.push_back(u);
  AgentEvent end = Make(AgentEventKind::kEnd);
  end.failed = failed;
  end.duration_ms = u.duration_ms;
  out.push_back(end);
  return out;
}

Events Claude(Memory& m, const std::string& type, const Json& j) {
  if (type == "system" && Str(j, "subtype") == "init") {
    AgentEvent e = Make(AgentEventKind::kStart);
    e.model = Str(j, "model");
    e.session = Str(j, "session_id");
    if (m.workdir.empty()) m.workdir = Str(j, "cwd");
    return {e};
  }
  if (type == "assistant" || type == "user") return ClaudeContent(m, j, type == "assistant");
  if (type == "result") return ClaudeResult(m, j);
  return {Other(j)};
}

// --- Codex exec --json ---

Events CodexItem(Memory& m, const Json& j, bool completed) {
  const Json& item = Obj(j, "item");
  std::string type = Str(item, "type"), id = Str(item, "id");
  if (type == "agent_message" || type == "reasoning") {
    if (!completed) return {};
    return {Make(AgentEventKind::kText, Str(item, "text"))};
  }
  if (type == "command_execution" || type == "mcp_tool_call") {
    Events out;
    if (!completed || !m.started.count(id)) {
      AgentEvent call = type == "command_execution"
                            ? ToolCall(m, "shell", {{"command", Str(item, "command")}})
                            : ToolCall(m, Str(item, "server") + "." + Str(item, "tool"),
                                       item.value("arguments", Json::object()));
      out.push_back(call);
      m.started.insert(id);
    }
    if (!completed) return out;
    m.started.erase(id);
    AgentEvent r = Make(AgentEventKind::kToolResult);
    r.tool = type == "command_execution" ? "shell" : Str(item, "tool");
    if (auto it = item.find("exit_code"); it != item.end() && it->is_number_integer()) {
      r.exit_code = it->get<int>();
    }
    r.failed = Str(item, "status") == "failed" || r.exit_code > 0;
    SetOutput(m, r, AnyStr(item, {"aggregated_output", "error"}));
    out.push_back(r);
    return out;
  }
  if (type == "file_change") {
    if (!completed) return {};
    Events out;
    for (const Json& change : Arr(item, "changes")) {
      AgentEvent e = Make(AgentEventKind::kToolCall, Str(change, "kind"));
      e.tool = "file_change";
      e.file = Relative(m, Str(change, "path"));
      out.push_back(e);
    }
    return out;
  }
  if (type == "error") {
    m.last_error = Str(item, "message");
    return {Make(AgentEventKind::kError, m.last_error)};
  }
  if (type == "web_search") {
    if (!completed) return {};
    return {ToolCall(m, "web_search", {{"query", Str(item, "query")}})};
  }
  return {Make(AgentEventKind::kOther, Cut(type + " " + Dump(item), kCompact))};
}

Events Codex(Memory& m, const std::string& type, const Json& j) {
  if (type == "thread.started") {
    AgentEvent e = Make(AgentEventKind::kStart);
    e.session = Str(j, "thread_id");
    return {e};
  }
  if (type == "turn.started" || type == "item.updated") return {};
  if (type == "item.started" || type == "item.completed") {
    return CodexItem(m, j, type == "item.completed");
  }
  if (type == "error" || type == "turn.failed") {
    std::string why = type == "error" ? Str(j, "message") : Str(Obj(j, "error"), "message");
    Events out;
    if (why != m.last_error) out.push_back(Make(AgentEventKind::kError, why));
    m.last_error = why;
    if (type == "turn.failed") {
      AgentEvent end = Make(AgentEventKind::kEnd);
      end.failed = true;
      out.push_back(end);
    }
    return out;
  }
  if (type == "turn.completed") {
    const Json& usage = Obj(j, "usage");
    AgentEvent u = Make(AgentEventKind::kUsage);
    u.input_tokens = Int(usage, "input_tokens");
    u.output_tokens = Int(usage, "output_tokens");
    m.last_error.clear();
    return {u, Make(AgentEventKind::kEnd)};
  }
  return {Other(j)};
}

// --- OpenCode run --format json ---

Events OpencodeTool(const Memory& m, const Json& part) {
  const Json& state = Obj(part, "state");
  AgentEvent call = ToolCall(m, Str(part, "tool"), Obj(state, "input"));
  std::string status = Str(state, "status");
  if (status != "completed" && status != "error") return {call};
  AgentEvent r = Make(AgentEventKind::kToolResult);
  r.tool = call.tool;
  const Json& meta = Obj(state, "metadata");
  if (auto it = meta.find("exit"); it != meta.end() && it->is_number_integer()) {
    r.exit_code = it->get<int>();
  }
  r.failed = status == "error" || r.exit_code > 0;
  SetOutput(m, r, status == "error" ? Str(state, "error") : Str(state, "output"));
  return {call, r};
}

Events Opencode(const Memory& m, const std::string& type, const Json& j) {
  const Json& part = Obj(j, "part");
  if (type == "step_start") return {};
  if (type == "text" || type == "reasoning")
    return {Make(AgentEventKind::kText, Str(part, "text"))};
  if (type == "tool_use") return OpencodeTool(m, part);
  if (type == "step_finish") {
    const Json& tokens = Obj(part, "tokens");
    const Json& cache = Obj(tokens, "cache");
    AgentEvent u = Make(AgentEventKind::kUsage);
    u.input_tokens = Int(tokens, "input") + Int(cache, "read") + Int(cache, "write");
    u.output_tokens = Int(tokens, "output") + Int(tokens, "reasoning");
    if (auto it = part.find("cost"); it != part.end() && it->is_number()) {
      u.cost_usd = it->get<double>();
    }
    if (Str(part, "reason") != "stop") return {u};
    return {u, Make(AgentEventKind::kEnd)};
  }
  if (type == "error") {
    const Json& error = Obj(j, "error");
    const Json& data = Obj(error, "data");
    std::string why = Str(error, "name");
    if (std::string message = Str(data, "message"); !message.empty()) why += ": " + message;
    if (int64_t status = Int(data, "statusCode")) why += " (HTTP " + std::to_string(status) + ")";
    return {Make(AgentEventKind::kError, why)};
  }
  return {Other(j)};
}

// Which format defines a JSON line with this type and these fields.
enum class Dialect { kClaude, kCodex, kOpencode, kNone };

Dialect DialectOf(const std::string& type, const Json& j) {
  if (type.find('.') != std::string::npos) return Dialect::kCodex;
  if (j.contains("part") || j.contains("sessionID")) return Dialect::kOpencode;
  if (type == "error" && j.contains("message")) return Dialect::kCodex;
  if (type == "system" || type == "assistant" || type == "user" || type == "result" ||
      j.contains("session_id")) {
    return Dialect::kClaude;
  }
  return Dialect::kNone;
}

}  // namespace

std::string Cut(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, Utf8CompleteLength(s.substr(0, n)))) + "…";
}

std::string PlainLine(std::string_view line) { return PlainLineImpl(line); }

std::vector<AgentEvent> JsonLineEvents(LineMemory& memory, const nlohmann::json& j) {
  std::string type = Str(j, "type");
  switch (DialectOf(type, j)) {
    case Dialect::kClaude:
      return Claude(memory, type, j);
    case Dialect::kCodex:
      return Codex(memory, type, j);
    case Dialect::kOpencode:
      return Opencode(memory, type, j);
    case Dialect::kNone:
      break;
  }
  return {Other(j)};
}

}  // namespace orch
