#include "stream/normalize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace orch {
namespace {

using ::testing::HasSubstr;
using Kind = AgentEventKind;

// Lines as the stand-ins print them (tools/agent-standin), cut where nothing depends on it.
const char kClaudeRun[] =
    R"({"type":"system","subtype":"init","cwd":"/tmp/nz/w","session_id":"2612b5d7-7ab3-42e7-b8b1-a0b47567feb3","tools":["Bash","Edit","Write"],"mcp_servers":[],"model":"claude-sonnet-4-5","permissionMode":"default","uuid":"2f9917ec-ebc4-4d77-a6d1-778e50e48e2d"})"
    "\n"
    R"({"type":"assistant","message":{"id":"msg_iE58Txg1qtFDiSVPhCWqAKBZ","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Looking at calc.py"}],"stop_reason":null,"usage":{"input_tokens":8,"output_tokens":16}},"parent_tool_use_id":null,"session_id":"2612b5d7-7ab3-42e7-b8b1-a0b47567feb3","uuid":"9dfe0d7f-0ee1-4ce3-b3bb-9f6aefba6e93"})"
    "\n"
    R"({"type":"assistant","message":{"id":"msg_2mdSmQc0hj0cml5BKU17VH5S","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_CBZUtQW4EFmi0OuB2XKUTnlv","name":"Write","input":{"file_path":"/tmp/nz/w/calc.py","content":"print(1)\n"}}],"stop_reason":null,"usage":{"input_tokens":8,"output_tokens":16}},"parent_tool_use_id":null,"session_id":"2612b5d7-7ab3-42e7-b8b1-a0b47567feb3","uuid":"7cafea8f-6cee-4310-b750-5d68620c1acb"})"
    "\n"
    R"({"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_CBZUtQW4EFmi0OuB2XKUTnlv","type":"tool_result","content":"File created successfully at: /tmp/nz/w/calc.py"}]},"parent_tool_use_id":null,"session_id":"2612b5d7-7ab3-42e7-b8b1-a0b47567feb3","uuid":"49f8649c-8ca0-4464-8852-7ffd9b8cc6ac"})"
    "\n"
    R"({"type":"result","subtype":"success","is_error":false,"api_error_status":null,"duration_ms":1520,"duration_api_ms":1,"num_turns":3,"result":"Fixed it","stop_reason":"end_turn","session_id":"2612b5d7-7ab3-42e7-b8b1-a0b47567feb3","total_cost_usd":0.0123,"usage":{"input_tokens":23,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":3,"service_tier":"standard"},"permission_denials":[],"uuid":"61f66551-4ccc-4340-bf52-c06f58f6a6a9"})"
    "\n";

const char kCodexRun[] =
    "Reading prompt from stdin...\n"
    R"({"type":"thread.started","thread_id":"8a0541fb-9602-49d8-8650-7989c841177d"})"
    "\n"
    R"({"type":"turn.started"})"
    "\n"
    R"({"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"Looking at calc.py"}})"
    "\n"
    R"({"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc 'pytest -q'","aggregated_output":"","exit_code":null,"status":"in_progress"}})"
    "\n"
    R"({"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc 'pytest -q'","aggregated_output":"F\nFAILED test_calc.py::test_add\n1 failed in 0.01s\n","exit_code":1,"status":"failed"}})"
    "\n"
    R"({"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"/tmp/nz/w/calc.py","kind":"update"}],"status":"completed"}})"
    "\n"
    R"({"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Fixed it"}})"
    "\n"
    R"({"type":"turn.completed","usage":{"input_tokens":23,"cached_input_tokens":0,"output_tokens":3}})"
    "\n";

