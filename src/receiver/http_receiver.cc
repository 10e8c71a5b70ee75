#include "receiver/http_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace orch {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr uint64_t kListenerId = 1;
constexpr uint64_t kWakeId = 2;
constexpr auto kSweepEvery = std::chrono::milliseconds(250);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);  // after EMFILE with none to shed
constexpr auto kShedGrace = std::chrono::seconds(1);           // a request this young is not shed
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr uint64_t kLingerBytes = 1024 * 1024;
constexpr int kAcceptsPerRound = 64;
constexpr int kReadsPerEvent = 16;  // then the other connections' turn (epoll reports it again)
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

void Epoll(int ep, int op, int fd, uint32_t events, uint64_t id) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  epoll_ctl(ep, op, fd, &ev);
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
#ifdef __APPLE__
  const rlim_t kMost = 10240;  // OPEN_MAX: setrlimit refuses more when the hard limit is infinite
#else
  const rlim_t kMost = 65536;
#endif
  rlim_t want = std::min(rl.rlim_max, kMost);
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
  uint32_t interest = 0;
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
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
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
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    Status s = Status::IOError("cannot start the HTTP receiver", strerror(errno));
    Stop();
    return s;
  }
  Epoll(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, EPOLLIN, kListenerId);
  Epoll(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, EPOLLIN, kWakeId);
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
    pthread_setname_np(pthread_self(), "orch-http");
    Loop();
  });
  return Status::OK();
}

void HttpReceiver::Stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    loop_running_ = false;
  }
  for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
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
  uint64_t one = 1;
  if (wake) (void)!write(wake_fd_, &one, sizeof(one));
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

void HttpReceiver::Loop() {
  epoll_event events[256];
  while (true) {
    if (stopping_ && !draining_) BeginDrain();
    for (uint64_t id : closed_) conns_.erase(id);
    closed_.clear();
    if (draining_ && conns_.empty()) break;
    if (!accepting_ && !draining_ &&
        (closed_since_pause_ || SteadyClock::now() >= accept_resume_)) {
      accepting_ = true;
      Epoll(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, EPOLLIN, kListenerId);
    }
    int n = epoll_wait(epoll_fd_, events, 256, WaitMillis());
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kListenerId) {
        Accept();
        continue;
      }
      if (id == kWakeId) {
        uint64_t count;
        (void)!read(wake_fd_, &count, sizeof(count));
        DeliverAnswers();
        continue;
      }
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second->closed) continue;
      Conn& c = *it->second;
      if (events[i].events & (EPOLLHUP | EPOLLERR)) {
        Close(c);  // reset, or shut both ways: nothing can be answered any more
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        Flush(c);
        // An answer finished: a pipelined request may be buffered already.
        if (!c.closed && c.state == Conn::State::kReading && c.parser.buffered() > 0) {
          Process(c);
          SetInterest(c);
        }
      }
      if (!c.closed && (events[i].events & EPOLLIN)) Read(c);
    }
    if (after_round_) after_round_();
    if (SteadyClock::now() - last_sweep_ >= kSweepEvery) Sweep();
  }
  for (auto& [id, c] : conns_) {
    if (!c->closed) close(c->fd);
  }
  conns_.clear();
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
  Epoll(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, 0, kListenerId);
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
    int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    c->interest = EPOLLIN;
    ++per_peer_[c->peer];
    ++open_;
    ++accepted_;
    Epoll(epoll_fd_, EPOLL_CTL_ADD, fd, EPOLLIN, c->id);
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
      // A short read drained the socket; if more arrives, epoll says so.
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
    ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
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
  uint32_t want = 0;
  if (c.sent < c.out.size()) want |= EPOLLOUT;
  // Reading stops while a request is handled and answered: pipelined requests wait their turn
  // in the socket, not in memory.
  bool reading = c.state == Conn::State::kReading || c.state == Conn::State::kLinger;
  if (reading && !c.peer_closed) want |= EPOLLIN;
  if (want != c.interest) {
    c.interest = want;
    Epoll(epoll_fd_, EPOLL_CTL_MOD, c.fd, want, c.id);
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
  close(c.fd);  // also leaves the epoll set
  closed_.push_back(c.id);
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
  if (accepting_) Epoll(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, 0, kListenerId);
  accepting_ = false;
  close(listen_fd_);  // new connections are refused from here on
  listen_fd_ = -1;
  for (auto& [id, c] : conns_) {
    // Idle between requests: close. Begun requests are finished and answered, then closed.
    bool idle =
        c->state == Conn::State::kReading && c->parser.phase() == HttpRequestParser::Phase::kIdle;
    if (idle || c->state == Conn::State::kLinger) Close(*c);
  }
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
