#include "github/github_rest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

TEST(NextLinkTest, FindsTheNextRelationWhereverItIs) {
  EXPECT_EQ(NextLink(R"(<https://api.github.com/repositories/1/issues?page=2>; rel="next", )"
                     R"(<https://api.github.com/repositories/1/issues?page=5>; rel="last")"),
            "https://api.github.com/repositories/1/issues?page=2");
  EXPECT_EQ(NextLink(R"(<https://x/i?page=1>; rel="prev", <https://x/i?page=3>; rel="next")"),
            "https://x/i?page=3");
  EXPECT_EQ(NextLink(R"(<https://x/i?page=1>; rel="first", <https://x/i?page=1>; rel="prev")"), "");
  EXPECT_EQ(NextLink(""), "");
  EXPECT_EQ(NextLink("garbage <unterminated"), "");
}

HttpResponse Response(int status, std::map<std::string, std::string> headers,
                      std::string body = "") {
  HttpResponse r;
  r.status = status;
  for (auto& [k, v] : headers) r.headers.emplace(k, v);
  r.body = std::move(body);
  return r;
}

TEST(StatusFromResponseTest, RateLimitsBecomeRetryableWithTheWait) {
  const int64_t now = 1'800'000'000;
  Status s = StatusFromResponse(Response(429, {{"retry-after", "7"}}), "listing", now);
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_EQ(s.retry_after_seconds(), 7);
  // Primary limit: 403 with nothing left; wait until the reset.
  s = StatusFromResponse(
      Response(403,
               {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(now + 120)}},
               R"({"message":"API rate limit exceeded for user ID 1."})"),
      "listing", now);
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_EQ(s.retry_after_seconds(), 120);
  // Secondary limit without retry-after: GitHub says wait at least a minute.
  s = StatusFromResponse(
      Response(403, {{"x-ratelimit-remaining", "4000"}},
               R"({"message":"You have exceeded a secondary rate limit. Please wait."})"),
      "listing", now);
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_EQ(s.retry_after_seconds(), 60);
}

TEST(StatusFromResponseTest, OtherFailuresKeepGitHubsMessage) {
  EXPECT_TRUE(StatusFromResponse(Response(200, {}), "x", 0).ok());
  EXPECT_TRUE(StatusFromResponse(Response(304, {}), "x", 0).ok());
  EXPECT_TRUE(StatusFromResponse(Response(502, {}), "x", 0).IsRetryable());
  EXPECT_TRUE(StatusFromResponse(Response(404, {}), "x", 0).IsNotFound());
  EXPECT_TRUE(StatusFromResponse(Response(422, {}), "x", 0).IsConflict());
  Status auth = StatusFromResponse(Response(401, {}, R"({"message":"Bad credentials"})"), "x", 0);
  EXPECT_TRUE(auth.IsUsageError());
  EXPECT_THAT(auth.message(), HasSubstr("Bad credentials"));
  Status forbidden =
      StatusFromResponse(Response(403, {}, R"({"message":"Resource not accessible"})"), "x", 0);
  EXPECT_FALSE(forbidden.IsRetryable());
  EXPECT_THAT(forbidden.message(), HasSubstr("Resource not accessible"));
}

TEST(Base64UrlTest, IsUnpaddedAndUrlSafe) {
  EXPECT_EQ(Base64Url(""), "");
  EXPECT_EQ(Base64Url("f"), "Zg");
  EXPECT_EQ(Base64Url("fo"), "Zm8");
  EXPECT_EQ(Base64Url("foo"), "Zm9v");
  EXPECT_EQ(Base64Url("\xfb\xff"), "-_8");
}