const char kOpencodeRun[] =
    R"({"type":"step_start","timestamp":1796551958693,"sessionID":"ses_cd94e37352dciloMIy1S79EDNa","part":{"id":"prt_9b477da877aaMnC44rJ2cQDB14","sessionID":"ses_cd94e37352dciloMIy1S79EDNa","messageID":"msg_1e914dcbc1d1iDcfyv5LU94hhW","type":"step-start","snapshot":"4ab4b8cf462eda0ecbda77bc302b4c05c6dfbffe"}})"
    "\n"
    R"({"type":"text","timestamp":1796551958693,"sessionID":"ses_cd94e37352dciloMIy1S79EDNa","part":{"id":"prt_32ebd1f9380c5qEpMTRqyYxYyB","sessionID":"ses_cd94e37352dciloMIy1S79EDNa","messageID":"msg_1e914dcbc1d1iDcfyv5LU94hhW","type":"text","text":"Looking at calc.py","time":{"start":1796551958693,"end":1796551958693}}})"
    "\n"
    R"({"type":"tool_use","timestamp":1796551958697,"sessionID":"ses_cd94e37352dciloMIy1S79EDNa","part":{"id":"prt_47859760f275rSL7VwehlTKuoB","sessionID":"ses_cd94e37352dciloMIy1S79EDNa","messageID":"msg_1e914dcbc1d1iDcfyv5LU94hhW","type":"tool","callID":"call_hXKAgR86fIelRDmDRpThUv2f","tool":"write","state":{"status":"completed","input":{"filePath":"/tmp/nz/w/calc.py","content":"print(1)\n"},"output":"Wrote file successfully.","title":"calc.py","metadata":{"filepath":"/tmp/nz/w/calc.py","exists":false},"time":{"start":1796551958697,"end":1796551958697}}}})"
    "\n"
    R"({"type":"step_finish","timestamp":1796551958697,"sessionID":"ses_cd94e37352dciloMIy1S79EDNa","part":{"id":"prt_30901bb465d0Nr6aj8pnxHOYff","sessionID":"ses_cd94e37352dciloMIy1S79EDNa","messageID":"msg_1e914dcbc1d1iDcfyv5LU94hhW","type":"step-finish","reason":"tool-calls","snapshot":"9ae1014643376a07d9888b1ee64cc67679fe95eb","cost":0.001,"tokens":{"input":23,"output":16,"reasoning":0,"cache":{"read":0,"write":0}}}})"
    "\n"
    R"({"type":"step_finish","timestamp":1796551958697,"sessionID":"ses_cd94e37352dciloMIy1S79EDNa","part":{"id":"prt_e7c2eca0d57fkCPpfDWD1ixStE","sessionID":"ses_cd94e37352dciloMIy1S79EDNa","messageID":"msg_158703295b3fHCyL6tVVq3gUdi","type":"step-finish","reason":"stop","snapshot":"41e8f29eca2733544a11f7b45bec9e248b57b9a9","cost":0.002,"tokens":{"input":23,"output":3,"reasoning":0,"cache":{"read":5,"write":0}}}})"
    "\n";

std::vector<AgentEvent> All(Normalizer& n, std::string_view bytes) {
  std::vector<AgentEvent> out = n.Feed(bytes);
  for (AgentEvent& e : n.Flush()) out.push_back(e);
  return out;
}

std::vector<Kind> Kinds(const std::vector<AgentEvent>& events) {
  std::vector<Kind> out;
  for (const AgentEvent& e : events) out.push_back(e.kind);
  return out;
}

TEST(NormalizeTest, ClaudeStreamJsonBecomesStartTextWriteResultUsageEnd) {
  // Given the claude stand-in's stream-json of a run that says something and writes a file,
  // the events are what a person wants to read, with the path relative to the work tree
  // (init's cwd) and the result's usage (cache tokens counted as input).
  Normalizer n;
  std::vector<AgentEvent> e = All(n, kClaudeRun);
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kStart, Kind::kText, Kind::kToolCall,
                                         Kind::kToolResult, Kind::kUsage, Kind::kEnd}));
  EXPECT_EQ(e[0].model, "claude-sonnet-4-5");
  EXPECT_EQ(e[0].session, "2612b5d7-7ab3-42e7-b8b1-a0b47567feb3");
  EXPECT_EQ(e[1].text, "Looking at calc.py");
  EXPECT_EQ(e[2].tool, "Write");
  EXPECT_EQ(e[2].file, "calc.py");
  EXPECT_EQ(e[2].added, 1);
  EXPECT_EQ(e[3].tool, "Write");  // remembered from the tool_use's id
  EXPECT_EQ(e[3].output, "File created successfully at: calc.py");
  EXPECT_FALSE(e[3].failed);
  EXPECT_EQ(e[4].input_tokens, 1123);
  EXPECT_EQ(e[4].output_tokens, 3);
  EXPECT_DOUBLE_EQ(e[4].cost_usd, 0.0123);
  EXPECT_EQ(e[5].duration_ms, 1520);
  EXPECT_FALSE(e[5].failed);
}

