#include "script.h"

#include <gtest/gtest.h>

namespace model_sim {
namespace {

using nlohmann::json;

json WriteTool() {
  return {{"name", "Write"},
          {"input_schema", {{"properties", {{"file_path", {}}, {"content", {}}}}}}};
}

TEST(ScriptTest, AnthropicStepsFollowToolResults) {
  // Given a prompt with two steps, the first request writes, the second runs, the third answers.
  json req = {{"system", "Working directory: /repo"},
              {"tools", {WriteTool(), {{"name", "Bash"}}}},
              {"messages",
               {{{"role", "user"},
                 {"content", "model-sim: write a.txt hi there\nmodel-sim: run make test"}}}}};
  Reply r = Decide(Api::kAnthropicMessages, req, "");
  EXPECT_EQ(r.tool, "Write");
  EXPECT_EQ(r.tool_input["file_path"], "/repo/a.txt");
  EXPECT_EQ(r.tool_input["content"], "hi there\n");
  EXPECT_GT(r.input_tokens, 0);

  req["messages"].push_back({{"role", "assistant"}, {"content", json::array()}});
  // A tool result with a reminder beside it is still a tool result, not a new prompt.
  req["messages"].push_back(json::parse(
      R"({"role":"user","content":[{"type":"tool_result","content":"ok"},{"type":"text","text":"x"}]})"));
  r = Decide(Api::kAnthropicMessages, req, "");
  EXPECT_EQ(r.tool, "Bash");
  EXPECT_EQ(r.tool_input["command"], "make test");

  req["messages"].push_back({{"role", "assistant"}, {"content", json::array()}});
  req["messages"].push_back(
      json::parse(R"({"role":"user","content":[{"type":"tool_result","content":"ok"}]})"));
  r = Decide(Api::kAnthropicMessages, req, "");
  EXPECT_TRUE(r.tool.empty());
  json contract = json::parse(r.text);
  EXPECT_EQ(contract["status"], "done");
  EXPECT_EQ(contract["files_changed"], json::array({"a.txt"}));
}

TEST(ScriptTest, ResponsesUsesApplyPatchAndCountsOutputs) {
  json req = json::parse(R"({
    "tools": [{"type": "custom", "name": "apply_patch"}],
    "input": [
      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<cwd>/w</cwd>"}]},
      {"type": "message", "role": "user",
       "content": [{"type": "input_text", "text": "model-sim: write b.txt yo"}]}]})");
  Reply r = Decide(Api::kOpenAiResponses, req, "");
  EXPECT_TRUE(r.freeform_tool);
  EXPECT_EQ(r.tool_input, "*** Begin Patch\n*** Add File: /w/b.txt\n+yo\n*** End Patch\n");
  req["input"].push_back({{"type", "custom_tool_call"}, {"name", "apply_patch"}});
  req["input"].push_back({{"type", "custom_tool_call_output"}, {"output", "ok"}});
  r = Decide(Api::kOpenAiResponses, req, "model-sim: status blocked\n");
  EXPECT_TRUE(r.tool.empty());
  EXPECT_EQ(json::parse(r.text)["status"], "blocked");
}

TEST(ScriptTest, TitlesSchemasSayAndFail) {
  json title = {{"messages", {{{"role", "user"}, {"content", "model-sim: write a b"}}}}};
  EXPECT_EQ(Decide(Api::kAnthropicMessages, title, "").text, "Scripted task");
  json schema = json::parse(R"({"input": "hi", "text": {"format": {"type": "json_schema",
    "schema": {"type": "object", "properties": {"complexity": {"enum": ["simple", "medium"]},
                                                "n": {"type": "integer"},
                                                "tags": {"type": "array"}}}}}})");
  EXPECT_EQ(json::parse(Decide(Api::kOpenAiResponses, schema, "").text),
            (json{{"complexity", "simple"}, {"n", 0}, {"tags", json::array()}}));
  json say = {{"tools", {WriteTool()}},
              {"messages", {{{"role", "user"}, {"content", "model-sim: say Hello there"}}}}};
  EXPECT_EQ(Decide(Api::kAnthropicMessages, say, "").text, "Hello there");
  EXPECT_EQ(Decide(Api::kAnthropicMessages, say, "model-sim: fail 429").fail, 429);
  EXPECT_EQ(AnthropicError(429)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(OpenAiError(400)["error"]["code"], "context_length_exceeded");
}

}  // namespace
}  // namespace model_sim
