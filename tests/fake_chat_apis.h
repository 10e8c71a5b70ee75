// FakeChatApis: Telegram's Bot API and Discord's REST API as orch's chat channels speak them,
// served by the test process over 127.0.0.1 (cpp-httplib). They record what orch posted and hand
// it Telegram updates (commands). Point channels.telegram.api_url at url() and
// channels.discord.api_url at url() + "/api".
#ifndef ORCH_TESTS_FAKE_CHAT_APIS_H_
#define ORCH_TESTS_FAKE_CHAT_APIS_H_

#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/http_stop.h"

namespace orch::test {

constexpr const char* kTelegramToken = "123456:tg-secret-token";
constexpr const char* kDiscordToken = "dc-secret-token";
constexpr const char* kChat = "4242";

struct Posted {
  std::string to;  // chat id or channel id
  std::string text;
};

// The Bot API (getMe, sendMessage, getUpdates) and Discord's REST API (GET /users/@me,
// POST /channels/ID/messages, answering the first post with a 429).
class FakeChatApis {
 public:
  FakeChatApis() {
    server_.Post(R"(/bot([^/]+)/(\w+))", [this](const httplib::Request& req,
                                                httplib::Response& res) {
      if (req.matches[1] != kTelegramToken) {
        res.status = 401;
        res.set_content(R"({"ok":false,"error_code":401,"description":"Unauthorized"})",
                        "application/json");
        return;
      }
      nlohmann::json body =
          nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      std::string method = req.matches[2];
      nlohmann::json result = true;
      if (method == "getMe") {
        result = {{"id", 1}, {"is_bot", true}, {"username", "orch_bot"}};
      } else if (method == "sendMessage") {
        std::lock_guard<std::mutex> lock(mu_);
        nlohmann::json chat = body.value("chat_id", nlohmann::json());
        telegram_.push_back(
            {chat.is_string() ? chat.get<std::string>() : chat.dump(), body.value("text", "")});
      } else if (method == "getUpdates") {
        result = Updates(body.value("offset", int64_t{0}));
      }
      res.set_content(nlohmann::json{{"ok", true}, {"result", result}}.dump(), "application/json");
    });
    server_.Get("/api/users/@me", [](const httplib::Request& req, httplib::Response& res) {
      res.status =
          req.get_header_value("Authorization") == std::string("Bot ") + kDiscordToken ? 200 : 401;
      res.set_content(R"({"id":"1","username":"orch"})", "application/json");
    });
    server_.Post(R"(/api/channels/(\d+)/messages)", [this](const httplib::Request& req,
                                                           httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      if (req.get_header_value("Authorization") != std::string("Bot ") + kDiscordToken) {
        res.status = 401;
        return;
      }
      if (!limited_once_) {  // the first post hits a rate limit
        limited_once_ = true;
        res.status = 429;
        res.set_content(
            R"({"message":"You are being rate limited.","retry_after":0.3,"global":false})",
            "application/json");
        return;
      }
      nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      discord_.push_back({req.matches[1], body.value("content", "")});
      res.set_header("X-RateLimit-Remaining", "4");
      res.set_header("X-RateLimit-Reset-After", "1.0");
      res.set_content(R"({"id":"9"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeChatApis() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    StopServer(server_);
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // config.yml's `channels:` for Telegram (chat kChat) and, with `discord`, Discord (channel
  // 777), both served here.
  std::string ChannelsYaml(bool discord = true) const {
    std::string yaml = "channels:\n  telegram:\n    enabled: true\n    bot_token: \"" +
                       std::string(kTelegramToken) + "\"\n    chat_id: \"" + kChat +
                       "\"\n    api_url: " + url() + "\n";
    if (discord) {
      yaml += "  discord:\n    enabled: true\n    bot_token: " + std::string(kDiscordToken) +
              "\n    channel_id: \"777\"\n    api_url: " + url() + "/api\n";
    }
    return yaml;
  }
  // A Telegram message from `chat` as user `user`, handed to orch's next getUpdates.
  void Message(const std::string& chat, const std::string& user, const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t id = ++last_update_;
    updates_.push_back({{"update_id", id},
                        {"message",
                         {{"message_id", id},
                          {"date", 0},
                          {"chat", {{"id", std::stoll(chat)}, {"type", "private"}}},
                          {"from", {{"id", 7}, {"is_bot", false}, {"username", user}}},
                          {"text", text}}}});
    cv_.notify_all();
  }
  std::vector<Posted> Telegram() {
    std::lock_guard<std::mutex> lock(mu_);
    return telegram_;
  }
  std::vector<Posted> Discord() {
    std::lock_guard<std::mutex> lock(mu_);
    return discord_;
  }
  bool DiscordWasLimited() {
    std::lock_guard<std::mutex> lock(mu_);
    return limited_once_;
  }

 private:
  // Updates from `offset` on, waiting up to a second for one (a short long poll).
  nlohmann::json Updates(int64_t offset) {
    std::unique_lock<std::mutex> lock(mu_);
    auto pending = [&] {
      nlohmann::json out = nlohmann::json::array();
      for (const nlohmann::json& u : updates_) {
        if (u["update_id"].get<int64_t>() >= offset) out.push_back(u);
      }
      return out;
    };
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !pending().empty(); });
    return pending();
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool limited_once_ = false;
  int64_t last_update_ = 0;
  std::vector<nlohmann::json> updates_;
  std::vector<Posted> telegram_;
  std::vector<Posted> discord_;
};

}  // namespace orch::test

#endif  // ORCH_TESTS_FAKE_CHAT_APIS_H_
