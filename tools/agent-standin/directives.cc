#include "directives.h"

namespace orch::standin {
namespace {

constexpr std::string_view kBlanks = " \t\r";

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kBlanks);
  return s.substr(begin, end - begin + 1);
}

// The command of a directive line for `agent`, or nullopt. Besides indentation, a line may
// start with markdown quote or list markers: an issue author may well write one as a bullet.
std::optional<std::string_view> CommandOf(std::string_view line, std::string_view agent) {
  line = Trim(line);
  while (!line.empty() && (line[0] == '>' || line[0] == '-' || line[0] == '*')) {
    line = Trim(line.substr(1));
  }
  constexpr std::string_view kPrefix = "standin";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  line.remove_prefix(kPrefix.size());
  if (!line.empty() && line[0] == '[') {
    size_t close = line.find(']');
    if (close == std::string_view::npos || Trim(line.substr(1, close - 1)) != agent) {
      return std::nullopt;
    }
    line.remove_prefix(close + 1);
  }
  if (line.empty() || line[0] != ':') return std::nullopt;
  return Trim(line.substr(1));
}

}  // namespace

std::pair<std::string, std::string> SplitFirstWord(std::string_view text) {
  text = Trim(text);
  size_t blank = text.find_first_of(kBlanks);
  if (blank == std::string_view::npos) return {std::string(text), ""};
  return {std::string(text.substr(0, blank)), std::string(Trim(text.substr(blank)))};
}

std::vector<Directive> ParseDirectives(std::string_view prompt, std::string_view agent) {
  std::vector<Directive> out;
  while (!prompt.empty()) {
    size_t newline = prompt.find('\n');
    std::string_view line = prompt.substr(0, newline);
    prompt = newline == std::string_view::npos ? std::string_view() : prompt.substr(newline + 1);
    std::optional<std::string_view> command = CommandOf(line, agent);
    if (!command || command->empty()) continue;
    auto [verb, rest] = SplitFirstWord(*command);
    out.push_back(Directive{verb, rest, std::string(*command)});
  }
  return out;
}

std::optional<ErrorClass> ParseErrorClass(std::string_view name) {
  if (name == "rate_limit") return ErrorClass::kRateLimit;
  if (name == "auth") return ErrorClass::kAuth;
  if (name == "model") return ErrorClass::kModel;
  if (name == "context") return ErrorClass::kContext;
  if (name == "other") return ErrorClass::kOther;
  return std::nullopt;
}

int HttpStatusOf(ErrorClass error) {
  switch (error) {
    case ErrorClass::kRateLimit:
      return 429;
    case ErrorClass::kAuth:
      return 401;
    case ErrorClass::kModel:
      return 404;
    case ErrorClass::kContext:
      return 400;
    case ErrorClass::kOther:
      return 500;
  }
  return 500;
}

const char* HttpReasonOf(ErrorClass error) {
  switch (error) {
    case ErrorClass::kRateLimit:
      return "Too Many Requests";
    case ErrorClass::kAuth:
      return "Unauthorized";
    case ErrorClass::kModel:
      return "Not Found";
    case ErrorClass::kContext:
      return "Bad Request";
    case ErrorClass::kOther:
      return "Internal Server Error";
  }
  return "Internal Server Error";
}

}  // namespace orch::standin
