#include "script.h"

#include <regex>
#include <sstream>

namespace model_sim {

using nlohmann::json;

namespace {

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// All text in a content value: a string, or the blocks that have a "text".
void CollectText(const json& content, std::string* out) {
  if (content.is_string()) {
    *out += content.get<std::string>() + "\n";
  } else if (content.is_array()) {
    for (const json& block : content) {
      if (block.is_object() && block.contains("text") && block["text"].is_string()) {
        *out += block["text"].get<std::string>() + "\n";
      }
    }
  }
}

// The conversation as (role, is_tool_result, text) rows, in order, from either wire format.
struct Turn {
  std::string role;
  int tool_results = 0;  // tool results this row carries
  std::string text;
};

std::vector<Turn> AnthropicTurns(const json& req) {
  std::vector<Turn> turns;
  for (const json& m : req.value("messages", json::array())) {
    Turn t{m.value("role", ""), 0, ""};
    const json& content = m.contains("content") ? m["content"] : json();
    if (content.is_array()) {
      for (const json& block : content) {
        if (block.is_object() && block.value("type", "") == "tool_result") ++t.tool_results;
      }
    }
    CollectText(content, &t.text);
    turns.push_back(std::move(t));
  }
  return turns;
}

std::vector<Turn> ResponsesTurns(const json& req) {
  std::vector<Turn> turns;
  const json& input = req.contains("input") ? req["input"] : json();
  if (input.is_string()) return {Turn{"user", 0, input.get<std::string>()}};
  if (!input.is_array()) return turns;
  for (const json& item : input) {
    std::string type = item.value("type", "message");
    Turn t;
    if (type == "message") {
      t.role = item.value("role", "");
      if (item.contains("content")) CollectText(item["content"], &t.text);
    } else if (type.size() > 7 && type.compare(type.size() - 7, 7, "_output") == 0) {
      t.role = "tool";
      t.tool_results = 1;
    } else {
      t.role = "assistant";  // tool calls, reasoning
    }
    turns.push_back(std::move(t));
  }
  return turns;
}

// Everything the model is told (system prompt and messages), to find its working directory.
std::string AllText(const json& req) {
  std::string all;
  for (const char* key : {"system", "instructions"}) {
    if (req.contains(key)) CollectText(req[key], &all);
  }
  for (const char* key : {"messages", "input"}) {
    if (!req.contains(key) || !req[key].is_array()) continue;
    for (const json& m : req[key]) {
      if (m.is_object() && m.contains("content")) CollectText(m["content"], &all);
    }
  }
  return all;
}

std::string WorkingDirectory(const std::string& all) {
  static const std::regex kPatterns[] = {std::regex("<cwd>([^<]+)</cwd>"),
                                         std::regex("[Ww]orking directory: (\\S+)")};
  for (const std::regex& re : kPatterns) {
    std::smatch m;
    if (std::regex_search(all, m, re)) return m[1];
  }
  return "";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// Sets reply->tool and its input to run `command` with the shell tool the request offers.
bool ChooseShellTool(Api api, const json& tools, const std::string& command, Reply* reply) {
  for (const json& t : tools) {
    std::string name = t.value("name", "");
    if (api == Api::kAnthropicMessages && (name == "Bash" || name == "bash")) {
      reply->tool = name;
      reply->tool_input = {{"command", command}, {"description", "model-sim step"}};
      return true;
    }
    if (api == Api::kOpenAiResponses && (name == "exec_command" || name == "shell")) {
      reply->tool = name;
      reply->tool_input =
          name == "shell" ? json{{"command", {"bash", "-lc", command}}} : json{{"cmd", command}};
      return true;
    }
  }
  return false;
}

// Sets reply->tool and its input to write `w` with whatever tool the request offers (a shell
// command when there is no file tool). False when it offers neither.
bool ChooseWriteTool(Api api, const json& tools, const Step& w, Reply* reply) {
  if (!tools.is_array()) return false;
  for (const json& t : tools) {
    std::string name = t.value("name", "");
    if (api == Api::kAnthropicMessages && (name == "Write" || name == "write")) {
      const json props = t.contains("input_schema")
                             ? t["input_schema"].value("properties", json::object())
                             : json::object();
      std::string key = props.contains("file_path")  ? "file_path"
                        : props.contains("filePath") ? "filePath"
                                                     : "path";
      reply->tool = name;
      reply->tool_input = {{key, w.path}, {"content", w.text + "\n"}};
      return true;
    }
    if (api == Api::kOpenAiResponses && name == "apply_patch" && t.value("type", "") == "custom") {
      reply->tool = name;
      reply->freeform_tool = true;
      reply->tool_input =
          "*** Begin Patch\n*** Add File: " + w.path + "\n+" + w.text + "\n*** End Patch\n";
      return true;
    }
  }
  return ChooseShellTool(
      api, tools, "printf '%s\\n' " + ShellQuote(w.text) + " > " + ShellQuote(w.path), reply);
}

std::string ContractText(const Directives& d) {
  json files = json::array();
  for (const Step& w : d.steps) {
    if (w.command.empty()) files.push_back(w.path);
  }
  json c = {{"status", d.status},
            {"summary", "model-sim took " + std::to_string(d.steps.size()) + " step(s)"},
            {"accomplished", d.steps.empty() ? json::array() : json::array({"took the steps"})},
            {"remaining", json::array()},
            {"files_changed", files},
            {"blockers", json::array()},
            {"reason", d.status == "done" ? "" : "model-sim was told so"},
            {"delegations", json::array()}};
  return c.dump();
}

const json* JsonSchemaIn(Api api, const json& req) {
  const json* format = nullptr;
  if (api == Api::kAnthropicMessages && req.contains("output_format")) {
    format = &req["output_format"];
  } else if (req.contains("text") && req["text"].is_object() && req["text"].contains("format")) {
    format = &req["text"]["format"];
  } else if (req.contains("response_format")) {
    format = &req["response_format"];
    if (format->contains("json_schema")) format = &(*format)["json_schema"];
  }
  if (format == nullptr || !format->is_object() || !format->contains("schema")) return nullptr;
  return &(*format)["schema"];
}

}  // namespace

void ReadDirectives(const std::string& text, Directives* d) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t at = line.find("model-sim:");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at + 10));
    std::string verb;
    words >> verb;
    std::string rest;
    std::getline(words, rest);
    rest = Trim(rest);
    if (verb == "write") {
      size_t sp = rest.find(' ');
      if (sp == std::string::npos) continue;
      d->steps.push_back({rest.substr(0, sp), Trim(rest.substr(sp + 1)), ""});
    } else if (verb == "run") {
      d->steps.push_back({"", "", rest});
    } else if (verb == "say") {
      d->say = rest;
    } else if (verb == "status") {
      d->status = rest;
    } else if (verb == "fail") {
      d->fail = std::atoi(rest.c_str());
    }
  }
}