std::string Base64UrlDecode(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s.push_back('=');
  std::string out(s.size(), '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n - std::count(s.end() - 2, s.end(), '='));
  return out;
}

TEST(AppJwtTest, IsAnRs256TokenGitHubAccepts) {
  std::string pem = test::RsaPrivateKeyPem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);

  Result<std::string> jwt = MakeAppJwt(42, pem, 1'800'000'000);
  ASSERT_TRUE(jwt.ok()) << jwt.status().message();
  size_t d1 = jwt->find('.'), d2 = jwt->find('.', d1 + 1);
  ASSERT_NE(d2, std::string::npos);
  Json header = Json::parse(Base64UrlDecode(jwt->substr(0, d1)));
  Json claims = Json::parse(Base64UrlDecode(jwt->substr(d1 + 1, d2 - d1 - 1)));
  EXPECT_EQ(header, Json({{"alg", "RS256"}, {"typ", "JWT"}}));
  EXPECT_EQ(claims["iss"], "42");
  EXPECT_EQ(claims["iat"], 1'800'000'000 - 60);
  EXPECT_LE(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 600);
  // The signature verifies with the App's public key.
  std::string sig = Base64UrlDecode(jwt->substr(d2 + 1));
  std::string input = jwt->substr(0, d2);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);

  EXPECT_TRUE(MakeAppJwt(42, "not a key", 0).status().IsUsageError());
}

// A token source that hands out a fixed header.
class FixedToken : public TokenSource {
 public:
  Result<std::string> Authorization(const std::string&) override {
    return std::string("Bearer t0ken");
  }
  std::string Describe() const override { return "test"; }
};

// A tiny GitHub: /repos/a/b/issues in pages of one, with an ETag on each page.
class RestClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get(
        "/api/v3/repos/a/b/issues", [this](const httplib::Request& req, httplib::Response& res) {
          requests_.push_back(req.path + "?page=" + req.get_param_value("page") +
                              " inm=" + req.get_header_value("If-None-Match") +
                              " auth=" + req.get_header_value("Authorization"));
          int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
          std::string etag = "W/\"v" + std::to_string(version_) + "p" + std::to_string(page) + "\"";
          res.set_header("ETag", etag);
          if (req.get_header_value("If-None-Match") == etag) {
            res.status = 304;
            return;
          }
          if (page < 3) {
            res.set_header("Link", "<" + base_ + "/api/v3/repos/a/b/issues?page=" +
                                       std::to_string(page + 1) + ">; rel=\"next\"");
          }
          Json issue = {{"number", page},
                        {"title", "t"},
                        {"state", "open"},
                        {"labels", {{{"name", "orch"}}}},
                        {"user", {{"login", "al"}}},
                        {"updated_at", "2026-11-21T10:00:0" + std::to_string(page) + "Z"}};
          if (page == 2) issue["pull_request"] = {{"url", "x"}};
          res.set_content(Json::array({issue}).dump(), "application/json");
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    client_ =
        std::make_unique<RestGitHubClient>(std::move(HttpSession::Open(base_ + "/api/v3")).value(),
                                           std::make_unique<FixedToken>(), clock_);
  }
  void TearDown() override {
    client_.reset();  // closes its keep-alive connection, so the server need not wait it out
    server_.stop();
    thread_.join();
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::string base_;
  int version_ = 1;
  std::vector<std::string> requests_;
  test::FakeClock clock_;
  std::unique_ptr<RestGitHubClient> client_;
};

TEST_F(RestClientTest, FollowsLinkPagesAndMarksPullRequests) {
  Result<IssueListing> r = client_->ListIssues("a/b", {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->issues.size(), 3u);
  EXPECT_EQ(r->issues[2].number, 3);
  EXPECT_TRUE(r->issues[1].is_pull_request);
  EXPECT_FALSE(r->issues[0].is_pull_request);
  EXPECT_EQ(r->issues[0].labels, std::vector<std::string>{"orch"});
  EXPECT_EQ(r->etag, "W/\"v1p1\"");
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_THAT(requests_[0], HasSubstr("auth=Bearer t0ken"));
}

TEST_F(RestClientTest, ETagRoundTripGives304UntilSomethingChanges) {
  Result<IssueListing> first = client_->ListIssues("a/b", {});
  ASSERT_TRUE(first.ok());
  requests_.clear();
  IssueQuery q;
  q.etag = first->etag;
  Result<IssueListing> again = client_->ListIssues("a/b", q);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->not_modified);
  EXPECT_TRUE(again->issues.empty());
  ASSERT_EQ(requests_.size(), 1u);  // no further pages on a 304
  EXPECT_THAT(requests_[0], HasSubstr("inm=W/\"v1p1\""));
  version_ = 2;
  Result<IssueListing> changed = client_->ListIssues("a/b", q);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->not_modified);
  EXPECT_EQ(changed->etag, "W/\"v2p1\"");
}

TEST(HttpSessionTest, RefusesToFollowLinksToAnotherHost) {
  auto s = std::move(HttpSession::Open("http://127.0.0.1:1")).value();
  Result<HttpResponse> r = s->Send("GET", "https://evil.example/steal", {});
  EXPECT_TRUE(r.status().IsUsageError());
  EXPECT_FALSE(HttpSession::Open("ftp://x").ok());
}

// A ProcessRunner that answers `gh auth token` (or fails) and records what it ran.
class FakeRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const ProcessOptions& o) override {
    ran.push_back(o.argv);
    if (!gh_token) return Status::NotFound("gh", "not installed");
    ProcessResult r;
    r.exit_code = 0;
    r.out = *gh_token + "\n";
    return r;
  }
  std::optional<std::string> gh_token;
  std::vector<std::vector<std::string>> ran;
};

class TokenSourceTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<TokenSource>> Make(const GitHubConfig& config,
                                            std::map<std::string, std::string> env) {
    return MakeTokenSource(
        config,
        [env](const std::string& k) -> std::optional<std::string> {
          auto it = env.find(k);
          return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
        },
        *session_, runner_, clock_);
  }
  test::FakeClock clock_;
  FakeRunner runner_;
  std::unique_ptr<HttpSession> session_ =
      std::move(HttpSession::Open("http://127.0.0.1:1")).value();
};

TEST_F(TokenSourceTest, ConfigThenEnvironmentThenGhCli) {
  auto t = Make({.token = "cfg"}, {{"GITHUB_TOKEN", "env"}});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Describe(), "github.token");
  EXPECT_EQ(*(*t)->Authorization("a/b"), "Bearer cfg");

  t = Make({}, {{"GH_TOKEN", "env2"}});
  EXPECT_EQ((*t)->Describe(), "GH_TOKEN");
  EXPECT_EQ(*(*t)->Authorization("a/b"), "Bearer env2");

  runner_.gh_token = "gho_fromcli";
  t = Make({}, {});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Describe(), "gh auth token");
  EXPECT_EQ(*(*t)->Authorization("a/b"), "Bearer gho_fromcli");
  EXPECT_EQ(runner_.ran.back(), (std::vector<std::string>{"gh", "auth", "token"}));
}

TEST_F(TokenSourceTest, NoCredentialsIsAConfigErrorSayingWhatToSet) {
  auto t = Make({}, {});
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsUsageError());
  EXPECT_THAT(t.status().message(), HasSubstr("github.token"));
  EXPECT_THAT(t.status().message(), HasSubstr("gh auth login"));
  // A configured App with an unreadable key names the key's path.
  auto app = Make({.app_id = 42, .private_key_path = "/nonexistent/key.pem"}, {});
  EXPECT_THAT(app.status().message(), HasSubstr("/nonexistent/key.pem"));
}

}  // namespace
}  // namespace orch
