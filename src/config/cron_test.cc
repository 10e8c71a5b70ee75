#include "config/cron.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "testing/test_util.h"

namespace orch {
namespace {

std::tm At(int wday, int mday, int mon, int hour, int min) {
  std::tm t{};
  t.tm_wday = wday;
  t.tm_mday = mday;
  t.tm_mon = mon - 1;
  t.tm_hour = hour;
  t.tm_min = min;
  return t;
}

using test::Utc;

int64_t Next(const char* spec, int64_t after) {
  Result<Cron> c = ParseCron(spec);
  EXPECT_TRUE(c.ok()) << c.status().message();
  if (!c.ok()) return -1;
  return NextCronTime(*c, after).value_or(-1);
}

TEST(CronTest, EveryFifteenMinutesDuringWorkHours) {
  Result<Cron> c = ParseCron("*/15 9-17 * * 1-5");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(CronMatches(*c, At(1, 5, 6, 9, 45)));
  EXPECT_FALSE(CronMatches(*c, At(1, 5, 6, 9, 46)));
  EXPECT_FALSE(CronMatches(*c, At(0, 5, 6, 9, 45)));  // Sunday
  EXPECT_FALSE(CronMatches(*c, At(1, 5, 6, 18, 0)));
}

TEST(CronTest, RestrictedDayFieldsMatchEitherAsInVixieCron) {
  Result<Cron> c = ParseCron("0 0 1 * 0");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(CronMatches(*c, At(3, 1, 2, 0, 0)));  // the 1st, a Wednesday
  EXPECT_TRUE(CronMatches(*c, At(0, 9, 2, 0, 0)));  // a Sunday, the 9th
  EXPECT_FALSE(CronMatches(*c, At(3, 9, 2, 0, 0)));
  // A stepped star is still a star for this rule, as in Vixie cron: the weekday alone decides.
  Result<Cron> stepped = ParseCron("0 0 */2 * 1");
  ASSERT_TRUE(stepped.ok());
  EXPECT_FALSE(CronMatches(*stepped, At(3, 1, 2, 0, 0)));
  EXPECT_TRUE(CronMatches(*stepped, At(1, 3, 2, 0, 0)));
}

TEST(CronTest, WeekdaysCountFromSundayAsZeroAndSevenIsSundayToo) {
  // The reference read weekday 1 as Sunday; here 1 is Monday.
  Result<Cron> monday = ParseCron("0 9 * * 1");
  ASSERT_TRUE(monday.ok());
  EXPECT_TRUE(CronMatches(*monday, At(1, 6, 1, 9, 0)));
  EXPECT_FALSE(CronMatches(*monday, At(0, 5, 1, 9, 0)));
  for (const char* sunday : {"0 9 * * 0", "0 9 * * 7", "0 9 * * SUN", "0 9 * * sun"}) {
    Result<Cron> c = ParseCron(sunday);
    ASSERT_TRUE(c.ok()) << sunday;
    EXPECT_TRUE(CronMatches(*c, At(0, 5, 1, 9, 0))) << sunday;
    EXPECT_FALSE(CronMatches(*c, At(1, 6, 1, 9, 0))) << sunday;
    EXPECT_FALSE(CronMatches(*c, At(6, 4, 1, 9, 0))) << sunday;
  }
  // Names and ranges of names; FRI-SUN wraps to Sunday through 7.
  Result<Cron> weekend = ParseCron("0 9 * JAN-mar FRI-SUN");
  ASSERT_TRUE(weekend.ok()) << weekend.status().message();
  EXPECT_TRUE(CronMatches(*weekend, At(5, 2, 1, 9, 0)));
  EXPECT_TRUE(CronMatches(*weekend, At(0, 4, 3, 9, 0)));
  EXPECT_FALSE(CronMatches(*weekend, At(4, 1, 1, 9, 0)));
  EXPECT_FALSE(CronMatches(*weekend, At(0, 4, 4, 9, 0)));  // April
  Result<Cron> all = ParseCron("0 9 * * 0-7");
  ASSERT_TRUE(all.ok());
  for (int wday = 0; wday < 7; ++wday) EXPECT_TRUE(CronMatches(*all, At(wday, 1, 1, 9, 0)));
}

TEST(CronTest, EveryShorthandIsAccepted) {
  // The reference documented these and then rejected them.
  struct Case {
    const char* name;
    std::tm yes;
    std::tm no;
  } cases[] = {
      {"@hourly", At(3, 4, 5, 13, 0), At(3, 4, 5, 13, 1)},
      {"@daily", At(3, 4, 5, 0, 0), At(3, 4, 5, 1, 0)},
      {"@midnight", At(3, 4, 5, 0, 0), At(3, 4, 5, 0, 30)},
      {"@weekly", At(0, 3, 5, 0, 0), At(1, 4, 5, 0, 0)},
      {"@monthly", At(3, 1, 5, 0, 0), At(4, 2, 5, 0, 0)},
      {"@yearly", At(3, 1, 1, 0, 0), At(3, 1, 2, 0, 0)},
      {"@annually", At(3, 1, 1, 0, 0), At(3, 1, 2, 0, 0)},
  };
  for (const Case& c : cases) {
    Result<Cron> cron = ParseCron(c.name);
    ASSERT_TRUE(cron.ok()) << c.name << ": " << cron.status().message();
    EXPECT_TRUE(CronMatches(*cron, c.yes)) << c.name;
    EXPECT_FALSE(CronMatches(*cron, c.no)) << c.name;
  }
  EXPECT_NE(ParseCron("@fortnightly").status().message().find("unknown shorthand"),
            std::string::npos);
}

TEST(CronTest, ListsRangesAndSteps) {
  Result<Cron> c = ParseCron("5,10,50-55/2 0 * * *");
  ASSERT_TRUE(c.ok());
  for (int m : {5, 10, 50, 52, 54}) EXPECT_TRUE(c->minutes[m]) << m;
  for (int m : {0, 6, 51, 53, 55}) EXPECT_FALSE(c->minutes[m]) << m;
  Result<Cron> from = ParseCron("0 3/8 * * *");  // N/S: from N to the end, every S
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from->hours.count(), 3u);  // 3, 11, 19
  EXPECT_TRUE(from->hours[19]);
  Result<Cron> every = ParseCron("*/20 * * * *");
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->minutes.count(), 3u);
}

