#include "receiver/http_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

#include "base/platform.h"

namespace orch {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kSweepEvery = std::chrono::milliseconds(250);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);  // after EMFILE with none to shed
constexpr auto kShedGrace = std::chrono::seconds(1);           // a request this young is not shed
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr uint64_t kLingerBytes = 1024 * 1024;
constexpr int kAcceptsPerRound = 64;
constexpr int kReadsPerEvent = 16;  // then the other connections' turn (the poll reports it again)
constexpr size_t kReadSize = 64 * 1024;

const char* Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

// The peer's address without its port, as bytes: the key of the per-peer cap.
std::string PeerKey(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    return std::string(reinterpret_cast<const char*>(&in.sin_addr), sizeof(in.sin_addr));
  }
  if (a.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    return std::string(reinterpret_cast<const char*>(&in6.sin6_addr), sizeof(in6.sin6_addr));
  }
  return {};
}

}  // namespace

size_t ConnectionCapForFileLimit(uint64_t nofile) {
  uint64_t reserve = std::max<uint64_t>(nofile / 4, 64);
  return nofile > reserve + 16 ? static_cast<size_t>(std::min<uint64_t>(nofile - reserve, 1 << 30))
                               : 16;
}

uint64_t RaiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rlim_t want = std::min(rl.rlim_max, static_cast<rlim_t>(OpenFileCeiling()));
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rlimit raised = rl;
    raised.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 30 : static_cast<uint64_t>(rl.rlim_cur);
}

struct HttpReceiver::Conn {
  // kReading: a request is being read (or none yet); kWaiting: the handler's answer is awaited;
  // kWriting: the answer is going out; kLinger: after an error answer, the rest is dropped.
  enum class State { kReading, kWaiting, kWriting, kLinger };
  uint64_t id = 0;
  int fd = -1;
  State state = State::kReading;
  std::string peer;
  HttpRequestParser parser;
  HttpRequest req;  // the request being handled
  std::string out;  // bytes to send; those before `sent` are sent
  size_t sent = 0;
  bool keep_alive = true;  // for the request being served
  bool failed = false;     // the answer is an error: linger after it
  bool peer_closed = false;
  bool closed = false;
  bool head_only = false;  // HEAD: answer without the body
  bool served = false;     // a request was answered: kIdle is keep-alive, not a silent newcomer
  int interest = 0;        // UV_READABLE, UV_WRITABLE: what `poll` watches
  uv_poll_t poll{};        // data: this
  HttpRequestParser::Phase phase = HttpRequestParser::Phase::kIdle;
  SteadyClock::time_point since;          // the phase, answer or linger began
  SteadyClock::time_point request_start;  // the current request's first byte (or idle's start)
  uint64_t bytes_at_phase = 0;            // parser.request_bytes() when the phase began
  uint64_t lingered = 0;                  // bytes dropped while lingering

  explicit Conn(const HttpParserLimits& limits) : parser(limits) {}
};

HttpReceiver::HttpReceiver(HttpReceiverOptions options, Handler handler,
                           std::function<void()> after_round)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      after_round_(std::move(after_round)) {}

HttpReceiver::~HttpReceiver() { Stop(); }

// The loop and the handles of its own; connections each have their uv_poll in their Conn. The
// callbacks reach the receiver through the loop's data.
struct HttpReceiver::Uv {
  uv_loop_t loop{};
  uv_async_t wake{};       // answers are waiting, or Stop() was called
  uv_poll_t listener{};    // the listening socket, watched while accepting
  uv_timer_t timer{};      // the next sweep or accept retry
  uv_check_t round{};      // after each turn: AfterRound()
  bool loop_open = false;  // uv_loop_init succeeded: uv_loop_close is due
  bool listener_open = false;

  static HttpReceiver& Of(uv_handle_t* h) { return *static_cast<HttpReceiver*>(h->loop->data); }

