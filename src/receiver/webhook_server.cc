#include "receiver/webhook_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "github/webhook_signature.h"

namespace orch {
namespace {

using Json = nlohmann::json;

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
      if (!Value(depth + 1, child)) return false;
      Space();
      if (p_ == end_) return Fail("unterminated object");
      if (*p_ == '}') return ++p_, true;
      if (*p_ != ',') return Fail("expected ',' or '}'");
      ++p_;
    }
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
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!Digits()) return false;
    }
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  WebhookEnvelope* env_ = nullptr;
  std::string error_;
};

HttpReply Reply(int status, const Json& body) {
  return HttpReply{.status = status, .body = body.dump()};
}

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

WebhookServer::WebhookServer(WebhookServerOptions options, InboxWriter& inbox, const Clock& clock,
                             std::function<void()> on_stored)
    : options_(std::move(options)), inbox_(inbox), clock_(clock), on_stored_(std::move(on_stored)) {
  last_webhook_at_ = options_.last_webhook_at.value_or(0);
}

WebhookServer::~WebhookServer() { Stop(); }

Status WebhookServer::Start() {
  if (options_.secret.empty()) {
    return Status::InvalidArgument(
        "webhook.secret is empty",
        "refusing to accept unsigned webhooks; set a secret (the same one in GitHub's webhook "
        "settings) or set webhook.enabled: false to rely on polling");
  }
  HttpReceiverOptions ro{.bind = options_.bind,
                         .port = options_.port,
                         .max_body_bytes = options_.max_payload_bytes,
                         .max_connections = options_.max_connections};
  receiver_ = std::make_unique<HttpReceiver>(
      ro, [this](HttpRequest& req, HttpReceiver::Ticket t) { return Handle(req, t); },
      [this] { HandOver(); });
  if (Status s = receiver_->Start(); !s.ok()) {
    receiver_.reset();
    return Status::InvalidArgument(
        "webhook receiver cannot listen on " + options_.bind + ":" + std::to_string(options_.port),
        "the port is in use or the address is not local; change webhook.port or webhook.bind (" +
            s.message() + ")");
  }
  port_ = receiver_->port();
  stopping_ = false;
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "orch-inbox");
    CommitLoop();
  });
  return Status::OK();
}

void WebhookServer::Stop() {
  if (!receiver_) return;
  // The receiver waits for the answers of requests begun, which the commit thread gives.
  receiver_->Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (committer_.joinable()) committer_.join();
  receiver_.reset();
}

std::optional<HttpReply> WebhookServer::Handle(HttpRequest& req, HttpReceiver::Ticket ticket) {
  if (req.path == "/webhook" && req.method == "POST") return Webhook(req, ticket);
  if (req.path == "/health" && (req.method == "GET" || req.method == "HEAD")) return Health();
  return HttpReply{.status = 404, .body = "", .content_type = ""};
}

std::optional<HttpReply> WebhookServer::Webhook(HttpRequest& req, HttpReceiver::Ticket ticket) {
  // The size was checked by the receiver; the signature is checked before anything else reads
  // the body.
  if (!VerifySignature(options_.secret, req.body, req.Header("X-Hub-Signature-256"))) {
    spdlog::debug("webhook: rejected a request with a missing or wrong signature");
    return Reply(401, {{"error", "X-Hub-Signature-256 is missing or does not match"}});
  }
  std::string event(req.Header("X-GitHub-Event"));
  std::string delivery(req.Header("X-GitHub-Delivery"));
  if (event.empty() || delivery.empty()) {
    return Reply(400, {{"error", "X-GitHub-Event and X-GitHub-Delivery are required"}});
  }
  // A webhook whose content type is application/x-www-form-urlencoded sends the JSON as its
  // `payload` field; the signature covered the form, the inbox keeps the JSON.
  std::string_view type = req.Header("Content-Type");
  if (type.substr(0, 33) == "application/x-www-form-urlencoded") {
    Result<std::string> json = FormPayload(req.body);
    if (!json.ok()) return Reply(400, {{"error", json.status().message()}});
    req.body = std::move(json).value();
  }
  Result<WebhookEnvelope> env = ParseEnvelope(req.body);
  if (!env.ok()) return Reply(400, {{"error", env.status().message()}});
  last_webhook_at_ = clock_.NowUnix();
  // Hashed here so the one writer does not have to.
  std::string hash = Sha256Hex(req.body);
  round_.push_back({ticket,
                    delivery,
                    {std::move(delivery), std::move(event), std::move(env->action),
                     std::move(env->repo), std::move(req.body), std::move(hash)}});
  return std::nullopt;  // answered by the commit thread
}

void WebhookServer::HandOver() {
  if (round_.empty()) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = pending_.empty();
    if (was_empty) {
      pending_.swap(round_);
    } else {
      for (Pending& p : round_) pending_.push_back(std::move(p));
    }
  }
  round_.clear();
  if (was_empty) queued_.notify_one();  // else the commit thread was woken already
}

HttpReply WebhookServer::Health() const {
  int64_t last = last_webhook_at_.load();
  Json body = {{"status", "ok"},
               {"signature_verification", !options_.secret.empty()},
               {"webhook_received_recently", last > 0 && clock_.NowUnix() - last <= 300},
               {"last_webhook_at", last > 0 ? Json(last) : Json(nullptr)}};
  return Reply(200, body);
}

void WebhookServer::CommitLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    queued_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and everything is answered
    // Whatever queued while the last batch committed goes in this one.
    std::vector<Pending> batch;
    batch.swap(pending_);
    lock.unlock();
    std::vector<NewDelivery> deliveries;
    deliveries.reserve(batch.size());
    for (Pending& p : batch) deliveries.push_back(std::move(p.delivery));
    Result<std::vector<InboxOutcome>> outcomes = inbox_.SubmitAll(std::move(deliveries));
    std::vector<std::pair<HttpReceiver::Ticket, HttpReply>> answers;
    answers.reserve(batch.size());
    bool stored = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string& id = batch[i].delivery_id;
      HttpReply r;
      if (!outcomes.ok()) {
        r = Reply(503, {{"error", "could not store the delivery; redeliver it later"}});
      } else if ((*outcomes)[i] == InboxOutcome::kDuplicate) {
        r = Reply(200, {{"status", "duplicate"}, {"delivery", id}});
      } else {
        stored = true;
        r = Reply(202, {{"status", InboxOutcomeName((*outcomes)[i])}, {"delivery", id}});
      }
      answers.emplace_back(batch[i].ticket, std::move(r));
    }
    if (!outcomes.ok()) {
      spdlog::error("webhook: {} deliveries not stored: {}", batch.size(),
                    outcomes.status().message());
    }
    if (stored && on_stored_) on_stored_();
    receiver_->Answer(std::move(answers));
    lock.lock();
  }
}

}  // namespace orch
