#include "receiver/http_receiver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace orch {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A raw TCP client, so tests can send exactly the bytes they mean (pipelining, chunks, half
// requests) and see exactly what comes back.
class RawClient {
 public:
  // From `source` (an address of 127/8, all of which is loopback on Linux) when given.
  explicit RawClient(int port, const char* source = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (source) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) { ASSERT_EQ(write(fd_, s.data(), s.size()), (ssize_t)s.size()); }
  // Like Send, but a closed connection is not a failure; false then.
  bool TrySend(const std::string& s) {
    signal(SIGPIPE, SIG_IGN);  // a closed connection is EPIPE here, not the end of the tests
    return send(fd_, s.data(), s.size(), 0) == static_cast<ssize_t>(s.size());
  }
  // Reads until `want` occurrences of "HTTP/1.1 " were seen with their bodies, the peer closes,
  // or `timeout` passes. Returns what was read.
  std::string Read(int want, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (Complete() < want) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) {
        eof_ = true;
        break;
      }
      in_.append(buf, static_cast<size_t>(n));
    }
    return in_;
  }
  // Whether the server closed the connection (within `timeout`).
  bool Closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    Read(1 << 20, timeout);
    return eof_;
  }

 private:
  int Complete() const {
    int n = 0;
    size_t at = 0;
    while (true) {
      size_t head = in_.find("HTTP/1.1 ", at);
      if (head == std::string::npos) return n;
      size_t end = in_.find("\r\n\r\n", head);
      if (end == std::string::npos) return n;
      size_t cl = in_.find("Content-Length: ", head);
      size_t len = cl == std::string::npos || cl > end ? 0 : atol(in_.c_str() + cl + 16);
      if (in_.size() < end + 4 + len) return n;
      ++n;
      at = end + 4 + len;
    }
  }
  int fd_;
  bool connected_ = false;
  bool eof_ = false;
  std::string in_;
};

class HttpReceiverTest : public ::testing::Test {
 protected:
  // Echoes the method, path and body; a path of /later leaves the answer to the test.
  void StartWith(HttpReceiverOptions options) {
    options.port = 0;
    receiver_ = std::make_unique<HttpReceiver>(
        options, [this](HttpRequest& req, HttpReceiver::Ticket t) -> std::optional<HttpReply> {
          if (req.path == "/later") {
            std::lock_guard<std::mutex> lock(mu_);
            later_.push_back(t);
            return std::nullopt;
          }
          return HttpReply{.status = 200,
                           .body = req.method + " " + req.path + " " + req.body,
                           .content_type = "text/plain"};
        });
    ASSERT_TRUE(receiver_->Start().ok());
  }
  void SetUp() override { StartWith({}); }
  std::vector<HttpReceiver::Ticket> Later() {
    std::lock_guard<std::mutex> lock(mu_);
    return later_;
  }
  // Waits until `n` requests are waiting for a later answer.
  bool WaitForLater(size_t n) {
    for (int i = 0; i < 500 && Later().size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Later().size() >= n;
  }

  std::unique_ptr<HttpReceiver> receiver_;
  std::mutex mu_;
  std::vector<HttpReceiver::Ticket> later_;
};

TEST_F(HttpReceiverTest, ServesARealClientWithKeepAlive) {
  httplib::Client client("127.0.0.1", receiver_->port());
  for (int i = 0; i < 3; ++i) {
    httplib::Result r = client.Post("/echo?x=1", "body " + std::to_string(i), "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /echo body " + std::to_string(i));
  }
  httplib::Result head = client.Head("/echo");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->body, "");
}

TEST_F(HttpReceiverTest, PipelinedRequestsAreAnsweredInOrder) {
  RawClient c(receiver_->port());
  c.Send(
      "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
      "POST /b HTTP/1.1\r\ncontent-length: 3\r\n\r\ntwo"
      "GET /c HTTP/1.1\r\n\r\n");
  std::string out = c.Read(3);
  size_t a = out.find("POST /a one"), b = out.find("POST /b two"), g = out.find("GET /c ");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  ASSERT_NE(g, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, g);
  EXPECT_FALSE(c.Closed(std::chrono::milliseconds(100)));  // keep-alive
}

