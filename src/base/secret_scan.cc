#include "base/secret_scan.h"

#include <cctype>
#include <regex>
#include <vector>

namespace orch {
namespace {

// std::regex (libstdc++) recurses once per character a repetition consumes, so an unbounded
// run in a pattern overflows the stack on a long match: a PEM header followed by pages of
// text, or `token=` followed by a long blob, crashed the daemon. The regexes here therefore
// match only a bounded head; the unbounded runs after it are scanned by hand, giving what the
// greedy regex would (the longest run, then back to the last word boundary where one is
// required).

bool IsWord(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsTokenChar(char c) { return IsWord(c) || c == '-'; }   // [A-Za-z0-9_\-]
bool IsSlackChar(char c) { return IsAlnum(c) || c == '-'; }  // [A-Za-z0-9\-]
bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsQuote(char c) { return c == '"' || c == '\''; }

// \b at position i of s.
bool Boundary(std::string_view s, size_t i) {
  bool before = i > 0 && IsWord(s[i - 1]);
  bool after = i < s.size() && IsWord(s[i]);
  return before != after;
}

// The end of a run of `in` starting at `from`, at least `min` long and ending on a word
// boundary (the last such end); npos when there is none.
template <typename Pred>
size_t RunToBoundary(std::string_view s, size_t from, size_t min, Pred in) {
  size_t end = from;
  while (end < s.size() && in(s[end])) ++end;
  for (size_t q = end; q >= from + min && q != std::string_view::npos; --q) {
    if (Boundary(s, q)) return q;
    if (q == 0) break;
  }
  return std::string_view::npos;
}

// Replaces each match of `head` that `finish` completes. `finish(s, head_begin, head_end,
// out)` returns the end of the secret (npos: not one) and may append a kept prefix to `out`.
template <typename Finish>
std::string ReplaceWith(const std::string& s, const std::regex& head, Finish finish) {
  std::string out;
  size_t pos = 0;
  std::string_view view(s);
  while (pos < s.size()) {
    std::smatch m;
    auto flags =
        pos > 0 ? std::regex_constants::match_prev_avail : std::regex_constants::match_default;
    if (!std::regex_search(s.begin() + pos, s.end(), m, head, flags)) break;
    size_t begin = pos + m.position(0);
    size_t head_end = begin + m.length(0);
    std::string kept;
    size_t end = finish(view, begin, head_end, &kept);
    if (end == std::string_view::npos) {
      out.append(s, pos, begin + 1 - pos);
      pos = begin + 1;
      continue;
    }
    out.append(s, pos, begin - pos);
    out += kept;
    out += "[REDACTED]";
    pos = end;
  }
  if (pos < s.size()) out.append(s, pos);
  return out;
}

// A prefix, then at least `min` characters of a class, ending on a word boundary.
struct TokenRule {
  std::regex head;
  size_t min;
  bool (*in)(char);
};

// "-----BEGIN [A-Z ]*PRIVATE KEY-----" or the END one, starting at `at`: its end, or npos.
size_t PemMarker(std::string_view s, size_t at, std::string_view kind) {
  std::string start = "-----" + std::string(kind) + " ";
  if (s.compare(at, start.size(), start) != 0) return std::string_view::npos;
  constexpr std::string_view kTail = "PRIVATE KEY-----";
  size_t i = at + start.size();
  // [A-Z ]* is greedy, but backtracks to the last place the tail fits: any place will do,
  // since the tail is the same.
  while (true) {
    if (s.compare(i, kTail.size(), kTail) == 0) return i + kTail.size();
    if (i >= s.size() || !((s[i] >= 'A' && s[i] <= 'Z') || s[i] == ' ')) {
      return std::string_view::npos;
    }
    ++i;
  }
}

std::string RedactPem(const std::string& s) {
  static const std::regex kBegin(R"(-----BEGIN )");
  return ReplaceWith(s, kBegin, [](std::string_view v, size_t begin, size_t, std::string*) {
    size_t header_end = PemMarker(v, begin, "BEGIN");
    if (header_end == std::string_view::npos) return std::string_view::npos;
    // [\s\S]*? : the first END marker after it.
    for (size_t e = v.find("-----END ", header_end); e != std::string_view::npos;
         e = v.find("-----END ", e + 1)) {
      size_t end = PemMarker(v, e, "END");
      if (end != std::string_view::npos) return end;
    }
    return std::string_view::npos;
  });
}

std::string RedactJwt(const std::string& s) {
  // \beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\b
  static const std::regex kHead(R"(\beyJ)");
  return ReplaceWith(s, kHead, [](std::string_view v, size_t, size_t head_end, std::string*) {
    size_t i = head_end;
    for (int dot = 0; dot < 2; ++dot) {
      size_t from = i;
      while (i < v.size() && IsTokenChar(v[i])) ++i;
      if (i - from < 10 || i >= v.size() || v[i] != '.') return std::string_view::npos;
      ++i;
    }
    return RunToBoundary(v, i, 10, IsTokenChar);
  });
}

std::string RedactAssignments(const std::string& s) {
  // ((password|passwd|secret|token|api[_-]?key)["']?\s*[:=]\s*)["']?[^\s"']{8,}["']?, the key
  // kept. The optional quote after the key covers JSON and YAML ("password": "...").
  static const std::regex kKey(R"((password|passwd|secret|token|api[_-]?key))", std::regex::icase);
  return ReplaceWith(s, kKey,
                     [](std::string_view v, size_t begin, size_t head_end, std::string* kept) {
                       size_t i = head_end;
                       if (i < v.size() && IsQuote(v[i])) ++i;
                       while (i < v.size() && IsSpace(v[i])) ++i;
                       if (i >= v.size() || (v[i] != ':' && v[i] != '='))
                         return std::string_view::npos;
                       ++i;
                       while (i < v.size() && IsSpace(v[i])) ++i;
                       *kept = std::string(v.substr(begin, i - begin));
                       if (i < v.size() && IsQuote(v[i])) ++i;
                       size_t from = i;
                       while (i < v.size() && !IsSpace(v[i]) && !IsQuote(v[i])) ++i;
                       if (i - from < 8) return std::string_view::npos;
                       if (i < v.size() && IsQuote(v[i])) ++i;
                       return i;
                     });
}

}  // namespace

std::string RedactSecrets(std::string_view text) {
  static const std::vector<TokenRule> kTokens = [] {
    std::vector<TokenRule> v;
    v.push_back({std::regex(R"(\b(ghp|gho|ghu|ghs|ghr)_)"), 20, IsAlnum});
    v.push_back({std::regex(R"(\bgithub_pat_)"), 20, IsWord});
    // sk-ant-... is covered too: "ant-" is made of the same characters.
    v.push_back({std::regex(R"(\bsk-)"), 20, IsTokenChar});
    return v;
  }();
  // Bounded: no long runs.
  static const std::regex kAws(R"(\b(AKIA|ASIA)[0-9A-Z]{16}\b)");
  static const TokenRule kSlack{std::regex(R"(\bxox[abprs]-)"), 10, IsSlackChar};
  auto redact_tokens = [](const std::string& s, const TokenRule& rule) {
    return ReplaceWith(s, rule.head,
                       [&rule](std::string_view v, size_t, size_t head_end, std::string*) {
                         return RunToBoundary(v, head_end, rule.min, rule.in);
                       });
  };

  std::string out = RedactPem(std::string(text));
  for (const TokenRule& rule : kTokens) out = redact_tokens(out, rule);
  out = std::regex_replace(out, kAws, "[REDACTED]");
  out = redact_tokens(out, kSlack);
  out = RedactJwt(out);
  out = RedactAssignments(out);
  return out;
}

}  // namespace orch
