// GitHub's REST wire format, as pure functions: ISO-8601 UTC times, query strings, page slicing
// and the `Link` header that points at the other pages, and weak ETags.
//
// The simulator's server uses these to answer exactly like api.github.com; tests call them
// directly. No state, no I/O; thread-safe.
#ifndef ORCH_SIM_WIRE_H_
#define ORCH_SIM_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orch::sim {

// "2026-11-21T10:00:00Z" for unix seconds `t`.
std::string FormatIso(int64_t t);

// Unix seconds for "YYYY-MM-DDTHH:MM:SSZ" (fractional seconds, "+00:00" and a bare date are
// accepted, as GitHub does); nullopt for anything else.
std::optional<int64_t> ParseIso(std::string_view s);

// "%XX" and '+' decoded; malformed escapes are kept as they are.
std::string PercentDecode(std::string_view s);

// One `key=value` pair of a query string, still percent-encoded, in the order sent.
struct QueryParam {
  std::string key;
  std::string value;
};
using Query = std::vector<QueryParam>;

// The pairs of "a=1&b=2" (no leading '?'); empty pieces are dropped.
Query SplitQuery(std::string_view query);

// The decoded value of the first `key`, or nullopt.
std::optional<std::string> QueryValue(const Query& query, std::string_view key);

// Which page a list request asks for, as GitHub reads it: page >= 1 and 1 <= per_page <= 100;
// missing or unparsable values take the defaults.
struct PageRequest {
  int page = 1;
  int per_page = 30;
};
PageRequest ReadPage(const Query& query, int default_per_page);

// The items [begin, end) of `total` that fall on the requested page, and the last page number
// (1 for an empty list). A page past the end is empty.
struct PageSlice {
  size_t begin = 0;
  size_t end = 0;
  int last_page = 1;
};
PageSlice SlicePage(size_t total, PageRequest request);

// The `Link` header value GitHub sends for `page` of `last_page`, or "" when everything fits on
// one page. Relations come in GitHub's order (prev, next, last, first), each
// `<URL>; rel="NAME"` where URL is `url` + "?" + the query with `page` set (appended when the
// request had none) and every other parameter kept, in order, as sent.
std::string LinkHeader(std::string_view url, const Query& query, int page, int last_page);

// W/"<first 32 hex digits of sha256(body)>".
std::string WeakEtag(std::string_view body);

// True when an If-None-Match value names `etag`: "*", or a comma-separated list where any
// entry equals it, ignoring the weak "W/" prefix on either side.
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace orch::sim

#endif  // ORCH_SIM_WIRE_H_
