#include "receiver/webhook_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "github/webhook_signature.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSecret = "It's a Secret to Everybody";

TEST(ParseEnvelopeTest, ReadsActionAndRepositoryOnly) {
  Result<WebhookEnvelope> e = ParseEnvelope(
      R"({"action":"labeled","issue":{"action":"x","repository":{"full_name":"no/no"}},)"
      R"("repository":{"id":1,"full_name":"acme/widgets","owner":{"full_name":"no"}}})");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->action, "labeled");
  EXPECT_EQ(e->repo, "acme/widgets");
  EXPECT_TRUE(ParseEnvelope("{}").ok());
  EXPECT_FALSE(ParseEnvelope("{\"action\":").ok());
  EXPECT_FALSE(ParseEnvelope("[1,2]").ok());
  EXPECT_FALSE(ParseEnvelope("\"text\"").ok());
  EXPECT_FALSE(ParseEnvelope("{} trailing").ok());
}

TEST(ParseEnvelopeTest, DecodesEscapesInTheFieldsItKeeps) {
  Result<WebhookEnvelope> e =
      ParseEnvelope(R"({"action":"la\u0062eled","repository":{"full_name":"acme\/w\u00e9"}})");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->action, "labeled");
  EXPECT_EQ(e->repo, "acme/w\xc3\xa9");
}

TEST(ParseEnvelopeTest, AgreesWithNlohmannOnWhatIsJson) {
  // The scanner replaced nlohmann's parser on the hot path; they must accept the same objects.
  const std::vector<std::string> inputs = {"{}",
                                           " { } ",
                                           R"({"a":[1,-2.5e+3,0,true,false,null,{"b":"c"}]})",
                                           "{\"a\":\"\xc3\xa9\"}",
                                           R"({"a":"\ud83d\ude00"})",
                                           "{\"a\":\"\xf0\x9f\x98\x80\"}",
                                           R"({"a":1.})",
                                           R"({"a":01})",
                                           R"({"a":-})",
                                           R"({"a":.5})",
                                           R"({"a":1e})",
                                           R"({"a":"\x"})",
                                           "{\"a\":\"\x01\"}",
                                           "{\"a\":\"\xc3\"}",
                                           "{\"a\":\"\xc0\x80\"}",
                                           "{\"a\":\"\xed\xa0\x80\"}",
                                           R"({"a":tru})",
                                           R"({"a" 1})",
                                           R"({"a":1,})",
                                           R"({,})",
                                           R"({"a":[1,]})",
                                           R"({"a":"\ud800"})",
                                           "{\"a\":1}}",
                                           R"({"a":"\u00zz"})",
                                           "{\"a\":[[[[]]]]}",
                                           "{\"a\":\"\t\"}"};
  for (const std::string& in : inputs) {
    EXPECT_EQ(ParseEnvelope(in).ok(), nlohmann::json::accept(in)) << in;
  }
  std::string deep = "{\"a\":" + std::string(300, '[') + std::string(300, ']') + "}";
  EXPECT_FALSE(ParseEnvelope(deep).ok());  // a bounded stack, not a crash
}

class WebhookServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(Store::Open(dir_.Sub("orch.db"), clock_)).value();
    inbox_ = std::make_unique<InboxWriter>(*store_);
    server_ = std::make_unique<WebhookServer>(
        WebhookServerOptions{.port = 0, .secret = kSecret, .max_payload_bytes = 4096}, *inbox_,
        clock_, [this] { ++wakes_; });
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  httplib::Result Post(const std::string& body, const std::string& signature,
                       const std::string& delivery = "d-1", const std::string& event = "issues") {
    httplib::Headers h = {{"X-GitHub-Event", event}, {"X-GitHub-Delivery", delivery}};
    if (!signature.empty()) h.emplace("X-Hub-Signature-256", signature);
    return client_->Post("/webhook", h, body, "application/json");
  }
  int64_t Receipts() { return store_->GetWebhookStats(0)->received; }
  // Posts {"n":<n>}, signed, as delivery d-<thread>-<i>, from a client of the caller's thread.
  static httplib::Result PostNumbered(httplib::Client& c, int thread, int i, int n) {
    std::string body = "{\"n\":" + std::to_string(n) + "}";
    return c.Post("/webhook",
                  {{"X-GitHub-Event", "issues"},
                   {"X-GitHub-Delivery", "d-" + std::to_string(thread) + "-" + std::to_string(i)},
                   {"X-Hub-Signature-256", SignBody(kSecret, body)}},
                  body, "application/json");
  }

  test::TempDir dir_;
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<InboxWriter> inbox_;
  std::unique_ptr<WebhookServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::atomic<int> wakes_{0};
};

