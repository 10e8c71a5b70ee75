#include "cron.h"

#include <charconv>
#include <string>
#include <vector>

namespace orch {
namespace {

struct FieldSpec {
  const char* name;
  int lo;
  int hi;
};

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

// Sets bits lo..hi of the field described by `spec` into `bits` (indexed by value).
template <size_t N>
Status ParseField(std::string_view text, const FieldSpec& spec, std::bitset<N>* bits, bool* any) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(spec.name) + " field \"" + std::string(text) + "\"",
                                   why);
  };
  *any = text == "*";
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
      if (!ParseInt(part.substr(0, dash), &lo) || !ParseInt(part.substr(dash + 1), &hi)) {
        return bad("expected a number or range");
      }
    } else {
      if (!ParseInt(part, &lo)) return bad("expected a number, range, list or *");
      hi = slash == std::string_view::npos ? lo : spec.hi;
    }
    if (lo < spec.lo || hi > spec.hi || lo > hi) {
      return bad("out of range " + std::to_string(spec.lo) + "-" + std::to_string(spec.hi));
    }
    for (int v = lo; v <= hi; v += step) bits->set(static_cast<size_t>(v));
  }
  return Status::OK();
}

}  // namespace

Result<Cron> ParseCron(std::string_view spec) {
  static const std::pair<std::string_view, std::string_view> kShorthands[] = {
      {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
  };
  for (const auto& [name, expansion] : kShorthands) {
    if (spec == name) spec = expansion;
  }
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(spec, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument("cron schedule \"" + std::string(spec) + "\"",
                                   "expected 5 fields: minute hour day month weekday");
  }
  Cron cron;
  bool unused;
  ORCH_RETURN_IF_ERROR(ParseField(fields[0], {"minute", 0, 59}, &cron.minutes, &unused));
  ORCH_RETURN_IF_ERROR(ParseField(fields[1], {"hour", 0, 23}, &cron.hours, &unused));
  ORCH_RETURN_IF_ERROR(ParseField(fields[2], {"day", 1, 31}, &cron.days, &cron.days_any));
  ORCH_RETURN_IF_ERROR(ParseField(fields[3], {"month", 1, 12}, &cron.months, &unused));
  std::bitset<8> weekdays;
  ORCH_RETURN_IF_ERROR(ParseField(fields[4], {"weekday", 0, 7}, &weekdays, &cron.weekdays_any));
  for (size_t d = 0; d < 7; ++d) cron.weekdays[d] = weekdays[d];
  if (weekdays[7]) cron.weekdays.set(0);
  return cron;
}

bool CronMatches(const Cron& cron, const std::tm& t) {
  if (!cron.minutes[t.tm_min] || !cron.hours[t.tm_hour] || !cron.months[t.tm_mon + 1]) {
    return false;
  }
  bool day = cron.days[t.tm_mday];
  bool weekday = cron.weekdays[t.tm_wday];
  if (cron.days_any && cron.weekdays_any) return true;
  if (cron.days_any) return weekday;
  if (cron.weekdays_any) return day;
  return day || weekday;
}

}  // namespace orch
