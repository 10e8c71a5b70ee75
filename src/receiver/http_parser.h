// HttpRequestParser: the HTTP/1.1 request framing of one connection (RFC 9112), as a value that
// takes bytes and gives requests, with no socket, clock or thread. HttpReceiver feeds it what it
// reads; tests and the fuzz target (fuzz/http_request_fuzz.cc) feed it bytes directly.
//
// What it accepts: a request line `METHOD SP target SP HTTP/1.x`, then header fields, each a
// token name, a colon and a value of visible characters, spaces and tabs, each line ended by
// CRLF; a bare CR or LF, a NUL, obs-fold or a space before the colon is malformed (400). The
// head is limited to max_head_bytes (431). A body comes by one Content-Length or by the chunked
// transfer coding. Framing follows RFC 9112 §6: two Content-Length fields, even equal ones, a
// list in one, or a value that is not digits is 400; a Transfer-Encoding whose last coding is
// not chunked, two Transfer-Encoding fields, or one in an HTTP/1.0 request is 400; a coding
// other than chunked before it is 501; Content-Length beside Transfer-Encoding is ignored and
// the request marked close_after (the answer closes the connection). After an error the parser
// is spent: what follows in the stream cannot be trusted to frame a request.
//
// Memory: bytes are consumed as they are parsed and the buffer is compacted, so it holds at most
// the unparsed rest of the current head (bounded by max_head_bytes) plus what one Append() added.
// A chunked body's limit counts every byte received for it (chunk-size lines, extensions, CRLFs
// and data): 1-byte chunks reach max_body_bytes (413) after max_body_bytes on the wire, not six
// times that. Trailer fields are read and dropped, and count against max_head_bytes together
// with the head (431).
//
// Thread safety: none; one connection's parser is used by one thread.
#ifndef ORCH_RECEIVER_HTTP_PARSER_H_
#define ORCH_RECEIVER_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orch {

struct HttpRequest {
  std::string method;
  std::string path;  // the request target without its query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header called `name` (case-insensitively); empty when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpParserLimits {
  size_t max_head_bytes = 64 * 1024;  // request line and fields; trailers count here too
  size_t max_headers = 100;
  int64_t max_body_bytes = 25 * 1024 * 1024;  // bytes received for the body, framing included
};

class HttpRequestParser {
 public:
  enum class Event {
    kNeedMore,  // everything buffered was parsed; Append() more
    kContinue,  // the head asked for `100 Continue` and its body has not arrived: send it
    kRequest,   // a whole request: TakeRequest()
    kError,     // malformed or too large: answer error_status() and close
  };
  // Where the current request stands (kIdle: between requests, nothing of the next one read).
  enum class Phase { kIdle, kHead, kBody, kComplete, kError };

  explicit HttpRequestParser(HttpParserLimits limits = {}) : limits_(limits) {}

  void Append(std::string_view bytes) { in_.append(bytes); }
  // Parses as far as the buffered bytes go. After kRequest, TakeRequest() before calling again.
  Event Next();
  // The complete request; the parser is ready for the next one (pipelined bytes stay buffered).
  HttpRequest TakeRequest();

  Phase phase() const;
  // After kError: 400, 413, 431 or 501.
  int error_status() const { return error_; }
  // Of the request last returned (or being read): whether the connection may stay open after
  // its answer (HTTP/1.1 without `Connection: close`, HTTP/1.0 with keep-alive, and framing
  // that was not ambiguous), and whether it is a HEAD.
  bool keep_alive() const { return keep_alive_ && !close_after_; }
  bool head_only() const { return head_only_; }
  // Bytes received for the request being read (head, body and framing, buffered or parsed).
  uint64_t request_bytes() const { return request_consumed_ + (in_.size() - pos_); }
  // Bytes held in memory: the unparsed buffer (the body decoded so far is not counted).
  size_t buffered() const { return in_.size() - pos_; }
  size_t capacity() const { return in_.capacity(); }

 private:
  enum class State { kHead, kBody, kChunkSize, kChunkData, kChunkCrlf, kTrailers, kDone, kError };

  Event ParseHead();
  // Reads the request line and the fields of `head` (without its final CRLF CRLF).
  bool ParseFields(std::string_view head);
  bool Frame();
  Event ParseBody();
  Event ParseChunks();
  Event Fail(int status);
  void Consume(size_t n);
  void Compact();

  HttpParserLimits limits_;
  State state_ = State::kHead;
  std::string in_;  // bytes received; those before pos_ are parsed
  size_t pos_ = 0;
  size_t scan_from_ = 0;  // kHead/kTrailers: where the search for the blank line resumes
  uint64_t request_consumed_ = 0;
  uint64_t head_bytes_ = 0;  // the head's size, so trailers share its limit
  uint64_t body_left_ = 0;   // kBody: body bytes to come; kChunkData: of this chunk
  uint64_t body_wire_ = 0;   // chunked: bytes received for the body, framing included
  HttpRequest req_;
  bool http11_ = true;
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool head_only_ = false;
  bool expect_continue_ = false;
  int error_ = 0;
};

}  // namespace orch

#endif  // ORCH_RECEIVER_HTTP_PARSER_H_
