// The simulator's webhooks and GitHub App support, over real HTTP: a fake orch receiver records
// what the built binary sends when a person acts through the control API or orch writes
// through REST, and the App tests exchange a JWT signed in the test for an installation token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <ctime>
#include <memory>

#include "github/webhook_signature.h"
#include "sim_fixture.h"

namespace orch::sim::test {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

std::string Sha1Signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return "sha1=" + hex;
}

std::vector<std::string> EventsAndActions(const std::vector<ReceivedHook>& hooks) {
  std::vector<std::string> out;
  for (const ReceivedHook& h : hooks) {
    out.push_back(h.Header("X-GitHub-Event") + "/" + h.Json()["action"].get<std::string>());
  }
  return out;
}

using GithubSimWebhookTest = SimTest;

TEST_F(GithubSimWebhookTest, ControlLabelSendsSignedIssuesLabeled) {
  // Alice adds "orch" to #4: orch receives `issues` / `labeled` exactly as GitHub sends it.
  json answer =
      Act("/_sim/repos/acme/widgets/issues/4/labels", {{"label", "orch"}, {"user", "alice"}});
  EXPECT_EQ(answer["delivery"]["status"], 200);
  EXPECT_EQ(answer["delivery"]["event"], "issues");
  ASSERT_EQ(hooks_.hooks().size(), 1u);  // sent before the control call answered
  const ReceivedHook hook = hooks_.hooks()[0];

  EXPECT_EQ(hook.Header("X-GitHub-Event"), "issues");
  EXPECT_EQ(hook.Header("X-GitHub-Delivery"), answer["delivery"]["guid"]);
  EXPECT_THAT(hook.Header("X-GitHub-Delivery"),
              MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_EQ(hook.Header("X-Hub-Signature-256"), orch::SignBody(kSecret, hook.body));
  EXPECT_TRUE(orch::VerifySignature(kSecret, hook.body, hook.Header("X-Hub-Signature-256")));
  EXPECT_EQ(hook.Header("X-Hub-Signature"), Sha1Signature(kSecret, hook.body));
  EXPECT_EQ(hook.Header("Content-Type"), "application/json");
  EXPECT_THAT(hook.Header("User-Agent"), MatchesRegex("GitHub-Hookshot/[0-9a-f]{7}"));
  EXPECT_FALSE(hook.Header("X-GitHub-Hook-ID").empty());
  EXPECT_EQ(hook.Header("X-GitHub-Hook-Installation-Target-Type"), "repository");

  json p = hook.Json();
  EXPECT_EQ(p["action"], "labeled");
  EXPECT_EQ(p["label"]["name"], "orch");
  EXPECT_EQ(p["sender"]["login"], "alice");
  EXPECT_EQ(p["sender"]["type"], "User");
  EXPECT_EQ(p["issue"]["number"], 4);
  EXPECT_EQ(p["issue"]["labels"][0]["name"], "orch");
  EXPECT_FALSE(p["issue"].contains("pull_request"));
  EXPECT_EQ(p["repository"]["full_name"], "acme/widgets");
  EXPECT_EQ(p["repository"]["private"], false);
  EXPECT_EQ(p["repository"]["owner"]["login"], "acme");
  EXPECT_EQ(p["repository"]["default_branch"], "main");
  EXPECT_EQ(hook.Header("X-GitHub-Hook-Installation-Target-ID"),
            std::to_string(p["repository"]["id"].get<int64_t>()));
  EXPECT_FALSE(p.contains("installation"));  // no GitHub App in this seed
}

TEST_F(GithubSimWebhookTest, RedeliverResendsTheSameGuidAndBody) {
  json answer = Act("/_sim/repos/acme/widgets/issues/1/close", {{"user", "bob"}});
  const std::string guid = answer["delivery"]["guid"];
  json again = Act("/_sim/deliveries/" + guid + "/redeliver", json::object());
  EXPECT_EQ(again["delivery"]["guid"], guid);
  EXPECT_EQ(again["delivery"]["status"], 200);

  auto hooks = hooks_.hooks();
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[1].Header("X-GitHub-Delivery"), guid);
  EXPECT_EQ(hooks[1].body, hooks[0].body);
  EXPECT_EQ(hooks[1].Header("X-Hub-Signature-256"), hooks[0].Header("X-Hub-Signature-256"));

  json log = json::parse(sim_->Client()->Get("/_sim/deliveries")->body);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["guid"], guid);
  EXPECT_EQ(log[0]["event"], "issues");
  EXPECT_EQ(log[0]["action"], "closed");
  EXPECT_EQ(log[0]["body"], hooks[0].body);
  EXPECT_EQ(log[1]["guid"], guid);
  EXPECT_EQ(sim_->Client()->Post("/_sim/deliveries/nope/redeliver")->status, 404);
}