  static void OnWake(uv_async_t* a) {
    HttpReceiver& r = Of(reinterpret_cast<uv_handle_t*>(a));
    if (r.stopping_ && !r.draining_) r.BeginDrain();
    r.DeliverAnswers();
  }
  static void OnListener(uv_poll_t* p, int status, int) {
    HttpReceiver& r = Of(reinterpret_cast<uv_handle_t*>(p));
    // An error on the listener (it has none in practice): the retry timer tries again.
    if (status < 0) return r.PauseAccept(SteadyClock::now() + kAcceptRetry);
    r.Accept();
  }
  static void OnConn(uv_poll_t* p, int status, int events) {
    HttpReceiver& r = Of(reinterpret_cast<uv_handle_t*>(p));
    Conn& c = *static_cast<Conn*>(p->data);
    if (c.closed) return;
    if (status < 0) return r.Close(c);  // an error on the socket: nothing can be answered
    if (events & UV_WRITABLE) {
      r.Flush(c);
      // An answer finished: a pipelined request may be buffered already.
      if (!c.closed && c.state == Conn::State::kReading && c.parser.buffered() > 0) {
        r.Process(c);
        r.SetInterest(c);
      }
    }
    if (!c.closed && (events & UV_READABLE)) r.Read(c);
  }
  // Resumes accepting and sweeps when due, then sets the timer for the next time: after each
  // turn and when the timer fires (it fires before the loop polls, so it must do the work).
  static void Tick(HttpReceiver& r) {
    if (!r.accepting_ && !r.draining_ &&
        (r.closed_since_pause_ || SteadyClock::now() >= r.accept_resume_)) {
      r.accepting_ = true;
      uv_poll_start(&r.uv_->listener, UV_READABLE, &OnListener);
    }
    if (SteadyClock::now() - r.last_sweep_ >= kSweepEvery) r.Sweep();
    int wait = r.WaitMillis();
    if (wait < 0) {
      uv_timer_stop(&r.uv_->timer);
    } else {
      uv_timer_start(
          &r.uv_->timer, [](uv_timer_t* t) { Tick(Of(reinterpret_cast<uv_handle_t*>(t))); },
          static_cast<uint64_t>(wait), 0);
    }
  }
  static void OnClosed(uv_handle_t* h) {
    HttpReceiver& r = Of(h);
    r.conns_.erase(static_cast<Conn*>(h->data)->id);
    if (r.draining_ && r.conns_.empty()) r.Finish();
  }
};

Status HttpReceiver::Start() {
  std::string where = options_.bind + ":" + std::to_string(options_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(options_.bind.c_str(), std::to_string(options_.port).c_str(), &hints, &found) !=
      0) {
    return Status::InvalidArgument("cannot listen on " + where, "unknown address");
  }
  for (addrinfo* a = found; a && listen_fd_ < 0; a = a->ai_next) {
    int fd = CloexecSocket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    // A burst of new connections must not overflow the backlog (httplib's was 5).
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
      listen_fd_ = fd;
    } else {
      close(fd);
    }
  }
  freeaddrinfo(found);
  if (listen_fd_ < 0) {
    return Status::InvalidArgument("cannot listen on " + where, strerror(errno));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  uv_ = std::make_unique<Uv>();
  // Every handle is made here, before the thread runs; from then on only the loop touches them.
  int rc = uv_loop_init(&uv_->loop);
  uv_->loop_open = rc == 0;
  if (rc == 0) {
    uv_->loop.data = this;
    uv_async_init(&uv_->loop, &uv_->wake, &Uv::OnWake);
    uv_timer_init(&uv_->loop, &uv_->timer);
    uv_check_init(&uv_->loop, &uv_->round);
    uv_check_start(&uv_->round,
                   [](uv_check_t* c) { Uv::Of(reinterpret_cast<uv_handle_t*>(c)).AfterRound(); });
    rc = uv_poll_init_socket(&uv_->loop, &uv_->listener, listen_fd_);  // non-blocking now
    uv_->listener_open = rc == 0;
    if (rc == 0) rc = uv_poll_start(&uv_->listener, UV_READABLE, &Uv::OnListener);
  }
  if (rc != 0) {
    Status s = Status::IOError("cannot start the HTTP receiver", uv_strerror(rc));
    Stop();
    return s;
  }
  rlimit rl{};
  uint64_t nofile = getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY
                        ? uint64_t{1} << 20
                        : static_cast<uint64_t>(rl.rlim_cur);
  cap_ = std::min(options_.max_connections, ConnectionCapForFileLimit(nofile));
  per_peer_cap_ = std::max<size_t>(1, std::min(options_.max_connections_per_peer, cap_));
  accepting_ = true;
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    loop_running_ = true;
  }
  last_sweep_ = SteadyClock::now();
  thread_ = std::thread([this] {
    SetThreadName("orch-http");
    uv_run(&uv_->loop, UV_RUN_DEFAULT);
  });
  return Status::OK();
}

