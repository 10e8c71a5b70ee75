// GitHub App JSON web tokens, checked the way api.github.com checks them before it hands out an
// installation token: header {"alg":"RS256","typ":"JWT"}, payload `iss` equal to the app id
// (as a number or a string), `exp` - `iat` at most 600 seconds, `exp` not yet passed and `iat`
// not more than a minute ahead, and, when the app's public key is known, a valid RSA-SHA256
// signature over "<header>.<payload>".
//
// A JwtVerifier is immutable after Create; Verify is safe to call from many threads at once.
#ifndef ORCH_SIM_JWT_H_
#define ORCH_SIM_JWT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace orch::sim {

// Decodes unpadded base64url (JWT segments); nullopt for characters outside the alphabet.
std::optional<std::string> Base64UrlDecode(std::string_view in);

class JwtVerifier {
 public:
  // `public_key_pem` "" skips the signature check. Fails with InvalidArgument when it is
  // neither a PEM public key ("-----BEGIN PUBLIC KEY-----") nor the app's PEM private key.
  static Result<JwtVerifier> Create(int64_t app_id, std::string_view public_key_pem);

  // OK, or InvalidArgument saying what is wrong ("jwt: signature does not verify"); the
  // server answers 401 whatever the reason, as GitHub does. `now` is unix seconds.
  Status Verify(std::string_view jwt, int64_t now) const;

  // True for a string shaped like a JWT (three dot-separated segments, header starting "eyJ").
  static bool LooksLikeJwt(std::string_view token);

 private:
  JwtVerifier(int64_t app_id, std::shared_ptr<EVP_PKEY> key)
      : app_id_(app_id), key_(std::move(key)) {}
  Status VerifySignature(std::string_view signed_part, std::string_view signature) const;

  int64_t app_id_;
  std::shared_ptr<EVP_PKEY> key_;  // null: signature not checked
};

}  // namespace orch::sim

#endif  // ORCH_SIM_JWT_H_
