#include "github/github_auth.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "github/http_session.h"

namespace orch {
namespace {

using Json = nlohmann::json;

class StaticToken : public TokenSource {
 public:
  StaticToken(std::string token, std::string origin)
      : header_("Bearer " + std::move(token)), origin_(std::move(origin)) {}
  Result<std::string> Authorization(const std::string&) override { return header_; }
  std::string Describe() const override { return origin_; }

 private:
  std::string header_;
  std::string origin_;
};

// A GitHub App: one installation token per installation, found per repository.
class AppTokens : public TokenSource {
 public:
  AppTokens(int64_t app_id, std::string key_pem, HttpSession& session, const Clock& clock)
      : app_id_(app_id), key_pem_(std::move(key_pem)), session_(session), clock_(clock) {}

  Result<std::string> Authorization(const std::string& repo) override {
    Result<std::string> jwt = MakeAppJwt(app_id_, key_pem_, clock_.NowUnix());
    if (!jwt.ok()) return jwt.status();
    if (repo.empty()) return "Bearer " + *jwt;  // calls about the App itself
    Result<int64_t> installation = Installation(repo, *jwt);
    if (!installation.ok()) return installation.status();
    Token& t = tokens_[*installation];
    if (t.value.empty() || clock_.NowUnix() >= t.expires_at - 300) {
      Result<Token> fresh = Exchange(*installation, *jwt);
      if (!fresh.ok()) return fresh.status();
      t = *fresh;
      spdlog::info("github: new installation token for App {} installation {}", app_id_,
                   *installation);
    }
    return "Bearer " + t.value;
  }
  std::string Describe() const override { return "GitHub App " + std::to_string(app_id_); }
  bool is_app() const override { return true; }

 private:
  struct Token {
    std::string value;
    int64_t expires_at = 0;
  };

  Result<Json> Call(const std::string& method, const std::string& target, const std::string& jwt,
                    const std::string& what) {
    Result<HttpResponse> r = session_.Send(method, target,
                                           {{"Authorization", "Bearer " + jwt},
                                            {"Accept", "application/vnd.github+json"},
                                            {"User-Agent", "orch"}});
    if (!r.ok()) return r.status().Prefixed(what);
    Status s = StatusFromResponse(*r, what, clock_.NowUnix());
    if (!s.ok()) return s;
    try {
      return Json::parse(r->body);
    } catch (const std::exception& e) {
      return Status::IOError(what, e.what());
    }
  }

  Result<int64_t> Installation(const std::string& repo, const std::string& jwt) {
    auto it = installations_.find(repo);
    if (it != installations_.end()) return it->second;
    Result<Json> j = Call("GET", "/repos/" + repo + "/installation", jwt,
                          "finding the App installation for " + repo);
    if (!j.ok()) return j.status();
    int64_t id = j->value("id", int64_t{0});
    installations_[repo] = id;
    return id;
  }

  Result<Token> Exchange(int64_t installation, const std::string& jwt) {
    Result<Json> j =
        Call("POST", "/app/installations/" + std::to_string(installation) + "/access_tokens", jwt,
             "exchanging the App JWT for an installation token");
    if (!j.ok()) return j.status();
    Token t;
    t.value = j->value("token", "");
    // expires_at is ISO-8601 UTC; GitHub gives an hour. Parse it rather than assume.
    std::tm tm{};
    std::istringstream in(j->value("expires_at", ""));
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    t.expires_at = in.fail() ? clock_.NowUnix() + 3000 : timegm(&tm);
    if (t.value.empty()) return Status::IOError("installation token", "GitHub sent none");
    return t;
  }

  int64_t app_id_;
  std::string key_pem_;
  HttpSession& session_;
  const Clock& clock_;
  std::map<std::string, int64_t> installations_;
  std::map<int64_t, Token> tokens_;
};

// `gh auth token`, asked once.
class GhCliToken : public TokenSource {
 public:
  explicit GhCliToken(std::string token) : header_("Bearer " + std::move(token)) {}
  Result<std::string> Authorization(const std::string&) override { return header_; }
  std::string Describe() const override { return "gh auth token"; }

 private:
  std::string header_;
};

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

std::string Base64Url(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buf >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buf << (6 - bits)) & 0x3f]);
  return out;
}

Result<std::string> MakeAppJwt(int64_t app_id, const std::string& private_key_pem,
                               int64_t now_unix) {
  std::string header = Base64Url(R"({"alg":"RS256","typ":"JWT"})");
  // iat a minute back allows for clock drift, as GitHub recommends; exp within its 10 minutes.
  Json claims = {{"iat", now_unix - 60}, {"exp", now_unix + 540}, {"iss", std::to_string(app_id)}};
  std::string signing_input = header + "." + Base64Url(claims.dump());

  BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    return Status::InvalidArgument("github.private_key_path", "not a PEM RSA private key");
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len,
                           reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(signing_input.data()),
                        signing_input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return Status::Internal("signing the App JWT", "OpenSSL refused");
  return signing_input + "." + Base64Url(sig);
}

Result<std::unique_ptr<TokenSource>> MakeTokenSource(const GitHubConfig& config,
                                                     const EnvLookup& env, HttpSession& session,
                                                     ProcessRunner& runner, const Clock& clock) {
  if (!config.token.empty()) {
    return std::unique_ptr<TokenSource>(new StaticToken(config.token, "github.token"));
  }
  if (config.app_id != 0) {
    std::ifstream in(config.private_key_path, std::ios::binary);
    if (!in) {
      return Status::Config("github.private_key_path", "cannot read " + config.private_key_path);
    }
    std::ostringstream pem;
    pem << in.rdbuf();
    // Check the key now, so a bad one is reported at start and not on the first call.
    Result<std::string> probe = MakeAppJwt(config.app_id, pem.str(), clock.NowUnix());
    if (!probe.ok()) return Status::Config(probe.status().message());
    return std::unique_ptr<TokenSource>(new AppTokens(config.app_id, pem.str(), session, clock));
  }
  for (const char* var : {"GITHUB_TOKEN", "GH_TOKEN"}) {
    std::optional<std::string> v = env(var);
    if (v && !v->empty()) return std::unique_ptr<TokenSource>(new StaticToken(*v, var));
  }
  Result<ProcessResult> gh =
      runner.Run({.argv = {"gh", "auth", "token"}, .timeout = std::chrono::seconds(10)});
  if (gh.ok() && gh->exit_code == 0 && !Trim(gh->out).empty()) {
    return std::unique_ptr<TokenSource>(new GhCliToken(Trim(gh->out)));
  }
  return Status::Config(
      "no GitHub credentials",
      "set github.token (e.g. \"${GITHUB_TOKEN}\"), github.app_id with github.private_key_path, "
      "the GITHUB_TOKEN or GH_TOKEN environment variable, or log in with `gh auth login`");
}

}  // namespace orch
