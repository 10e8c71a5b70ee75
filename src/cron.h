// Cron: a parsed five-field cron schedule, for `jobs`.
//
// Fields are minute hour day-of-month month day-of-week, each `*`, `N`, `A-B`, `*/S`, `A-B/S`
// or a comma list of those; day-of-week 0 and 7 are Sunday. The shorthands @hourly, @daily,
// @midnight, @weekly, @monthly, @yearly and @annually are accepted. As in Vixie cron, when both day
// fields are restricted a time matches if either does. Values only; thread-safe.
#ifndef ORCH_CRON_H_
#define ORCH_CRON_H_

#include <bitset>
#include <ctime>
#include <string_view>

#include "status.h"

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

// Fails with InvalidArgument naming the bad field, e.g. "minute field \"61\": out of range 0-59".
Result<Cron> ParseCron(std::string_view spec);

// True when the broken-down local time `t` (seconds ignored) is one the schedule fires at.
bool CronMatches(const Cron& cron, const std::tm& t);

}  // namespace orch

#endif  // ORCH_CRON_H_
