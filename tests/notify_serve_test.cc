// Notifications and Telegram commands end to end: `orch serve` with the GitHub simulator, the
// agent stand-ins, and fake Telegram and Discord APIs served by this test process over
// 127.0.0.1 (cpp-httplib), which record what orch posted and hand it Telegram updates.
#include <gmock/gmock.h>
#include <httplib.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/http_stop.h"
#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
    server_.Post(
        R"(/bot([^/]+)/(\w+))", [this](const httplib::Request& req, httplib::Response& res) {
          if (req.matches[1] != kTelegramToken) {
            res.status = 401;
            res.set_content(R"({"ok":false,"error_code":401,"description":"Unauthorized"})",
                            "application/json");
            return;
          }
          Json body = Json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
          std::string method = req.matches[2];
          Json result = true;
          if (method == "getMe") {
            result = {{"id", 1}, {"is_bot", true}, {"username", "orch_bot"}};
          } else if (method == "sendMessage") {
            std::lock_guard<std::mutex> lock(mu_);
            Json chat = body.value("chat_id", Json());
            telegram_.push_back(
                {chat.is_string() ? chat.get<std::string>() : chat.dump(), body.value("text", "")});
          } else if (method == "getUpdates") {
            result = Updates(body.value("offset", int64_t{0}));
          }
          res.set_content(Json{{"ok", true}, {"result", result}}.dump(), "application/json");
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
      Json body = Json::parse(req.body, nullptr, false);
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
  Json Updates(int64_t offset) {
    std::unique_lock<std::mutex> lock(mu_);
    auto pending = [&] {
      Json out = Json::array();
      for (const Json& u : updates_) {
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
  std::vector<Json> updates_;
  std::vector<Posted> telegram_;
  std::vector<Posted> discord_;
};

class NotifyLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void ConfigureChats(const std::string& level, int max_attempts) {
    Configure(
        "router:\n  mode: round_robin\n  agents: [claude]\n  breaker_failures: 100\n"
        "workflow:\n  max_attempts: " +
        std::to_string(max_attempts) +
        "\n  timeout_seconds: 30\n  retry_base_delay: 0\n"
        "channels:\n"
        "  telegram:\n    enabled: true\n    bot_token: \"" +
        kTelegramToken + "\"\n    chat_id: \"" + kChat + "\"\n    api_url: " + chats_.url() +
        "\n"
        "  discord:\n    enabled: true\n    bot_token: " +
        kDiscordToken + "\n    channel_id: \"777\"\n    api_url: " + chats_.url() +
        "/api\n"
        "notifications:\n  level: " +
        level + "\n");
  }
  // The texts posted to `to` that contain `needle`.
  static std::vector<std::string> With(const std::vector<Posted>& posted, const std::string& to,
                                       const std::string& needle) {
    std::vector<std::string> out;
    for (const Posted& p : posted) {
      if (p.to == to && p.text.find(needle) != std::string::npos) out.push_back(p.text);
    }
    return out;
  }
  static std::string Dump(const std::vector<Posted>& posted) {
    std::string out;
    for (const Posted& p : posted) out += p.to + ": " + p.text + "\n";
    return out;
  }

  FakeChatApis chats_;
};

TEST_F(NotifyLoopTest, EveryMoveOfATaskReachesTelegramAndDiscordOnce) {
  // Given both channels at level all, a labelled issue that becomes a PR is told on each
  // channel once per move, with the PR's link; Discord's 429 is waited out, not lost.
  ConfigureChats("all", 3);
  StartOrch();
  int64_t id = LabelledIssue("standin: say working on it\nstandin: write hello.txt hi\n").second;
  ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
  std::string tag = "[acme/widgets#" + std::to_string(id) + "] Add a greeting: ";
  for (const char* move :
       {"new \u2192 routed", "routed \u2192 in_progress", "in_progress \u2192 in_review"}) {
    EXPECT_TRUE(Eventually(
        [&] {
          return !With(chats_.Telegram(), kChat, tag + move).empty() &&
                 !With(chats_.Discord(), "777", tag + move).empty();
        },
        std::chrono::seconds(20)))
        << move << "\n"
        << Dump(chats_.Telegram()) << Dump(chats_.Discord()) << Log();
    EXPECT_EQ(With(chats_.Telegram(), kChat, tag + move).size(), 1u) << Dump(chats_.Telegram());
    EXPECT_EQ(With(chats_.Discord(), "777", tag + move).size(), 1u) << Dump(chats_.Discord());
  }
  EXPECT_TRUE(chats_.DiscordWasLimited());
  std::vector<std::string> pr = With(chats_.Telegram(), kChat, "in_progress \u2192 in_review");
  ASSERT_EQ(pr.size(), 1u);
  EXPECT_THAT(pr[0],
              HasSubstr("\nhttp://127.0.0.1:" + std::to_string(sim_port_) + "/acme/widgets/pull/"));

  // /stream from the allowed chat answers with the tail of the agent's output.
  Json task = OrchJson({"task", "show", std::to_string(id), "--json"});
  std::string output = ReadFile(task["runs"][0]["run_dir"].get<std::string>() + "/output.log");
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  std::string last_line = output.substr(output.rfind('\n') + 1);
  chats_.Message(kChat, "alice", "/stream " + std::to_string(id));
  std::string head = "task " + std::to_string(id) + ", run 1 (claude, finished):";
  ASSERT_TRUE(Eventually([&] { return !With(chats_.Telegram(), kChat, head).empty(); }))
      << Dump(chats_.Telegram()) << Log();
  if (last_line.find('\x1b') == std::string::npos && last_line.size() > 10) {
    EXPECT_THAT(With(chats_.Telegram(), kChat, head)[0], HasSubstr(last_line.substr(0, 10)));
  }
  // The tokens never reach the log.
  EXPECT_THAT(Log(), Not(HasSubstr(kTelegramToken)));
  EXPECT_THAT(Log(), Not(HasSubstr(kDiscordToken)));
  EXPECT_THAT(Log(), HasSubstr("notify: telegram: connected"));
}

TEST_F(NotifyLoopTest, UnblockWorksFromTheAllowedChatOnly) {
  // Given two tasks that failed their way to needs_review (level errors_only: a failed attempt
  // and needs_review for each), /unblock from a stranger's chat does nothing and the same
  // command from the configured chat returns the other task to new.
  ConfigureChats("errors_only", 2);
  StartOrch();
  const std::string fail = "standin: write a.txt x\nstandin: final I think I am done!\n";
  int64_t a = LabelledIssue(fail, "First").second;
  int64_t b = LabelledIssue(fail, "Second").second;
  for (int64_t id : {a, b}) {
    ASSERT_TRUE(Reaches(id, "needs_review", std::chrono::seconds(40))) << Log();
    std::string tag = "[acme/widgets#" + std::to_string(id) + "]";
    EXPECT_TRUE(Eventually(
        [&] {
          return !With(chats_.Telegram(), kChat, tag).empty() &&
                 !With(chats_.Telegram(), kChat, "in_progress \u2192 needs_review").empty();
        },
        std::chrono::seconds(20)))
        << Dump(chats_.Telegram());
  }
  std::vector<std::string> failed = With(chats_.Telegram(), kChat, "in_progress \u2192 routed");
  EXPECT_EQ(failed.size(), 2u) << Dump(chats_.Telegram());
  EXPECT_TRUE(With(chats_.Telegram(), kChat, "new \u2192 routed").empty());  // not at this level

  chats_.Message("999", "mallory", "/unblock " + std::to_string(a));
  chats_.Message(kChat, "alice", "/unblock " + std::to_string(b));
  ASSERT_TRUE(Eventually([&] {
    return !With(chats_.Telegram(), kChat, "task " + std::to_string(b) + " unblocked").empty();
  })) << Dump(chats_.Telegram())
      << Log();
  EXPECT_EQ(Task(a)["status"], "needs_review");
  EXPECT_TRUE(With(chats_.Telegram(), "999", "").empty());  // the stranger hears nothing
  EXPECT_THAT(Log(), HasSubstr("telegram: ignored a command from chat 999"));
  Json events_b = OrchJson({"task", "log", std::to_string(b), "--json"});
  EXPECT_THAT(events_b.dump(), HasSubstr("telegram:alice"));
  Json events_a = OrchJson({"task", "log", std::to_string(a), "--json"});
  EXPECT_THAT(events_a.dump(), Not(HasSubstr("telegram:")));
}

}  // namespace
}  // namespace orch::test
