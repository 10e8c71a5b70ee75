#include "traffic.h"

#include <algorithm>

namespace orch::sim {

bool RateLimiter::Exhausted(int64_t now) {
  if (now >= reset_) {
    remaining_ = limit_;
    reset_ = now + kWindow;
  }
  return remaining_ <= 0;
}

void RateLimiter::Count() {
  if (remaining_ > 0) --remaining_;
}

void RateLimiter::Set(int limit, int remaining) {
  limit_ = std::max(limit, 0);
  remaining_ = std::clamp(remaining, 0, limit_);
}

std::optional<Fault> FaultTable::Take(const std::string& method, const std::string& path) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!it->method.empty() && it->method != method) continue;
    if (path.compare(0, it->path_prefix.size(), it->path_prefix) != 0) continue;
    Fault hit = *it;
    if (--it->count <= 0) faults_.erase(it);
    return hit;
  }
  return std::nullopt;
}

}  // namespace orch::sim