TEST_F(GithubSimWebhookTest, RestWritesSendWebhooksFromTheTokenUser) {
  // GitHub tells orch about orch's own writes; the sender is the token's user.
  ASSERT_EQ(Post("/repos/acme/widgets/issues/4/labels", {{"labels", {"orch"}}})->status, 200);
  ASSERT_EQ(Post("/repos/acme/widgets/issues/4/comments", {{"body", "on it"}})->status, 201);
  ASSERT_EQ(Post("/repos/acme/widgets/pulls", {{"title", "Fix"}, {"head", "fix-4"}})->status, 201);
  ASSERT_TRUE(hooks_.WaitFor(3));
  auto hooks = hooks_.hooks();
  EXPECT_THAT(EventsAndActions(hooks),
              ElementsAre("issues/labeled", "issue_comment/created", "pull_request/opened"));
  for (const ReceivedHook& h : hooks) {
    EXPECT_EQ(h.Json()["sender"]["login"], "orch-bot");
    EXPECT_EQ(h.Header("X-Hub-Signature-256"), orch::SignBody(kSecret, h.body));
  }
  EXPECT_EQ(hooks[0].Json()["label"]["name"], "orch");
  EXPECT_EQ(hooks[1].Json()["comment"]["body"], "on it");
  EXPECT_EQ(hooks[2].Json()["pull_request"]["head"]["ref"], "fix-4");
  EXPECT_EQ(hooks[2].Json()["number"], 7);
}

TEST_F(GithubSimWebhookTest, ReviewWebhookSpellsStateLowercaseAndRestUppercase) {
  Act("/_sim/repos/acme/widgets/pulls",
      {{"user", "orch-bot"}, {"title", "Fix #1"}, {"head", "orch/1"}, {"body", "Fixes #1"}});
  json answer = Act(
      "/_sim/repos/acme/widgets/pulls/7/reviews",
      {{"user", "alice"},
       {"state", "CHANGES_REQUESTED"},
       {"body", "Almost"},
       {"comments",
        {{{"path", "src/a.cc"}, {"line", 12}, {"body", "off by one"}, {"diff_hunk", "@@ -1 +1 @@"}},
         {{"path", "src/b.cc"}, {"line", 3}, {"body", "typo"}}}}});
  ASSERT_EQ(hooks_.hooks().size(), 2u);
  json p = hooks_.hooks()[1].Json();
  EXPECT_EQ(hooks_.hooks()[1].Header("X-GitHub-Event"), "pull_request_review");
  EXPECT_EQ(p["action"], "submitted");
  EXPECT_EQ(p["review"]["state"], "changes_requested");
  EXPECT_EQ(p["review"]["user"]["login"], "alice");
  EXPECT_EQ(p["pull_request"]["number"], 7);
  EXPECT_EQ(p["sender"]["login"], "alice");

  json reviews = GetJson("/repos/acme/widgets/pulls/7/reviews");
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0]["state"], "CHANGES_REQUESTED");
  EXPECT_EQ(reviews[0]["body"], "Almost");
  const int64_t id = reviews[0]["id"];
  EXPECT_EQ(answer["review"]["id"], id);
  json comments =
      GetJson("/repos/acme/widgets/pulls/7/reviews/" + std::to_string(id) + "/comments");
  ASSERT_EQ(comments.size(), 2u);
  EXPECT_EQ(comments[0]["pull_request_review_id"], id);
  EXPECT_EQ(comments[0]["path"], "src/a.cc");
  EXPECT_EQ(comments[0]["line"], 12);
  EXPECT_EQ(comments[0]["original_line"], 12);
  EXPECT_EQ(comments[0]["diff_hunk"], "@@ -1 +1 @@");
  EXPECT_EQ(comments[1]["body"], "typo");
  EXPECT_EQ(Get("/repos/acme/widgets/pulls/7/reviews/1/comments")->status, 404);
}

