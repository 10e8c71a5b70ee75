// EventPrinter: normalized agent events (normalize.h) as lines for people, the way
// `orch stream ID` prints them: the assistant's text as text, one line per tool call
// (`$ pytest -q`, `✎ calc.py +2 −1`), results cut to their first lines, errors marked, unknown
// events dimmed and compact, and at the end a footer with the outcome, duration, tokens and
// cost (usage events are added up for it, not printed).
//
// ANSI colours only when asked (the caller knows whether stdout is a terminal). Values only;
// one printer per task stream. Thread-compatible.
#ifndef ORCH_STREAM_RENDER_H_
#define ORCH_STREAM_RENDER_H_

#include <cstdint>
#include <string>

#include "stream/agent_event.h"

namespace orch {

struct PrintOptions {
  bool color = false;       // ANSI colours
  std::string prefix = "";  // before every line ("[acme/widgets#4] " when following all tasks)
};

class EventPrinter {
 public:
  explicit EventPrinter(PrintOptions options = {}) : options_(std::move(options)) {}

  // The lines showing `event`, each ended with '\n'; "" for usage and a successful end, which
  // only count towards the footer. kFinal gives the footer.
  std::string Print(const AgentEvent& event);
  // "── done · 12s · 1,234 tokens in, 56 out · $0.0123": the last end's outcome, `duration_ms`
  // (else what the agents reported), and the usage added up; parts not known are left out.
  std::string Footer(int64_t duration_ms) const;

 private:
  std::string ToolCall(const AgentEvent& e) const;
  std::string ToolResult(const AgentEvent& e) const;
  // `text` in the colour `sgr` (an SGR parameter such as "31"), when colours are on.
  std::string Paint(const std::string& sgr, const std::string& text) const;
  // Each line of `text` prefixed and ended with '\n'.
  std::string Lines(const std::string& text) const;

  PrintOptions options_;
  int64_t input_tokens_ = 0;
  int64_t output_tokens_ = 0;
  double cost_usd_ = 0;
  bool has_cost_ = false;
  int64_t agent_ms_ = 0;  // the durations the agents reported
  int ends_ = 0;
  bool last_failed_ = false;
  int errors_ = 0;
};

// 38 ms as "38ms", 9.5 s as "9.5s", 12 s as "12s", 125 s as "2m05s", 3720 s as "1h02m".
std::string FormatDuration(int64_t ms);

}  // namespace orch

#endif  // ORCH_STREAM_RENDER_H_
