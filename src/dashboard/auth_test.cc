#include "dashboard/auth.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/test_util.h"

namespace orch {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  Home home_{dir_.path()};
};

TEST_F(AuthTest, ALoginCodeWorksOnceAndOnlyBeforeItExpires) {
  // Given two codes made at t=1000, the first claimed twice and the second after its expiry,
  // only the first claim succeeds, and no file is left behind.
  Result<std::string> code = CreateLoginCode(home_, 1000);
  ASSERT_TRUE(code.ok()) << code.status().message();
  Result<std::string> late = CreateLoginCode(home_, 1000);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(code->size(), 64u);
  EXPECT_NE(*code, *late);
  EXPECT_TRUE(ClaimLoginCode(home_, *code, 1000 + kLoginCodeTtl - 1));
  EXPECT_FALSE(ClaimLoginCode(home_, *code, 1000 + kLoginCodeTtl - 1));
  EXPECT_FALSE(ClaimLoginCode(home_, *late, 1000 + kLoginCodeTtl));
  EXPECT_FALSE(ClaimLoginCode(home_, "", 1000));
  EXPECT_FALSE(ClaimLoginCode(home_, "../../etc/passwd", 1000));
  EXPECT_TRUE(std::filesystem::is_empty(LoginCodeDir(home_)));
}

TEST_F(AuthTest, ASessionIsFoundByItsCookieUntilItExpires) {
  Sessions sessions;
  Result<Sessions::Session> s = sessions.Open(100);
  ASSERT_TRUE(s.ok());
  std::optional<Sessions::Session> found = sessions.Find(s->id, 200);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->csrf, s->csrf);
  EXPECT_NE(s->csrf, s->id);
  EXPECT_FALSE(sessions.Find("nope", 200).has_value());
  EXPECT_FALSE(sessions.Find("", 200).has_value());
  // Use keeps it open: found at 200, so good until 200 + kSessionTtl.
  EXPECT_TRUE(sessions.Find(s->id, 200 + kSessionTtl - 1).has_value());
  EXPECT_FALSE(sessions.Find(s->id, 200 + 3 * kSessionTtl).has_value());
}

TEST(CookieValueTest, FindsTheNamedCookieAmongOthers) {
  EXPECT_EQ(CookieValue("a=1; orch_session=abc; b=2", "orch_session"), "abc");
  EXPECT_EQ(CookieValue("orch_session=x", "orch_session"), "x");
  EXPECT_EQ(CookieValue("xorch_session=x; orch_sessionx=y", "orch_session"), "");
  EXPECT_EQ(CookieValue("", "orch_session"), "");
}

}  // namespace
}  // namespace orch