TEST_F(GithubSimWebhookTest, MergeClosesThePullAndLeavesTheIssueAlone) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "b"}});
  json comment = Act("/_sim/repos/acme/widgets/issues/7/comments",
                     {{"user", "dependabot[bot]"}, {"body", "bump"}});
  Act("/_sim/repos/acme/widgets/pulls/7/merge", {{"user", "alice"}});
  auto hooks = hooks_.hooks();
  EXPECT_THAT(EventsAndActions(hooks),
              ElementsAre("pull_request/opened", "issue_comment/created", "pull_request/closed"));
  json on_pull = hooks[1].Json();
  EXPECT_TRUE(on_pull["issue"].contains("pull_request"));  // a comment on a pull request
  EXPECT_EQ(on_pull["sender"]["type"], "Bot");
  json merged = hooks[2].Json();
  EXPECT_EQ(merged["pull_request"]["merged"], true);
  EXPECT_FALSE(merged["pull_request"]["merged_at"].is_null());
  EXPECT_EQ(merged["pull_request"]["state"], "closed");
  EXPECT_EQ(GetJson("/repos/acme/widgets/issues/1")["state"], "open");
  EXPECT_EQ(Post("/_sim/repos/acme/widgets/pulls/7/merge", json::object(), {})->status, 422);
}

TEST_F(GithubSimWebhookTest, ControlCheckRunSendsSignedCheckRunNamingThePull) {
  // CI fails on the head of orch-bot's #7: orch receives `check_run` / `completed` naming the
  // pull request, from whoever pushed (the author), and can redeliver it.
  Act("/_sim/repos/acme/widgets/pulls",
      {{"user", "orch-bot"}, {"title", "T"}, {"head", "orch/7-fix"}});
  const std::string sha = GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"];
  json answer = Act("/_sim/repos/acme/widgets/check-runs",
                    {{"ref", "orch/7-fix"},
                     {"name", "test"},
                     {"status", "completed"},
                     {"conclusion", "failure"},
                     {"output", {{"title", "1 failing test"}, {"summary", "FooTest.Bar"}}},
                     {"annotations",
                      {{{"path", "a_test.cc"},
                        {"start_line", 12},
                        {"end_line", 12},
                        {"annotation_level", "failure"},
                        {"message", "Expected 1, got 2"}}}},
                     {"log", "FAILED FooTest.Bar\n"}});
  // Three deliveries; "delivery" is the last (workflow_run), "deliveries" all, in order.
  ASSERT_EQ(answer["deliveries"].size(), 3u);
  const json delivery = answer["deliveries"][0];
  EXPECT_EQ(delivery["event"], "check_run");
  EXPECT_EQ(delivery["status"], 200);
  EXPECT_EQ(answer["delivery"]["event"], "workflow_run");
  // The suite's only run completed: check_suite and workflow_run completed follow, failed.
  ASSERT_EQ(hooks_.hooks().size(), 4u);
  const ReceivedHook hook = hooks_.hooks()[1];
  for (int i : {2, 3}) {
    const std::string event = i == 2 ? "check_suite" : "workflow_run";
    EXPECT_EQ(hooks_.hooks()[i].Header("X-GitHub-Event"), event);
    json s = hooks_.hooks()[i].Json();
    EXPECT_EQ(s["action"], "completed");
    EXPECT_EQ(s["sender"]["login"], "orch-bot");
    EXPECT_EQ(s[event]["head_sha"], sha);
    EXPECT_EQ(s[event]["head_branch"], "orch/7-fix");
    EXPECT_EQ(s[event]["conclusion"], "failure");
    EXPECT_EQ(s[event]["id"], hook.Json()["check_run"]["check_suite"]["id"]);
    ASSERT_EQ(s[event]["pull_requests"].size(), 1u);
    EXPECT_EQ(s[event]["pull_requests"][0]["number"], 7);
  }
  EXPECT_EQ(hook.Header("X-GitHub-Event"), "check_run");
  EXPECT_EQ(hook.Header("X-GitHub-Delivery"), delivery["guid"]);
  EXPECT_EQ(hook.Header("X-Hub-Signature-256"), orch::SignBody(kSecret, hook.body));

  json p = hook.Json();
  EXPECT_EQ(p["action"], "completed");
  EXPECT_EQ(p["sender"]["login"], "orch-bot");
  EXPECT_EQ(p["repository"]["full_name"], "acme/widgets");
  EXPECT_FALSE(p.contains("installation"));
  json run = p["check_run"];
  EXPECT_EQ(run, answer["check_run"]);
  EXPECT_EQ(run["name"], "test");
  EXPECT_EQ(run["head_sha"], sha);
  EXPECT_EQ(run["status"], "completed");
  EXPECT_EQ(run["conclusion"], "failure");
  EXPECT_FALSE(run["started_at"].is_null());
  EXPECT_FALSE(run["completed_at"].is_null());
  EXPECT_THAT(run["details_url"].get<std::string>(),
              MatchesRegex("https://github.com/acme/widgets/actions/runs/[0-9]+/job/" +
                           std::to_string(run["id"].get<int64_t>())));
  EXPECT_EQ(run["output"]["title"], "1 failing test");
  EXPECT_EQ(run["output"]["summary"], "FooTest.Bar");
  EXPECT_EQ(run["output"]["annotations_count"], 1);
  EXPECT_EQ(run["check_suite"]["head_branch"], "orch/7-fix");
  EXPECT_EQ(run["check_suite"]["head_sha"], sha);
  ASSERT_EQ(run["pull_requests"].size(), 1u);
  EXPECT_EQ(run["pull_requests"][0]["number"], 7);
  EXPECT_EQ(run["pull_requests"][0]["head"]["ref"], "orch/7-fix");
  EXPECT_EQ(run["pull_requests"][0]["head"]["sha"], sha);
  EXPECT_EQ(run["pull_requests"][0]["base"]["ref"], "main");

  json again =
      Act("/_sim/deliveries/" + delivery["guid"].get<std::string>() + "/redeliver", json::object());
  EXPECT_EQ(again["delivery"]["status"], 200);
  ASSERT_EQ(hooks_.hooks().size(), 5u);
  EXPECT_EQ(hooks_.hooks()[4].body, hook.body);
}

