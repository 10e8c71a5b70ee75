#include "receiver/http_receiver.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
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
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) { ASSERT_EQ(write(fd_, s.data(), s.size()), (ssize_t)s.size()); }
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

TEST_F(HttpReceiverTest, IdleAndStalledConnectionsTimeOut) {
  receiver_->Stop();
  StartWith({.read_timeout = std::chrono::milliseconds(300),
             .keep_alive_timeout = std::chrono::milliseconds(200)});
  RawClient idle(receiver_->port());
  RawClient stalled(receiver_->port());
  stalled.Send("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  RawClient waiting(receiver_->port());
  waiting.Send("POST /later HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(idle.Closed(std::chrono::seconds(3)));
  EXPECT_TRUE(stalled.Closed(std::chrono::seconds(3)));
  // A request waiting for its handler's answer is not timed out.
  EXPECT_FALSE(waiting.Closed(std::chrono::milliseconds(600)));
  receiver_->Answer(Later()[0], {.status = 200, .body = "", .content_type = ""});
  EXPECT_THAT(waiting.Read(1), StartsWith("HTTP/1.1 200 "));
}

}  // namespace
}  // namespace orch
