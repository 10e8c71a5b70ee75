#include "config/cron.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

namespace orch {
namespace {

struct FieldSpec {
  const char* name;
  int lo;
  int hi;
  const char* const* names = nullptr;  // names[i] stands for lo + i (three letters)
  int name_count = 0;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? s.size() - start : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A number, or one of the field's names. `upper`: the end of a range, where SUN means 7 so
// that FRI-SUN works.
bool ParseValue(std::string_view s, const FieldSpec& spec, bool upper, int* out) {
  if (ParseInt(s, out)) return true;
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < spec.name_count; ++i) {
    if (lower != spec.names[i]) continue;
    *out = spec.lo + i;
    if (upper && spec.names == kWeekdayNames && i == 0) *out = 7;
    return true;
  }
  return false;
}

// Sets the bits of the values `text` names into `bits` (indexed by value). `any`: the field
// starts with `*`, which is what Vixie cron checks for the day-of-month/day-of-week rule.
template <size_t N>
Status ParseField(std::string_view text, const FieldSpec& spec, std::bitset<N>* bits, bool* any) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(spec.name) + " field \"" + std::string(text) + "\"",
                                   why);
  };
  *any = !text.empty() && text[0] == '*';
  for (std::string_view part : Split(text, ',')) {
    int step = 1;
    size_t slash = part.find('/');
    if (slash != std::string_view::npos) {
      if (!ParseInt(part.substr(slash + 1), &step) || step <= 0) return bad("bad step");
      part = part.substr(0, slash);
    }
    int lo, hi;
    if (part == "*") {
      lo = spec.lo;
      hi = spec.hi;
    } else if (size_t dash = part.find('-'); dash != std::string_view::npos) {
      if (!ParseValue(part.substr(0, dash), spec, false, &lo) ||
          !ParseValue(part.substr(dash + 1), spec, true, &hi)) {
        return bad("expected a number or range");
      }
    } else {
      if (!ParseValue(part, spec, false, &lo)) {
        return bad(spec.name_count > 0 ? "expected a number, name, range, list or *"
                                       : "expected a number, range, list or *");
      }
      hi = slash == std::string_view::npos ? lo : spec.hi;
    }
    if (lo < spec.lo || hi > spec.hi || lo > hi) {
      return bad("out of range " + std::to_string(spec.lo) + "-" + std::to_string(spec.hi));
    }
    for (int v = lo; v <= hi; v += step) bits->set(static_cast<size_t>(v));
  }
  return Status::OK();
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (*m <= 2));
}

bool DayMatches(const Cron& cron, int mday, int wday) {
  if (cron.days_any && cron.weekdays_any) return true;
  if (cron.days_any) return cron.weekdays[wday];
  if (cron.weekdays_any) return cron.days[mday];
  return cron.days[mday] || cron.weekdays[wday];
}

long GmtOffset(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return tm.tm_gmtoff;
}

// The instant a local wall-clock minute fires at, or nullopt when that is not after `after`.
// An existing time fires at its first occurrence; a time inside a spring-forward gap fires at
// the end of the gap.
std::optional<int64_t> Resolve(int y, int mon, int d, int h, int min, int64_t after) {
  std::vector<int64_t> valid;
  int64_t guess[2] = {-1, -1};
  for (int dst = 0; dst <= 1; ++dst) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = min;
    tm.tm_isdst = dst;
    std::time_t t = std::mktime(&tm);
    if (t == -1) continue;
    guess[dst] = t;
    std::tm back{};
    localtime_r(&t, &back);
    if (back.tm_year == y - 1900 && back.tm_mon == mon - 1 && back.tm_mday == d &&
        back.tm_hour == h && back.tm_min == min) {
      valid.push_back(t);
    }
  }
  int64_t at;
  if (!valid.empty()) {
    at = *std::min_element(valid.begin(), valid.end());
  } else if (guess[0] == -1 || guess[1] == -1) {
    at = std::max(guess[0], guess[1]);  // a zone without DST data: take what mktime says
    if (at == -1) return std::nullopt;
  } else {
    // In a gap: the two readings of the time straddle the transition; find it.
    int64_t lo = std::min(guess[0], guess[1]);
    int64_t hi = std::max(guess[0], guess[1]);
    long hi_offset = GmtOffset(hi);
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      (GmtOffset(mid) == hi_offset ? hi : lo) = mid;
    }
    at = hi;
  }
  if (at <= after) return std::nullopt;
  return at;
}

}  // namespace

