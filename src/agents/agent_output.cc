// ParseContract and ParseAgentOutput: reading each CLI's output back into one AgentResult
// (see agent.h). Split from agent.cc, which builds the command lines.
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "agents/agent.h"
#include "base/json_fields.h"

namespace orch {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// The contract

// Reads a list of strings; a lone string counts as a one-element list (models do that).
Status ReadStrings(const json& obj, const char* key, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (it->is_string()) {
    if (!it->get<std::string>().empty()) out->push_back(it->get<std::string>());
    return Status::OK();
  }
  if (!it->is_array()) return Status::InvalidArgument(key, "expected a list of strings");
  for (const json& v : *it) {
    if (!v.is_string()) return Status::InvalidArgument(key, "expected a list of strings");
    out->push_back(v.get<std::string>());
  }
  return Status::OK();
}

Status ReadString(const json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_string()) return Status::InvalidArgument(key, "expected a string");
  *out = it->get<std::string>();
  return Status::OK();
}

Result<AgentContract> ContractFromJson(const json& obj) {
  if (!obj.is_object()) return Status::InvalidArgument("contract", "not a JSON object");
  AgentContract c;
  std::string status;
  ORCH_RETURN_IF_ERROR(ReadString(obj, "status", &status));
  static const std::pair<const char*, ContractStatus> kStatuses[] = {
      {"done", ContractStatus::kDone},
      {"in_progress", ContractStatus::kInProgress},
      {"blocked", ContractStatus::kBlocked},
      {"needs_review", ContractStatus::kNeedsReview},
      {"needs_input", ContractStatus::kNeedsInput}};
  bool known = false;
  for (const auto& [name, value] : kStatuses) {
    if (status == name) {
      c.status = value;
      known = true;
    }
  }
  if (status.empty()) return Status::InvalidArgument("contract: status", "missing");
  if (!known) {
    return Status::InvalidArgument("contract: status",
                                   "\"" + status +
                                       "\" is not one of done, in_progress, blocked, "
                                       "needs_review, needs_input");
  }
  Status s;
  if (s.ok()) s = ReadString(obj, "summary", &c.summary);
  if (s.ok()) s = ReadStrings(obj, "accomplished", &c.accomplished);
  if (s.ok()) s = ReadStrings(obj, "remaining", &c.remaining);
  if (s.ok()) s = ReadStrings(obj, "files_changed", &c.files_changed);
  if (s.ok()) s = ReadStrings(obj, "blockers", &c.blockers);
  if (s.ok()) s = ReadString(obj, "reason", &c.reason);
  if (s.ok()) s = ReadString(obj, "question", &c.question);
  if (!s.ok()) return s.Prefixed("contract");
  if (c.status == ContractStatus::kNeedsInput && c.question.empty()) {
    return Status::InvalidArgument("contract: question", "needs_input without a question");
  }
  auto it = obj.find("delegations");
  if (it != obj.end() && !it->is_null()) {
    if (!it->is_array()) return Status::InvalidArgument("contract: delegations", "expected a list");
    for (const json& d : *it) {
      if (!d.is_object()) {
        return Status::InvalidArgument("contract: delegations", "expected a list of objects");
      }
      Delegation del;
      s = ReadString(d, "title", &del.title);
      if (s.ok()) s = ReadString(d, "body", &del.body);
      if (s.ok()) s = ReadStrings(d, "labels", &del.labels);
      if (!s.ok()) return s.Prefixed("contract: delegations");
      if (del.title.empty()) {
        return Status::InvalidArgument("contract: delegations", "a delegation has no title");
      }
      c.delegations.push_back(std::move(del));
    }
  }
  return c;
}

std::optional<json> ParseJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// The end (one past the closing brace) of the balanced object starting at text[start], skipping
// braces inside JSON strings; npos when it never closes.
size_t MatchBrace(std::string_view text, size_t start) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '{') {
      ++depth;
    } else if (ch == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Candidate contract objects in `text`, in order: every fenced ```json block, then every
// top-level balanced {...} that parses. Only objects with a "status" key count.
std::optional<json> LastFencedObject(std::string_view text) {
  std::optional<json> found;
  size_t pos = 0;
  while ((pos = text.find("```json", pos)) != std::string_view::npos) {
    size_t body = text.find('\n', pos);
    if (body == std::string_view::npos) break;
    size_t end = text.find("```", body + 1);
    if (end == std::string_view::npos) break;
    auto j = ParseJson(text.substr(body + 1, end - body - 1));
    if (j && j->is_object() && j->contains("status")) found = std::move(j);
    pos = end + 3;
  }
  return found;
}