void HttpReceiver::Stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    uv_async_send(&uv_->wake);
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    loop_running_ = false;
  }
  if (uv_ && uv_->loop_open) {
    if (uv_loop_alive(&uv_->loop)) {
      // Start() failed after making handles: close them and let the loop finish them.
      uv_walk(
          &uv_->loop,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
          },
          nullptr);
      uv_run(&uv_->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&uv_->loop);
  }
  uv_.reset();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

void HttpReceiver::Answer(Ticket ticket, HttpReply response) {
  std::vector<std::pair<Ticket, HttpReply>> one;
  one.emplace_back(ticket, std::move(response));
  Answer(std::move(one));
}

void HttpReceiver::Answer(std::vector<std::pair<Ticket, HttpReply>> answers) {
  std::lock_guard<std::mutex> lock(answers_mu_);
  if (!loop_running_) return;
  bool wake = answers_.empty();  // else a wake-up is already on its way
  if (wake) {
    answers_ = std::move(answers);
  } else {
    for (auto& a : answers) answers_.push_back(std::move(a));
  }
  if (wake) uv_async_send(&uv_->wake);
}

HttpReceiverStats HttpReceiver::stats() const {
  HttpReceiverStats s;
  s.accepted = accepted_;
  s.shed = shed_;
  s.timed_out = timed_out_;
  s.refused = refused_;
  s.accept_pauses = accept_pauses_;
  s.connection_cap = cap_;
  return s;
}

void HttpReceiver::AfterRound() {
  if (after_round_) after_round_();
  Uv::Tick(*this);
}

void HttpReceiver::Finish() {
  {
    // From here Answer() no longer wakes the loop (its uv_async is closing).
    std::lock_guard<std::mutex> lock(answers_mu_);
    loop_running_ = false;
  }
  if (uv_->listener_open) uv_close(reinterpret_cast<uv_handle_t*>(&uv_->listener), nullptr);
  uv_->listener_open = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&uv_->wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&uv_->timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&uv_->round), nullptr);
}

int HttpReceiver::WaitMillis() const {
  // Deadlines are swept while connections are open; an idle receiver sleeps.
  if (!accepting_ && !draining_) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(accept_resume_ - SteadyClock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count(), 0, kSweepEvery.count()));
  }
  return conns_.empty() ? -1 : static_cast<int>(kSweepEvery.count());
}

void HttpReceiver::PauseAccept(TimePoint until) {
  if (!accepting_) return;
  accepting_ = false;
  closed_since_pause_ = false;
  accept_resume_ = until;
  ++accept_pauses_;
  uv_poll_stop(&uv_->listener);
}

