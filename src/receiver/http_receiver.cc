#include "receiver/http_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace orch {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxHeaders = 100;
constexpr size_t kMaxChunkLine = 1024;
constexpr uint64_t kListenerId = 1;
constexpr uint64_t kWakeId = 2;
constexpr auto kSweepEvery = std::chrono::milliseconds(250);

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

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return {};
}

struct HttpReceiver::Conn {
  enum class State { kHead, kBody, kChunked, kWaiting, kWriting };
  uint64_t id = 0;
  int fd = -1;
  State state = State::kHead;
  std::string in;  // bytes read; those before `pos` are consumed
  size_t pos = 0;
  std::string out;  // bytes to send; those before `sent` are sent
  size_t sent = 0;
  HttpRequest req;
  uint64_t body_left = 0;   // kBody: bytes still to come; kChunked: of the current chunk
  bool chunk_crlf = false;  // kChunked: the CRLF after a chunk's data is next
  bool trailers = false;    // kChunked: the last chunk was seen, trailers follow
  bool keep_alive = true;   // for the request being served
  bool peer_closed = false;
  bool closed = false;
  bool head_only = false;  // HEAD: answer without the body
  uint32_t interest = 0;
  SteadyClock::time_point progress;  // last byte read or written
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

void HttpReceiver::Loop() {
  epoll_event events[256];
  while (true) {
    if (stopping_ && !draining_) BeginDrain();
    for (uint64_t id : closed_) conns_.erase(id);
    closed_.clear();
    if (draining_ && conns_.empty()) break;
    if (!accepting_ && !draining_ && conns_.size() < options_.max_connections) {
      accepting_ = true;
      Epoll(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, EPOLLIN, kListenerId);
    }
    // Timeouts are swept while connections are open; an idle receiver sleeps.
    int timeout = conns_.empty() ? -1 : static_cast<int>(kSweepEvery.count());
    int n = epoll_wait(epoll_fd_, events, 256, timeout);
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
        if (!c.closed && c.state == Conn::State::kHead && c.pos < c.in.size()) {
          Process(c);
          SetInterest(c);
        }
      }
      if (!c.closed && (events[i].events & EPOLLIN)) Read(c);
    }
    if (after_round_) after_round_();
    if (SteadyClock::now() - last_sweep_ >= kSweepEvery) Sweep();
  }
  for (auto& [id, c] : conns_) close(c->fd);
  conns_.clear();
}

void HttpReceiver::Accept() {
  while (conns_.size() < options_.max_connections) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of descriptors: the backlog keeps the rest
    int one = 1;
    // Without it an answer can wait ~40 ms for the client's delayed ACK.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->progress = SteadyClock::now();
    c->interest = EPOLLIN;
    Epoll(epoll_fd_, EPOLL_CTL_ADD, fd, EPOLLIN, c->id);
    conns_.emplace(c->id, std::move(c));
  }
  accepting_ = false;  // full: the listen backlog holds newcomers until a connection closes
  Epoll(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, 0, kListenerId);
}

void HttpReceiver::Read(Conn& c) {
  char buf[64 * 1024];
  while (true) {
    ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      c.progress = SteadyClock::now();
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
  Process(c);
  if (c.closed) return;
  bool reading = c.state == Conn::State::kHead || c.state == Conn::State::kBody ||
                 c.state == Conn::State::kChunked;
  // Closed by the peer before a whole request: nothing to answer. (One being handled or
  // answered is finished first.)
  if (c.peer_closed && reading) return Close(c);
  SetInterest(c);
}

void HttpReceiver::Process(Conn& c) {
  while (!c.closed) {
    switch (c.state) {
      case Conn::State::kHead: {
        if (c.pos > 0) {  // keep only what follows the last request
          c.in.erase(0, c.pos);
          c.pos = 0;
        }
        if (draining_ && c.in.empty()) return Close(c);
        size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (c.in.size() > kMaxHeadBytes) Fail(c, 431);
          return;
        }
        if (end > kMaxHeadBytes) return Fail(c, 431);
        if (!ParseHead(c, end)) return;  // answered with an error
        break;
      }
      case Conn::State::kBody: {
        size_t have = c.in.size() - c.pos;
        if (have < c.body_left) {
          c.in.reserve(c.pos + c.body_left);
          return;
        }
        c.req.body.assign(c.in, c.pos, c.body_left);
        c.pos += c.body_left;
        c.body_left = 0;
        Dispatch(c);
        break;
      }
      case Conn::State::kChunked: {
        int r = DecodeChunks(c);
        if (r == 0) return;
        if (r < 0) return Fail(c, r == -2 ? 413 : 400);
        Dispatch(c);
        break;
      }
      case Conn::State::kWaiting:
      case Conn::State::kWriting:
        return;
    }
  }
}