TEST_F(GithubSimWebhookTest, UnfinishedCheckRunIsCreatedAndSenderMayBeNamed) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "bob"}, {"title", "T"}, {"head", "b"}});
  json answer = Act("/_sim/repos/acme/widgets/check-runs", {{"ref", "b"},
                                                            {"name", "lint"},
                                                            {"status", "in_progress"},
                                                            {"conclusion", "failure"},
                                                            {"sender", "alice"}});
  json p = hooks_.hooks().back().Json();
  EXPECT_EQ(p["action"], "created");
  EXPECT_EQ(p["sender"]["login"], "alice");
  EXPECT_EQ(p["check_run"]["status"], "in_progress");
  EXPECT_TRUE(p["check_run"]["conclusion"].is_null());  // only a completed run has one
  EXPECT_TRUE(p["check_run"]["completed_at"].is_null());
  // The default sender is the author of the pull request at that commit. (The suite's
  // check_suite and workflow_run follow the check_run: its only run completed, passing.)
  Act("/_sim/repos/acme/widgets/check-runs", {{"ref", "b"}, {"name", "lint"}});
  ASSERT_GE(hooks_.hooks().size(), 3u);
  EXPECT_EQ(hooks_.hooks().back().Json()["workflow_run"]["conclusion"], "success");
  p = hooks_.hooks()[hooks_.hooks().size() - 3].Json();
  EXPECT_EQ(p["action"], "completed");
  EXPECT_EQ(p["sender"]["login"], "bob");
  EXPECT_EQ(p["check_run"]["id"], answer["check_run"]["id"]);  // the same run, finished
}

