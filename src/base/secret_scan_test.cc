#include "base/secret_scan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace orch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(SecretScanTest, GitHubTokensAreRedacted) {
  for (const char* token : {"ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                            "gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ01", "ghs_0123456789abcdefghijKLMN",
                            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"}) {
    std::string out = RedactSecrets(std::string("pushed with ") + token + " ok");
    EXPECT_EQ(out, "pushed with [REDACTED] ok") << token;
  }
}

TEST(SecretScanTest, ModelProviderKeysAreRedacted) {
  EXPECT_EQ(RedactSecrets("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz_0123-xyzAA end"),
            "key [REDACTED] end");
  EXPECT_EQ(RedactSecrets("OPENAI sk-proj1234567890abcdefghijKL"), "OPENAI [REDACTED]");
}

TEST(SecretScanTest, AwsAndSlackTokensAreRedacted) {
  EXPECT_EQ(RedactSecrets("id AKIAIOSFODNN7EXAMPLE here"), "id [REDACTED] here");
  EXPECT_EQ(RedactSecrets("id ASIAIOSFODNN7EXAMPLE"), "id [REDACTED]");
  EXPECT_EQ(RedactSecrets("slack xoxb-1234567890-abcdefghij done"), "slack [REDACTED] done");
}

TEST(SecretScanTest, JwtIsRedacted) {
  std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_EQ(RedactSecrets("Authorization: Bearer " + jwt), "Authorization: Bearer [REDACTED]");
}

TEST(SecretScanTest, PemPrivateKeyBlockIsRedactedWhole) {
  std::string pem = "-----BEGIN RSA PRIVATE KEY-----\n";
  for (int i = 0; i < 25; ++i) pem += std::string(64, 'A' + i) + "\n";
  pem += "-----END RSA PRIVATE KEY-----\n";
  std::string out = RedactSecrets("before\n" + pem + "after\n");
  EXPECT_EQ(out, "before\n[REDACTED]\nafter\n");
  // The block ends at the first END marker: text after it is kept.
  EXPECT_EQ(RedactSecrets("-----BEGIN PRIVATE KEY-----\nx\n-----END CERTIFICATE-----\ny\n"
                          "-----END PRIVATE KEY----- tail -----END PRIVATE KEY-----"),
            "[REDACTED] tail -----END PRIVATE KEY-----");
  EXPECT_EQ(RedactSecrets("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n"
                          "-----END OPENSSH PRIVATE KEY-----"),
            "[REDACTED]");
  // A public key is not a secret.
  std::string pub =
      "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n"
      "-----END PUBLIC KEY-----";
  EXPECT_EQ(RedactSecrets(pub), pub);
}

TEST(SecretScanTest, AssignmentsKeepTheNameAndLoseTheValue) {
  EXPECT_EQ(RedactSecrets("password = hunter2hunter2"), "password = [REDACTED]");
  EXPECT_EQ(RedactSecrets("DB_PASSWORD=\"s3cr3t-value\" next"), "DB_PASSWORD=[REDACTED] next");
  EXPECT_EQ(RedactSecrets("api_key: 'abcdefgh12345'"), "api_key: [REDACTED]");
  EXPECT_EQ(RedactSecrets("Secret:abcdefgh12345"), "Secret:[REDACTED]");
}

TEST(SecretScanTest, QuotedKeysInJsonAndYamlAreRedactedToo) {
  // Agents echo config files: the key's own closing quote must not hide the value.
  EXPECT_THAT(RedactSecrets(R"({"password": "hunter2hunter2"})"), Not(HasSubstr("hunter2")));
  EXPECT_THAT(RedactSecrets(R"({"api_key":"abcdefgh12345"})"), Not(HasSubstr("abcdefgh12345")));
  EXPECT_THAT(RedactSecrets("'token': 'abcdefgh12345'"), Not(HasSubstr("abcdefgh12345")));
}

TEST(SecretScanTest, OrdinaryTextIsLeftAlone) {
  for (const char* text : {
           "The token is read from GH_TOKEN; rotate the secret yearly.",
           "Set max_tokens: 4096 and input_tokens=1234567890 in the request.",
           "commit 3f786850e387550fdab836ed7e6dc881de23001b fixes it",
           "run 123e4567-e89b-12d3-a456-426614174000 finished",
           "the password is short: pw = abc",
           "task-management-and-risk-assessment-for-everyone",
           "ghp_short and sk-short and AKIA123",
       }) {
    EXPECT_EQ(RedactSecrets(text), text);
  }
}

TEST(SecretScanTest, LongTextAfterAPrefixDoesNotOverflowTheStack) {
  // std::regex recursed once per character of a match: ~50 KB after a key header (an agent
  // quoting one in a long summary) crashed the daemon.
  std::string filler;
  while (filler.size() < 100'000) filler += "more of the agent's very long summary\n";
  std::string header = "-----BEGIN PRIVATE KEY-----\n";
  EXPECT_EQ(RedactSecrets(header + filler), header + filler);
  EXPECT_EQ(RedactSecrets(header + filler + "-----END PRIVATE KEY-----\nend"), "[REDACTED]\nend");
  std::string blob(100'000, 'a');
  EXPECT_EQ(RedactSecrets("token=" + blob + " end"), "token=[REDACTED] end");
  EXPECT_EQ(RedactSecrets("ghp_" + blob + " end"), "[REDACTED] end");
  EXPECT_EQ(RedactSecrets("sk-" + blob + "-"), "[REDACTED]-");
  std::string jwt = "eyJ" + blob + "." + blob + "." + blob;
  EXPECT_EQ(RedactSecrets(jwt + " end"), "[REDACTED] end");
}

TEST(SecretScanTest, SeveralSecretsInOneTextAreAllRedacted) {
  std::string out = RedactSecrets(
      "a ghp_abcdefghijklmnopqrstuvwxyz0123456789 b AKIAIOSFODNN7EXAMPLE c password=longenough1");
  EXPECT_EQ(out, "a [REDACTED] b [REDACTED] c password=[REDACTED]");
}

}  // namespace
}  // namespace orch
