#include "receiver/http_parser.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace orch {
namespace {

using Event = HttpRequestParser::Event;

// Feeds `bytes` `step` at a time, taking every request; returns the requests and the last event.
struct Parsed {
  std::vector<HttpRequest> requests;
  Event last = Event::kNeedMore;
  int status = 0;
  size_t most_buffered = 0;  // the largest unparsed buffer seen
  bool keep_alive = true;    // of the last request
};

Parsed Feed(const std::string& bytes, size_t step = 1 << 20, HttpParserLimits limits = {}) {
  HttpRequestParser p(limits);
  Parsed out;
  for (size_t at = 0; at < bytes.size() && out.last != Event::kError; at += step) {
    p.Append(std::string_view(bytes).substr(at, step));
    while (true) {
      out.last = p.Next();
      out.most_buffered = std::max(out.most_buffered, p.buffered());
      if (out.last == Event::kRequest) {
        out.keep_alive = p.keep_alive();
        out.requests.push_back(p.TakeRequest());
        continue;
      }
      if (out.last == Event::kContinue) continue;
      break;
    }
  }
  out.status = p.error_status();
  return out;
}

TEST(HttpParserTest, ParsesARequestWhateverTheReadsSplitsAreAt) {
  std::string req =
      "POST /webhook?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Empty:\r\n\r\nhello"
      "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t step : {1, 2, 3, 7, 64, 4096}) {
    Parsed p = Feed(req, step);
    ASSERT_EQ(p.requests.size(), 2u) << "step " << step;
    EXPECT_EQ(p.requests[0].method, "POST");
    EXPECT_EQ(p.requests[0].path, "/webhook");
    EXPECT_EQ(p.requests[0].body, "hello");
    EXPECT_EQ(p.requests[0].Header("x-empty"), "");
    EXPECT_EQ(p.requests[1].path, "/health");
  }
}

TEST(HttpParserTest, TwoContentLengthsAre400EvenWhenEqual) {
  // RFC 9112 §6.3: the regression of issue 22, where the second length framed a second request.
  for (const char* lengths :
       {"Content-Length: 5\r\nContent-Length: 39\r\n", "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5, 5\r\n", "Content-Length: +5\r\n", "Content-Length:\r\n"}) {
    Parsed p = Feed(std::string("POST / HTTP/1.1\r\n") + lengths + "\r\nhello");
    EXPECT_EQ(p.last, Event::kError) << lengths;
    EXPECT_EQ(p.status, 400) << lengths;
    EXPECT_TRUE(p.requests.empty()) << lengths;
  }
}

TEST(HttpParserTest, ContentLengthBesideChunkedIsChunkedAndClosesAfter) {
  Parsed p = Feed(
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].body, "hello");
  EXPECT_FALSE(p.keep_alive);
}

TEST(HttpParserTest, AmbiguousTransferEncodingsAreRefused) {
  struct Case {
    const char* head;
    int status;
  } cases[] = {
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n", 400},  // chunked is not last
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n", 501},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", 400},
  };
  for (const Case& c : cases) {
    Parsed p = Feed(std::string(c.head) + "\r\n0\r\n\r\n");
    EXPECT_EQ(p.status, c.status) << c.head;
    EXPECT_TRUE(p.requests.empty()) << c.head;
  }
}

TEST(HttpParserTest, FieldsAProxyMightReadDifferentlyAre400) {
  const std::string bads[] = {"Content-Length : 5\r\n",
                              " Folded: x\r\n",
                              "X: a\nContent-Length: 5\r\n",
                              "X: a\rb\r\n",
                              std::string("X: a\0b\r\n", 8),
                              "NoColon\r\n",
                              "Bad Name: x\r\n"};
  for (const std::string& bad : bads) {
    Parsed p = Feed(std::string("POST / HTTP/1.1\r\nHost: a\r\n") + bad + "\r\n");
    EXPECT_EQ(p.status, 400) << bad;
  }
  for (const char* line : {"GET /a b HTTP/1.1", "GET  / HTTP/1.1", "GET / HTTP/2.0",
                           "G(T / HTTP/1.1", "GET /\x01 HTTP/1.1"}) {
    EXPECT_EQ(Feed(std::string(line) + "\r\n\r\n").status, 400) << line;
  }
}

TEST(HttpParserTest, AHeadOverTheLimitIs431WhileOnlyTheLimitIsBuffered) {
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() < 200 * 1024) head += "X-Filler: " + std::string(100, 'a') + "\r\n";
  Parsed p = Feed(head, 1000);
  EXPECT_EQ(p.status, 431);
  EXPECT_LE(p.most_buffered, 64 * 1024 + 1000);
}