Result<Cron> ParseCron(std::string_view spec) {
  static const std::pair<std::string_view, std::string_view> kShorthands[] = {
      {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
  };
  std::string_view original = spec;
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (!spec.empty() && spec.front() == '@') {
    bool known = false;
    for (const auto& [name, expansion] : kShorthands) {
      if (spec == name) {
        spec = expansion;
        known = true;
      }
    }
    if (!known) {
      return Status::InvalidArgument(
          "cron schedule \"" + std::string(original) + "\"",
          "unknown shorthand (known: @hourly @daily @midnight @weekly @monthly @yearly @annually)");
    }
  }
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(spec, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument("cron schedule \"" + std::string(original) + "\"",
                                   "expected 5 fields: minute hour day month weekday");
  }
  Cron cron;
  bool unused;
  ORCH_RETURN_IF_ERROR(ParseField(fields[0], {"minute", 0, 59}, &cron.minutes, &unused));
  ORCH_RETURN_IF_ERROR(ParseField(fields[1], {"hour", 0, 23}, &cron.hours, &unused));
  ORCH_RETURN_IF_ERROR(ParseField(fields[2], {"day", 1, 31}, &cron.days, &cron.days_any));
  ORCH_RETURN_IF_ERROR(
      ParseField(fields[3], {"month", 1, 12, kMonthNames, 12}, &cron.months, &unused));
  std::bitset<8> weekdays;
  ORCH_RETURN_IF_ERROR(
      ParseField(fields[4], {"weekday", 0, 7, kWeekdayNames, 7}, &weekdays, &cron.weekdays_any));
  for (size_t d = 0; d < 7; ++d) cron.weekdays[d] = weekdays[d];
  if (weekdays[7]) cron.weekdays.set(0);
  // "0 0 30 2 *" would never fire; say so now rather than wait for ever.
  if (cron.weekdays_any) {
    static const int kMaxDay[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      for (int d = 1; d <= kMaxDay[m] && cron.months[m] && !possible; ++d) {
        possible = cron.days[d];
      }
    }
    if (!possible) {
      return Status::InvalidArgument("day field \"" + std::string(fields[2]) + "\"",
                                     "no month in the month field has such a day");
    }
  }
  return cron;
}

bool CronMatches(const Cron& cron, const std::tm& t) {
  if (!cron.minutes[t.tm_min] || !cron.hours[t.tm_hour] || !cron.months[t.tm_mon + 1]) {
    return false;
  }
  return DayMatches(cron, t.tm_mday, t.tm_wday);
}

std::optional<int64_t> NextCronTime(const Cron& cron, int64_t after) {
  std::time_t tt = static_cast<std::time_t>(after);
  std::tm now{};
  localtime_r(&tt, &now);
  // Start at the wall-clock minute after `after`'s, and walk civil days, hours and minutes.
  int64_t day = DaysFromCivil(now.tm_year + 1900, static_cast<unsigned>(now.tm_mon + 1),
                              static_cast<unsigned>(now.tm_mday));
  int start_hour = now.tm_hour;
  int start_min = now.tm_min + 1;
  if (start_min == 60) {
    start_min = 0;
    if (++start_hour == 24) {
      start_hour = 0;
      ++day;
    }
  }
  const int64_t last_day = day + 5 * 366;
  for (; day <= last_day; ++day, start_hour = 0, start_min = 0) {
    int y, m, d;
    CivilFromDays(day, &y, &m, &d);
    int wday = static_cast<int>(((day % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    if (!cron.months[m] || !DayMatches(cron, d, wday)) continue;
    for (int h = start_hour; h < 24; ++h) {
      if (!cron.hours[h]) continue;
      for (int min = h == start_hour ? start_min : 0; min < 60; ++min) {
        if (!cron.minutes[min]) continue;
        if (std::optional<int64_t> at = Resolve(y, m, d, h, min, after)) return at;
      }
    }
  }
  return std::nullopt;
}

}  // namespace orch
