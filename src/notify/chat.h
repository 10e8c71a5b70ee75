// Chat channels: where orch posts notifications (Telegram, Discord; telegram.h, discord.h).
//
// A ChatChannel posts one message at a time and says whether its token works. Each owns a
// SendGate, its rate limit: the platform's steady pace (Telegram: about one message a second per
// chat) and any pause the platform asked for (a 429's retry_after, an exhausted
// X-RateLimit bucket). Callers ask the gate before each send, so a rate limit is waited out
// rather than spent on rejected requests.
//
// SplitMessage cuts text that is too long for one message. Pure. SendWhole posts a text at once.
//
// Thread safety: SendGate is thread-safe (the notifier and Telegram's command thread share
// one). A channel's Send and CheckHealth may be called from several threads, one call at a time
// per channel unless the implementation says otherwise.
#ifndef ORCH_NOTIFY_CHAT_H_
#define ORCH_NOTIFY_CHAT_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace orch {

using SteadyTime = std::chrono::steady_clock::time_point;

class SendGate {
 public:
  explicit SendGate(std::chrono::milliseconds min_interval) : interval_(min_interval) {}
  // True when a message may go at `now`; the next one may then go `min_interval` later.
  bool TryAcquire(SteadyTime now);
  // Nothing goes before `until` (later holds win; an earlier one changes nothing).
  void HoldUntil(SteadyTime until);
  SteadyTime ready_at() const;

 private:
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  SteadyTime ready_at_{};
};

class ChatChannel {
 public:
  virtual ~ChatChannel() = default;
  // "telegram" or "discord": in log lines and as the channel's key in the notifier's cursor.
  virtual std::string name() const = 0;
  // The longest message the platform takes, in UTF-16 code units (what Telegram counts; never
  // fewer than the code points Discord counts).
  virtual size_t max_chars() const = 0;
  virtual SendGate& gate() = 0;
  // Posts `text` (at most max_chars()). Unavailable when it may work later: network, 5xx, or a
  // 429, after which the gate is held as long as the platform asked and the Status carries
  // retry_after_seconds() > 0. InvalidArgument when the platform refused this message.
  virtual Status Send(const std::string& text) = 0;
  // The platform's who-am-I (Telegram getMe, Discord GET /users/@me): OK when the token works
  // and the API answers.
  virtual Status CheckHealth() = 0;
};

// `text` cut into parts of at most `limit` UTF-16 code units each, never inside a UTF-8
// sequence, at the last line break that fits when there is one (that line break is dropped).
// Invalid UTF-8 bytes count as one unit each. Empty text gives no parts.
std::vector<std::string> SplitMessage(std::string_view text, size_t limit);

// How many UTF-16 code units `text` takes (what SplitMessage counts).
size_t Utf16Length(std::string_view text);

// Posts `text` to `channel` now, whole (SplitMessage's parts, in order), for someone waiting on
// the answer (a command's reply, a report sent from the dashboard): waits for the channel's
// gate in real time (this thread sleeps) and tries each part up to 3 times while the failure is
// retryable. Fails with the last failure, or Unavailable when the gate would hold a part for
// longer than `max_wait`; parts sent before a failure stay sent. Not redacted: the caller's.
Status SendWhole(ChatChannel& channel, std::string_view text,
                 std::chrono::milliseconds max_wait = std::chrono::seconds(10));

}  // namespace orch

#endif  // ORCH_NOTIFY_CHAT_H_