TEST(NormalizeTest, ClaudeBashEditAndAFailedCommand) {
  // Claude's Bash and Edit calls give the command and the edit's line counts; a failed Bash
  // result carries its exit code in the text ("Exit code 1") and keeps its first lines.
  Normalizer n(0, "/w");
  std::string lines =
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"pytest -q","description":"Run tests"}},{"type":"tool_use","id":"t2","name":"Edit","input":{"file_path":"/w/calc.py","old_string":"a - b\n","new_string":"a + b\n# add\n"}}]},"session_id":"s"})"
      "\n"
      R"({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"Exit code 1\n1\n2\n3\n4\n5\n6\n7"}]},"session_id":"s"})"
      "\n";
  std::vector<AgentEvent> e = All(n, lines);
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kToolCall, Kind::kToolCall, Kind::kToolResult}));
  EXPECT_EQ(e[0].command, "pytest -q");
  EXPECT_EQ(e[1].file, "calc.py");
  EXPECT_EQ(e[1].added, 2);
  EXPECT_EQ(e[1].removed, 1);
  EXPECT_EQ(e[2].tool, "Bash");
  EXPECT_TRUE(e[2].failed);
  EXPECT_EQ(e[2].exit_code, 1);
  EXPECT_EQ(e[2].output, "Exit code 1\n1\n2\n3\n4");
  EXPECT_EQ(e[2].more_lines, 3);
}

TEST(NormalizeTest, ClaudeJsonOutputShowsItsResultAsText) {
  // --output-format json: one result line and nothing before it.
  Normalizer n;
  std::vector<AgentEvent> e = All(
      n,
      R"({"type":"result","subtype":"success","is_error":false,"duration_ms":5,"result":"Fixed it","session_id":"c","total_cost_usd":0.01,"usage":{"input_tokens":7,"output_tokens":4}})");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kText, Kind::kUsage, Kind::kEnd}));
  EXPECT_EQ(e[0].text, "Fixed it");
}

TEST(NormalizeTest, ClaudeApiErrorIsAnErrorAndAFailedEnd) {
  Normalizer n;
  std::vector<AgentEvent> e = All(
      n,
      R"({"type":"result","subtype":"success","is_error":true,"api_error_status":429,"duration_ms":0,"result":"API Error: 429 {\"type\":\"error\"}","session_id":"c","total_cost_usd":0.0,"usage":{"input_tokens":7,"output_tokens":48}})");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kError, Kind::kUsage, Kind::kEnd}));
  EXPECT_THAT(e[0].text, HasSubstr("API Error: 429"));
  EXPECT_TRUE(e[2].failed);
}

TEST(NormalizeTest, CodexJsonlBecomesTextCommandResultFileChangeUsageEnd) {
  // Given codex's exec --json with its stderr line first: the stderr line is text, the
  // command shows once (started, then its result), unwrapped from `bash -lc`.
  Normalizer n(0, "/tmp/nz/w");
  std::vector<AgentEvent> e = All(n, kCodexRun);
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kText, Kind::kStart, Kind::kText, Kind::kToolCall,
                                         Kind::kToolResult, Kind::kToolCall, Kind::kText,
                                         Kind::kUsage, Kind::kEnd}));
  EXPECT_EQ(e[0].text, "Reading prompt from stdin...");
  EXPECT_EQ(e[1].session, "8a0541fb-9602-49d8-8650-7989c841177d");
  EXPECT_EQ(e[3].command, "pytest -q");
  EXPECT_EQ(e[4].exit_code, 1);
  EXPECT_TRUE(e[4].failed);
  EXPECT_EQ(e[4].output, "F\nFAILED test_calc.py::test_add\n1 failed in 0.01s");
  EXPECT_EQ(e[5].file, "calc.py");
  EXPECT_EQ(e[5].tool, "file_change");
  EXPECT_EQ(e[5].text, "update");
  EXPECT_EQ(e[6].text, "Fixed it");
  EXPECT_EQ(e[7].input_tokens, 23);
  EXPECT_LT(e[7].cost_usd, 0);  // codex reports no cost
}

TEST(NormalizeTest, CodexErrorThenTurnFailedIsOneError) {
  Normalizer n;
  std::vector<AgentEvent> e = All(
      n,
      R"({"type":"error","message":"exceeded retry limit, last status: 429 Too Many Requests"})"
      "\n"
      R"({"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}})"
      "\n");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kError, Kind::kEnd}));
  EXPECT_THAT(e[0].text, HasSubstr("429"));
  EXPECT_TRUE(e[1].failed);
}

