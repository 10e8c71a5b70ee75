#include "github/webhook_signature.h"

#include <gtest/gtest.h>

namespace orch {
namespace {

// The example GitHub publishes in "Validating webhook deliveries".
constexpr char kSecret[] = "It's a Secret to Everybody";
constexpr char kBody[] = "Hello, World!";
constexpr char kSignature[] =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

TEST(WebhookSignatureTest, GitHubsPublishedVector) {
  EXPECT_EQ(SignBody(kSecret, kBody), kSignature);
  EXPECT_TRUE(VerifySignature(kSecret, kBody, kSignature));
}

TEST(WebhookSignatureTest, WrongMissingTruncatedAndSha1OnlyAreRefused) {
  std::string wrong = kSignature;
  wrong.back() = wrong.back() == '7' ? '8' : '7';
  EXPECT_FALSE(VerifySignature(kSecret, kBody, wrong));
  EXPECT_FALSE(VerifySignature(kSecret, kBody, ""));
  EXPECT_FALSE(VerifySignature(kSecret, kBody, std::string(kSignature).substr(0, 40)));
  EXPECT_FALSE(VerifySignature(kSecret, kBody, "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"));
  EXPECT_FALSE(VerifySignature(kSecret, "Hello, World?", kSignature));
  EXPECT_FALSE(VerifySignature("another secret", kBody, kSignature));
}

TEST(WebhookSignatureTest, EmptySecretVerifiesNothing) {
  EXPECT_FALSE(VerifySignature("", kBody, SignBody("", kBody)));
}

TEST(WebhookSignatureTest, Sha256OfTheBody) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace orch
