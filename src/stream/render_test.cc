#include "stream/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace orch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = AgentEventKind;

AgentEvent Event(Kind kind) {
  AgentEvent e;
  e.kind = kind;
  return e;
}

TEST(EventPrinterTest, ToolCallsAreOneLineEach) {
  EventPrinter p;
  AgentEvent shell = Event(Kind::kToolCall);
  shell.tool = "Bash";
  shell.command = "pytest -q";
  EXPECT_EQ(p.Print(shell), "$ pytest -q\n");
  AgentEvent edit = Event(Kind::kToolCall);
  edit.tool = "Edit";
  edit.file = "calc.py";
  edit.added = 2;
  edit.removed = 1;
  EXPECT_EQ(p.Print(edit), "✎ calc.py +2 −1\n");
  AgentEvent write = Event(Kind::kToolCall);
  write.tool = "Write";
  write.file = "hello.txt";
  write.added = 1;
  EXPECT_EQ(p.Print(write), "✎ hello.txt +1\n");
  AgentEvent change = Event(Kind::kToolCall);
  change.tool = "file_change";
  change.file = "calc.py";
  change.text = "update";
  EXPECT_EQ(p.Print(change), "✎ calc.py (update)\n");
  AgentEvent read = Event(Kind::kToolCall);
  read.tool = "Read";
  read.file = "README.md";
  EXPECT_EQ(p.Print(read), "• Read README.md\n");
  shell.command = "set -e\nmake";
  EXPECT_EQ(p.Print(shell), "$ set -e …\n");
}

TEST(EventPrinterTest, ResultsAreAbbreviatedAndFailuresMarked) {
  EventPrinter p;
  AgentEvent ok = Event(Kind::kToolResult);
  ok.output = "3 passed\nmore\n";
  ok.more_lines = 10;
  EXPECT_EQ(p.Print(ok), "  ↳ 3 passed (+11 lines)\n");
  AgentEvent bad = Event(Kind::kToolResult);
  bad.tool = "shell";
  bad.failed = true;
  bad.exit_code = 1;
  bad.output = "F\nFAILED test_add";
  bad.more_lines = 2;
  EXPECT_EQ(p.Print(bad), "  ✗ shell exit 1\n    F\n    FAILED test_add\n    … 2 more lines\n");
  EXPECT_EQ(p.Print(Event(Kind::kToolResult)), "  ↳ ok\n");
}

TEST(EventPrinterTest, TextErrorsAndUnknownEvents) {
  EventPrinter p(PrintOptions{.prefix = "[w#4] "});
  AgentEvent text = Event(Kind::kText);
  text.text = "Two\nlines\n";
  EXPECT_EQ(p.Print(text), "[w#4] Two\n[w#4] lines\n");
  AgentEvent error = Event(Kind::kError);
  error.text = "APIError: rate limit (HTTP 429)";
  EXPECT_EQ(p.Print(error), "[w#4] ✗ error: APIError: rate limit (HTTP 429)\n");
  AgentEvent other = Event(Kind::kOther);
  other.text = "rate_limit_event {}";
  EXPECT_EQ(p.Print(other), "[w#4] · rate_limit_event {}\n");
}

TEST(EventPrinterTest, UsageIsAddedUpIntoTheFooter) {
  // Two steps' usage (opencode reports one per step), then the end: the footer sums them and
  // takes the duration the API measured.
  EventPrinter p;
  AgentEvent u = Event(Kind::kUsage);
  u.input_tokens = 1000;
  u.output_tokens = 20;
  u.cost_usd = 0.001;
  EXPECT_EQ(p.Print(u), "");
  u.input_tokens = 234;
  u.output_tokens = 36;
  u.cost_usd = 0.0113;
  EXPECT_EQ(p.Print(u), "");
  EXPECT_EQ(p.Print(Event(Kind::kEnd)), "");
  AgentEvent final = Event(Kind::kFinal);
  final.duration_ms = 125'000;
  EXPECT_EQ(p.Print(final), "── done · 2m05s · 1,234 tokens in, 56 out · $0.0123\n");
}

TEST(EventPrinterTest, AFailedRunSaysSoAndUnknownPartsAreLeftOut) {
  EventPrinter p;
  AgentEvent end = Event(Kind::kEnd);
  end.failed = true;
  EXPECT_EQ(p.Print(end), "✗ the agent ended with a failure\n");
  EXPECT_EQ(p.Print(Event(Kind::kFinal)), "── failed\n");
  EventPrinter plain;  // a text agent: no end, no usage
  EXPECT_EQ(plain.Footer(9500), "── ended · 9.5s\n");
}

TEST(EventPrinterTest, ColoursOnlyWhenAsked) {
  AgentEvent error = Event(Kind::kError);
  error.text = "no";
  EXPECT_THAT(EventPrinter().Print(error), Not(HasSubstr("\x1b[")));
  EXPECT_EQ(EventPrinter(PrintOptions{.color = true}).Print(error), "\x1b[31m✗ error: no\x1b[0m\n");
}

TEST(EventPrinterTest, TheContractIsShownAsItsSummaryNotAsJson) {
  // The stand-in's final message, orch's contract as one line of JSON.
  AgentEvent text = Event(Kind::kText);
  text.text = R"({"accomplished":["write notes.txt"],"blockers":[],"delegations":[],)"
              R"("files_changed":["notes.txt"],"reason":"","remaining":[],"status":"done",)"
              R"("summary":"standin claude 1 directive(s) done"})";
  EXPECT_EQ(
      EventPrinter().Print(text),
      "■ done: standin claude 1 directive(s) done\n  ✓ write notes.txt\n  files: notes.txt\n");
  text.text = "{not the contract}";
  EXPECT_EQ(EventPrinter().Print(text), "{not the contract}\n");
}

TEST(EventPrinterTest, Durations) {
  EXPECT_EQ(FormatDuration(38), "38ms");
  EXPECT_EQ(FormatDuration(9500), "9.5s");
  EXPECT_EQ(FormatDuration(12'000), "12s");
  EXPECT_EQ(FormatDuration(12'400), "12s");
  EXPECT_EQ(FormatDuration(3'720'000), "1h02m");
}

}  // namespace
}  // namespace orch
