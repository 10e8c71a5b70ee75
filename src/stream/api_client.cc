#include "stream/api_client.h"

#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "stream/api_server.h"

namespace orch {
namespace {

using Json = nlohmann::json;

std::unique_ptr<httplib::Client> Connect(const ApiAddress& address) {
  auto client = std::make_unique<httplib::Client>(address.url);
  client->set_connection_timeout(2);
  // Longer than the server's keep-alive comments, so an idle stream is not taken for dead.
  client->set_read_timeout(30);
  client->set_tcp_nodelay(true);
  return client;
}

httplib::Headers Auth(const ApiAddress& address) {
  return {{"Authorization", "Bearer " + address.token}};
}

Status Unreachable(const ApiAddress& address, httplib::Error error) {
  return Status::Unavailable("cannot reach orch serve at " + address.url,
                             httplib::to_string(error) + " (is `orch serve` running?)");
}

Status HttpError(int status, const std::string& body) {
  std::string why = body;
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j["error"].is_string()) why = j["error"].get<std::string>();
  if (status == 401) return Status::InvalidArgument("the daemon refused the API token", why);
  if (status == 404) return Status::NotFound(why);
  if (status == 410) return Status::NotFound(why);  // gone for good: asking again will not help
  return Status::Unavailable("orch serve answered HTTP " + std::to_string(status), why);
}

}  // namespace

Result<ApiAddress> ReadApiAddress(const Home& home) {
  std::ifstream in(ApiAddressPath(home));
  if (!in) {
    return Status::Unavailable("orch serve is not running",
                               "no " + ApiAddressPath(home) + "; start it with `orch serve`");
  }
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  if (!j.is_object() || !j["url"].is_string()) {
    return Status::Corruption(ApiAddressPath(home), "expected {\"url\": ...}");
  }
  std::ifstream token_in(ApiTokenPath(home));
  std::string token;
  if (!(token_in >> token)) return Status::IOError(ApiTokenPath(home), "cannot read the token");
  return ApiAddress{j["url"].get<std::string>(), token};
}

Result<std::vector<ApiTask>> ListApiTasks(const ApiAddress& address, const std::string& status) {
  std::string path = "/api/tasks";
  if (!status.empty()) path += "?status=" + status;
  httplib::Result r = Connect(address)->Get(path, Auth(address));
  if (!r) return Unreachable(address, r.error());
  if (r->status != 200) return HttpError(r->status, r->body);
  Json j = Json::parse(r->body, nullptr, false);
  if (!j.is_array()) return Status::Corruption("GET /api/tasks", "not a JSON array");
  std::vector<ApiTask> tasks;
  for (const Json& t : j) {
    tasks.push_back({t.value("id", int64_t{0}), t.value("project", ""), t.value("status", ""),
                     t.value("title", "")});
  }
  return tasks;
}

namespace {

// Handles one SSE message; sets `*final` on the last one. An error ends the stream.
using MessageHandler = std::function<Status(const SseMessage&, bool* final)>;

// One GET of an SSE `path`, with Last-Event-ID `last_id` unless it is empty. OK once the
// handler saw the final message; otherwise as StreamOnce.
Status SseOnce(const ApiAddress& address, const std::string& path, const std::string& last_id,
               const MessageHandler& handle, const std::atomic<bool>* stop, bool* connected) {
  httplib::Headers headers = Auth(address);
  if (!last_id.empty()) headers.emplace("Last-Event-ID", last_id);
  int status = 0;
  std::string error_body;
  bool final = false;
  Status bad;
  SseParser parser;
  httplib::Result r = Connect(address)->Get(
      path, headers,
      [&](const httplib::Response& res) {
        status = res.status;
        if (connected && status == 200) *connected = true;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status != 200) {
          error_body.append(data, n);
          return true;
        }
        parser.Feed(std::string_view(data, n), [&](const SseMessage& m) {
          if (bad.ok() && !final) bad = handle(m, &final);
        });
        return bad.ok() && !final && !(stop && stop->load());
      });
  if (!bad.ok()) return bad;
  if (final) return Status::OK();
  if (status != 0 && status != 200) return HttpError(status, error_body);
  if (!r) return Unreachable(address, r.error());
  return Status::Unavailable("the stream " + path + " ended early");
}

// Calls `once` until it is done, reconnecting after a drop (reading api.json again, since a
// restarted daemon may listen elsewhere) with waits from 100 ms doubling to 2 s.
Status Follow(const Home& home, const std::function<Status(const ApiAddress&, bool*)>& once,
              std::chrono::milliseconds patience, const std::atomic<bool>* stop) {
  bool ever_connected = false;
  auto wait = std::chrono::milliseconds(100);
  auto since = std::chrono::steady_clock::now();  // the last time the daemon was reached
  while (true) {
    bool connected = false;
    Result<ApiAddress> address = ReadApiAddress(home);
    Status s = address.ok() ? once(*address, &connected) : address.status();
    if (!s.IsRetryable() || (stop && stop->load())) return s;
    if (connected) {
      ever_connected = true;
      since = std::chrono::steady_clock::now();
      wait = std::chrono::milliseconds(100);
    }
    // Never reached: no daemon is running, say so now. Reached before: ride out a restart.
    if (!ever_connected || std::chrono::steady_clock::now() - since > patience) return s;
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace

Status StreamOnce(const ApiAddress& address, int64_t id, uint64_t* offset,
                  const StreamCallback& on_event, const std::atomic<bool>* stop, bool* connected) {
  return SseOnce(
      address, "/api/tasks/" + std::to_string(id) + "/stream",
      *offset > 0 ? std::to_string(*offset) : "",
      [&](const SseMessage& m, bool* final) {
        Result<StreamEvent> e = ParseStreamEvent(m);
        if (!e.ok()) return e.status();
        *offset = e->id;
        *final = e->is_final;
        on_event(*e);
        return Status::OK();
      },
      stop, connected);
}

Status FollowTaskStream(const Home& home, int64_t id, uint64_t* offset,
                        const StreamCallback& on_event, std::chrono::milliseconds patience,
                        const std::atomic<bool>* stop) {
  return Follow(
      home,
      [&](const ApiAddress& address, bool* connected) {
        return StreamOnce(address, id, offset, on_event, stop, connected);
      },
      patience, stop);
}

Status FollowTaskEvents(const Home& home, int64_t id, std::string* cursor,
                        const AgentEventCallback& on_event, std::chrono::milliseconds patience,
                        const std::atomic<bool>* stop) {
  std::string path = "/api/tasks/" + std::to_string(id) + "/events";
  auto handle = [&](const SseMessage& m, bool* final) {
    Result<AgentEvent> e = ParseAgentEventJson(m.data);
    if (!e.ok()) return e.status();
    *cursor = m.id;
    *final = e->kind == AgentEventKind::kFinal;
    on_event(*e, m.data);
    return Status::OK();
  };
  return Follow(
      home,
      [&](const ApiAddress& address, bool* connected) {
        return SseOnce(address, path, *cursor, handle, stop, connected);
      },
      patience, stop);
}

}  // namespace orch