TEST_F(GithubSimWebhookTest, APushSendsPullRequestSynchronize) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "b"}});
  const std::string before = GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"];
  const std::string after(40, 'c');
  json answer = Act("/_sim/repos/acme/widgets/pulls/7/head", {{"sha", after}});
  EXPECT_EQ(answer["delivery"]["event"], "pull_request");
  json p = hooks_.hooks().back().Json();
  EXPECT_EQ(p["action"], "synchronize");
  EXPECT_EQ(p["before"], before);
  EXPECT_EQ(p["after"], after);
  EXPECT_EQ(p["pull_request"]["head"]["sha"], after);
  EXPECT_EQ(p["sender"]["login"], "orch-bot");
  // The same head again is no push: nothing is sent.
  EXPECT_TRUE(Act("/_sim/repos/acme/widgets/pulls/7/head", {{"sha", after}})["delivery"].is_null());
  EXPECT_EQ(hooks_.hooks().size(), 2u);
}

TEST_F(GithubSimWebhookTest, ControlReviewCommentSendsSignedPullRequestReviewComment) {
  // Alice leaves a lone comment on a line of #7, then orch-bot answers it: each is one signed
  // `pull_request_review_comment` / `created` delivery that the test can redeliver.
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "f7"}});
  json answer = Act("/_sim/repos/acme/widgets/pulls/7/comments", {{"user", "alice"},
                                                                  {"body", "off by one"},
                                                                  {"path", "src/a.cc"},
                                                                  {"line", 12},
                                                                  {"diff_hunk", "@@ -1 +1 @@"}});
  EXPECT_EQ(answer["delivery"]["status"], 200);
  EXPECT_EQ(answer["delivery"]["event"], "pull_request_review_comment");
  ASSERT_EQ(hooks_.hooks().size(), 2u);
  const ReceivedHook hook = hooks_.hooks()[1];
  EXPECT_EQ(hook.Header("X-GitHub-Event"), "pull_request_review_comment");
  EXPECT_EQ(hook.Header("X-GitHub-Delivery"), answer["delivery"]["guid"]);
  EXPECT_TRUE(orch::VerifySignature(kSecret, hook.body, hook.Header("X-Hub-Signature-256")));

  json p = hook.Json();
  EXPECT_EQ(p["action"], "created");
  EXPECT_EQ(p["comment"], answer["comment"]);
  EXPECT_EQ(p["comment"]["body"], "off by one");
  EXPECT_EQ(p["comment"]["path"], "src/a.cc");
  EXPECT_EQ(p["comment"]["line"], 12);
  EXPECT_EQ(p["comment"]["diff_hunk"], "@@ -1 +1 @@");
  EXPECT_EQ(p["comment"]["user"]["login"], "alice");
  EXPECT_EQ(p["comment"]["pull_request_review_id"], answer["review"]["id"]);
  EXPECT_FALSE(p["comment"].contains("in_reply_to_id"));
  EXPECT_EQ(p["pull_request"]["number"], 7);
  EXPECT_EQ(p["pull_request"]["head"]["ref"], "f7");
  EXPECT_EQ(p["repository"]["full_name"], "acme/widgets");
  EXPECT_EQ(p["sender"]["login"], "alice");
  EXPECT_FALSE(p.contains("installation"));  // no GitHub App in this seed
  json reviews = GetJson("/repos/acme/widgets/pulls/7/reviews");
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0]["state"], "COMMENTED");

  json again =
      Act("/_sim/deliveries/" + answer["delivery"]["guid"].get<std::string>() + "/redeliver",
          json::object());
  EXPECT_EQ(again["delivery"]["status"], 200);
  ASSERT_EQ(hooks_.hooks().size(), 3u);
  EXPECT_EQ(hooks_.hooks()[2].body, hook.body);

  json reply = Act("/_sim/repos/acme/widgets/pulls/7/comments",
                   {{"user", "orch-bot"}, {"body", "fixed"}, {"in_reply_to", p["comment"]["id"]}});
  ASSERT_EQ(hooks_.hooks().size(), 4u);
  json r = hooks_.hooks()[3].Json();
  EXPECT_EQ(r["comment"]["in_reply_to_id"], p["comment"]["id"]);
  EXPECT_EQ(r["comment"]["path"], "src/a.cc");
  EXPECT_EQ(r["sender"]["login"], "orch-bot");
  EXPECT_EQ(r["comment"]["id"], reply["comment"]["id"]);
}