TEST_F(WebhookServerTest, ASignedDeliveryIsStoredBeforeTheAnswerAndOnlyOnce) {
  std::string body = R"({"action":"labeled","repository":{"full_name":"acme/widgets"}})";
  httplib::Result r = Post(body, SignBody(kSecret, body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  // Committed before the 2xx: visible to another connection the moment the answer arrives.
  auto other = std::move(Store::Open(dir_.Sub("orch.db"), clock_)).value();
  std::vector<Delivery> due = *other->DueDeliveries(10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].delivery_id, "d-1");
  EXPECT_EQ(due[0].action, "labeled");
  EXPECT_EQ(due[0].repo, "acme/widgets");
  EXPECT_EQ(due[0].payload, body);
  EXPECT_EQ(wakes_, 1);

  r = Post(body, SignBody(kSecret, body));
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("duplicate"));
  EXPECT_EQ(wakes_, 1);
  EXPECT_EQ(other->DueDeliveries(10)->size(), 1u);
}

TEST_F(WebhookServerTest, BadSignaturesGet401AndNothingIsParsedOrStored) {
  // The body is not even JSON: a 401, not a 400, shows the signature is checked first.
  std::string body = "{not json";
  std::string good = SignBody(kSecret, body);
  for (const std::string& sig :
       {std::string(), SignBody("wrong secret", body), good.substr(0, good.size() - 2),
        std::string("sha1=") + good.substr(7, 40), std::string("sha256=") + std::string(64, 'g')}) {
    httplib::Result r = Post(body, sig);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << "signature: " << sig;
  }
  EXPECT_EQ(Receipts(), 0);
  EXPECT_EQ(wakes_, 0);
}

