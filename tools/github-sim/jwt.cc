#include "jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

namespace orch::sim {
namespace {

using nlohmann::json;

constexpr int64_t kMaxLifetime = 600;  // GitHub rejects JWTs valid for more than 10 minutes
constexpr int64_t kClockDrift = 60;

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// `iss` as GitHub reads it: a number, or a string of digits.
std::optional<int64_t> Issuer(const json& payload) {
  auto it = payload.find("iss");
  if (it == payload.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return std::nullopt;
  const std::string s = it->get<std::string>();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(s);
}

Status Reject(std::string_view why) { return Status::InvalidArgument("jwt", why); }

Status CheckClaims(const json& header, const json& payload, int64_t app_id, int64_t now) {
  if (!header.contains("alg") || header["alg"] != "RS256" || !header.contains("typ") ||
      header["typ"] != "JWT") {
    return Reject("header must be {\"alg\":\"RS256\",\"typ\":\"JWT\"}");
  }
  if (Issuer(payload) != app_id) return Reject("iss is not the app id");
  if (!payload.contains("iat") || !payload.contains("exp") || !payload["iat"].is_number_integer() ||
      !payload["exp"].is_number_integer()) {
    return Reject("iat and exp must be integers");
  }
  const int64_t iat = payload["iat"].get<int64_t>(), exp = payload["exp"].get<int64_t>();
  if (exp - iat > kMaxLifetime) return Reject("exp is more than 600 seconds after iat");
  if (exp <= now) return Reject("expired");
  if (iat > now + kClockDrift) return Reject("iat is in the future");
  return Status::OK();
}

}  // namespace

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64UrlValue(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<JwtVerifier> JwtVerifier::Create(int64_t app_id, std::string_view public_key_pem) {
  if (public_key_pem.empty()) return JwtVerifier(app_id, nullptr);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())), BIO_free);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    // The app's private key will do too: GitHub hands out only that one.
    std::unique_ptr<BIO, decltype(&BIO_free)> again(
        BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())), BIO_free);
    key = PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr);
  }
  if (key == nullptr) return Status::InvalidArgument("app public key", "not a PEM public key");
  return JwtVerifier(app_id, std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free));
}

bool JwtVerifier::LooksLikeJwt(std::string_view token) {
  size_t first = token.find('.');
  if (first == std::string_view::npos || token.substr(0, 3) != "eyJ") return false;
  size_t second = token.find('.', first + 1);
  return second != std::string_view::npos && token.find('.', second + 1) == std::string_view::npos;
}

Status JwtVerifier::Verify(std::string_view jwt, int64_t now) const {
  if (!LooksLikeJwt(jwt)) return Reject("not three base64url segments");
  const size_t first = jwt.find('.'), second = jwt.find('.', first + 1);
  auto header = Base64UrlDecode(jwt.substr(0, first));
  auto payload = Base64UrlDecode(jwt.substr(first + 1, second - first - 1));
  auto signature = Base64UrlDecode(jwt.substr(second + 1));
  if (!header || !payload || !signature) return Reject("bad base64url");
  json h = json::parse(*header, nullptr, /*allow_exceptions=*/false);
  json p = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!h.is_object() || !p.is_object()) return Reject("header or payload is not a JSON object");
  ORCH_RETURN_IF_ERROR(CheckClaims(h, p, app_id_, now));
  if (!key_) return Status::OK();
  return VerifySignature(jwt.substr(0, second), *signature);
}

Status JwtVerifier::VerifySignature(std::string_view signed_part,
                                    std::string_view signature) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    return Reject("cannot set up RS256 verification");
  }
  int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size());
  return ok == 1 ? Status::OK() : Reject("signature does not verify");
}

}  // namespace orch::sim