bool HttpReceiver::ParseHead(Conn& c, size_t head_end) {
  std::string_view head(c.in.data(), head_end);
  c.pos = head_end + 4;
  c.req = HttpRequest();
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || sp1 == 0) return Fail(c, 400), false;
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return Fail(c, 400), false;
  c.req.method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  c.req.path = target.substr(0, target.find('?'));
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t' ||
        c.req.headers.size() >= kMaxHeaders) {
      return Fail(c, 400), false;
    }
    c.req.headers.emplace_back(line.substr(0, colon), Trim(line.substr(colon + 1)));
  }
  std::string_view connection = c.req.Header("Connection");
  c.keep_alive =
      version == "HTTP/1.1" ? !HasToken(connection, "close") : HasToken(connection, "keep-alive");
  c.head_only = c.req.method == "HEAD";
  std::string_view te = c.req.Header("Transfer-Encoding");
  std::string_view cl = c.req.Header("Content-Length");
  if (!te.empty()) {
    if (!IEquals(Trim(te), "chunked")) return Fail(c, 501), false;
    c.state = Conn::State::kChunked;
    c.body_left = 0;
    c.chunk_crlf = c.trailers = false;
  } else {
    uint64_t length = 0;
    for (char ch : cl) {
      if (ch < '0' || ch > '9') return Fail(c, 400), false;
      if (length > (uint64_t{1} << 50)) break;  // far too large anyway
      length = length * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (length > static_cast<uint64_t>(options_.max_body_bytes)) return Fail(c, 413), false;
    c.state = Conn::State::kBody;
    c.body_left = length;
  }
  // curl and others wait (or hesitate) before sending a large body until told to go on.
  bool body_pending = c.state == Conn::State::kChunked || c.in.size() - c.pos < c.body_left;
  if (body_pending && version == "HTTP/1.1" && IEquals(c.req.Header("Expect"), "100-continue")) {
    c.out += "HTTP/1.1 100 Continue\r\n\r\n";
    Flush(c);
  }
  return !c.closed;
}

int HttpReceiver::DecodeChunks(Conn& c) {
  while (true) {
    size_t have = c.in.size() - c.pos;
    if (c.body_left > 0) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(have, c.body_left));
      c.req.body.append(c.in, c.pos, take);
      c.pos += take;
      c.body_left -= take;
      if (c.body_left > 0) return 0;
      c.chunk_crlf = true;
      continue;
    }
    if (c.chunk_crlf) {
      if (have < 2) return 0;
      if (c.in.compare(c.pos, 2, "\r\n") != 0) return -1;
      c.pos += 2;
      c.chunk_crlf = false;
      continue;
    }
    size_t eol = c.in.find("\r\n", c.pos);
    if (eol == std::string::npos) return have > kMaxChunkLine ? -1 : 0;
    std::string_view line(c.in.data() + c.pos, eol - c.pos);
    c.pos = eol + 2;
    if (c.trailers) {
      if (line.empty()) return 1;  // the end of the trailers and of the request
      continue;
    }
    line = line.substr(0, line.find(';'));  // chunk extensions are ignored
    line = Trim(line);
    if (line.empty() || line.size() > 15) return -1;
    uint64_t size = 0;
    for (char ch : line) {
      int d = ch >= '0' && ch <= '9'   ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                       : -1;
      if (d < 0) return -1;
      size = size << 4 | static_cast<uint64_t>(d);
    }
    if (size == 0) {
      c.trailers = true;
      continue;
    }
    if (c.req.body.size() + size > static_cast<uint64_t>(options_.max_body_bytes)) return -2;
    c.body_left = size;
  }
}

void HttpReceiver::Dispatch(Conn& c) {
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
  c.req = HttpRequest();
  Flush(c);
}

void HttpReceiver::Fail(Conn& c, int status) {
  c.keep_alive = false;  // what follows in the stream cannot be trusted to frame a request
  c.head_only = false;
  Respond(c, HttpReply{.status = status, .body = "", .content_type = ""});
}

void HttpReceiver::Flush(Conn& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      c.progress = SteadyClock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SetInterest(c);
    return Close(c);  // the peer is gone
  }
  c.out.clear();
  c.sent = 0;
  if (c.state != Conn::State::kWriting) return SetInterest(c);  // a 100 Continue went out
  if (!c.keep_alive) return Close(c);
  c.state = Conn::State::kHead;
  SetInterest(c);
}

void HttpReceiver::SetInterest(Conn& c) {
  if (c.closed) return;
  uint32_t want = 0;
  if (c.sent < c.out.size()) want |= EPOLLOUT;
  // Reading stops while a request is handled and answered: pipelined requests wait their turn
  // in the socket, not in memory.
  bool reading = c.state == Conn::State::kHead || c.state == Conn::State::kBody ||
                 c.state == Conn::State::kChunked;
  if (reading && !c.peer_closed) want |= EPOLLIN;
  if (want != c.interest) {
    c.interest = want;
    Epoll(epoll_fd_, EPOLL_CTL_MOD, c.fd, want, c.id);
  }
}

void HttpReceiver::Close(Conn& c) {
  if (c.closed) return;
  c.closed = true;
  close(c.fd);  // also leaves the epoll set
  closed_.push_back(c.id);
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
    if (!c.closed && c.state == Conn::State::kHead) {
      Process(c);  // a pipelined request may be buffered already
      if (!c.closed) SetInterest(c);
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
    if (c->state == Conn::State::kHead && c->pos >= c->in.size()) Close(*c);
  }
}

void HttpReceiver::Sweep() {
  SteadyClock::time_point now = SteadyClock::now();
  last_sweep_ = now;
  for (auto& [id, c] : conns_) {
    if (c->closed || c->state == Conn::State::kWaiting) continue;
    bool idle = c->state == Conn::State::kHead && c->pos >= c->in.size() && c->out.empty();
    auto limit = idle ? options_.keep_alive_timeout : options_.read_timeout;
    if (now - c->progress > limit) Close(*c);
  }
}

}  // namespace orch
