#include "receiver/webhook_envelope.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace orch {
namespace {

// The value of a hexadecimal digit, or -1.
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A JSON syntax check (RFC 8259, UTF-8 included) that also picks out the two fields the inbox
// keeps: top-level "action" and "repository"."full_name". One pass and no allocation but the two
// strings; nlohmann's lexer spent a fifth of the receiver's time on this, copying every byte of
// the body into a token buffer.
class EnvelopeScanner {
 public:
  explicit EnvelopeScanner(std::string_view in)
      : begin_(in.data()), p_(in.data()), end_(in.data() + in.size()) {}

  bool Scan(WebhookEnvelope* env) {
    env_ = env;
    Space();
    if (p_ == end_ || *p_ != '{') return Fail("the payload is not a JSON object");
    if (!Value(0, Field::kRoot)) return false;
    Space();
    return p_ == end_ || Fail("unexpected text after the JSON object");
  }
  const std::string& error() const { return error_; }

 private:
  enum class Field { kNone, kRoot, kAction, kRepository, kFullName };
  static constexpr int kMaxDepth = 256;

  bool Fail(const char* why) {
    if (error_.empty()) error_ = std::string(why) + " at byte " + std::to_string(offset());
    return false;
  }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  void Space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return Fail("invalid literal");
    }
    p_ += word.size();
    return true;
  }

  bool Value(int depth, Field field) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    Space();
    if (p_ == end_) return Fail("unexpected end");
    switch (*p_) {
      case '{':
        return Object(depth, field);
      case '[':
        return Array(depth);
      case '"': {
        std::string* out = field == Field::kAction     ? &env_->action
                           : field == Field::kFullName ? &env_->repo
                                                       : nullptr;
        return String(out);
      }
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  bool Object(int depth, Field field) {
    ++p_;  // '{'
    Space();
    if (p_ < end_ && *p_ == '}') return ++p_, true;
    // This object's member names, to refuse one given twice; one list per depth, reused.
    if (keys_.size() <= static_cast<size_t>(depth)) keys_.resize(static_cast<size_t>(depth) + 1);
    keys_[static_cast<size_t>(depth)].clear();
    while (true) {
      Space();
      if (p_ == end_ || *p_ != '"') return Fail("expected a member name");
      std::string key;
      if (!String(&key)) return false;
      Space();
      if (p_ == end_ || *p_ != ':') return Fail("expected ':'");
      ++p_;
      Field child = Field::kNone;
      if (field == Field::kRoot && key == "action") child = Field::kAction;
      if (field == Field::kRoot && key == "repository") child = Field::kRepository;
      if (field == Field::kRepository && key == "full_name") child = Field::kFullName;
      keys_[static_cast<size_t>(depth)].push_back(std::move(key));
      if (!Value(depth + 1, child)) return false;
      Space();
      if (p_ == end_) return Fail("unterminated object");
      if (*p_ == '}') return ++p_, Unique(keys_[static_cast<size_t>(depth)]);
      if (*p_ != ',') return Fail("expected ',' or '}'");
      ++p_;
    }
  }

  bool Unique(std::vector<std::string>& keys) {
    std::sort(keys.begin(), keys.end());
    auto twice = std::adjacent_find(keys.begin(), keys.end());
    if (twice == keys.end()) return true;
    --p_;              // the error names the object's closing brace
    std::string name;  // printable ASCII only: the message goes back in a JSON answer
    for (char c : twice->substr(0, 64)) name.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    return Fail(("member name \"" + name + "\" given twice").c_str());
  }

  bool Array(int depth) {
    ++p_;  // '['
    Space();
    if (p_ < end_ && *p_ == ']') return ++p_, true;
    while (true) {
      if (!Value(depth + 1, Field::kNone)) return false;
      Space();
      if (p_ == end_) return Fail("unterminated array");
      if (*p_ == ']') return ++p_, true;
      if (*p_ != ',') return Fail("expected ',' or ']'");
      ++p_;
    }
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool Unicode(uint32_t* cp) {  // after "\u"
    if (end_ - p_ < 4) return Fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexDigit(p_[i]);
      if (h < 0) return Fail("bad \\u escape");
      v = v << 4 | static_cast<uint32_t>(h);
    }
    p_ += 4;
    *cp = v;
    return true;
  }
  bool Escape(std::string* out) {
    if (++p_ == end_) return Fail("unterminated escape");
    char c = *p_++;
    static const char kEscapes[] = "\"\\/bfnrt";
    static const char kDecoded[] = "\"\\/\b\f\n\r\t";
    const char* simple = c == '\0' ? nullptr : strchr(kEscapes, c);
    if (simple) {
      if (out) out->push_back(kDecoded[simple - kEscapes]);
      return true;
    }
    if (c != 'u') return Fail("bad escape");
    uint32_t cp = 0;
    if (!Unicode(&cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
      p_ += 2;
      uint32_t low = 0;
      if (!Unicode(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return Fail("bad surrogate pair");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      return Fail("lone surrogate");
    }
    if (out) AppendUtf8(out, cp);
    return true;
  }
  // One UTF-8 sequence starting at a byte >= 0x80; rejects overlongs and surrogates.
  bool Utf8(std::string* out) {
    const unsigned char* u = reinterpret_cast<const unsigned char*>(p_);
    size_t left = static_cast<size_t>(end_ - p_);
    size_t n = 0;
    uint32_t cp = 0, min = 0;
    if ((u[0] & 0xE0) == 0xC0)
      n = 2, cp = u[0] & 0x1F, min = 0x80;
    else if ((u[0] & 0xF0) == 0xE0)
      n = 3, cp = u[0] & 0x0F, min = 0x800;
    else if ((u[0] & 0xF8) == 0xF0)
      n = 4, cp = u[0] & 0x07, min = 0x10000;
    else
      return Fail("invalid UTF-8");
    if (left < n) return Fail("truncated UTF-8");
    for (size_t i = 1; i < n; ++i) {
      if ((u[i] & 0xC0) != 0x80) return Fail("invalid UTF-8");
      cp = cp << 6 | (u[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Fail("invalid UTF-8");
    }
    if (out) out->append(p_, n);
    p_ += n;
    return true;
  }
  // Skips whole 8-byte words of plain string bytes (none a quote, a backslash, a control
  // character or non-ASCII): an issue body is kilobytes of them, and byte by byte this loop was
  // the receiver thread's largest cost after hashing. The byte loop after it is exact.
  void SkipPlain() {
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
    while (end_ - p_ >= 8) {
      uint64_t w;
      memcpy(&w, p_, 8);
      uint64_t special = has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) |
                         ((w - kOnes * 0x20) & ~w & kHigh) | (w & kHigh);
      if (special) return;
      p_ += 8;
    }
  }
  bool String(std::string* out) {
    ++p_;  // '"'
    while (true) {
      const char* run = p_;
      SkipPlain();
      while (p_ < end_) {
        unsigned char c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      if (out) out->append(run, p_);
      if (p_ == end_) return Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') return ++p_, true;
      if (c < 0x20) return Fail("control character in string");
      if (c == '\\') {
        if (!Escape(out)) return false;
      } else if (!Utf8(out)) {
        return false;
      }
    }
  }
  bool Digits() {
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > start || Fail("expected a digit");
  }
  bool Number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_) return Fail("unexpected end");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      Digits();
    } else {
      return Fail("unexpected character");
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!Digits()) return false;
    }
    bool exponent = p_ < end_ && (*p_ == 'e' || *p_ == 'E');
    if (exponent) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!Digits()) return false;
    }
    // nlohmann (the engine's parser) refuses a number beyond a double's range; so does this, or
    // a delivery would be acknowledged that can never be applied. Only a long number or one
    // with an exponent can be that large.
    if ((exponent || p_ - start > 300) &&
        std::isinf(std::strtod(std::string(start, p_).c_str(), nullptr))) {
      return Fail("number out of range");
    }
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  WebhookEnvelope* env_ = nullptr;
  std::vector<std::vector<std::string>> keys_;
  std::string error_;
};

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; InvalidArgument on a bad %.
Result<std::string> FormDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] != '%') {
      out.push_back(in[i]);
    } else if (i + 2 < in.size() && HexDigit(in[i + 1]) >= 0 && HexDigit(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(in[i + 1]) << 4 | HexDigit(in[i + 2])));
      i += 2;
    } else {
      return Status::InvalidArgument("bad form encoding", "a % not followed by two hex digits");
    }
  }
  return out;
}

}  // namespace

Result<std::string> FormPayload(std::string_view body) {
  while (!body.empty()) {
    size_t end = body.find('&');
    std::string_view field = body.substr(0, end);
    if (field.substr(0, 8) == "payload=") return FormDecode(field.substr(8));
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 1);
  }
  return Status::InvalidArgument("a form-encoded delivery has no payload field",
                                 "GitHub sends the JSON as payload=...; or set the webhook's "
                                 "content type to application/json");
}

Result<WebhookEnvelope> ParseEnvelope(std::string_view body) {
  WebhookEnvelope env;
  EnvelopeScanner scanner(body);
  if (!scanner.Scan(&env)) {
    return Status::InvalidArgument("payload is not a JSON object", scanner.error());
  }
  return env;
}

}  // namespace orch
