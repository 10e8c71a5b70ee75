#include "notify/discord.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "github/http_session.h"
#include "version.h"

namespace orch {
namespace {

// Seconds as Discord writes them ("0.35", "2"), in ms; -1 when not a number.
int64_t SecondsToMs(const std::string& s) {
  if (s.empty()) return -1;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) return -1;
  return static_cast<int64_t>(std::ceil(v * 1000));
}

}  // namespace

DiscordChannel::DiscordChannel(std::unique_ptr<HttpSession> http, const DiscordConfig& config,
                               const Clock& clock)
    : http_(std::move(http)),
      token_(config.bot_token),
      channel_id_(config.channel_id),
      clock_(clock) {}

DiscordChannel::~DiscordChannel() = default;

Result<std::unique_ptr<DiscordChannel>> DiscordChannel::Open(const DiscordConfig& config,
                                                             const Clock& clock) {
  Result<std::unique_ptr<HttpSession>> http = HttpSession::Open(config.api_url);
  if (!http.ok()) return http.status().Prefixed("channels.discord.api_url");
  return std::unique_ptr<DiscordChannel>(
      new DiscordChannel(std::move(http).value(), config, clock));
}

int64_t DiscordChannel::ReadRateLimit(const HttpResponse& r) {
  int64_t wait_ms = -1;
  if (r.status == 429) {
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("retry_after") && j["retry_after"].is_number()) {
      wait_ms = static_cast<int64_t>(std::ceil(j["retry_after"].get<double>() * 1000));
    }
    if (wait_ms < 0) wait_ms = SecondsToMs(r.Header("retry-after"));
    if (wait_ms < 0) wait_ms = 1000;
  } else if (r.Header("x-ratelimit-remaining") == "0") {
    wait_ms = SecondsToMs(r.Header("x-ratelimit-reset-after"));
  }
  if (wait_ms > 0) gate_.HoldUntil(clock_.Monotonic() + std::chrono::milliseconds(wait_ms));
  return wait_ms;
}

Status DiscordChannel::Send(const std::string& text) {
  nlohmann::json body = {{"content", text},
                         {"allowed_mentions", {{"parse", nlohmann::json::array()}}}};
  std::string what = "discord: posting to channel " + channel_id_;
  Result<HttpResponse> r = http_->Send(
      "POST", "/channels/" + channel_id_ + "/messages",
      {{"Authorization", "Bot " + token_},
       {"User-Agent", std::string("DiscordBot (https://github.com/orch, ") + ORCH_VERSION + ")"}},
      body.dump());
  if (!r.ok()) return Status::Unavailable(what, r.status().message());
  int64_t wait_ms = ReadRateLimit(*r);
  if (r->status >= 200 && r->status < 300) return Status::OK();
  std::string why = "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200);
  if (r->status == 429) {
    return Status::Unavailable(what, why).WithRetryAfter(
        std::max<int64_t>(1, (wait_ms + 999) / 1000));
  }
  if (r->status >= 500) return Status::Unavailable(what, why);
  return Status::InvalidArgument(what, why);
}

Status DiscordChannel::CheckHealth() {
  Result<HttpResponse> r = http_->Send("GET", "/users/@me", {{"Authorization", "Bot " + token_}});
  if (!r.ok()) return Status::Unavailable("discord: GET /users/@me", r.status().message());
  ReadRateLimit(*r);
  if (r->status != 200) {
    return Status::Unavailable("discord: GET /users/@me", "HTTP " + std::to_string(r->status));
  }
  return Status::OK();
}

}  // namespace orch