TEST_F(GithubSimWebhookTest, NoSecretMeansNoSignatureAndNoUrlMeansNoDelivery) {
  Act("/_sim/webhook", {{"url", hooks_.url()}, {"secret", ""}});
  Act("/_sim/repos/acme/widgets/issues", {{"user", "eve"}, {"title", "New"}, {"labels", {"bug"}}});
  ASSERT_EQ(hooks_.hooks().size(), 1u);
  EXPECT_EQ(hooks_.hooks()[0].Header("X-Hub-Signature-256"), "");
  EXPECT_EQ(hooks_.hooks()[0].Header("X-Hub-Signature"), "");
  EXPECT_EQ(hooks_.hooks()[0].Json()["issue"]["labels"][0]["name"], "bug");

  Act("/_sim/webhook", {{"url", "http://127.0.0.1:1/unreachable"}});
  json answer = Act("/_sim/repos/acme/widgets/issues/1/close", {{"user", "eve"}});
  EXPECT_EQ(answer["delivery"]["status"], 0);
  EXPECT_FALSE(answer["delivery"]["error"].get<std::string>().empty());
}

TEST_F(GithubSimWebhookTest, OrchMayCallBackWhileHandlingADelivery) {
  // Regression guard: deliveries go out with the state mutex released, so a receiver that
  // reads the issue while handling the webhook neither deadlocks nor waits.
  std::vector<int> statuses;
  std::mutex mu;
  const int port = sim_->port();
  hooks_.set_on_hook([&](const ReceivedHook&) {
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get("/repos/acme/widgets/issues/1", AuthHeaders());
    std::lock_guard<std::mutex> lock(mu);
    statuses.push_back(res ? res->status : -1);
  });
  Act("/_sim/repos/acme/widgets/issues/1/labels", {{"label", "bug"}, {"user", "bob"}});
  ASSERT_EQ(Post("/repos/acme/widgets/issues/1/comments", {{"body", "x"}})->status, 201);
  ASSERT_TRUE(hooks_.WaitFor(2));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(statuses, ElementsAre(200, 200));
}

// --- GitHub App ---

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

KeyPtr NewRsaKey() { return KeyPtr(EVP_RSA_gen(2048), EVP_PKEY_free); }

std::string Base64Url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string SignJwt(EVP_PKEY* key, const json& header, const json& payload) {
  const std::string signing = Base64Url(header.dump()) + "." + Base64Url(payload.dump());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(signing.data());
  EVP_DigestSign(ctx.get(), nullptr, &len, data, signing.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                 signing.size());
  sig.resize(len);
  return signing + "." + Base64Url(sig);
}

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

class GithubSimAppTest : public SimTest {
 protected:
  void SetUp() override {
    json seed = DefaultSeed();
    seed["app"] = {{"id", 42}, {"installation_id", 7}, {"slug", "orch-app"}};
    WriteFile(dir_.Sub("app.pem"), PublicPem(key_.get()));
    sim_ = std::make_unique<SimProcess>(
        seed, std::vector<std::string>{"--webhook-url", hooks_.url(), "--webhook-secret", kSecret,
                                       "--app-public-key", dir_.Sub("app.pem")});
  }

  std::string Jwt(EVP_PKEY* key, const json& iss = 42, int64_t lifetime = 540) {
    const int64_t now = std::time(nullptr);
    return SignJwt(key, {{"alg", "RS256"}, {"typ", "JWT"}},
                   {{"iat", now - 30}, {"exp", now - 30 + lifetime}, {"iss", iss}});
  }

  httplib::Result ExchangeJwt(const std::string& jwt, int installation = 7) {
    return Post("/app/installations/" + std::to_string(installation) + "/access_tokens",
                json::object(), AuthHeaders(jwt, "Bearer"));
  }

  TempDir dir_;
  KeyPtr key_ = NewRsaKey();
};

