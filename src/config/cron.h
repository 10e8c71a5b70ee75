// Cron: a parsed five-field cron schedule for `jobs`, and when it next fires in local time.
//
// Fields are minute hour day-of-month month day-of-week, each `*`, `N`, `A-B`, `*/S`, `A-B/S`,
// `N/S` or a comma list of those. Months may be written JAN..DEC and weekdays SUN..SAT (any
// case); day-of-week 0 and 7 are Sunday, 1 is Monday. The shorthands @hourly, @daily,
// @midnight, @weekly (Sunday 00:00), @monthly, @yearly and @annually are accepted. As in Vixie
// cron, when both day fields are restricted (neither starts with `*`) a time matches if either
// does.
//
// Schedules are in the process's local time zone (TZ). Across DST changes each matching
// wall-clock minute fires at most once:
//   - a time skipped by a spring-forward gap (02:30 when 02:00 jumps to 03:00) fires once, at
//     the first instant after the gap (03:00);
//   - a time repeated by a fall-back (01:30 twice) fires once, at its first occurrence.
// Values only; thread-safe as long as TZ is not changed while it runs.
#ifndef ORCH_CONFIG_CRON_H_
#define ORCH_CONFIG_CRON_H_

#include <bitset>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

#include "base/status.h"

namespace orch {

struct Cron {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // 1..31
  std::bitset<13> months;   // 1..12
  std::bitset<7> weekdays;  // 0..6, Sunday = 0
  bool days_any = true;
  bool weekdays_any = true;
};

// Fails with InvalidArgument naming the bad field, e.g. "minute field \"61\": out of range
// 0-59", or the day field when no month named in the month field has such a day (Feb 30).
Result<Cron> ParseCron(std::string_view spec);

// True when the broken-down local time `t` (seconds ignored) is one the schedule fires at.
bool CronMatches(const Cron& cron, const std::tm& t);

// The first instant (unix seconds) strictly after `after` at which `cron` fires in local time,
// with the DST rules above; nullopt when it does not fire within the next five years.
std::optional<int64_t> NextCronTime(const Cron& cron, int64_t after);

}  // namespace orch

#endif  // ORCH_CONFIG_CRON_H_
