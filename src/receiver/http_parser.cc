#include "receiver/http_parser.h"

#include <strings.h>

#include <algorithm>

namespace orch {
namespace {

constexpr size_t kMaxChunkLine = 1024;  // a chunk-size line with its extensions
constexpr size_t kMaxBodyReserve = 1024 * 1024;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated `list` holds `token` (case-insensitively).
bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (IEquals(Trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 9110 §5.6.2: tchar.
bool IsTokenChar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 &&
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

// A field value's characters: visible, obs-text, space and tab; no CR, LF, NUL or other CTL.
bool IsFieldText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    unsigned char c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A chunk-size line without its CRLF: 1*HEXDIG [BWS ";" extensions]. -1 when malformed.
int64_t ChunkSize(std::string_view line) {
  size_t digits = 0;
  uint64_t size = 0;
  while (digits < line.size() && HexValue(line[digits]) >= 0) {
    size = size << 4 | static_cast<uint64_t>(HexValue(line[digits]));
    if (++digits > 15) return -1;  // beyond any body we take
  }
  if (digits == 0) return -1;
  std::string_view rest = Trim(line.substr(digits));
  if (!rest.empty() && (rest.front() != ';' || !IsFieldText(rest))) return -1;
  return static_cast<int64_t>(size);
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return {};
}

HttpRequestParser::Phase HttpRequestParser::phase() const {
  switch (state_) {
    case State::kHead:
      return request_bytes() == 0 ? Phase::kIdle : Phase::kHead;
    case State::kDone:
      return Phase::kComplete;
    case State::kError:
      return Phase::kError;
    default:
      return Phase::kBody;
  }
}

HttpRequestParser::Event HttpRequestParser::Next() {
  Event e = Event::kNeedMore;
  if (state_ == State::kError) return Event::kError;
  if (state_ == State::kHead) e = ParseHead();
  if (e == Event::kNeedMore && state_ == State::kBody) e = ParseBody();
  if (e == Event::kNeedMore && state_ >= State::kChunkSize && state_ <= State::kTrailers) {
    e = ParseChunks();
  }
  if (state_ == State::kDone) e = Event::kRequest;
  if (state_ == State::kError) e = Event::kError;
  Compact();
  return e;
}

HttpRequest HttpRequestParser::TakeRequest() {
  HttpRequest r = std::move(req_);
  req_ = HttpRequest();
  state_ = State::kHead;
  request_consumed_ = head_bytes_ = body_left_ = body_wire_ = 0;
  scan_from_ = 0;
  return r;
}

HttpRequestParser::Event HttpRequestParser::Fail(int status) {
  state_ = State::kError;
  error_ = status;
  close_after_ = true;
  return Event::kError;
}

void HttpRequestParser::Consume(size_t n) {
  pos_ += n;
  request_consumed_ += n;
}

void HttpRequestParser::Compact() {
  if (pos_ == 0) return;
  if (pos_ >= in_.size() && in_.capacity() > 64 * 1024) {
    std::string().swap(in_);  // an idle connection keeps no large buffer
  } else {
    in_.erase(0, pos_);
  }
  pos_ = 0;
}

HttpRequestParser::Event HttpRequestParser::ParseHead() {
  // RFC 9112 §2.2: empty lines before a request line are ignored (they still count).
  while (scan_from_ == 0 && in_.size() - pos_ >= 2 && in_[pos_] == '\r' && in_[pos_ + 1] == '\n') {
    Consume(2);
  }
  size_t end = in_.find("\r\n\r\n", pos_ + scan_from_);
  if (end == std::string::npos) {
    if (request_bytes() > limits_.max_head_bytes) return Fail(431);
    scan_from_ = std::max<size_t>(buffered(), 3) - 3;
    return Event::kNeedMore;
  }
  size_t head_len = end + 4 - pos_;
  if (request_consumed_ + head_len > limits_.max_head_bytes) return Fail(431);
  if (!ParseFields(std::string_view(in_).substr(pos_, end - pos_))) return Event::kError;
  Consume(head_len);
  head_bytes_ = request_consumed_;
  scan_from_ = 0;
  if (!Frame()) return Event::kError;
  if (expect_continue_ && state_ != State::kDone && buffered() == 0) return Event::kContinue;
  return Event::kNeedMore;
}

bool HttpRequestParser::ParseFields(std::string_view head) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  // METHOD SP target SP version, nothing else (a space in the target is not one).
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400), false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  bool target_ok = !target.empty() && std::all_of(target.begin(), target.end(),
                                                  [](char c) { return c > 0x20 && c < 0x7f; });
  if (!IsToken(method) || !target_ok || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return Fail(400), false;
  }
  http11_ = version == "HTTP/1.1";
  req_.method = method;
  req_.path = target.substr(0, target.find('?'));
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    // No space before the colon, no obs-fold, no bare CR or LF: each would be read differently
    // by some proxy in front of us.
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)) ||
        !IsFieldText(line.substr(colon + 1)) || req_.headers.size() >= limits_.max_headers) {
      return Fail(400), false;
    }
    req_.headers.emplace_back(line.substr(0, colon), Trim(line.substr(colon + 1)));
  }
  return true;
}

