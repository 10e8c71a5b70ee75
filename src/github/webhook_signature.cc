#include "github/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace orch {
namespace {

std::string Hex(const unsigned char* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

constexpr std::string_view kPrefix = "sha256=";

}  // namespace

std::string SignBody(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return std::string(kPrefix) + Hex(mac, len);
}

bool VerifySignature(std::string_view secret, std::string_view body, std::string_view header) {
  if (secret.empty()) return false;
  if (header.size() != kPrefix.size() + 2 * SHA256_DIGEST_LENGTH) return false;
  if (header.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string expected = SignBody(secret, body);
  // GitHub sends lowercase hex; an uppercase header simply fails to match.
  return CRYPTO_memcmp(expected.data(), header.data(), expected.size()) == 0;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

}  // namespace orch