void HttpReceiver::Accept() {
  SteadyClock::time_point now = SteadyClock::now();
  for (int i = 0; i < kAcceptsPerRound && accepting_; ++i) {
    Conn* victim = nullptr;
    if (open_ >= cap_) {
      victim = Victim(nullptr, now);
      // Full of requests that may not be shed: the listen backlog holds newcomers.
      if (!victim) return PauseAccept(now + kSweepEvery);
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = AcceptCloexec(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM) return;
      // Out of descriptors. The listener stays readable, so retrying at once would spin: free
      // one by shedding, or stop watching it until a connection closes or a moment passes.
      if (!victim) victim = Victim(nullptr, now);
      if (!victim) return PauseAccept(now + kAcceptRetry);
      Shed(*victim);
      continue;
    }
    if (victim) Shed(*victim);
    std::string peer = PeerKey(addr);
    if (per_peer_[peer] >= per_peer_cap_) {
      Conn* mine = Victim(&peer, now);
      if (!mine) {
        close(fd);  // every connection of this peer has a request in hand
        ++refused_;
        continue;
      }
      Shed(*mine);
    }
    int one = 1;
    // Without it an answer can wait ~40 ms for the client's delayed ACK.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>(HttpParserLimits{.max_head_bytes = 64 * 1024,
                                                     .max_headers = 100,
                                                     .max_body_bytes = options_.max_body_bytes});
    c->id = next_id_++;
    c->fd = fd;
    c->peer = std::move(peer);
    c->since = c->request_start = now;
    if (uv_poll_init_socket(&uv_->loop, &c->poll, fd) != 0) {  // also makes it non-blocking
      close(fd);
      continue;
    }
    c->poll.data = c.get();
    c->interest = UV_READABLE;
    uv_poll_start(&c->poll, UV_READABLE, &Uv::OnConn);
    ++per_peer_[c->peer];
    ++open_;
    ++accepted_;
    conns_.emplace(c->id, std::move(c));
  }
}

void HttpReceiver::Read(Conn& c) {
  char buf[kReadSize];
  for (int i = 0; i < kReadsPerEvent; ++i) {
    ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n > 0) {
      if (c.state == Conn::State::kLinger) {
        c.lingered += static_cast<uint64_t>(n);
        if (c.lingered > kLingerBytes) return Close(c);
        continue;
      }
      // Parsed piece by piece, so a fast sender's stream is consumed, not buffered.
      c.parser.Append(std::string_view(buf, static_cast<size_t>(n)));
      Process(c);
      if (c.closed || c.state != Conn::State::kReading) break;
      // A short read drained the socket; if more arrives, the poll says so.
      if (static_cast<size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // End of stream or an error: nothing more comes. A request already read is still served.
    c.peer_closed = true;
    break;
  }
  if (c.closed) return;
  if (c.state == Conn::State::kLinger) {
    if (c.peer_closed) Close(c);
    return;
  }
  // Closed by the peer before a whole request: nothing to answer. (One being handled or
  // answered is finished first.)
  if (c.peer_closed && c.state == Conn::State::kReading) return Close(c);
  NotePhase(c, SteadyClock::now());
  SetInterest(c);
}

void HttpReceiver::Process(Conn& c) {
  while (!c.closed && c.state == Conn::State::kReading) {
    if (draining_ && c.parser.phase() == HttpRequestParser::Phase::kIdle) return Close(c);
    switch (c.parser.Next()) {
      case HttpRequestParser::Event::kNeedMore:
        return;
      case HttpRequestParser::Event::kContinue:
        // curl and others wait (or hesitate) before sending a large body until told to go on.
        c.out += "HTTP/1.1 100 Continue\r\n\r\n";
        Flush(c);
        break;
      case HttpRequestParser::Event::kError:
        return Fail(c, c.parser.error_status());
      case HttpRequestParser::Event::kRequest:
        Dispatch(c);
        break;
    }
  }
}

void HttpReceiver::Dispatch(Conn& c) {
  c.keep_alive = c.parser.keep_alive();
  c.head_only = c.parser.head_only();
  c.failed = false;
  c.req = c.parser.TakeRequest();
  c.state = Conn::State::kWaiting;
  std::optional<HttpReply> r = handler_(c.req, c.id);
  if (r) Respond(c, *r);
}

void HttpReceiver::Respond(Conn& c, const HttpReply& r) {
  bool keep = c.keep_alive && !draining_ && !c.peer_closed;
  c.keep_alive = keep;
  c.out += "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) + "\r\n";
  if (!r.body.empty()) c.out += "Content-Type: " + r.content_type + "\r\n";
  c.out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  c.out += keep ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!c.head_only) c.out += r.body;
  c.state = Conn::State::kWriting;
  c.since = SteadyClock::now();
  c.req = HttpRequest();
  Flush(c);
}