// RFC 9112 §6: how the body is framed, or why the request cannot be trusted.
bool HttpRequestParser::Frame() {
  std::string_view connection = req_.Header("Connection");
  keep_alive_ = http11_ ? !HasToken(connection, "close") : HasToken(connection, "keep-alive");
  head_only_ = req_.method == "HEAD";
  expect_continue_ = http11_ && IEquals(req_.Header("Expect"), "100-continue");
  close_after_ = false;
  int cl_fields = 0, te_fields = 0;
  std::string_view cl, te;
  for (const auto& [k, v] : req_.headers) {
    if (IEquals(k, "Content-Length")) cl = v, ++cl_fields;
    if (IEquals(k, "Transfer-Encoding")) te = v, ++te_fields;
  }
  if (te_fields > 0) {
    if (te_fields > 1 || !http11_) return Fail(400), false;
    size_t comma = te.rfind(',');
    std::string_view last = Trim(comma == std::string_view::npos ? te : te.substr(comma + 1));
    if (!IEquals(last, "chunked")) return Fail(400), false;
    if (comma != std::string_view::npos) {
      // Another coding first: chunked twice is malformed, anything else we cannot decode.
      return Fail(HasToken(te.substr(0, comma), "chunked") ? 400 : 501), false;
    }
    close_after_ = cl_fields > 0;  // §6.1: the answer closes the connection
    state_ = State::kChunkSize;
    body_wire_ = 0;
    return true;
  }
  if (cl_fields > 1 || (cl_fields == 1 && cl.empty())) return Fail(400), false;
  uint64_t length = 0;
  for (char ch : cl) {
    if (ch < '0' || ch > '9') return Fail(400), false;
    if (length > static_cast<uint64_t>(limits_.max_body_bytes)) continue;  // 413 below
    length = length * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (length > static_cast<uint64_t>(limits_.max_body_bytes)) return Fail(413), false;
  body_left_ = length;
  state_ = length > 0 ? State::kBody : State::kDone;
  if (length > 0) req_.body.reserve(std::min<size_t>(length, kMaxBodyReserve));
  return true;
}

HttpRequestParser::Event HttpRequestParser::ParseBody() {
  size_t take = static_cast<size_t>(std::min<uint64_t>(buffered(), body_left_));
  req_.body.append(in_, pos_, take);
  Consume(take);
  body_left_ -= take;
  if (body_left_ > 0) return Event::kNeedMore;
  state_ = State::kDone;
  return Event::kRequest;
}

HttpRequestParser::Event HttpRequestParser::ParseChunks() {
  const auto max_body = static_cast<uint64_t>(limits_.max_body_bytes);
  while (true) {
    if (body_wire_ > max_body) return Fail(413);
    if (state_ == State::kChunkData) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(buffered(), body_left_));
      req_.body.append(in_, pos_, take);
      Consume(take);
      body_wire_ += take;
      body_left_ -= take;
      if (body_left_ > 0) return Event::kNeedMore;
      state_ = State::kChunkCrlf;
      continue;
    }
    if (state_ == State::kChunkCrlf) {
      if (buffered() < 2) return Event::kNeedMore;
      if (in_.compare(pos_, 2, "\r\n") != 0) return Fail(400);
      Consume(2);
      body_wire_ += 2;
      state_ = State::kChunkSize;
      continue;
    }
    size_t eol = in_.find("\r\n", pos_);
    if (eol == std::string::npos) {
      if (state_ == State::kTrailers) {
        if (head_bytes_ + buffered() > limits_.max_head_bytes) return Fail(431);
      } else if (buffered() > kMaxChunkLine) {
        return Fail(400);
      }
      if (body_wire_ + buffered() > max_body) return Fail(413);
      return Event::kNeedMore;
    }
    std::string_view line = std::string_view(in_).substr(pos_, eol - pos_);
    Consume(line.size() + 2);
    body_wire_ += line.size() + 2;
    if (state_ == State::kTrailers) {
      // Trailer fields are dropped, but bounded with the head and checked like its fields.
      head_bytes_ += line.size() + 2;
      if (head_bytes_ > limits_.max_head_bytes) return Fail(431);
      if (line.empty()) return state_ = State::kDone, Event::kRequest;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)) ||
          !IsFieldText(line.substr(colon + 1))) {
        return Fail(400);
      }
      continue;
    }
    int64_t size = line.size() > kMaxChunkLine ? -1 : ChunkSize(line);
    if (size < 0) return Fail(400);
    if (size == 0) {
      state_ = State::kTrailers;
    } else if (static_cast<uint64_t>(size) > max_body - std::min(body_wire_, max_body)) {
      return Fail(413);
    } else {
      body_left_ = static_cast<uint64_t>(size);
      state_ = State::kChunkData;
    }
  }
}

}  // namespace orch
