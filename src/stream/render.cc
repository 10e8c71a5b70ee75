#include "stream/render.h"

#include <cstdio>

#include "agents/agent.h"

namespace orch {
namespace {

constexpr char kBold[] = "1";
constexpr char kDim[] = "2";
constexpr char kRed[] = "31";
constexpr char kGreen[] = "32";
constexpr char kYellow[] = "33";
constexpr char kCyan[] = "36";

// 1234567 as "1,234,567".
std::string Thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string Cost(double usd) {
  char buf[32];
  snprintf(buf, sizeof buf, usd < 1 ? "$%.4f" : "$%.2f", usd);
  return buf;
}

std::string FirstLine(const std::string& text) {
  size_t nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl) + " …";
}

// The text when it is all orch's contract (prompts/agent_system.md, the final message orch
// asks for) as JSON: its status and summary, then what was done and what was not. "" when the
// text is something else.
std::string ContractText(const std::string& text) {
  size_t first = text.find_first_not_of(" \t\r\n"), last = text.find_last_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{' || text[last] != '}') return "";
  Result<AgentContract> c = ParseContract(text);
  if (!c.ok()) return "";
  std::string out = std::string("■ ") + ContractStatusName(c->status) + ": " + c->summary;
  auto list = [&](const char* mark, const std::vector<std::string>& items) {
    for (const std::string& item : items) out += std::string("\n  ") + mark + " " + item;
  };
  list("✓", c->accomplished);
  list("…", c->remaining);
  list("!", c->blockers);
  if (!c->reason.empty()) out += "\n  reason: " + c->reason;
  for (const Delegation& d : c->delegations) out += "\n  → delegated: " + d.title;
  std::string files;
  for (const std::string& f : c->files_changed) files += (files.empty() ? "" : ", ") + f;
  if (!files.empty()) out += "\n  files: " + files;
  return out;
}

}  // namespace

std::string FormatDuration(int64_t ms) {
  char buf[32];
  int64_t s = ms / 1000;
  if (ms < 1000) {
    snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 10'000 && ms % 1000 != 0) {
    snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
  } else if (s < 60) {
    snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
             static_cast<long long>(s % 60));
  } else {
    snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
             static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

std::string EventPrinter::Paint(const std::string& sgr, const std::string& text) const {
  if (!options_.color || text.empty()) return text;
  return "\x1b[" + sgr + "m" + text + "\x1b[0m";
}

std::string EventPrinter::Lines(const std::string& text) const {
  std::string_view rest = text;
  if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
  std::string out;
  while (true) {
    size_t nl = rest.find('\n');
    out += options_.prefix;
    out += rest.substr(0, nl);
    out += '\n';
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return out;
}

std::string EventPrinter::ToolCall(const AgentEvent& e) const {
  if (!e.command.empty()) return Paint(kCyan, "$ " + FirstLine(e.command));
  if (!e.file.empty() && (e.added >= 0 || e.removed >= 0 || e.tool == "file_change")) {
    std::string line = Paint(kYellow, "✎ " + e.file);
    if (e.added >= 0) line += " " + Paint(kGreen, "+" + std::to_string(e.added));
    if (e.removed >= 0) line += " " + Paint(kRed, "−" + std::to_string(e.removed));
    if (e.added < 0 && e.removed < 0 && !e.text.empty()) line += " (" + e.text + ")";
    return line;
  }
  std::string gist = !e.file.empty() ? e.file : FirstLine(e.text);
  return Paint(kCyan, "• " + e.tool + (gist.empty() ? "" : " " + gist));
}

std::string EventPrinter::ToolResult(const AgentEvent& e) const {
  std::string_view output = e.output;
  while (!output.empty() && output.back() == '\n') output.remove_suffix(1);
  size_t nl = output.find('\n');
  if (!e.failed) {
    // One line: the first of the output, and how many more there were.
    int more = e.more_lines;
    for (size_t at = nl; at != std::string::npos; at = output.find('\n', at + 1)) ++more;
    std::string first(output.substr(0, nl));
    if (first.empty()) first = e.exit_code >= 0 ? "exit " + std::to_string(e.exit_code) : "ok";
    return Paint(kDim, "  ↳ " + first + (more > 0 ? " (+" + std::to_string(more) + " lines)" : ""));
  }
  std::string head = e.exit_code >= 0 ? "exit " + std::to_string(e.exit_code) : "failed";
  std::string out = Paint(kRed, "  ✗ " + (e.tool.empty() ? "" : e.tool + " ") + head);
  if (output.empty()) return out;
  std::string body;
  std::string_view rest = output;
  while (true) {
    size_t at = rest.find('\n');
    body += "\n    ";
    body += rest.substr(0, at);
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + 1);
  }
  if (e.more_lines > 0) body += "\n    … " + std::to_string(e.more_lines) + " more lines";
  return out + Paint(kDim, body);
}

std::string EventPrinter::Print(const AgentEvent& e) {
  switch (e.kind) {
    case AgentEventKind::kStart: {
      std::string what = e.model.empty() ? "started" : e.model;
      if (!e.session.empty()) what += " · session " + e.session;
      return Lines(Paint(kDim, "▸ " + what));
    }
    case AgentEventKind::kText:
      if (std::string contract = ContractText(e.text); !contract.empty()) {
        return Lines(Paint(kBold, contract));
      }
      return Lines(e.text);
    case AgentEventKind::kToolCall:
      return Lines(ToolCall(e));
    case AgentEventKind::kToolResult:
      return Lines(ToolResult(e));
    case AgentEventKind::kError:
      ++errors_;
      return Lines(Paint(kRed, "✗ error: " + e.text));
    case AgentEventKind::kUsage:
      input_tokens_ += e.input_tokens;
      output_tokens_ += e.output_tokens;
      if (e.cost_usd >= 0) {
        cost_usd_ += e.cost_usd;
        has_cost_ = true;
      }
      return "";
    case AgentEventKind::kEnd:
      ++ends_;
      last_failed_ = e.failed;
      agent_ms_ += e.duration_ms;
      return e.failed && errors_ == 0 ? Lines(Paint(kRed, "✗ the agent ended with a failure")) : "";
    case AgentEventKind::kOther:
      return Lines(Paint(kDim, "· " + e.text));
    case AgentEventKind::kFinal:
      return Footer(e.duration_ms);
  }
  return "";
}

std::string EventPrinter::Footer(int64_t duration_ms) const {
  bool failed = ends_ > 0 ? last_failed_ : errors_ > 0;
  std::string line = failed ? "failed" : ends_ > 0 ? "done" : "ended";
  int64_t ms = duration_ms > 0 ? duration_ms : agent_ms_;
  if (ms > 0) line += " · " + FormatDuration(ms);
  if (input_tokens_ > 0 || output_tokens_ > 0) {
    line += " · " + Thousands(input_tokens_) + " tokens in, " + Thousands(output_tokens_) + " out";
  }
  if (has_cost_) line += " · " + Cost(cost_usd_);
  return Lines(Paint(failed ? std::string(kBold) + ";" + kRed : kBold, "── " + line));
}

}  // namespace orch
