// HttpReceiver: a small HTTP/1.1 server on one libuv loop thread, made for the webhook receiver,
// which faces the internet (through the user's tunnel) before any signature is checked.
//
// cpp-httplib 0.11.4 (Debian's) holds a thread per keep-alive connection and makes about fifteen
// system calls per request: a poll() before every read and write, getpeername and getsockname,
// and the head and body of each answer sent separately. Measured under the webhook benchmark,
// that and the thread hand-offs were most of the receiver's CPU. Here one thread accepts, reads
// and parses every connection's requests and writes their answers with one send() each. A handler
// answers at once (its return value) or later, from any thread, through Answer(): a request that
// waits for a database commit holds no thread.
//
// What it speaks is HttpRequestParser's (http_parser.h): a head up to 64 KB (trailers included),
// a body by one Content-Length or the chunked coding, framing per RFC 9112 §6 (ambiguous framing
// is 400 and closes; Content-Length beside Transfer-Encoding is answered, then closed),
// `Expect: 100-continue`, keep-alive (the HTTP/1.1 default; HTTP/1.0 only when asked), pipelined
// requests answered in order, one at a time per connection. A body larger than max_body_bytes is
// 413 (by Content-Length, before it is read; chunked, once that many bytes arrived, framing
// included). After an error answer the connection stops writing and reads and drops what the
// client still sends for up to 2 s or 1 MB before closing, so the client sees the answer rather
// than a reset. HEAD is passed to the handler as such and answered without a body. No TLS (orch
// listens on localhost or behind a proxy).
//
// Hostile clients meet deadlines, not idle timers (a byte every few seconds resets an idle timer
// forever): a request's head must be complete within head_timeout of its first byte; its body
// may take body_grace plus one second per min_body_rate bytes received; an answer must be out
// within write_timeout; a connection idle between requests is closed after keep_alive_timeout.
// One waiting for its handler's answer never times out. Connections are capped in total (the
// smaller of max_connections and what RLIMIT_NOFILE leaves after a reserve for the store, logs,
// tmux and git; see ConnectionCapForFileLimit) and per peer address. When a cap is reached a
// newcomer still gets in: the connection to shed is an idle one first (the oldest), else the
// slowest incomplete request (fewest bytes per second) among those older than one second; one
// with a whole request (handled or being answered) is never shed. Only when none can be shed
// does the listener stop being watched (the backlog holds newcomers) until one closes or a
// quarter second passes. Out of descriptors (EMFILE/ENFILE), accept sheds one the same way or
// stops watching the listener for 100 ms, so the loop never spins on a listener that stays
// readable. Everything it read for a request is consumed as it is parsed, so a connection holds
// the unparsed rest of one head and the body decoded so far, never the stream.
//
// Stop() stops accepting, closes idle connections, and waits for every request already begun to
// be read, handled and answered (with `Connection: close`), so a handler's pending answers must
// still arrive through Answer() while Stop() waits. A request whose head has not arrived within
// a second is not waited for (a slowloris would otherwise hold the stop for head_timeout).
//
// The loop is libuv's (base/platform.h says why libuv): its timers, a uv_async to wake it for
// answers and Stop(), and a uv_poll per socket. Sockets are polled rather than libuv's uv_tcp
// streams for two reasons: uv_listen accepts by itself and, out of descriptors, accepts and closes
// everything in the backlog (its EMFILE trick), where orch sheds its own idlest connection or
// leaves newcomers waiting in the backlog; and the reads and the one send() per answer stay the
// ones measured above. What differs between systems in those calls (accept's close-on-exec, no
// SIGPIPE on a send) is base/platform.h's.
//
// Thread safety: Start() and Stop() from one thread; the handler runs on the loop thread;
// Answer() and stats() from any thread.
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
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "receiver/http_parser.h"

namespace orch {

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";  // not sent when the body is empty
};