Reply Decide(Api api, const json& req, const std::string& script) {
  std::vector<Turn> turns =
      api == Api::kAnthropicMessages ? AnthropicTurns(req) : ResponsesTurns(req);
  // The prompt is the last user message that is not only tool results; the step is the number
  // of tool results after it.
  int prompt = -1;
  for (int i = static_cast<int>(turns.size()) - 1; i >= 0; --i) {
    if (turns[i].role == "user" && turns[i].tool_results == 0) {
      prompt = i;
      break;
    }
  }
  int step = 0;
  for (size_t i = prompt + 1; i < turns.size(); ++i) step += turns[i].tool_results;
  Directives d;
  ReadDirectives(script, &d);
  if (prompt >= 0) ReadDirectives(turns[prompt].text, &d);

  Reply reply;
  std::string all = AllText(req);
  reply.input_tokens = static_cast<int64_t>(all.size() / 4 + 1);
  reply.fail = d.fail;
  const json tools = req.value("tools", json::array());
  if (tools.empty()) {
    const json* schema = JsonSchemaIn(api, req);
    reply.text = schema ? ValueForSchema(*schema).dump() : "Scripted task";
  } else if (step < static_cast<int>(d.steps.size())) {
    Step w = d.steps[step];
    std::string cwd = WorkingDirectory(all);
    if (!w.path.empty() && w.path[0] != '/' && !cwd.empty()) w.path = cwd + "/" + w.path;
    bool called = w.command.empty() ? ChooseWriteTool(api, tools, w, &reply)
                                    : ChooseShellTool(api, tools, w.command, &reply);
    if (!called) reply.text = ContractText(d);
  } else {
    reply.text = d.say.empty() ? ContractText(d) : d.say;
  }
  reply.output_tokens =
      static_cast<int64_t>((reply.text.size() + reply.tool_input.dump().size()) / 4 + 1);
  return reply;
}

json ValueForSchema(const json& schema) {
  if (!schema.is_object()) return "model-sim";
  if (schema.contains("enum") && schema["enum"].is_array() && !schema["enum"].empty()) {
    return schema["enum"][0];
  }
  if (schema.contains("const")) return schema["const"];
  for (const char* alt : {"anyOf", "oneOf", "allOf"}) {
    if (schema.contains(alt) && schema[alt].is_array() && !schema[alt].empty()) {
      return ValueForSchema(schema[alt][0]);
    }
  }
  std::string type = schema.value("type", "");
  if (schema.contains("type") && schema["type"].is_array() && !schema["type"].empty()) {
    type = schema["type"][0].get<std::string>();
  }
  if (type == "object" || schema.contains("properties")) {
    json out = json::object();
    const json props = schema.value("properties", json::object());
    for (const auto& [key, sub] : props.items()) {
      out[key] = ValueForSchema(sub);
    }
    return out;
  }
  if (type == "array") return json::array();
  if (type == "integer" || type == "number") return 0;
  if (type == "boolean") return false;
  if (type == "null") return nullptr;
  return "model-sim";
}

json AnthropicError(int status) {
  std::string type = "api_error", message = "model-sim was told to fail";
  switch (status) {
    case 400:
      type = "invalid_request_error";
      message = "prompt is too long: 250000 tokens > 200000 maximum";
      break;
    case 401:
      type = "authentication_error";
      message = "invalid x-api-key";
      break;
    case 403:
      type = "permission_error";
      message = "your API key does not have permission";
      break;
    case 404:
      type = "not_found_error";
      message = "model: no such model";
      break;
    case 429:
      type = "rate_limit_error";
      message = "rate limit exceeded (model-sim)";
      break;
    case 529:
      type = "overloaded_error";
      message = "Overloaded";
      break;
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
}

json OpenAiError(int status) {
  std::string type = "server_error", code = "server_error", message = "model-sim was told to fail";
  switch (status) {
    case 400:
      type = "invalid_request_error";
      code = "context_length_exceeded";
      message = "Your input exceeds the context window of this model.";
      break;
    case 401:
      type = "invalid_request_error";
      code = "invalid_api_key";
      message = "Incorrect API key provided";
      break;
    case 403:
      type = "invalid_request_error";
      code = "unsupported_country_region_territory";
      message = "forbidden";
      break;
    case 404:
      type = "invalid_request_error";
      code = "model_not_found";
      message = "The model does not exist";
      break;
    case 429:
      type = "requests";
      code = "rate_limit_exceeded";
      message = "Rate limit reached (model-sim)";
      break;
  }
  return {{"error", {{"type", type}, {"code", code}, {"message", message}, {"param", nullptr}}}};
}

}  // namespace model_sim
