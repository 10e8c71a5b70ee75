#include "cron.h"

#include <gtest/gtest.h>

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
}

TEST(CronTest, ShorthandsListsAndSundayAsSeven) {
  Result<Cron> daily = ParseCron("@daily");
  ASSERT_TRUE(daily.ok());
  EXPECT_TRUE(CronMatches(*daily, At(4, 12, 3, 0, 0)));
  EXPECT_FALSE(CronMatches(*daily, At(4, 12, 3, 1, 0)));
  Result<Cron> c = ParseCron("5,10 0 * * 7");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(CronMatches(*c, At(0, 3, 3, 0, 10)));
}

TEST(CronTest, BadSchedulesSayWhichField) {
  EXPECT_NE(ParseCron("* * * *").status().message().find("expected 5 fields"), std::string::npos);
  EXPECT_NE(ParseCron("60 * * * *").status().message().find("minute field"), std::string::npos);
  EXPECT_NE(ParseCron("* 24 * * *").status().message().find("hour field"), std::string::npos);
  EXPECT_NE(ParseCron("* * 0 * *").status().message().find("day field"), std::string::npos);
  EXPECT_NE(ParseCron("* * * 13 *").status().message().find("month field"), std::string::npos);
  EXPECT_NE(ParseCron("* * * * mon").status().message().find("weekday field"), std::string::npos);
  EXPECT_FALSE(ParseCron("*/0 * * * *").ok());
  EXPECT_FALSE(ParseCron("5-1 * * * *").ok());
  EXPECT_FALSE(ParseCron("1,,2 * * * *").ok());
}

}  // namespace
}  // namespace orch
