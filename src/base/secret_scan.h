// Secret scanning: text orch posts (issue comments, PR bodies, chat) passes through
// RedactSecrets first, so an agent that echoed a token cannot publish it. Pure; thread-safe.
#ifndef ORCH_BASE_SECRET_SCAN_H_
#define ORCH_BASE_SECRET_SCAN_H_

#include <string>
#include <string_view>

namespace orch {

// `text` with every credential-looking string replaced by "[REDACTED]": GitHub tokens
// (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), OpenAI/Anthropic keys (sk-...), AWS access key
// ids, Slack tokens, JWTs, PEM private keys, and `password|secret|token|api_key = value`.
std::string RedactSecrets(std::string_view text);

}  // namespace orch

#endif  // ORCH_BASE_SECRET_SCAN_H_
