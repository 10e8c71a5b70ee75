// Telegram: the Bot API (channels.telegram.api_url, https://api.telegram.org by default; a local
// fake in tests).
//
// TelegramApi calls POST {api_url}/bot<token>/<method> with a JSON body. The token is part of
// the URL, so every message this file returns has it replaced by "<token>": it never reaches a
// log line. A 429's parameters.retry_after becomes Unavailable with that wait.
//
// TelegramChannel is the ChatChannel for channels.telegram.chat_id: sendMessage (plain text, no
// parse mode), health check getMe, at most one message a second (Telegram's limit per chat).
//
// TelegramCommands long-polls getUpdates (offset kept in kv `telegram.offset`, so a command is
// done once across restarts) and answers the commands of chat_commands.h, only from the
// configured chat; messages from any other chat are logged and ignored.
//
// Thread safety: TelegramApi may be used by two threads (the notifier sends while the command
// thread polls) since each call takes its own connection. TelegramCommands belongs to one
// thread; Stop() may be called from any.
#ifndef ORCH_NOTIFY_TELEGRAM_H_
#define ORCH_NOTIFY_TELEGRAM_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "config/config.h"
#include "notify/chat.h"
#include "notify/chat_commands.h"
#include "store/store.h"

namespace orch {

class HttpSession;

class TelegramApi {
 public:
  TelegramApi(std::string api_url, std::string token)
      : api_url_(std::move(api_url)), token_(std::move(token)) {}
  // `method`'s `result`. Unavailable for network errors, 5xx and 429 (with retry_after);
  // InvalidArgument when Telegram refused the call (ok: false). `read_timeout` in seconds.
  Result<nlohmann::json> Call(const std::string& method, const nlohmann::json& params,
                              int read_timeout = 30);
  // Aborts the calls in progress (the long poll); they fail with Unavailable. Any thread.
  void Stop();

 private:
  std::string Scrub(std::string text) const;

  std::string api_url_;
  std::string token_;
  std::mutex mu_;
  std::vector<HttpSession*> active_;  // calls in progress, for Stop()
  bool stopped_ = false;
};

class TelegramChannel : public ChatChannel {
 public:
  static constexpr size_t kMaxChars = 4096;
  TelegramChannel(TelegramApi& api, std::string chat_id, const Clock& clock)
      : api_(api), chat_id_(std::move(chat_id)), clock_(clock) {}

  std::string name() const override { return "telegram"; }
  size_t max_chars() const override { return kMaxChars; }
  SendGate& gate() override { return gate_; }
  Status Send(const std::string& text) override { return SendTo(chat_id_, text); }
  Status CheckHealth() override;
  // Posts to any chat (a command's reply); holds the gate on a 429.
  Status SendTo(const std::string& chat_id, const std::string& text);

 private:
  TelegramApi& api_;
  std::string chat_id_;
  const Clock& clock_;
  SendGate gate_{std::chrono::milliseconds(1000)};
};

class TelegramCommands {
 public:
  static constexpr const char* kOffsetKey = "telegram.offset";
  // `store` is this thread's own connection; `on_change` runs after a command moved a task
  // (the daemon wakes its engine).
  TelegramCommands(TelegramApi& api, TelegramChannel& replies, Store& store, const Config& config,
                   std::function<void()> on_change);

  // One getUpdates, waiting up to `poll_seconds` for a message, and the commands it brought.
  // Unavailable when Telegram cannot be reached (the caller backs off).
  Status Step(int poll_seconds);

 private:
  void Handle(const nlohmann::json& message);
  // Waits for the gate (real time: this thread may sleep), then replies.
  void Reply(const std::string& text);

  TelegramApi& api_;
  TelegramChannel& replies_;
  Store& store_;
  const Config& config_;
  std::function<void()> on_change_;
  std::optional<int64_t> offset_;
};

}  // namespace orch

#endif  // ORCH_NOTIFY_TELEGRAM_H_