TEST(HttpParserTest, TrailersCountAgainstTheHeadLimit) {
  // Issue 22: endless trailer lines after the last chunk grew the buffer without bound.
  std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
  while (req.size() < 300 * 1024) req += "X-Trailer: " + std::string(50, 't') + "\r\n";
  Parsed p = Feed(req, 4096);
  EXPECT_EQ(p.status, 431);
  EXPECT_LE(p.most_buffered, 2 * 4096u);

  Parsed ok =
      Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n");
  ASSERT_EQ(ok.requests.size(), 1u);
  EXPECT_EQ(ok.requests[0].body, "a");
}

TEST(HttpParserTest, ChunkedBodyLimitCountsFramingAndTheBufferStaysSmall) {
  // 1-byte chunks: six bytes on the wire per byte of body. The limit is what was received.
  HttpParserLimits limits;
  limits.max_body_bytes = 60'000;
  std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20'000; ++i) req += "1\r\nx\r\n";
  Parsed p = Feed(req, 8192, limits);
  EXPECT_EQ(p.status, 413);
  EXPECT_LE(p.most_buffered, 8192u + 6);

  Parsed under = Feed(req.substr(0, req.size() - 6 * 11'000) + "0\r\n\r\n", 8192, limits);
  ASSERT_EQ(under.requests.size(), 1u);
  EXPECT_EQ(under.requests[0].body, std::string(9'000, 'x'));
}

TEST(HttpParserTest, MalformedChunksAre400) {
  for (const char* body : {"x\r\n", " 5\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
                           "5 junk\r\nhello\r\n0\r\n\r\n", "1000000000000000\r\n"}) {
    Parsed p = Feed(std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") + body);
    EXPECT_EQ(p.status, 400) << body;
  }
  Parsed ext =
      Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 ;name=v\r\nhello\r\n0\r\n\r\n");
  ASSERT_EQ(ext.requests.size(), 1u);
  EXPECT_EQ(ext.requests[0].body, "hello");
}

TEST(HttpParserTest, ALargeContentLengthIs413BeforeTheBody) {
  HttpParserLimits limits;
  limits.max_body_bytes = 1000;
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 100, limits).status, 413);
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").status, 413);
}

TEST(HttpParserTest, ExpectContinueIsAskedForOnlyWhileTheBodyIsMissing) {
  HttpRequestParser p;
  p.Append("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(p.Next(), Event::kContinue);
  EXPECT_EQ(p.phase(), HttpRequestParser::Phase::kBody);
  EXPECT_EQ(p.Next(), Event::kNeedMore);
  p.Append("hi");
  EXPECT_EQ(p.Next(), Event::kRequest);
  EXPECT_EQ(p.TakeRequest().body, "hi");
  EXPECT_EQ(p.phase(), HttpRequestParser::Phase::kIdle);
  p.Append("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(p.Next(), Event::kRequest);
}

TEST(HttpParserTest, KeepAliveFollowsTheVersionAndConnectionHeader) {
  EXPECT_TRUE(Feed("GET / HTTP/1.1\r\n\r\n").keep_alive);
  EXPECT_FALSE(Feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(Feed("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(Feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

TEST(HttpParserTest, PhasesAndBytesFollowTheRequest) {
  HttpRequestParser p;
  EXPECT_EQ(p.phase(), HttpRequestParser::Phase::kIdle);
  std::string head = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
  p.Append("\r\nPOS");
  EXPECT_EQ(p.Next(), Event::kNeedMore);
  EXPECT_EQ(p.phase(), HttpRequestParser::Phase::kHead);
  p.Append(head.substr(3) + "ab");
  EXPECT_EQ(p.Next(), Event::kNeedMore);
  EXPECT_EQ(p.phase(), HttpRequestParser::Phase::kBody);
  EXPECT_EQ(p.request_bytes(), 2 + head.size() + 2);
}

// Every input of the fuzz targets' seed corpus (fuzz/corpus/http_request) goes through the
// parser whole and a byte at a time; both ways must agree. `make fuzz` runs the real fuzzer.
TEST(HttpParserTest, ReplaysTheFuzzCorpus) {
  std::filesystem::path dir = std::filesystem::path(ORCH_SOURCE_DIR) / "fuzz/corpus/http_request";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    Parsed whole = Feed(ss.str());
    Parsed bytewise = Feed(ss.str(), 1);
    EXPECT_EQ(whole.requests.size(), bytewise.requests.size()) << entry.path();
    EXPECT_EQ(whole.status, bytewise.status) << entry.path();
    EXPECT_LE(bytewise.most_buffered, 64 * 1024 + 1u) << entry.path();
    ++files;
  }
  EXPECT_GE(files, 10u);
}

}  // namespace
}  // namespace orch