TEST(CronTest, BadSchedulesSayWhichField) {
  EXPECT_NE(ParseCron("* * * *").status().message().find("expected 5 fields"), std::string::npos);
  EXPECT_NE(ParseCron("60 * * * *").status().message().find("minute field"), std::string::npos);
  EXPECT_NE(ParseCron("* 24 * * *").status().message().find("hour field"), std::string::npos);
  EXPECT_NE(ParseCron("* * 0 * *").status().message().find("day field"), std::string::npos);
  EXPECT_NE(ParseCron("* * * 13 *").status().message().find("month field"), std::string::npos);
  EXPECT_NE(ParseCron("* * * * 8").status().message().find("weekday field"), std::string::npos);
  EXPECT_NE(ParseCron("* * * * funday").status().message().find("weekday field"),
            std::string::npos);
  EXPECT_NE(ParseCron("* * * foo *").status().message().find("month field"), std::string::npos);
  EXPECT_NE(ParseCron("0 0 30 2 *").status().message().find("day field \"30\""), std::string::npos);
  EXPECT_TRUE(ParseCron("0 0 29 2 *").ok());  // leap days exist
  EXPECT_TRUE(ParseCron("0 0 30 2 1").ok());  // Mondays in February do
  EXPECT_FALSE(ParseCron("*/0 * * * *").ok());
  EXPECT_FALSE(ParseCron("5-1 * * * *").ok());
  EXPECT_FALSE(ParseCron("1,,2 * * * *").ok());
}