struct HttpReceiverOptions {
  std::string bind = "127.0.0.1";  // an address or a host name
  int port = 0;                    // 0: any free port
  int64_t max_body_bytes = 25 * 1024 * 1024;
  size_t max_connections = 1024;          // at most; RLIMIT_NOFILE may allow fewer
  size_t max_connections_per_peer = 256;  // from one address (a local tunnel is one address)
  std::chrono::milliseconds head_timeout{10'000};   // a request's head, from its first byte
  std::chrono::milliseconds body_grace{10'000};     // a body's time, plus one second per
  int64_t min_body_rate = 8 * 1024;                 // this many bytes received
  std::chrono::milliseconds write_timeout{10'000};  // an answer, from its first byte
  std::chrono::milliseconds keep_alive_timeout{5'000};
};

// What the receiver did to protect itself, counted since Start().
struct HttpReceiverStats {
  uint64_t accepted = 0;
  uint64_t shed = 0;           // closed to make room for a newcomer
  uint64_t timed_out = 0;      // closed at a deadline
  uint64_t refused = 0;        // a newcomer closed at once: its peer's connections all busy
  uint64_t accept_pauses = 0;  // times the listener stopped being watched (full, or EMFILE)
  size_t connection_cap = 0;   // in force: max_connections or less, from RLIMIT_NOFILE
};

// The connections a receiver may hold when the process may open `nofile` descriptors: what is
// left after a reserve of a quarter (at least 64) for the store, logs, tmux, git and agents.
size_t ConnectionCapForFileLimit(uint64_t nofile);

// Raises this process's soft RLIMIT_NOFILE to its hard limit, at most 65,536 (10,240 on macOS,
// whose launchd starts services at 256), so a service manager's low default does not cap the
// receiver. Returns the soft limit then in force; failures leave it as it was.
uint64_t RaiseOpenFileLimit();

class HttpReceiver {
 public:
  // Names one request waiting for its answer.
  using Ticket = uint64_t;
  // Runs on the loop thread for each complete request. Returns the answer, or nullopt when the
  // answer will come through Answer(ticket, ...). It may move out of the request.
  using Handler = std::function<std::optional<HttpReply>(HttpRequest& request, Ticket ticket)>;

  // `after_round` (optional) runs on the loop thread after each round of events (all that one
  // turn of the loop reported), so the handler's work can be handed on in one go.
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

  HttpReceiverStats stats() const;

 private:
  struct Conn;
  struct Uv;  // the libuv loop and its handles (http_receiver.cc)
  using TimePoint = std::chrono::steady_clock::time_point;

  // After each turn of the loop: after_round, then what is due (accepting again, a sweep).
  void AfterRound();
  // Once draining is done: closes the loop's own handles so that uv_run returns.
  void Finish();
  // How long the loop may sleep: none when idle (-1), else until the next sweep or accept retry.
  int WaitMillis() const;
  void Accept();
  // Stops watching the listener until `until`, or until a connection closes.
  void PauseAccept(TimePoint until);
  void Read(Conn& c);
  // Parses and dispatches what `c` has buffered, as long as it is ready for a request.
  void Process(Conn& c);
  void Dispatch(Conn& c);
  void Respond(Conn& c, const HttpReply& r);
  void Fail(Conn& c, int status);
  // Sends what `c` has queued; finishes the answer when all is out.
  void Flush(Conn& c);
  void FinishAnswer(Conn& c);
  // Notes when `c` entered the parser's current phase (deadlines run from there).
  void NotePhase(Conn& c, TimePoint now);
  void SetInterest(Conn& c);
  // The connection to close for a newcomer (of `peer` when given), or null; see the header.
  Conn* Victim(const std::string* peer, TimePoint now);
  void Shed(Conn& c);
  void Close(Conn& c);
  void DeliverAnswers();
  void BeginDrain();
  void Sweep();
  bool Expired(const Conn& c, TimePoint now) const;

  const HttpReceiverOptions options_;
  const Handler handler_;
  const std::function<void()> after_round_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::unique_ptr<Uv> uv_;  // its uv_async wakes the loop: answers are waiting, or Stop()
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  size_t open_ = 0;  // connections not closed
  std::unordered_map<std::string, size_t> per_peer_;
  size_t cap_ = 0;
  size_t per_peer_cap_ = 0;
  uint64_t next_id_ = 16;
  bool accepting_ = false;
  bool closed_since_pause_ = false;
  TimePoint accept_resume_;
  bool draining_ = false;
  TimePoint last_sweep_;

  std::atomic<uint64_t> accepted_{0}, shed_{0}, timed_out_{0}, refused_{0}, accept_pauses_{0};

  std::mutex answers_mu_;
  std::vector<std::pair<Ticket, HttpReply>> answers_;
  bool loop_running_ = false;  // under answers_mu_: Answer() only wakes a live loop
};

}  // namespace orch

#endif  // ORCH_RECEIVER_HTTP_RECEIVER_H_
