#include "base/time_format.h"

#include <ctime>

namespace orch {

std::string FormatUnixTime(int64_t unix_seconds, TimeFormat how) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  bool local = how == TimeFormat::kLocalMinutes;
  if ((local ? localtime_r(&t, &tm) : gmtime_r(&t, &tm)) == nullptr) return "";
  const char* pattern = "%Y-%m-%dT%H:%M:%SZ";
  if (how == TimeFormat::kUtcSpaced) pattern = "%Y-%m-%d %H:%M:%SZ";
  if (local) pattern = "%Y-%m-%d %H:%M %Z";
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, pattern, &tm);
  return std::string(buf, n);
}

}  // namespace orch