std::optional<json> LastBalancedObject(std::string_view text) {
  std::optional<json> found;
  for (size_t i = text.find('{'); i != std::string_view::npos; i = text.find('{', i + 1)) {
    size_t end = MatchBrace(text, i);
    if (end == std::string_view::npos) continue;
    auto j = ParseJson(text.substr(i, end - i));
    if (j && j->is_object() && j->contains("status")) {
      found = std::move(j);
      i = end - 1;  // continue after this object: nested objects are not candidates
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Error classes

bool MentionsContextOverflow(std::string_view message) {
  static const char* kMarks[] = {
      "prompt is too long", "context_length_exceeded", "context window",  "maximum context length",
      "context length",     "too many tokens",         "ContextOverflow", "input is too long"};
  std::string lower;
  for (char ch : message) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* mark : kMarks) {
    std::string m;
    for (const char* p = mark; *p; ++p) m += static_cast<char>(std::tolower(*p));
    if (lower.find(m) != std::string::npos) return true;
  }
  return false;
}

// The class of an API failure from its HTTP status, and for a 400/413 the API's own error
// message (this is the provider's error text, never the agent's work output).
AgentError ClassifyHttp(int status, std::string_view api_message) {
  switch (status) {
    case 429:
    case 529:  // Anthropic's "overloaded": capacity, retry later like a rate limit
      return AgentError::kRateLimit;
    case 401:
    case 403:
      return AgentError::kAuth;
    case 404:
      return AgentError::kModelUnavailable;
    case 400:
    case 413:
      return MentionsContextOverflow(api_message) ? AgentError::kContextOverflow
                                                  : AgentError::kFailed;
    default:
      return AgentError::kFailed;
  }
}

// The HTTP status codex puts in its error messages: "unexpected status 429 Too Many Requests:
// ..." or "... last status: 401 Unauthorized ...". 0 when there is none.
int StatusInCodexMessage(std::string_view m) {
  for (const char* mark : {"unexpected status ", "last status: ", "status code ", "status: "}) {
    size_t p = m.find(mark);
    if (p == std::string_view::npos) continue;
    p += std::string_view(mark).size();
    int v = 0;
    size_t digits = 0;
    while (p + digits < m.size() && digits < 3 &&
           std::isdigit(static_cast<unsigned char>(m[p + digits]))) {
      v = v * 10 + (m[p + digits] - '0');
      ++digits;
    }
    if (digits == 3) return v;
  }
  return 0;
}

// Every line of JSONL that parses as an object (other lines, e.g. warnings, are skipped).
std::vector<json> JsonLines(std::string_view text) {
  std::vector<json> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] != '{') continue;
    auto j = ParseJson(line);
    if (j && j->is_object()) out.push_back(std::move(*j));
  }
  return out;
}

// Sets error and message, and on kNone the contract from final_text (kUnparseable when the text
// is not the contract). The common ending of every parser.
void Finish(AgentResult* r, AgentError error, std::string message) {
  r->error = error;
  r->error_message = std::move(message);
  if (error != AgentError::kNone) return;
  Result<AgentContract> c = ParseContract(r->final_text);
  if (c.ok()) {
    r->contract = std::move(*c);
  } else {
    r->error = AgentError::kUnparseable;
    r->error_message = c.status().message();
  }
}

// Exit-level failures that trump whatever the output says. True when one applied.
bool FinishFromExit(AgentResult* r, const AgentOutput& out) {
  if (out.stuck_after > 0) {
    Finish(r, AgentError::kTimeout,
           "stuck: no output for " + std::to_string(out.stuck_after) + "s (engine.stuck_timeout)");
  } else if (out.timed_out) {
    Finish(r, AgentError::kTimeout, "timed out");
  } else if (out.exit_code == 127) {
    Finish(r, AgentError::kMissingTool, "the agent CLI is not installed (exit 127)");
  } else {
    return false;
  }
  return true;
}

std::string ExitMessage(const AgentOutput& out, const std::string& what) {
  std::string m = what + " (exit " + std::to_string(out.exit_code) + ")";
  // The last stderr line usually says why; keep it short.
  std::string_view err = out.stderr_text;
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.remove_suffix(1);
  size_t nl = err.rfind('\n');
  std::string_view last = nl == std::string_view::npos ? err : err.substr(nl + 1);
  if (!last.empty()) m += ": " + std::string(last.substr(0, 300));
  return m;
}

// ---------------------------------------------------------------------------------------------
// Parsers

