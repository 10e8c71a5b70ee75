#include "secret_scan.h"

#include <regex>
#include <vector>

namespace orch {

std::string RedactSecrets(std::string_view text) {
  static const std::vector<std::regex> kPatterns = [] {
    std::vector<std::regex> v;
    for (const char* p : {
             R"(-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)",
             R"(\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}\b)",
             R"(\bgithub_pat_[A-Za-z0-9_]{20,}\b)",
             R"(\bsk-(ant-)?[A-Za-z0-9_\-]{20,}\b)",
             R"(\b(AKIA|ASIA)[0-9A-Z]{16}\b)",
             R"(\bxox[abprs]-[A-Za-z0-9\-]{10,}\b)",
             R"(\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\b)",
         }) {
      v.emplace_back(p);
    }
    return v;
  }();
  static const std::regex kAssignment(
      R"(((password|passwd|secret|token|api[_-]?key)\s*[:=]\s*)["']?[^\s"']{8,}["']?)",
      std::regex::icase);
  std::string out(text);
  for (const auto& re : kPatterns) out = std::regex_replace(out, re, "[REDACTED]");
  out = std::regex_replace(out, kAssignment, "$1[REDACTED]");
  return out;
}

}  // namespace orch