TEST_F(GithubSimAppTest, ExchangesASignedJwtForAnInstallationToken) {
  auto app = Get("/app", AuthHeaders(Jwt(key_.get()), "Bearer"));
  ASSERT_EQ(app->status, 200) << app->body;
  EXPECT_EQ(json::parse(app->body)["id"], 42);
  EXPECT_EQ(json::parse(app->body)["slug"], "orch-app");
  auto install = Get("/repos/acme/widgets/installation", AuthHeaders(Jwt(key_.get()), "Bearer"));
  EXPECT_EQ(json::parse(install->body)["id"], 7);

  auto exchanged = ExchangeJwt(Jwt(key_.get(), "42"));  // iss as a string works too
  ASSERT_EQ(exchanged->status, 201) << exchanged->body;
  json grant = json::parse(exchanged->body);
  const std::string token = grant["token"];
  EXPECT_THAT(token, MatchesRegex("ghs_[A-Za-z0-9]{36}"));
  EXPECT_THAT(grant["expires_at"].get<std::string>(), MatchesRegex("20[0-9-]+T[0-9:]+Z"));

  auto issues = Get("/repos/acme/widgets/issues", AuthHeaders(token, "token"));
  EXPECT_EQ(issues->status, 200);
  EXPECT_EQ(json::parse(issues->body).size(), 5u);
  json me = json::parse(Get("/user", AuthHeaders(token, "Bearer"))->body);
  EXPECT_EQ(me["login"], "orch-app[bot]");
  EXPECT_EQ(me["type"], "Bot");

  ASSERT_EQ(Post("/repos/acme/widgets/issues/2/labels", {{"labels", {"orch"}}}, AuthHeaders(token))
                ->status,
            200);
  ASSERT_TRUE(hooks_.WaitFor(1));
  json p = hooks_.hooks()[0].Json();
  EXPECT_EQ(p["sender"]["login"], "orch-app[bot]");
  EXPECT_EQ(p["sender"]["type"], "Bot");
  EXPECT_EQ(p["installation"]["id"], 7);
}

TEST_F(GithubSimAppTest, ReviewCommentWebhookNamesTheInstallation) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "f7"}});
  Act("/_sim/repos/acme/widgets/pulls/7/comments",
      {{"user", "alice"}, {"body", "b"}, {"path", "a.cc"}, {"line", 1}});
  ASSERT_EQ(hooks_.hooks().size(), 2u);
  EXPECT_EQ(hooks_.hooks()[1].Json()["installation"]["id"], 7);
}

TEST_F(GithubSimAppTest, CheckRunWebhookNamesTheInstallation) {
  Act("/_sim/repos/acme/widgets/check-runs", {{"ref", "main"}, {"name", "ci"}});
  ASSERT_EQ(hooks_.hooks().size(), 3u);  // check_run, then its suite's check_suite, workflow_run
  EXPECT_EQ(hooks_.hooks()[2].Json()["installation"]["id"], 7);
  json p = hooks_.hooks()[0].Json();
  EXPECT_EQ(p["installation"]["id"], 7);
  EXPECT_EQ(p["sender"]["login"], "octocat");  // no pull request: nobody's push to name
  EXPECT_EQ(p["check_run"]["check_suite"]["head_branch"], "main");
  EXPECT_EQ(p["check_run"]["head_sha"].get<std::string>().size(), 40u);
  EXPECT_TRUE(p["check_run"]["pull_requests"].empty());
}

TEST_F(GithubSimAppTest, RejectsJwtsGithubWouldReject) {
  KeyPtr stranger = NewRsaKey();
  auto forged = ExchangeJwt(Jwt(stranger.get()));
  EXPECT_EQ(forged->status, 401);
  EXPECT_EQ(json::parse(forged->body)["message"], "A JSON web token could not be decoded");
  EXPECT_EQ(ExchangeJwt(Jwt(key_.get(), 42, 601))->status, 401);  // lives too long
  EXPECT_EQ(ExchangeJwt(Jwt(key_.get(), 43))->status, 401);       // another app
  const int64_t now = std::time(nullptr);
  EXPECT_EQ(ExchangeJwt(SignJwt(key_.get(), {{"alg", "HS256"}, {"typ", "JWT"}},
                                {{"iat", now}, {"exp", now + 60}, {"iss", 42}}))
                ->status,
            401);
  EXPECT_EQ(Post("/app/installations/7/access_tokens", json::object())->status, 401);  // "t0ken"
  EXPECT_EQ(ExchangeJwt(Jwt(key_.get()), 8)->status, 404);  // not our installation
  EXPECT_EQ(Get("/user", AuthHeaders("ghs_made_up"))->status, 401);
}

}  // namespace
}  // namespace orch::sim::test