void HttpReceiver::Fail(Conn& c, int status) {
  c.keep_alive = false;  // what follows in the stream cannot be trusted to frame a request
  c.head_only = false;
  c.failed = true;
  Respond(c, HttpReply{.status = status, .body = "", .content_type = ""});
}

void HttpReceiver::Flush(Conn& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = SendNoSignal(c.fd, c.out.data() + c.sent, c.out.size() - c.sent);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SetInterest(c);
    return Close(c);  // the peer is gone
  }
  c.out.clear();
  c.sent = 0;
  if (c.state != Conn::State::kWriting) return SetInterest(c);  // a 100 Continue went out
  FinishAnswer(c);
}

void HttpReceiver::FinishAnswer(Conn& c) {
  SteadyClock::time_point now = SteadyClock::now();
  if (c.keep_alive) {
    c.state = Conn::State::kReading;
    c.served = true;
    c.phase = HttpRequestParser::Phase::kComplete;  // so that NotePhase starts the next one
    NotePhase(c, now);
    return SetInterest(c);
  }
  if (!c.failed || c.peer_closed || draining_) return Close(c);
  // Closing now, with the client's bytes unread, would send a reset that can destroy the
  // answer before the client reads it. Half-close and drop what still comes, for a while.
  shutdown(c.fd, SHUT_WR);
  c.state = Conn::State::kLinger;
  c.since = now;
  c.parser = HttpRequestParser();  // frees what it held
  SetInterest(c);
}

void HttpReceiver::NotePhase(Conn& c, TimePoint now) {
  if (c.closed || c.state != Conn::State::kReading) return;
  HttpRequestParser::Phase p = c.parser.phase();
  if (p == c.phase) return;
  if (c.phase == HttpRequestParser::Phase::kIdle || p == HttpRequestParser::Phase::kIdle ||
      c.phase == HttpRequestParser::Phase::kComplete) {
    c.request_start = now;
  }
  c.phase = p;
  c.since = now;
  c.bytes_at_phase = c.parser.request_bytes();
}

void HttpReceiver::SetInterest(Conn& c) {
  if (c.closed) return;
  int want = 0;
  if (c.sent < c.out.size()) want |= UV_WRITABLE;
  // Reading stops while a request is handled and answered: pipelined requests wait their turn
  // in the socket, not in memory.
  bool reading = c.state == Conn::State::kReading || c.state == Conn::State::kLinger;
  if (reading && !c.peer_closed) want |= UV_READABLE;
  if (want != c.interest) {
    c.interest = want;
    if (want == 0) {
      uv_poll_stop(&c.poll);
    } else {
      uv_poll_start(&c.poll, want, &Uv::OnConn);
    }
  }
}

HttpReceiver::Conn* HttpReceiver::Victim(const std::string* peer, TimePoint now) {
  // Ranked: lingering or idle between requests first (the oldest), then the incomplete request
  // with the fewest bytes per second (the oldest on a tie); a newcomer that has sent nothing is
  // incomplete, not idle. A request younger than kShedGrace is not ranked.
  Conn* best = nullptr;
  int best_class = 0;
  double best_rate = 0;
  for (auto& [id, cp] : conns_) {
    Conn& c = *cp;
    if (c.closed || (peer && c.peer != *peer)) continue;
    bool idle = c.state == Conn::State::kLinger || (c.state == Conn::State::kReading && c.served &&
                                                    c.phase == HttpRequestParser::Phase::kIdle);
    if (!idle && (c.state != Conn::State::kReading || now - c.request_start < kShedGrace)) {
      continue;
    }
    int cls = idle ? 2 : 1;
    double age = std::chrono::duration<double>(now - c.request_start).count();
    double rate = idle ? 0 : static_cast<double>(c.parser.request_bytes()) / std::max(age, 1e-3);
    bool better =
        !best || cls > best_class ||
        (cls == best_class &&
         (rate < best_rate || (rate == best_rate && c.request_start < best->request_start)));
    if (better) {
      best = &c;
      best_class = cls;
      best_rate = rate;
    }
  }
  return best;
}