TEST_F(WebhookServerTest, MalformedJsonWithAGoodSignatureIs400) {
  std::string body = "{\"action\": ";
  httplib::Result r = Post(body, SignBody(kSecret, body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Receipts(), 0);
  body = "{}";
  r = Post(body, SignBody(kSecret, body), "");  // no X-GitHub-Delivery
  EXPECT_EQ(r->status, 400);
  // Issue 22: "action" twice was stored as "openedclosed".
  body = R"({"action":"opened","action":"closed"})";
  r = Post(body, SignBody(kSecret, body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("given twice"));
  EXPECT_EQ(Receipts(), 0);
}

TEST(FormPayloadTest, DecodesThePayloadField) {
  EXPECT_EQ(*FormPayload("payload=%7B%22a%22%3A%22b+c%2B%22%7D"), "{\"a\":\"b c+\"}");
  EXPECT_EQ(*FormPayload("x=1&payload=%7B%7D&y=2"), "{}");
  EXPECT_THAT(FormPayload("x=1").status().message(), HasSubstr("no payload field"));
  EXPECT_FALSE(FormPayload("payload=%7").ok());
  EXPECT_FALSE(FormPayload("payload=%zz").ok());
}

TEST_F(WebhookServerTest, AFormEncodedDeliveryIsCheckedAsSentAndStoredAsItsJson) {
  // GitHub's webhook settings offer application/x-www-form-urlencoded too: the JSON comes as
  // the `payload` field, and the signature covers the form as sent.
  std::string json = R"({"action":"opened","repository":{"full_name":"acme/widgets"}})";
  std::string form = "payload=" + httplib::detail::encode_query_param(json);
  httplib::Headers h = {{"X-GitHub-Event", "issues"},
                        {"X-GitHub-Delivery", "form-1"},
                        {"X-Hub-Signature-256", SignBody(kSecret, form)}};
  httplib::Result r = client_->Post("/webhook", h, form, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  std::vector<Delivery> due = *store_->DueDeliveries(10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, json);
  EXPECT_EQ(due[0].action, "opened");
  EXPECT_EQ(due[0].repo, "acme/widgets");
  // The signature is still checked over the raw form, and a form without payload is a 400.
  h = {{"X-GitHub-Event", "issues"},
       {"X-GitHub-Delivery", "form-2"},
       {"X-Hub-Signature-256", SignBody(kSecret, json)}};
  EXPECT_EQ(client_->Post("/webhook", h, form, "application/x-www-form-urlencoded")->status, 401);
  std::string empty = "zen=hi";
  h = {{"X-GitHub-Event", "ping"},
       {"X-GitHub-Delivery", "form-3"},
       {"X-Hub-Signature-256", SignBody(kSecret, empty)}};
  r = client_->Post("/webhook", h, empty, "application/x-www-form-urlencoded");
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("no payload field"));
}

TEST_F(WebhookServerTest, OversizedBodiesAre413) {
  std::string body = "{\"pad\":\"" + std::string(8000, 'x') + "\"}";
  httplib::Result r = Post(body, SignBody(kSecret, body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(Receipts(), 0);
}

TEST_F(WebhookServerTest, HealthSaysWhetherAWebhookArrivedRecently) {
  httplib::Result r = client_->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  nlohmann::json j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["signature_verification"], true);
  EXPECT_EQ(j["webhook_received_recently"], false);
  std::string body = "{}";
  ASSERT_EQ(Post(body, SignBody(kSecret, body))->status, 202);
  j = nlohmann::json::parse(client_->Get("/health")->body);
  EXPECT_EQ(j["webhook_received_recently"], true);
  clock_.Advance(301);
  j = nlohmann::json::parse(client_->Get("/health")->body);
  EXPECT_EQ(j["webhook_received_recently"], false);
}

TEST_F(WebhookServerTest, ConcurrentDeliveriesAreAllStoredInFewerCommits) {
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", server_->port());
      for (int i = 0; i < kEach; ++i) {
        httplib::Result r = PostNumbered(c, t, i, t * 1000 + i);
        if (r && r->status == 202) ++accepted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted, kThreads * kEach);
  EXPECT_EQ(store_->DueDeliveries(1000)->size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(inbox_->submitted(), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_LE(inbox_->commits(), inbox_->submitted());
}

TEST_F(WebhookServerTest, StopAnswersWhatItBeganAndEveryAnswerWasStored) {
  // Clients keep posting while the server stops: each request either got a 202 for a delivery
  // that is in the inbox, or no answer at all (refused or closed before it began).
  constexpr int kThreads = 8;
  std::atomic<int> accepted{0}, other{0};
  std::atomic<bool> go{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_connection_timeout(1);
      for (int i = 0; go; ++i) {
        httplib::Result r = PostNumbered(c, t, i, t * 100000 + i);
        if (!r) continue;  // no answer: not acknowledged
        if (r->status == 202) {
          ++accepted;
        } else {
          ++other;
        }
      }
    });
  }
  while (accepted < 50) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Stop();
  go = false;
  for (auto& t : threads) t.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(store_->DueDeliveries(100000)->size(), static_cast<size_t>(accepted.load()));
}

TEST(WebhookServerStartTest, RefusesToStartWithoutASecret) {
  test::FakeClock clock;
  auto store = std::move(Store::Open(":memory:", clock)).value();
  InboxWriter inbox(*store);
  WebhookServer server({.port = 0, .secret = ""}, inbox, clock, nullptr);
  Status s = server.Start();
  EXPECT_TRUE(s.IsUsageError());
  EXPECT_THAT(s.message(), HasSubstr("webhook.secret is empty"));
  WebhookServer spaces({.port = 0, .secret = " \t "}, inbox, clock, nullptr);
  Status blank = spaces.Start();
  EXPECT_TRUE(blank.IsUsageError());
  EXPECT_THAT(blank.message(), HasSubstr("webhook.secret is empty (only whitespace)"));
}

}  // namespace
}  // namespace orch