TEST(NormalizeTest, OpencodeJsonBecomesTextWriteResultUsageEnd) {
  Normalizer n(0, "/tmp/nz/w");
  std::vector<AgentEvent> e = All(n, kOpencodeRun);
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kText, Kind::kToolCall, Kind::kToolResult,
                                         Kind::kUsage, Kind::kUsage, Kind::kEnd}));
  EXPECT_EQ(e[0].text, "Looking at calc.py");
  EXPECT_EQ(e[1].tool, "write");
  EXPECT_EQ(e[1].file, "calc.py");
  EXPECT_EQ(e[1].added, 1);
  EXPECT_EQ(e[2].output, "Wrote file successfully.");
  EXPECT_EQ(e[3].input_tokens, 23);
  EXPECT_EQ(e[4].input_tokens, 28);
  EXPECT_DOUBLE_EQ(e[4].cost_usd, 0.002);
}

TEST(NormalizeTest, OpencodeErrorNamesItsStatus) {
  Normalizer n;
  std::vector<AgentEvent> e = All(
      n,
      R"({"type":"error","timestamp":1796551958706,"sessionID":"ses_96c2","error":{"name":"APIError","data":{"message":"Rate limit reached for requests","statusCode":429,"isRetryable":true}}})");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kError}));
  EXPECT_EQ(e[0].text, "APIError: Rate limit reached for requests (HTTP 429)");
}

TEST(NormalizeTest, PlainTextIsTextWithoutEscapes) {
  // A custom agent's plain output, with colours and a progress line redrawn with '\r'.
  Normalizer n(0, "", AgentFormat::kText);
  std::vector<AgentEvent> e =
      All(n, "\x1b[91m\x1b[1mError: \x1b[0mno\n10%\r50%\r100%\n{\"type\":\"result\"}\n");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kText, Kind::kText, Kind::kText}));
  EXPECT_EQ(e[0].text, "Error: no");
  EXPECT_EQ(e[1].text, "100%");
  EXPECT_EQ(e[2].text, "{\"type\":\"result\"}");  // a text agent's JSON is its text
}

TEST(NormalizeTest, ATextAgentsRunIsReadAsTextAfterStartRun) {
  Normalizer n;
  n.StartRun("/w", AgentFormat::kText);
  std::vector<AgentEvent> e = All(n, "{\"type\":\"assistant\"}\n");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kText}));
  EXPECT_EQ(e[0].text, "{\"type\":\"assistant\"}");
}

TEST(NormalizeTest, UnknownEventTypesAreKeptCompact) {
  // Never dropped: a type no format defines, a claude system event other than init, and a
  // claude content block orch does not know, each as one short kOther.
  Normalizer n;
  std::string big(1000, 'x');
  std::vector<AgentEvent> e = All(
      n,
      std::string(R"({"type":"rate_limit_event","info":")") + big + "\"}\n" +
          R"({"type":"system","subtype":"compact_boundary","session_id":"s"})" + "\n" +
          R"({"type":"assistant","message":{"content":[{"type":"server_tool_use","id":"x"}]},"session_id":"s"})" +
          "\n");
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kOther, Kind::kOther, Kind::kOther}));
  EXPECT_THAT(e[0].text, HasSubstr("rate_limit_event"));
  EXPECT_LT(e[0].text.size(), 300u);
  EXPECT_THAT(e[1].text, HasSubstr("compact_boundary"));
  EXPECT_THAT(e[2].text, HasSubstr("server_tool_use"));
}

TEST(NormalizeTest, ChunksCutAnywhereGiveTheSameEvents) {
  // Bytes arrive in pieces that cut lines (and UTF-8) anywhere: one byte at a time, the
  // events are those of the whole, with the same offsets.
  std::string log = std::string(kClaudeRun) + "ünïcode ✎\n" + kCodexRun;
  Normalizer whole;
  std::vector<AgentEvent> want = All(whole, log);
  Normalizer bytewise;
  std::vector<AgentEvent> got;
  for (char c : log) {
    for (AgentEvent& e : bytewise.Feed(std::string_view(&c, 1))) got.push_back(e);
  }
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(AgentEventToJson(got[i]), AgentEventToJson(want[i]));
    EXPECT_EQ(got[i].line_offset, want[i].line_offset);
    EXPECT_EQ(got[i].index, want[i].index);
  }
  EXPECT_EQ(bytewise.offset(), log.size());
}

