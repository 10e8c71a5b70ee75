// Webhook signatures: GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the raw body, hex, behind
// "sha256="), and the body's SHA-256 that the inbox deduplicates on.
//
// The receiver calls VerifySignature before it parses anything. The comparison takes the same
// time whatever the position of the first differing byte. Pure functions; thread-safe.
#ifndef ORCH_GITHUB_WEBHOOK_SIGNATURE_H_
#define ORCH_GITHUB_WEBHOOK_SIGNATURE_H_

#include <string>
#include <string_view>

namespace orch {

// "sha256=<64 lowercase hex>" for `body` under `secret`, as GitHub sends it.
std::string SignBody(std::string_view secret, std::string_view body);

// True only for a well-formed "sha256=<64 hex>" header matching `body` under `secret`. An empty
// secret verifies nothing (fail closed); sha1-only, truncated or missing headers are false.
bool VerifySignature(std::string_view secret, std::string_view body, std::string_view header);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace orch

#endif  // ORCH_GITHUB_WEBHOOK_SIGNATURE_H_
