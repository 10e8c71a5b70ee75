#include "receiver/webhook_envelope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace orch {
namespace {

using ::testing::HasSubstr;

TEST(WebhookEnvelopeTest, AMemberNameGivenTwiceIsRefused) {
  // Issue 22: "action" twice was stored as both values concatenated ("openedclosed").
  Result<WebhookEnvelope> twice =
      ParseEnvelope(R"({"action":"opened","action":"closed","repository":{"full_name":"a/b"}})");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("\"action\" given twice"));
  // At any depth, and however the name is spelled.
  EXPECT_FALSE(ParseEnvelope(R"({"repository":{"full_name":"a/b","full_name":"c/d"}})").ok());
  EXPECT_FALSE(ParseEnvelope(R"({"action":"opened","\u0061ction":"closed"})").ok());
  EXPECT_FALSE(ParseEnvelope(R"({"issue":{"labels":[{"name":"x","name":"y"}]}})").ok());
  // The same name in different objects is fine.
  Result<WebhookEnvelope> ok =
      ParseEnvelope(R"({"action":"labeled","label":{"name":"x"},"issue":{"name":"y","action":1},)"
                    R"("repository":{"full_name":"a/b","owner":{"full_name":"z"}}})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->action, "labeled");
  EXPECT_EQ(ok->repo, "a/b");
}

TEST(WebhookEnvelopeTest, ANumberBeyondADoublesRangeIsRefusedAsTheEngineWould) {
  // Found by the fuzz target: nlohmann refuses it, so the engine could never apply it.
  EXPECT_FALSE(ParseEnvelope(R"({"n":-1.6E77001})").ok());
  EXPECT_FALSE(ParseEnvelope("{\"n\":" + std::string(400, '9') + "}").ok());
  EXPECT_TRUE(ParseEnvelope(R"({"n":1.5E-77001,"m":1e308})").ok());
}

// Every input of the fuzz target's seed corpus (fuzz/corpus/webhook_envelope): what the scanner
// accepts, nlohmann accepts with the same fields. `make fuzz` runs the real fuzzer.
TEST(WebhookEnvelopeTest, ReplaysTheFuzzCorpus) {
  std::filesystem::path dir =
      std::filesystem::path(ORCH_SOURCE_DIR) / "fuzz/corpus/webhook_envelope";
  size_t files = 0, accepted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string body = ss.str();
    (void)FormPayload(body);
    ++files;
    Result<WebhookEnvelope> env = ParseEnvelope(body);
    if (!env.ok()) continue;
    ++accepted;
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << entry.path();
    EXPECT_EQ(j.value("action", nlohmann::json()).is_string() ? j["action"].get<std::string>() : "",
              env->action)
        << entry.path();
  }
  EXPECT_GE(files, 10u);
  EXPECT_GE(accepted, 3u);
}

}  // namespace
}  // namespace orch