TEST(NormalizeTest, OffsetsNameEachEventsLineAndPlace) {
  // The result line makes three events, all with the offset of its first byte.
  Normalizer n(100);
  std::string text = "hello\n{\"type\":\"result\",\"is_error\":true,\"result\":\"no\"}\n";
  std::vector<AgentEvent> e = n.Feed(text);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].line_offset, 100u);
  EXPECT_EQ(e[1].line_offset, 106u);
  EXPECT_EQ(e[3].line_offset, 106u);
  EXPECT_EQ(e[3].index, 2);
  EXPECT_EQ(n.offset(), 100 + text.size());
}

TEST(NormalizeTest, AnUnfinishedLineWaitsForFlush) {
  Normalizer n;
  EXPECT_TRUE(n.Feed("half a li").empty());
  std::vector<AgentEvent> e = n.Flush();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].text, "half a li");
  EXPECT_EQ(n.offset(), 9u);
  EXPECT_TRUE(n.Flush().empty());
}

TEST(NormalizeTest, AnOverlongLineIsReportedOnceAndSkipped) {
  Normalizer n;
  std::string huge(Normalizer::kMaxLine + 10, 'y');
  std::vector<AgentEvent> e = n.Feed(huge);
  for (AgentEvent& x : n.Feed("yy\nnext\n")) e.push_back(x);
  ASSERT_EQ(Kinds(e), (std::vector<Kind>{Kind::kOther, Kind::kText}));
  EXPECT_THAT(e[0].text, HasSubstr("longer than 8 MiB"));
  EXPECT_EQ(e[1].text, "next");
  EXPECT_EQ(e[1].line_offset, huge.size() + 3);
}

TEST(NormalizeTest, EventsRoundTripThroughJson) {
  Normalizer n(0, "/tmp/nz/w");
  for (const AgentEvent& e : All(n, std::string(kClaudeRun) + kCodexRun + kOpencodeRun)) {
    Result<AgentEvent> back = ParseAgentEventJson(AgentEventToJson(e));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(AgentEventToJson(*back), AgentEventToJson(e));
  }
  EXPECT_FALSE(ParseAgentEventJson("[1]").ok());
  EXPECT_EQ(AgentEventToJson(AgentEvent{.kind = Kind::kFinal, .duration_ms = 9, .task_id = 4}),
            R"({"duration_ms":9,"kind":"final","task_id":4})");
}

TEST(NormalizeTest, EventIdsNameTheLineAndTheEventInIt) {
  AgentEvent e;
  e.kind = Kind::kText;
  e.text = "hi";
  e.line_offset = 1840;
  e.index = 2;
  EXPECT_EQ(FormatAgentEventSse(e), "id: 1840:2\ndata: {\"kind\":\"text\",\"text\":\"hi\"}\n\n");
  AgentEvent final;
  final.kind = Kind::kFinal;
  final.line_offset = 1900;
  final.index = -1;
  EXPECT_EQ(FormatAgentEventSse(final), "id: 1900\ndata: {\"kind\":\"final\"}\n\n");
  Result<EventCursor> cursor = ParseEventCursor("1840:2");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(cursor->offset, 1840u);
  EXPECT_EQ(cursor->index, 2);
  Result<EventCursor> offset = ParseEventCursor("77");  // a byte offset: before that line
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(offset->offset, 77u);
  EXPECT_EQ(offset->index, -1);
  for (const char* bad : {"", "x", "-1", "1:", "1:x", "1:2:3", " 1", "1 "}) {
    EXPECT_FALSE(ParseEventCursor(bad).ok()) << bad;
  }
}

TEST(NormalizeTest, ANewRunForgetsTheLastOnesToolsAndTakesItsWorkTree) {
  Normalizer n(0, "/w1");
  n.Feed(
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]},"session_id":"s"})"
      "\n");
  n.StartRun("/w2");
  std::vector<AgentEvent> e = n.Feed(
      R"({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"/w2/a.txt /w1/b.txt"}]},"session_id":"s"})"
      "\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].tool, "");
  EXPECT_EQ(e[0].output, "a.txt /w1/b.txt");
}

}  // namespace
}  // namespace orch
