#include "dashboard/auth.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "github/webhook_signature.h"
#include "store/store.h"
#include "testing/test_util.h"

namespace orch {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(Store::Open(dir_.Sub("orch.db"), clock_)).value(); }

  test::TempDir dir_;
  Home home_{dir_.path()};
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::mutex store_mu_;
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
  Sessions sessions(*store_, store_mu_);
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

TEST_F(AuthTest, ASessionOutlivesItsSessionsObjectKeptAsTheCookiesHashOnly) {
  // Given a session opened by one daemon's Sessions, another over the same store (a restart)
  // finds it by the same cookie with the same CSRF token; the store holds the cookie's hash.
  std::string id, csrf;
  {
    Sessions before(*store_, store_mu_);
    Result<Sessions::Session> s = before.Open(100);
    ASSERT_TRUE(s.ok());
    id = s->id;
    csrf = s->csrf;
  }
  std::string kept = **store_->GetKv(Sessions::kKvKey);
  EXPECT_EQ(kept.find(id), std::string::npos);
  EXPECT_NE(kept.find(Sha256Hex(id)), std::string::npos);
  Sessions after(*store_, store_mu_);
  std::optional<Sessions::Session> found = after.Find(id, 200);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->csrf, csrf);
}

TEST_F(AuthTest, LogoutAndExpiryRemoveAKeptSession) {
  Sessions sessions(*store_, store_mu_);
  Result<Sessions::Session> out = sessions.Open(100);
  Result<Sessions::Session> old = sessions.Open(100);
  ASSERT_TRUE(out.ok() && old.ok());
  ASSERT_TRUE(sessions.Close(out->id).ok());
  EXPECT_FALSE(sessions.Find(out->id, 101).has_value());
  std::string kept = **store_->GetKv(Sessions::kKvKey);
  EXPECT_EQ(kept.find(Sha256Hex(out->id)), std::string::npos);
  EXPECT_NE(kept.find(Sha256Hex(old->id)), std::string::npos);
  // Unused for longer than kSessionTtl, the other is gone from the store too once looked for.
  Sessions later(*store_, store_mu_);
  EXPECT_FALSE(later.Find(old->id, 100 + kSessionTtl).has_value());
  EXPECT_EQ(**store_->GetKv(Sessions::kKvKey), "{}");
}

TEST_F(AuthTest, UseMovesTheKeptExpiryOnlyOnceItLagsBySomeTime) {
  // Each request must not be a commit: the kept expiry follows use in steps of
  // kSessionSaveSlack, and a restart loses at most that much of a session's life.
  Sessions sessions(*store_, store_mu_);
  Result<Sessions::Session> s = sessions.Open(0);
  ASSERT_TRUE(s.ok());
  std::string at_open = **store_->GetKv(Sessions::kKvKey);
  ASSERT_TRUE(sessions.Find(s->id, kSessionSaveSlack - 1).has_value());
  EXPECT_EQ(**store_->GetKv(Sessions::kKvKey), at_open);
  ASSERT_TRUE(sessions.Find(s->id, kSessionSaveSlack).has_value());
  EXPECT_NE(**store_->GetKv(Sessions::kKvKey), at_open);
  Sessions restarted(*store_, store_mu_);
  EXPECT_TRUE(restarted.Find(s->id, kSessionSaveSlack + kSessionTtl - 1).has_value());
}

TEST(CookieValueTest, FindsTheNamedCookieAmongOthers) {
  EXPECT_EQ(CookieValue("a=1; orch_session=abc; b=2", "orch_session"), "abc");
  EXPECT_EQ(CookieValue("orch_session=x", "orch_session"), "x");
  EXPECT_EQ(CookieValue("xorch_session=x; orch_sessionx=y", "orch_session"), "");
  EXPECT_EQ(CookieValue("", "orch_session"), "");
}

}  // namespace
}  // namespace orch
