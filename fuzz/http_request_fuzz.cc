// libFuzzer target: HttpRequestParser (src/receiver/http_parser.h) over arbitrary bytes.
//
// The first byte picks how the rest is cut into reads (1 to 256 bytes each); the same bytes are
// also parsed in one piece, and both must give the same requests and the same error. Limits are
// small so that the fuzzer reaches them. Any disagreement, a request over a limit, or a buffer
// that outgrows the head limit aborts. `make fuzz` runs it; the seed corpus is
// fuzz/corpus/http_request, which the unit tests also replay (HttpParserTest).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "receiver/http_parser.h"

namespace {

constexpr size_t kMaxChunkLine = 1024;  // http_parser.cc's

struct Outcome {
  std::vector<std::string> requests;  // method, path and body of each, joined
  int error = 0;
};

void Check(bool ok) {
  if (!ok) abort();
}

Outcome Parse(std::string_view in, size_t step, const orch::HttpParserLimits& limits) {
  orch::HttpRequestParser p(limits);
  Outcome out;
  for (size_t at = 0; at < in.size(); at += step) {
    p.Append(in.substr(at, step));
    while (true) {
      orch::HttpRequestParser::Event e = p.Next();
      if (e == orch::HttpRequestParser::Event::kContinue) continue;
      if (e == orch::HttpRequestParser::Event::kError) {
        out.error = p.error_status();
        Check(out.error == 400 || out.error == 413 || out.error == 431 || out.error == 501);
        return out;
      }
      if (e == orch::HttpRequestParser::Event::kNeedMore) {
        Check(p.buffered() <= limits.max_head_bytes + kMaxChunkLine + 2);
        break;
      }
      orch::HttpRequest r = p.TakeRequest();
      Check(r.body.size() <= static_cast<size_t>(limits.max_body_bytes));
      Check(r.headers.size() <= limits.max_headers);
      out.requests.push_back(r.method + " " + r.path + " " + r.body);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = 1 + data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  orch::HttpParserLimits limits;
  limits.max_head_bytes = 2048;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;
  Outcome pieces = Parse(in, step, limits);
  Outcome whole = Parse(in, in.size() + 1, limits);
  Check(pieces.requests == whole.requests);
  Check(pieces.error == whole.error);
  return 0;
}