void HttpReceiver::Shed(Conn& c) {
  ++shed_;
  Close(c);
}

void HttpReceiver::Close(Conn& c) {
  if (c.closed) return;
  c.closed = true;
  uv_poll_stop(&c.poll);
  close(c.fd);
  // Freed by the close callback, after this turn of the loop: nothing holds `c` then.
  uv_close(reinterpret_cast<uv_handle_t*>(&c.poll), &Uv::OnClosed);
  --open_;
  auto it = per_peer_.find(c.peer);
  if (it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
  closed_since_pause_ = true;
}

void HttpReceiver::DeliverAnswers() {
  std::vector<std::pair<Ticket, HttpReply>> answers;
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    answers.swap(answers_);
  }
  for (auto& [ticket, response] : answers) {
    auto it = conns_.find(ticket);
    if (it == conns_.end() || it->second->closed) continue;
    Conn& c = *it->second;
    if (c.state != Conn::State::kWaiting) continue;
    Respond(c, response);
    if (!c.closed && c.state == Conn::State::kReading && c.parser.buffered() > 0) {
      Process(c);  // a pipelined request may be buffered already
      NotePhase(c, SteadyClock::now());
      SetInterest(c);
    }
  }
}

void HttpReceiver::BeginDrain() {
  draining_ = true;
  accepting_ = false;
  if (uv_->listener_open) uv_close(reinterpret_cast<uv_handle_t*>(&uv_->listener), nullptr);
  uv_->listener_open = false;
  close(listen_fd_);  // new connections are refused from here on
  listen_fd_ = -1;
  for (auto& [id, c] : conns_) {
    // Idle between requests: close. Begun requests are finished and answered, then closed.
    bool idle =
        c->state == Conn::State::kReading && c->parser.phase() == HttpRequestParser::Phase::kIdle;
    if (idle || c->state == Conn::State::kLinger) Close(*c);
  }
  if (conns_.empty()) Finish();
}

bool HttpReceiver::Expired(const Conn& c, TimePoint now) const {
  auto age = now - c.since;
  switch (c.state) {
    case Conn::State::kWaiting:
      return false;
    case Conn::State::kWriting:
      return age > options_.write_timeout;
    case Conn::State::kLinger:
      return age > kLingerTime;
    case Conn::State::kReading:
      break;
  }
  switch (c.phase) {
    case HttpRequestParser::Phase::kIdle:
      return age > options_.keep_alive_timeout;
    case HttpRequestParser::Phase::kBody: {
      // The grace, plus a second for every min_body_rate bytes the body brought.
      uint64_t bytes = c.parser.request_bytes() - c.bytes_at_phase;
      auto earned = std::chrono::milliseconds(static_cast<int64_t>(
          bytes * 1000 / static_cast<uint64_t>(std::max<int64_t>(options_.min_body_rate, 1))));
      return age > options_.body_grace + earned;
    }
    default:
      // Stopping, a head still coming after a second is a slow client's: not worth waiting for.
      return age > (draining_
                        ? std::min<std::chrono::milliseconds>(options_.head_timeout, kShedGrace)
                        : options_.head_timeout);
  }
}

void HttpReceiver::Sweep() {
  SteadyClock::time_point now = SteadyClock::now();
  last_sweep_ = now;
  for (auto& [id, c] : conns_) {
    if (c->closed || !Expired(*c, now)) continue;
    if (c->state != Conn::State::kLinger) ++timed_out_;
    Close(*c);
  }
}

}  // namespace orch
