#include "notify/chat.h"

#include <algorithm>
#include <thread>

namespace orch {
namespace {

// The byte length of the UTF-8 sequence at `i`; 1 for a byte that starts no valid sequence.
size_t SequenceLength(std::string_view s, size_t i) {
  unsigned char lead = static_cast<unsigned char>(s[i]);
  size_t n = lead < 0x80           ? 1
             : (lead >> 5) == 0x6  ? 2
             : (lead >> 4) == 0xE  ? 3
             : (lead >> 3) == 0x1E ? 4
                                   : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

// Code points above U+FFFF (four-byte sequences) are surrogate pairs in UTF-16.
size_t Units(size_t sequence_length) { return sequence_length == 4 ? 2 : 1; }

}  // namespace

bool SendGate::TryAcquire(SteadyTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now < ready_at_) return false;
  ready_at_ = now + interval_;
  return true;
}

void SendGate::HoldUntil(SteadyTime until) {
  std::lock_guard<std::mutex> lock(mu_);
  ready_at_ = std::max(ready_at_, until);
}

SteadyTime SendGate::ready_at() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_at_;
}

size_t Utf16Length(std::string_view text) {
  size_t units = 0;
  for (size_t i = 0; i < text.size();) {
    size_t n = SequenceLength(text, i);
    units += Units(n);
    i += n;
  }
  return units;
}

std::vector<std::string> SplitMessage(std::string_view text, size_t limit) {
  std::vector<std::string> parts;
  if (limit < 2) limit = 2;  // room for one surrogate pair, so every part makes progress
  size_t pos = 0;
  while (pos < text.size()) {
    size_t i = pos, units = 0, last_newline = std::string_view::npos;
    while (i < text.size()) {
      size_t n = SequenceLength(text, i);
      if (units + Units(n) > limit) break;
      if (text[i] == '\n') last_newline = i;
      units += Units(n);
      i += n;
    }
    if (i >= text.size()) {
      parts.emplace_back(text.substr(pos));
      break;
    }
    if (last_newline != std::string_view::npos && last_newline > pos) {
      parts.emplace_back(text.substr(pos, last_newline - pos));
      pos = last_newline + 1;
    } else {
      parts.emplace_back(text.substr(pos, i - pos));
      pos = i;
    }
  }
  return parts;
}

Status SendWhole(ChatChannel& channel, std::string_view text, std::chrono::milliseconds max_wait) {
  for (const std::string& part : SplitMessage(text, channel.max_chars())) {
    Status sent;
    for (int tries = 0; tries < 3; ++tries) {
      // The gate's times are steady_clock's (the daemon's clock is the system's).
      SteadyTime now = std::chrono::steady_clock::now();
      while (!channel.gate().TryAcquire(now)) {
        if (channel.gate().ready_at() - now > max_wait) {
          return Status::Unavailable(channel.name(), "rate limited for longer than " +
                                                         std::to_string(max_wait.count()) + " ms");
        }
        std::this_thread::sleep_until(channel.gate().ready_at());
        now = std::chrono::steady_clock::now();
      }
      sent = channel.Send(part);
      if (sent.ok() || !sent.IsRetryable()) break;
    }
    if (!sent.ok()) return sent;
  }
  return Status::OK();
}

}  // namespace orch
