// The pure wire-format helpers: ISO times, query strings, page slices, Link headers, ETags and
// JWT base64url.
#include "wire.h"

#include <gtest/gtest.h>

#include "jwt.h"

namespace orch::sim {
namespace {

TEST(WireTest, IsoTimesRoundTripInUtc) {
  const int64_t t = 1795255200;  // 2026-11-21T10:00:00Z
  EXPECT_EQ(FormatIso(t), "2026-11-21T10:00:00Z");
  EXPECT_EQ(ParseIso("2026-11-21T10:00:00Z"), t);
  EXPECT_EQ(ParseIso("2026-11-21T10:00:00.123Z"), t);
  EXPECT_EQ(ParseIso("2026-11-21T10:00:00+00:00"), t);
  EXPECT_EQ(ParseIso("2026-11-21"), t - 10 * 3600);
  EXPECT_FALSE(ParseIso("2026-11-21T10:00:00+02:00"));
  EXPECT_FALSE(ParseIso("yesterday"));
  EXPECT_FALSE(ParseIso("2026-13-01"));
  EXPECT_FALSE(ParseIso(""));
}

TEST(WireTest, QueryKeepsOrderAndDecodesValues) {
  Query q = SplitQuery("labels=orch%2Cbug&state=all&&flag&since=2026-11-21T10%3A00%3A00Z");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[0].key, "labels");
  EXPECT_EQ(q[0].value, "orch%2Cbug");  // kept as sent, for Link
  EXPECT_EQ(QueryValue(q, "labels"), "orch,bug");
  EXPECT_EQ(QueryValue(q, "flag"), "");
  EXPECT_EQ(QueryValue(q, "since"), "2026-11-21T10:00:00Z");
  EXPECT_FALSE(QueryValue(q, "page"));
  EXPECT_EQ(PercentDecode("a+b%20c%zz"), "a b c%zz");
}

TEST(WireTest, PageRequestsAreClampedLikeGithub) {
  EXPECT_EQ(ReadPage(SplitQuery(""), 30).per_page, 30);
  EXPECT_EQ(ReadPage(SplitQuery("per_page=500"), 30).per_page, 100);
  EXPECT_EQ(ReadPage(SplitQuery("per_page=0&page=-2"), 30).per_page, 30);
  EXPECT_EQ(ReadPage(SplitQuery("per_page=0&page=-2"), 30).page, 1);
  EXPECT_EQ(ReadPage(SplitQuery("page=3"), 30).page, 3);
}

TEST(WireTest, SlicesPagesAndCountsTheLastOne) {
  PageSlice s = SlicePage(5, {3, 2});
  EXPECT_EQ(s.begin, 4u);
  EXPECT_EQ(s.end, 5u);
  EXPECT_EQ(s.last_page, 3);
  EXPECT_EQ(SlicePage(0, {1, 30}).last_page, 1);
  PageSlice past = SlicePage(5, {9, 2});
  EXPECT_EQ(past.begin, past.end);
}

TEST(WireTest, LinkHeaderFollowsGithubOrderAndKeepsParameters) {
  const Query q = SplitQuery("state=all&page=2&per_page=2");
  EXPECT_EQ(LinkHeader("http://h/x", q, 2, 3),
            "<http://h/x?state=all&page=1&per_page=2>; rel=\"prev\", "
            "<http://h/x?state=all&page=3&per_page=2>; rel=\"next\", "
            "<http://h/x?state=all&page=3&per_page=2>; rel=\"last\", "
            "<http://h/x?state=all&page=1&per_page=2>; rel=\"first\"");
  EXPECT_EQ(LinkHeader("http://h/x", {}, 1, 2),
            "<http://h/x?page=2>; rel=\"next\", <http://h/x?page=2>; rel=\"last\"");
  EXPECT_EQ(LinkHeader("http://h/x", {}, 1, 1), "");
}

TEST(WireTest, EtagsAreWeakAndMatchListsAndStrongSpellings) {
  const std::string etag = WeakEtag("[]");
  EXPECT_EQ(etag.substr(0, 3), "W/\"");
  EXPECT_EQ(etag.size(), 36u);
  EXPECT_NE(WeakEtag("[1]"), etag);
  EXPECT_TRUE(EtagMatches(etag, etag));
  EXPECT_TRUE(EtagMatches("\"x\", " + etag, etag));
  EXPECT_TRUE(EtagMatches(etag.substr(2), etag));  // strong spelling of the same tag
  EXPECT_TRUE(EtagMatches("*", etag));
  EXPECT_FALSE(EtagMatches("W/\"other\"", etag));
  EXPECT_FALSE(EtagMatches("", etag));
}

TEST(WireTest, Base64UrlDecodesJwtSegments) {
  EXPECT_EQ(Base64UrlDecode("eyJhbGciOiJSUzI1NiJ9"), "{\"alg\":\"RS256\"}");
  EXPECT_EQ(Base64UrlDecode("_-8"), "\xff\xef");
  EXPECT_FALSE(Base64UrlDecode("a+b/"));
  EXPECT_TRUE(JwtVerifier::LooksLikeJwt("eyJa.eyJb.c"));
  EXPECT_FALSE(JwtVerifier::LooksLikeJwt("t0ken"));
}

}  // namespace
}  // namespace orch::sim