TEST_F(HttpReceiverTest, ChunkedBodiesAreDecoded) {
  RawClient c(receiver_->port());
  c.Send("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the rest comes later
  c.Send("5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n");
  EXPECT_THAT(c.Read(1), HasSubstr("POST /x Wikipedia"));
}

TEST_F(HttpReceiverTest, ExpectContinueIsAnsweredBeforeTheBody) {
  RawClient c(receiver_->port());
  c.Send("POST /x HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_THAT(c.Read(1), StartsWith("HTTP/1.1 100 Continue\r\n\r\n"));
  c.Send("body");
  EXPECT_THAT(c.Read(2), HasSubstr("POST /x body"));
}

TEST_F(HttpReceiverTest, ConnectionCloseAndHttp10CloseAfterTheAnswer) {
  RawClient c(receiver_->port());
  c.Send("GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(c.Read(1), HasSubstr("Connection: close"));
  EXPECT_TRUE(c.Closed());
  RawClient old(receiver_->port());
  old.Send("GET /x HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(old.Closed());
}

TEST(HttpReceiverLimitsTest, AnOversizedBodyIs413WithoutBeingRead) {
  HttpReceiver receiver({.max_body_bytes = 10}, [](HttpRequest&, HttpReceiver::Ticket) {
    ADD_FAILURE() << "the handler saw an oversized request";
    return std::optional<HttpReply>(HttpReply{});
  });
  ASSERT_TRUE(receiver.Start().ok());
  RawClient c(receiver.port());
  c.Send("POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n");  // the body never comes
  EXPECT_THAT(c.Read(1), StartsWith("HTTP/1.1 413 "));
  EXPECT_TRUE(c.Closed());
  RawClient chunked(receiver.port());
  chunked.Send("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n");
  EXPECT_THAT(chunked.Read(1), StartsWith("HTTP/1.1 413 "));
}

TEST_F(HttpReceiverTest, MalformedRequestsAre400AndClosed) {
  for (const char* bad : {"NONSENSE\r\n\r\n", "GET /x HTTP/2.0\r\n\r\n",
                          "POST /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                          "GET /x HTTP/1.1\r\nno colon here\r\n\r\n"}) {
    RawClient c(receiver_->port());
    c.Send(bad);
    EXPECT_THAT(c.Read(1), StartsWith("HTTP/1.1 400 ")) << bad;
    EXPECT_TRUE(c.Closed()) << bad;
  }
}

TEST_F(HttpReceiverTest, AnswersMayComeLaterFromAnotherThreadInOrderPerConnection) {
  RawClient c(receiver_->port());
  c.Send("POST /later HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(WaitForLater(1));
  // The pipelined request waits for the first answer.
  EXPECT_EQ(c.Read(1, std::chrono::milliseconds(100)), "");
  std::thread([&] {
    receiver_->Answer(Later()[0],
                      {.status = 202, .body = "{}", .content_type = "application/json"});
  }).join();
  std::string out = c.Read(2);
  EXPECT_THAT(out, StartsWith("HTTP/1.1 202 Accepted\r\n"));
  EXPECT_THAT(out, HasSubstr("GET /after "));
}

TEST_F(HttpReceiverTest, StopFinishesRequestsBegunAndRefusesNewOnes) {
  RawClient idle(receiver_->port());
  RawClient busy(receiver_->port());
  busy.Send("POST /later HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(WaitForLater(1));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    receiver_->Stop();
    stopped = true;
  });
  EXPECT_TRUE(idle.Closed());  // nothing begun: closed at once
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(stopped);  // still waiting for the answer
  RawClient late(receiver_->port());
  EXPECT_FALSE(late.connected());
  receiver_->Answer(Later()[0], {.status = 202, .body = "{}", .content_type = "application/json"});
  std::string out = busy.Read(1);
  EXPECT_THAT(out, StartsWith("HTTP/1.1 202 "));
  EXPECT_THAT(out, HasSubstr("Connection: close"));
  stopper.join();
  EXPECT_TRUE(stopped);
}

TEST_F(HttpReceiverTest, IdleConnectionsTimeOutButOneWaitingForItsAnswerDoesNot) {
  receiver_->Stop();
  StartWith({.keep_alive_timeout = std::chrono::milliseconds(200)});
  RawClient idle(receiver_->port());
  RawClient waiting(receiver_->port());
  waiting.Send("POST /later HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(idle.Closed(std::chrono::seconds(3)));
  EXPECT_FALSE(waiting.Closed(std::chrono::milliseconds(600)));
  receiver_->Answer(Later()[0], {.status = 200, .body = "", .content_type = ""});
  EXPECT_THAT(waiting.Read(1), StartsWith("HTTP/1.1 200 "));
}

TEST_F(HttpReceiverTest, ATricklingHeadIsClosedAtItsDeadlineThoughEveryByteArrivesInTime) {
  // Issue 22 (slowloris): an idle timer reset by every byte let one byte every 2 s hold a
  // connection for ever. The head has a deadline from its first byte.
  receiver_->Stop();
  StartWith({.head_timeout = std::chrono::milliseconds(500)});
  RawClient c(receiver_->port());
  auto start = std::chrono::steady_clock::now();
  std::string head = "POST /x HTTP/1.1\r\nX-Slow: " + std::string(100, 'a');
  bool closed = false;
  for (char ch : head) {
    if (!c.TrySend(std::string(1, ch)) || c.Closed(std::chrono::milliseconds(50))) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_GE(receiver_->stats().timed_out, 1u);
}

TEST_F(HttpReceiverTest, ABodyBelowTheMinimumRateIsClosedAndOneAboveItIsServed) {
  receiver_->Stop();
  StartWith({.body_grace = std::chrono::milliseconds(300), .min_body_rate = 1000});
  RawClient slow(receiver_->port());
  slow.Send("POST /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {  // 20 bytes per second
    closed = !slow.TrySend("x") || slow.Closed(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(closed);
  RawClient steady(receiver_->port());
  steady.Send("POST /x HTTP/1.1\r\nContent-Length: 8000\r\n\r\n");
  for (int i = 0; i < 8; ++i) {  // 1000 bytes each 100 ms: 10,000 per second
    steady.Send(std::string(1000, 'y'));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(steady.Read(1), StartsWith("HTTP/1.1 200 "));
}

TEST_F(HttpReceiverTest, WhenFullANewcomerShedsTheSlowestIncompleteRequest) {
  receiver_->Stop();
  StartWith({.max_connections = 3});
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 3; ++i) {
    slow.push_back(std::make_unique<RawClient>(receiver_->port()));
    slow.back()->Send("POST /x HTTP/1.1\r\n");  // and never more
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the shedding grace (1 s)
  RawClient valid(receiver_->port());
  valid.Send("POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_THAT(valid.Read(1), HasSubstr("POST /x ok"));
  int closed = 0;
  for (auto& c : slow) closed += c->Closed(std::chrono::milliseconds(100)) ? 1 : 0;
  EXPECT_EQ(closed, 1);
  EXPECT_EQ(receiver_->stats().shed, 1u);
}

TEST_F(HttpReceiverTest, APeersCapShedsThatPeersConnectionsOnly) {
  // Every address of 127/8 is loopback on Linux, so two "peers" can be made here.
  receiver_->Stop();
  StartWith({.max_connections_per_peer = 2});
  RawClient other(receiver_->port(), "127.0.0.3");
  other.Send("POST /x HTTP/1.1\r\n");
  RawClient a(receiver_->port(), "127.0.0.2");
  RawClient b(receiver_->port(), "127.0.0.2");
  a.Send("P");
  b.Send("POST /x HTTP/1.1\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the shedding grace
  RawClient valid(receiver_->port(), "127.0.0.2");
  valid.Send("GET /y HTTP/1.1\r\n\r\n");
  EXPECT_THAT(valid.Read(1), HasSubstr("GET /y"));
  EXPECT_TRUE(a.Closed(std::chrono::milliseconds(500)));  // fewer bytes per second than b
  EXPECT_FALSE(b.Closed(std::chrono::milliseconds(100)));
  EXPECT_FALSE(other.Closed(std::chrono::milliseconds(100)));
}

TEST_F(HttpReceiverTest, ConflictingContentLengthsGetOneAnswerAndTheConnectionCloses) {
  // Issue 22: the second length's bytes were read as a second request and answered.
  RawClient c(receiver_->port());
  c.Send(
      "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 39\r\n\r\nhello"
      "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(c.Closed());
  std::string out = c.Read(2, std::chrono::milliseconds(100));
  EXPECT_THAT(out, StartsWith("HTTP/1.1 400 "));
  EXPECT_EQ(out.find("HTTP/1.1 ", 1), std::string::npos);
}

TEST_F(HttpReceiverTest, ContentLengthBesideChunkedIsAnsweredThenClosed) {
  RawClient c(receiver_->port());
  c.Send(
      "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nok\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(c.Closed());
  std::string out = c.Read(2, std::chrono::milliseconds(100));
  EXPECT_THAT(out, HasSubstr("POST /x ok"));
  EXPECT_THAT(out, HasSubstr("Connection: close"));
  EXPECT_EQ(out.find("/next"), std::string::npos);
}

TEST_F(HttpReceiverTest, AnErrorAnswerReachesAClientThatKeepsSending) {
  // Closing with unread bytes sends a reset that can destroy the answer; the receiver lingers.
  RawClient c(receiver_->port());
  c.Send("POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
  std::string junk(64 * 1024, 'j');
  for (int i = 0; i < 8 && c.TrySend(junk); ++i) {
  }
  EXPECT_THAT(c.Read(1), StartsWith("HTTP/1.1 400 "));
  EXPECT_TRUE(c.Closed());
}

// The CPU time (user + system) this process has used. While the test sleeps, the receiver's
// thread is the only one that can use any.
std::chrono::milliseconds ProcessCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) { return int64_t{t.tv_sec} * 1000 + t.tv_usec / 1000; };
  return std::chrono::milliseconds(ms(ru.ru_utime) + ms(ru.ru_stime));
}

TEST(HttpReceiverLimitsTest, OutOfDescriptorsTheLoopWaitsInsteadOfSpinning) {
  // Issue 22: accept4 failed with EMFILE, the level-triggered listener stayed armed, and the
  // loop burned a core. Here every descriptor number below the limit is taken.
  HttpReceiver receiver({}, [](HttpRequest& r, HttpReceiver::Ticket) {
    return std::optional<HttpReply>(HttpReply{.status = 200, .body = r.path, .content_type = "x"});
  });
  ASSERT_TRUE(receiver.Start().ok());
  std::vector<int> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(socket(AF_INET, SOCK_STREAM, 0));
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(clients.back() + 1);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fillers;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(receiver.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) {
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);  // the backlog takes it
    ASSERT_EQ(write(fd, "GET /ok HTTP/1.1\r\n\r\n", 20), 20);
  }
  auto before = ProcessCpu();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto used = ProcessCpu() - before;
  for (int fd : fillers) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_LT(used.count(), 200) << "the receiver thread used " << used.count() << " ms of 1000";
  EXPECT_GE(receiver.stats().accept_pauses, 1u);
  // With descriptors free again, the waiting connections are served.
  for (int fd : clients) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    char buf[256] = {};
    ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
    EXPECT_THAT(buf, StartsWith("HTTP/1.1 200 "));
    close(fd);
  }
}

TEST(HttpReceiverLimitsTest, RaiseOpenFileLimitTakesTheHardLimitUpTo65536) {
  rlimit before{};
  getrlimit(RLIMIT_NOFILE, &before);
  uint64_t soft = RaiseOpenFileLimit();
  rlimit after{};
  getrlimit(RLIMIT_NOFILE, &after);
  EXPECT_EQ(soft, after.rlim_cur);
  EXPECT_GE(after.rlim_cur, before.rlim_cur);
  EXPECT_EQ(after.rlim_cur, std::max(before.rlim_cur, std::min<rlim_t>(before.rlim_max, 65536)));
}

TEST(HttpReceiverLimitsTest, TheConnectionCapLeavesDescriptorsForTheRest) {
  EXPECT_EQ(ConnectionCapForFileLimit(1024), 768u);
  EXPECT_EQ(ConnectionCapForFileLimit(256), 192u);
  EXPECT_EQ(ConnectionCapForFileLimit(65536), 49152u);
  EXPECT_EQ(ConnectionCapForFileLimit(40), 16u);
  HttpReceiver receiver({.max_connections = 100000},
                        [](HttpRequest&, HttpReceiver::Ticket) { return std::nullopt; });
  ASSERT_TRUE(receiver.Start().ok());
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  EXPECT_EQ(receiver.stats().connection_cap, ConnectionCapForFileLimit(rl.rlim_cur));
}

}  // namespace
}  // namespace orch
