#include "wire.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "github/webhook_signature.h"

namespace orch::sim {
namespace {

constexpr int kMaxPerPage = 100;

std::optional<int> ParseInt(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Reads `width` digits at `pos` of `s`.
std::optional<int> Digits(std::string_view s, size_t pos, size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  std::string_view d = s.substr(pos, width);
  if (!std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return ParseInt(d);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view StripWeak(std::string_view tag) {
  return tag.substr(0, 2) == "W/" ? tag.substr(2) : tag;
}

// The time-of-day suffix after the seconds: "", "Z", ".123Z", "+00:00".
bool IsUtcSuffix(std::string_view rest) {
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  return rest == "Z" || rest == "+00:00" || rest == "-00:00";
}

}  // namespace

std::string FormatIso(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  tm parts{};
  gmtime_r(&tt, &parts);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

std::optional<int64_t> ParseIso(std::string_view s) {
  auto year = Digits(s, 0, 4), month = Digits(s, 5, 2), day = Digits(s, 8, 2);
  if (!year || !month || !day || s[4] != '-' || s[7] != '-') return std::nullopt;
  tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = *month - 1;
  parts.tm_mday = *day;
  if (s.size() > 10) {
    auto hour = Digits(s, 11, 2), minute = Digits(s, 14, 2), second = Digits(s, 17, 2);
    if (s[10] != 'T' || !hour || !minute || !second || s[13] != ':' || s[16] != ':') {
      return std::nullopt;
    }
    if (!IsUtcSuffix(s.substr(19))) return std::nullopt;
    parts.tm_hour = *hour;
    parts.tm_min = *minute;
    parts.tm_sec = *second;
  }
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  return static_cast<int64_t>(timegm(&parts));
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Query SplitQuery(std::string_view query) {
  Query out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      out.push_back({std::string(piece), ""});
    } else {
      out.push_back({std::string(piece.substr(0, eq)), std::string(piece.substr(eq + 1))});
    }
  }
  return out;
}

std::optional<std::string> QueryValue(const Query& query, std::string_view key) {
  for (const QueryParam& p : query) {
    if (PercentDecode(p.key) == key) return PercentDecode(p.value);
  }
  return std::nullopt;
}

PageRequest ReadPage(const Query& query, int default_per_page) {
  PageRequest req;
  req.per_page = std::clamp(default_per_page, 1, kMaxPerPage);
  if (auto v = QueryValue(query, "page")) {
    if (auto n = ParseInt(*v); n && *n >= 1) req.page = *n;
  }
  if (auto v = QueryValue(query, "per_page")) {
    if (auto n = ParseInt(*v); n && *n >= 1) req.per_page = std::min(*n, kMaxPerPage);
  }
  return req;
}

PageSlice SlicePage(size_t total, PageRequest request) {
  const size_t per_page = static_cast<size_t>(std::max(request.per_page, 1));
  PageSlice slice;
  slice.last_page = total == 0 ? 1 : static_cast<int>((total + per_page - 1) / per_page);
  slice.begin = std::min(total, static_cast<size_t>(request.page - 1) * per_page);
  slice.end = std::min(total, slice.begin + per_page);
  return slice;
}

namespace {

std::string PageUrl(std::string_view url, const Query& query, int page) {
  std::string out(url);
  out += '?';
  bool replaced = false;
  for (const QueryParam& p : query) {
    if (out.back() != '?') out += '&';
    if (PercentDecode(p.key) == "page") {
      out += p.key + "=" + std::to_string(page);
      replaced = true;
    } else {
      out += p.value.empty() ? p.key : p.key + "=" + p.value;
    }
  }
  if (!replaced) out += std::string(out.back() == '?' ? "" : "&") + "page=" + std::to_string(page);
  return out;
}

}  // namespace

std::string LinkHeader(std::string_view url, const Query& query, int page, int last_page) {
  if (last_page <= 1) return "";
  std::vector<std::string> rels;
  auto add = [&](int p, const char* rel) {
    rels.push_back("<" + PageUrl(url, query, p) + ">; rel=\"" + rel + "\"");
  };
  if (page > 1) add(std::min(page - 1, last_page), "prev");
  if (page < last_page) {
    add(page + 1, "next");
    add(last_page, "last");
  }
  if (page > 1) add(1, "first");
  std::string out;
  for (const std::string& r : rels) out += (out.empty() ? "" : ", ") + r;
  return out;
}

std::string WeakEtag(std::string_view body) {
  return "W/\"" + Sha256Hex(body).substr(0, 32) + "\"";
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (Trim(if_none_match) == "*") return true;
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view entry = Trim(if_none_match.substr(0, comma));
    if (!entry.empty() && StripWeak(entry) == StripWeak(etag)) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace orch::sim