AgentResult ParseClaude(const AgentOutput& out) {
  AgentResult r;
  std::optional<json> result;
  for (json& j : JsonLines(out.stdout_text)) {
    if (JsonString(j, "type") == "result")
      result = std::move(j);
    else if (r.session_id.empty())
      r.session_id = JsonString(j, "session_id");
  }
  if (!result) {
    // --output-format json prints one object, or with --verbose one array of every event;
    // a wrapper may pretty-print either.
    auto whole = ParseJson(out.stdout_text);
    if (whole && whole->is_object() && JsonString(*whole, "type") == "result") result = whole;
    if (whole && whole->is_array()) {
      for (json& j : *whole) {
        if (!j.is_object()) continue;
        if (JsonString(j, "type") == "result")
          result = std::move(j);
        else if (r.session_id.empty())
          r.session_id = JsonString(j, "session_id");
      }
    }
  }
  if (FinishFromExit(&r, out)) {
    if (result) r.session_id = JsonString(*result, "session_id");
    return r;
  }
  if (!result) {
    Finish(&r, AgentError::kFailed, ExitMessage(out, "claude printed no result"));
    return r;
  }
  const json& res = *result;
  r.session_id = JsonString(res, "session_id");
  r.final_text = JsonString(res, "result");
  const json& usage = JsonObject(res, "usage");
  r.input_tokens = JsonInt(usage, "input_tokens") + JsonInt(usage, "cache_creation_input_tokens") +
                   JsonInt(usage, "cache_read_input_tokens");
  r.output_tokens = JsonInt(usage, "output_tokens");
  if (auto it = res.find("total_cost_usd"); it != res.end() && it->is_number()) {
    r.cost_usd = it->get<double>();
  }
  bool is_error = res.value("is_error", false);
  if (is_error) {
    int status = static_cast<int>(JsonInt(res, "api_error_status"));
    std::string m = r.final_text.empty() ? JsonString(res, "subtype") : r.final_text;
    Finish(&r, status ? ClassifyHttp(status, m) : AgentError::kFailed,
           "claude: " + m.substr(0, 500));
    return r;
  }
  bool denied = res.contains("permission_denials") && res["permission_denials"].is_array() &&
                !res["permission_denials"].empty();
  Finish(&r, AgentError::kNone, "");
  // A run that hit a permission wall and then did not answer with the contract stopped to ask.
  if (r.error == AgentError::kUnparseable && denied) {
    r.error = AgentError::kWaitingForInput;
    r.error_message = "claude was denied " + res["permission_denials"].dump().substr(0, 300);
  }
  return r;
}

AgentResult ParseCodex(const AgentOutput& out) {
  AgentResult r;
  std::string failure;
  int failure_status = 0;
  for (const json& j : JsonLines(out.stdout_text)) {
    std::string type = JsonString(j, "type");
    if (type == "thread.started") {
      r.session_id = JsonString(j, "thread_id");
    } else if (type == "item.completed") {
      const json& item = JsonObject(j, "item");
      if (JsonString(item, "type") == "agent_message") r.final_text = JsonString(item, "text");
    } else if (type == "turn.completed") {
      const json& usage = JsonObject(j, "usage");
      r.input_tokens += JsonInt(usage, "input_tokens");
      r.output_tokens += JsonInt(usage, "output_tokens");
      // Error events before a completed turn were retries that recovered ("Reconnecting...").
      failure.clear();
      failure_status = 0;
    } else if (type == "turn.failed" || type == "error") {
      std::string m = type == "error" ? JsonString(j, "message")
                                      : JsonString(JsonObject(j, "error"), "message");
      if (!m.empty() || failure.empty()) failure = m.empty() ? type : m;
      if (int s = StatusInCodexMessage(m)) failure_status = s;
    }
  }
  if (FinishFromExit(&r, out)) return r;
  if (!failure.empty()) {
    // Codex names the status for most failures ("unexpected status 401 Unauthorized: ...",
    // "exceeded retry limit, last status: 429 ..."), but turns a context_length_exceeded
    // answer into its own sentence ("Codex ran out of room in the model's context window")
    // and passes a 404's API message through bare, so that one stays kFailed.
    AgentError error = failure_status                     ? ClassifyHttp(failure_status, failure)
                       : MentionsContextOverflow(failure) ? AgentError::kContextOverflow
                                                          : AgentError::kFailed;
    Finish(&r, error, "codex: " + failure.substr(0, 500));
  } else if (out.exit_code != 0) {
    Finish(&r, AgentError::kFailed, ExitMessage(out, "codex failed"));
  } else {
    Finish(&r, AgentError::kNone, "");
  }
  return r;
}

