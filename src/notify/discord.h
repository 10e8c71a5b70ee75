// DiscordChannel: posts to one Discord channel as a bot, over Discord's REST API
// (channels.discord.api_url, https://discord.com/api/v10 by default; a local fake in tests).
//
// POST {api_url}/channels/{channel_id}/messages {content} with `Authorization: Bot <token>`;
// mentions are disabled, so a task title cannot ping @everyone. Rate limits: a 429's
// `retry_after` (body, or the Retry-After header) and an exhausted bucket
// (X-RateLimit-Remaining: 0, X-RateLimit-Reset-After) hold the gate. The health check is
// GET /users/@me. The token travels only in the Authorization header, never in a log line.
//
// Thread safety: one call at a time (the notifier's thread).
#ifndef ORCH_NOTIFY_DISCORD_H_
#define ORCH_NOTIFY_DISCORD_H_

#include <memory>
#include <string>

#include "base/clock.h"
#include "config/config.h"
#include "notify/chat.h"

namespace orch {

class HttpSession;
struct HttpResponse;

class DiscordChannel : public ChatChannel {
 public:
  static constexpr size_t kMaxChars = 2000;
  // InvalidArgument when api_url is not a URL.
  static Result<std::unique_ptr<DiscordChannel>> Open(const DiscordConfig& config,
                                                      const Clock& clock);
  ~DiscordChannel() override;

  std::string name() const override { return "discord"; }
  size_t max_chars() const override { return kMaxChars; }
  SendGate& gate() override { return gate_; }
  Status Send(const std::string& text) override;
  Status CheckHealth() override;

 private:
  DiscordChannel(std::unique_ptr<HttpSession> http, const DiscordConfig& config,
                 const Clock& clock);
  // Holds the gate as the response's rate-limit headers say; the wait in ms for a 429.
  int64_t ReadRateLimit(const HttpResponse& r);

  std::unique_ptr<HttpSession> http_;
  std::string token_;
  std::string channel_id_;
  const Clock& clock_;
  SendGate gate_{std::chrono::milliseconds(0)};  // Discord says its pace in headers
};

}  // namespace orch

#endif  // ORCH_NOTIFY_DISCORD_H_