TEST(CronTest, NextTimeIsStrictlyAfterAndInLocalTime) {
  test::ScopedTz tz("America/New_York");
  // 2026-01-15 is a Thursday; 09:00 EST is 14:00 UTC.
  EXPECT_EQ(Next("0 9 * * *", Utc(2026, 1, 15, 13, 0)), Utc(2026, 1, 15, 14, 0));
  EXPECT_EQ(Next("0 9 * * *", Utc(2026, 1, 15, 14, 0)), Utc(2026, 1, 16, 14, 0));
  EXPECT_EQ(Next("0 9 * * 1", Utc(2026, 1, 15, 14, 0)), Utc(2026, 1, 19, 14, 0));  // Monday
  EXPECT_EQ(Next("@monthly", Utc(2026, 1, 15, 14, 0)), Utc(2026, 2, 1, 5, 0));
  EXPECT_EQ(Next("0 0 29 2 *", Utc(2026, 1, 15, 14, 0)), Utc(2028, 2, 29, 5, 0));
}

TEST(CronTest, SpringForwardGapRunsOnceAtTheEndOfTheGap) {
  test::ScopedTz tz("America/New_York");
  // 2026-03-08: at 02:00 EST (07:00 UTC) clocks jump to 03:00 EDT; 02:30 does not exist.
  int64_t before = Utc(2026, 3, 8, 5, 0);   // 00:00 EST
  int64_t gap_end = Utc(2026, 3, 8, 7, 0);  // 03:00 EDT
  EXPECT_EQ(Next("30 2 * * *", before), gap_end);
  // The next one is the next day's 02:30 EDT, not a second run that day.
  EXPECT_EQ(Next("30 2 * * *", gap_end), Utc(2026, 3, 9, 6, 30));
  // Every 15 minutes: 01:45 EST, then one run at 03:00 for 02:00..02:45 and 03:00, then 03:15.
  EXPECT_EQ(Next("*/15 * * * *", Utc(2026, 3, 8, 6, 30)), Utc(2026, 3, 8, 6, 45));
  EXPECT_EQ(Next("*/15 * * * *", Utc(2026, 3, 8, 6, 45)), gap_end);
  EXPECT_EQ(Next("*/15 * * * *", gap_end), Utc(2026, 3, 8, 7, 15));
  // A time after the gap is unaffected.
  EXPECT_EQ(Next("30 3 * * *", before), Utc(2026, 3, 8, 7, 30));
}

TEST(CronTest, FallBackRepeatedHourRunsOnceAtTheFirstOccurrence) {
  test::ScopedTz tz("America/New_York");
  // 2026-11-01: at 02:00 EDT (06:00 UTC) clocks go back to 01:00 EST; 01:30 happens twice,
  // at 05:30 UTC (EDT) and 06:30 UTC (EST).
  int64_t first = Utc(2026, 11, 1, 5, 30);
  EXPECT_EQ(Next("30 1 * * *", Utc(2026, 11, 1, 4, 0)), first);
  EXPECT_EQ(Next("30 1 * * *", first), Utc(2026, 11, 2, 6, 30));  // next day, EST
  // Asked from inside the second 01:xx hour, the repeat is not a new run either.
  EXPECT_EQ(Next("30 1 * * *", Utc(2026, 11, 1, 6, 10)), Utc(2026, 11, 2, 6, 30));
  // Hourly: 01:00 EDT, then 02:00 EST; the repeated 01:00 EST is not a second 01:00 run.
  EXPECT_EQ(Next("0 * * * *", Utc(2026, 11, 1, 4, 30)), Utc(2026, 11, 1, 5, 0));
  EXPECT_EQ(Next("0 * * * *", Utc(2026, 11, 1, 5, 0)), Utc(2026, 11, 1, 7, 0));
}

TEST(CronTest, UtcHasNoSurprises) {
  test::ScopedTz tz("UTC");
  EXPECT_EQ(Next("30 2 * * *", Utc(2026, 3, 8, 0, 0)), Utc(2026, 3, 8, 2, 30));
  EXPECT_EQ(Next("* * * * *", Utc(2026, 3, 8, 0, 0) + 30), Utc(2026, 3, 8, 0, 1));
}

}  // namespace
}  // namespace orch