AgentResult ParseOpencode(const AgentOutput& out) {
  AgentResult r;
  std::string step_text;  // text parts of the current step; the last step with text wins
  std::string failure;
  AgentError failure_class = AgentError::kFailed;
  for (const json& j : JsonLines(out.stdout_text)) {
    std::string type = JsonString(j, "type");
    if (std::string sid = JsonString(j, "sessionID"); !sid.empty()) r.session_id = sid;
    const json& part = JsonObject(j, "part");
    if (type == "step_start") {
      // Only the last step's text is the final message: a step that only called tools and
      // then ended the run leaves none.
      step_text.clear();
      r.final_text.clear();
    } else if (type == "text") {
      if (!step_text.empty()) step_text += "\n";
      step_text += JsonString(part, "text");
      r.final_text = step_text;
    } else if (type == "step_finish") {
      const json& tokens = JsonObject(part, "tokens");
      const json& cache = JsonObject(tokens, "cache");
      r.input_tokens += JsonInt(tokens, "input") + JsonInt(cache, "read") + JsonInt(cache, "write");
      r.output_tokens += JsonInt(tokens, "output") + JsonInt(tokens, "reasoning");
      if (auto it = part.find("cost"); it != part.end() && it->is_number()) {
        r.cost_usd += it->get<double>();
      }
    } else if (type == "error") {
      const json& err = JsonObject(j, "error");
      const json& data = JsonObject(err, "data");
      std::string m = JsonString(data, "message");
      failure = JsonString(err, "name") + (m.empty() ? "" : ": " + m);
      int status = static_cast<int>(JsonInt(data, "statusCode"));
      failure_class = status ? ClassifyHttp(status, m) : AgentError::kFailed;
      if (JsonString(err, "name") == "ProviderAuthError") failure_class = AgentError::kAuth;
      if (JsonString(err, "name") == "ContextOverflowError") {
        failure_class = AgentError::kContextOverflow;
      }
    }
  }
  if (FinishFromExit(&r, out)) return r;
  if (!failure.empty()) {
    Finish(&r, failure_class, "opencode: " + failure.substr(0, 500));
  } else if (out.exit_code != 0) {
    Finish(&r, AgentError::kFailed, ExitMessage(out, "opencode failed"));
  } else {
    Finish(&r, AgentError::kNone, "");
  }
  return r;
}

AgentResult ParseText(const AgentOutput& out) {
  AgentResult r;
  r.final_text = out.stdout_text;
  if (FinishFromExit(&r, out)) return r;
  if (out.exit_code != 0) {
    Finish(&r, AgentError::kFailed, ExitMessage(out, "the agent failed"));
  } else {
    Finish(&r, AgentError::kNone, "");
  }
  return r;
}

}  // namespace

const char* AgentErrorName(AgentError e) {
  switch (e) {
    case AgentError::kNone:
      return "none";
    case AgentError::kRateLimit:
      return "rate_limit";
    case AgentError::kAuth:
      return "auth";
    case AgentError::kModelUnavailable:
      return "model_unavailable";
    case AgentError::kContextOverflow:
      return "context_overflow";
    case AgentError::kTimeout:
      return "timeout";
    case AgentError::kMissingTool:
      return "missing_tool";
    case AgentError::kWaitingForInput:
      return "waiting_for_input";
    case AgentError::kUnparseable:
      return "unparseable";
    case AgentError::kFailed:
      return "failed";
  }
  return "?";
}

const char* ContractStatusName(ContractStatus s) {
  switch (s) {
    case ContractStatus::kDone:
      return "done";
    case ContractStatus::kInProgress:
      return "in_progress";
    case ContractStatus::kBlocked:
      return "blocked";
    case ContractStatus::kNeedsReview:
      return "needs_review";
    case ContractStatus::kNeedsInput:
      return "needs_input";
  }
  return "?";
}

Result<AgentContract> ParseContract(std::string_view final_text) {
  std::string_view t = final_text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  if (t.empty()) return Status::InvalidArgument("contract", "the final message is empty");
  if (auto whole = ParseJson(t); whole && whole->is_object()) return ContractFromJson(*whole);
  if (auto fenced = LastFencedObject(t)) return ContractFromJson(*fenced);
  if (auto obj = LastBalancedObject(t)) return ContractFromJson(*obj);
  return Status::InvalidArgument("contract",
                                 "the final message holds no JSON object with a status");
}

AgentResult ParseAgentOutput(OutputFormat format, const AgentOutput& output) {
  switch (format) {
    case OutputFormat::kClaudeJson:
    case OutputFormat::kClaudeStreamJson:
      return ParseClaude(output);
    case OutputFormat::kCodexJsonl:
      return ParseCodex(output);
    case OutputFormat::kOpencodeJsonl:
      return ParseOpencode(output);
    case OutputFormat::kText:
      return ParseText(output);
  }
  return ParseText(output);
}

}  // namespace orch
