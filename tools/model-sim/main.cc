// orch-model-sim: a scripted local model server that the real agent CLIs (Claude Code, Codex,
// OpenCode) talk to offline, for orch's tests. See README.md and script.h.
//
//   orch-model-sim [--port 0] [--port-file PATH] [--script FILE] [--log FILE]
//
// Serves, streamed as SSE (or as one JSON body when the request has "stream": false):
//   POST /v1/messages   the Anthropic Messages API (Claude Code adds ?beta=true)
//   POST /v1/responses  the OpenAI Responses API (Codex)
//   GET  /v1/models     a short model list, in both APIs' shapes
//   POST /v1/messages/count_tokens
// Prints "listening on http://127.0.0.1:PORT" once bound and writes PORT to --port-file
// (temporary name, then rename). --log appends one line per request (method, path, body).
// SIGTERM/SIGINT stop it (exit 0); a bad command line exits 2, a failure to serve 1.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "script.h"

namespace model_sim {
namespace {

using nlohmann::json;

struct Flags {
  int port = 0;
  std::string port_file;
  std::string script;  // the --script file's text
  std::string log;
};

std::atomic<int> g_counter{0};

std::string NextId(const char* prefix) {
  return std::string(prefix) + "_sim" + std::to_string(getpid()) + "_" +
         std::to_string(++g_counter);
}

void Event(std::string* out, const std::string& name, const json& data) {
  *out += "event: " + name + "\ndata: " + data.dump() + "\n\n";
}

// --- Anthropic Messages

json AnthropicContent(const Reply& r, const std::string& tool_id) {
  if (!r.tool.empty()) {
    return json::array(
        {{{"type", "tool_use"}, {"id", tool_id}, {"name", r.tool}, {"input", r.tool_input}}});
  }
  return json::array({{{"type", "text"}, {"text", r.text}}});
}

json AnthropicUsage(const Reply& r) {
  return {{"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", 0}};
}

std::string AnthropicStream(const Reply& r, const std::string& model) {
  std::string out, tool_id = NextId("toolu");
  json usage = AnthropicUsage(r);
  usage["output_tokens"] = 1;
  Event(&out, "message_start",
        {{"type", "message_start"},
         {"message",
          {{"id", NextId("msg")},
           {"type", "message"},
           {"role", "assistant"},
           {"model", model},
           {"content", json::array()},
           {"stop_reason", nullptr},
           {"stop_sequence", nullptr},
           {"usage", usage}}}});
  if (!r.tool.empty()) {
    Event(&out, "content_block_start",
          {{"type", "content_block_start"},
           {"index", 0},
           {"content_block",
            {{"type", "tool_use"}, {"id", tool_id}, {"name", r.tool}, {"input", json::object()}}}});
    Event(&out, "content_block_delta",
          {{"type", "content_block_delta"},
           {"index", 0},
           {"delta", {{"type", "input_json_delta"}, {"partial_json", r.tool_input.dump()}}}});
  } else {
    Event(&out, "content_block_start",
          {{"type", "content_block_start"},
           {"index", 0},
           {"content_block", {{"type", "text"}, {"text", ""}}}});
    Event(&out, "content_block_delta",
          {{"type", "content_block_delta"},
           {"index", 0},
           {"delta", {{"type", "text_delta"}, {"text", r.text}}}});
  }
  Event(&out, "content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
  Event(&out, "message_delta",
        {{"type", "message_delta"},
         {"delta",
          {{"stop_reason", r.tool.empty() ? "end_turn" : "tool_use"}, {"stop_sequence", nullptr}}},
         {"usage", AnthropicUsage(r)}});
  Event(&out, "message_stop", {{"type", "message_stop"}});
  return out;
}

json AnthropicMessage(const Reply& r, const std::string& model) {
  return {{"id", NextId("msg")},
          {"type", "message"},
          {"role", "assistant"},
          {"model", model},
          {"content", AnthropicContent(r, NextId("toolu"))},
          {"stop_reason", r.tool.empty() ? "end_turn" : "tool_use"},
          {"stop_sequence", nullptr},
          {"usage", AnthropicUsage(r)}};
}

// --- OpenAI Responses

json ResponsesItem(const Reply& r) {
  if (r.tool.empty()) {
    return {{"type", "message"},
            {"id", NextId("msg")},
            {"role", "assistant"},
            {"status", "completed"},
            {"content",
             json::array(
                 {{{"type", "output_text"}, {"text", r.text}, {"annotations", json::array()}}})}};
  }
  if (r.freeform_tool) {
    return {{"type", "custom_tool_call"}, {"id", NextId("ctc")},
            {"call_id", NextId("call")},  {"name", r.tool},
            {"input", r.tool_input},      {"status", "completed"}};
  }
  return {{"type", "function_call"},          {"id", NextId("fc")},
          {"call_id", NextId("call")},        {"name", r.tool},
          {"arguments", r.tool_input.dump()}, {"status", "completed"}};
}

json ResponsesObject(const Reply& r, const std::string& model, const std::string& id,
                     const json& output, const char* status) {
  return {{"id", id},
          {"object", "response"},
          {"created_at", 0},
          {"status", status},
          {"model", model},
          {"output", output},
          {"usage",
           {{"input_tokens", r.input_tokens},
            {"input_tokens_details", {{"cached_tokens", 0}}},
            {"output_tokens", r.output_tokens},
            {"output_tokens_details", {{"reasoning_tokens", 0}}},
            {"total_tokens", r.input_tokens + r.output_tokens}}}};
}

std::string ResponsesStream(const Reply& r, const std::string& model) {
  std::string out, id = NextId("resp");
  json item = ResponsesItem(r);
  Event(&out, "response.created",
        {{"type", "response.created"},
         {"response", ResponsesObject(r, model, id, json::array(), "in_progress")}});
  json added = item;
  if (r.tool.empty()) added["content"] = json::array();
  Event(&out, "response.output_item.added",
        {{"type", "response.output_item.added"}, {"output_index", 0}, {"item", added}});
  if (r.tool.empty()) {
    Event(&out, "response.output_text.delta",
          {{"type", "response.output_text.delta"},
           {"item_id", item["id"]},
           {"output_index", 0},
           {"content_index", 0},
           {"delta", r.text}});
  }
  Event(&out, "response.output_item.done",
        {{"type", "response.output_item.done"}, {"output_index", 0}, {"item", item}});
  Event(&out, "response.completed",
        {{"type", "response.completed"},
         {"response", ResponsesObject(r, model, id, json::array({item}), "completed")}});
  return out;
}

// --- HTTP

void Log(const Flags& flags, const httplib::Request& req) {
  if (flags.log.empty()) return;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::ofstream out(flags.log, std::ios::app);
  out << req.method << " " << req.path << " " << req.body << "\n";
}

void SendError(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Retries, where a CLI cannot be told not to, happen at once.
  res.set_header("retry-after", "0");
  res.set_header("retry-after-ms", "0");
  res.set_content(body.dump(), "application/json");
}

void Answer(Api api, const Flags& flags, const httplib::Request& req, httplib::Response& res) {
  Log(flags, req);
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    json err = api == Api::kAnthropicMessages ? AnthropicError(400) : OpenAiError(400);
    err["error"]["message"] = "the body is not a JSON object";
    SendError(res, 400, err);
    return;
  }
  Reply r = Decide(api, body, flags.script);
  if (r.fail) {
    SendError(res, r.fail,
              api == Api::kAnthropicMessages ? AnthropicError(r.fail) : OpenAiError(r.fail));
    return;
  }
  std::string model = body.value("model", "model-sim");
  if (!body.value("stream", false)) {
    res.set_content((api == Api::kAnthropicMessages
                         ? AnthropicMessage(r, model)
                         : ResponsesObject(r, model, NextId("resp"),
                                           json::array({ResponsesItem(r)}), "completed"))
                        .dump(),
                    "application/json");
    return;
  }
  std::string sse =
      api == Api::kAnthropicMessages ? AnthropicStream(r, model) : ResponsesStream(r, model);
  res.set_header("cache-control", "no-cache");
  res.set_content(sse, "text/event-stream");
}

json ModelList() {
  json data = json::array();
  for (const char* id : {"claude-sonnet-4-5", "claude-haiku-4-5", "gpt-5.5", "gpt-5.5-mini"}) {
    data.push_back({{"id", id},
                    {"object", "model"},
                    {"type", "model"},
                    {"display_name", id},
                    {"created", 0},
                    {"created_at", "2025-01-01T00:00:00Z"},
                    {"owned_by", "model-sim"}});
  }
  return {{"object", "list"}, {"data", data}, {"has_more", false}};
}

void Route(httplib::Server& server, const Flags& flags) {
  server.Post("/v1/messages", [&flags](const httplib::Request& q, httplib::Response& s) {
    Answer(Api::kAnthropicMessages, flags, q, s);
  });
  server.Post("/v1/responses", [&flags](const httplib::Request& q, httplib::Response& s) {
    Answer(Api::kOpenAiResponses, flags, q, s);
  });
  server.Post(
      "/v1/messages/count_tokens", [&flags](const httplib::Request& q, httplib::Response& s) {
        Log(flags, q);
        s.set_content(json{{"input_tokens", static_cast<int64_t>(q.body.size() / 4 + 1)}}.dump(),
                      "application/json");
      });
  server.Get("/v1/models", [&flags](const httplib::Request& q, httplib::Response& s) {
    Log(flags, q);
    s.set_content(ModelList().dump(), "application/json");
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& s) {
    s.set_content("orch-model-sim\n", "text/plain");
  });
  server.set_error_handler([&flags](const httplib::Request& q, httplib::Response& s) {
    if (s.status == 404) {
      Log(flags, q);
      std::cerr << "orch-model-sim: no route for " << q.method << " " << q.path << "\n";
    }
  });
}

constexpr char kUsage[] =
    "usage: orch-model-sim [--port 0] [--port-file PATH] [--script FILE] [--log FILE]\n";

bool ParseFlags(int argc, char** argv, Flags* flags, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) {
      *error = arg + ": needs a value";
      return false;
    }
    std::string value = argv[++i];
    if (arg == "--port") {
      if (value.empty() || value.size() > 5 ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        *error = "--port: not a port number: " + value;
        return false;
      }
      flags->port = std::stoi(value);
    } else if (arg == "--port-file") {
      flags->port_file = value;
    } else if (arg == "--log") {
      flags->log = value;
    } else if (arg == "--script") {
      std::ifstream in(value);
      if (!in) {
        *error = value + ": cannot read";
        return false;
      }
      std::ostringstream text;
      text << in.rdbuf();
      flags->script = text.str();
    } else {
      *error = arg + ": unknown flag";
      return false;
    }
  }
  return true;
}

bool WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int Main(int argc, char** argv) {
  // SIGTERM and SIGINT are taken by a thread with sigwait (blocked everywhere else), which stops
  // the server outside signal context.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::cerr << "orch-model-sim: " << error << "\n" << kUsage;
    return 2;
  }
  httplib::Server server;
  Route(server, flags);
  int port = flags.port == 0 ? server.bind_to_any_port("127.0.0.1")
                             : (server.bind_to_port("127.0.0.1", flags.port) ? flags.port : -1);
  if (port <= 0) {
    std::cerr << "orch-model-sim: cannot bind 127.0.0.1:" << flags.port << "\n";
    return 1;
  }
  if (!flags.port_file.empty() && !WritePortFile(flags.port_file, port)) {
    std::cerr << "orch-model-sim: cannot write " << flags.port_file << "\n";
    return 1;
  }
  std::thread stopper([&server, &signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server.stop();
  });
  stopper.detach();
  std::cout << "listening on http://127.0.0.1:" << port << std::endl;
  bool ok = server.listen_after_bind();
  if (!flags.port_file.empty()) std::remove(flags.port_file.c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace model_sim

int main(int argc, char** argv) { return model_sim::Main(argc, argv); }
