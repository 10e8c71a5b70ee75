// FormatUnixTime: the one place orch turns a Unix time into text for people and JSON.
//
// Three shapes, each used where it is today: ISO-8601 UTC for JSON and most listings, a spaced
// UTC form for `orch webhook list`, and local time to the minute where schedules are read
// (`orch job list`), since cron schedules are local.
//
// Thread safety: a pure function of its arguments and, for kLocalMinutes, of the process's time
// zone (TZ); safe to call from any thread.
#ifndef ORCH_BASE_TIME_FORMAT_H_
#define ORCH_BASE_TIME_FORMAT_H_

#include <cstdint>
#include <string>

namespace orch {

enum class TimeFormat {
  kIso8601,       // 2026-11-21T06:02:00Z (UTC)
  kUtcSpaced,     // 2026-11-21 06:02:00Z (UTC)
  kLocalMinutes,  // 2026-03-08 03:00 EDT (local time, with the zone's abbreviation)
};

// Never fails; a time the C library cannot break down gives "".
std::string FormatUnixTime(int64_t unix_seconds, TimeFormat how);

}  // namespace orch

#endif  // ORCH_BASE_TIME_FORMAT_H_
