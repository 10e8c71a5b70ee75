// HttpReceiver: a small HTTP/1.1 server on one epoll thread, made for the webhook receiver.
//
// cpp-httplib 0.11.4 (Debian's) holds a thread per keep-alive connection and makes about fifteen
// system calls per request: a poll() before every read and write, getpeername and getsockname,
// and the head and body of each answer sent separately. Measured under the webhook benchmark,
// that and the thread hand-offs were most of the receiver's CPU. Here one thread accepts, reads
// and parses every connection's requests and writes their answers with one send() each. A handler
// answers at once (its return value) or later, from any thread, through Answer(): a request that
// waits for a database commit holds no thread.
//
// What it speaks: a request line and headers (up to 64 KB), a body by Content-Length or the
// chunked transfer coding, `Expect: 100-continue`, keep-alive (the HTTP/1.1 default; HTTP/1.0
// only when asked), pipelined requests answered in order, one at a time per connection. A body
// larger than max_body_bytes is answered 413 without being read and the connection closed; a
// malformed request is answered 400 and closed. A connection idle between requests is closed
// after keep_alive_timeout, one stalled mid-request or mid-answer after read_timeout; one
// waiting for its handler's answer never times out. HEAD is passed to the handler as such and
// answered without a body. No TLS (orch listens on localhost or behind a proxy).
//
// Stop() stops accepting, closes idle connections, and waits for every request already begun to
// be read, handled and answered (with `Connection: close`), so a handler's pending answers must
// still arrive through Answer() while Stop() waits.
//
// Thread safety: Start() and Stop() from one thread; the handler runs on the loop thread;
// Answer() from any thread.
#ifndef ORCH_RECEIVER_HTTP_RECEIVER_H_
#define ORCH_RECEIVER_HTTP_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace orch {

struct HttpRequest {
  std::string method;
  std::string path;  // the request target without its query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header called `name` (case-insensitively); empty when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";  // not sent when the body is empty
};

struct HttpReceiverOptions {
  std::string bind = "127.0.0.1";  // an address or a host name
  int port = 0;                    // 0: any free port
  int64_t max_body_bytes = 25 * 1024 * 1024;
  size_t max_connections = 1024;  // more wait in the listen backlog
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};
};

class HttpReceiver {
 public:
  // Names one request waiting for its answer.
  using Ticket = uint64_t;
  // Runs on the loop thread for each complete request. Returns the answer, or nullopt when the
  // answer will come through Answer(ticket, ...). It may move out of the request.
  using Handler = std::function<std::optional<HttpReply>(HttpRequest& request, Ticket ticket)>;

  // `after_round` (optional) runs on the loop thread after each round of events (all that one
  // epoll_wait reported), so the handler's work can be handed on in one go.
  HttpReceiver(HttpReceiverOptions options, Handler handler,
               std::function<void()> after_round = nullptr);
  ~HttpReceiver();  // Stop()
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  // Binds, listens and starts the loop thread. InvalidArgument naming the address when it cannot
  // be bound; IOError when a descriptor cannot be created.
  Status Start();
  // The bound port (useful with port 0).
  int port() const { return port_; }

  // Answers requests the handler left pending. An unknown ticket (its connection has closed) is
  // ignored. One wake-up of the loop thread per call.
  void Answer(Ticket ticket, HttpReply response);
  void Answer(std::vector<std::pair<Ticket, HttpReply>> answers);

  // See the header comment. Idempotent.
  void Stop();

 private:
  struct Conn;

  void Loop();
  void Accept();
  void Read(Conn& c);
  // Parses and dispatches what `c` has buffered, as long as it is ready for a request.
  void Process(Conn& c);
  bool ParseHead(Conn& c, size_t head_end);
  // 1: the body is complete; 0: more is needed; -1: malformed; -2: too large.
  int DecodeChunks(Conn& c);
  void Dispatch(Conn& c);
  void Respond(Conn& c, const HttpReply& r);
  void Fail(Conn& c, int status);
  // Sends what `c` has queued; finishes the answer when all is out.
  void Flush(Conn& c);
  void SetInterest(Conn& c);
  void Close(Conn& c);
  void DeliverAnswers();
  void BeginDrain();
  void Sweep();

  const HttpReceiverOptions options_;
  const Handler handler_;
  const std::function<void()> after_round_;
  int port_ = 0;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: answers are waiting, or Stop() was called
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::vector<uint64_t> closed_;  // freed after the current batch of events
  uint64_t next_id_ = 16;         // ids below are the listener's and the eventfd's
  bool accepting_ = false;
  bool draining_ = false;
  std::chrono::steady_clock::time_point last_sweep_;

  std::mutex answers_mu_;
  std::vector<std::pair<Ticket, HttpReply>> answers_;
  bool loop_running_ = false;  // under answers_mu_: Answer() only wakes a live loop
};

}  // namespace orch

#endif  // ORCH_RECEIVER_HTTP_RECEIVER_H_
