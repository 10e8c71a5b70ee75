#include "base/time_format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace orch {
namespace {

constexpr int64_t kSample = 1795240920;  // 2026-11-21 06:02:00 UTC

TEST(TimeFormatTest, Iso8601IsUtcWithAZ) {
  EXPECT_EQ(FormatUnixTime(kSample, TimeFormat::kIso8601), "2026-11-21T06:02:00Z");
  EXPECT_EQ(FormatUnixTime(0, TimeFormat::kIso8601), "1970-01-01T00:00:00Z");
}

TEST(TimeFormatTest, UtcSpacedHasASpaceForTheT) {
  EXPECT_EQ(FormatUnixTime(kSample, TimeFormat::kUtcSpaced), "2026-11-21 06:02:00Z");
}

TEST(TimeFormatTest, LocalMinutesFollowTheTimeZone) {
  // Local time is read from TZ: set one with a known offset, and put the old one back.
  const char* old = std::getenv("TZ");
  std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
  tzset();
  std::string winter = FormatUnixTime(kSample, TimeFormat::kLocalMinutes);
  std::string summer = FormatUnixTime(kSample - 150 * 86400, TimeFormat::kLocalMinutes);
  if (saved) {
    setenv("TZ", saved->c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_EQ(winter, "2026-11-21 01:02 EST");
  EXPECT_EQ(summer, "2026-06-24 02:02 EDT");
}

}  // namespace
}  // namespace orch
