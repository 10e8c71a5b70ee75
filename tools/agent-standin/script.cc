#include "script.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>

#include "standin_io.h"

namespace orch::standin {
namespace {

// A relative path that stays under the working directory; the stand-in must not be able to
// write outside the worktree orch gave it, whatever an issue says.
bool IsSafeRelpath(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string part =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

[[noreturn]] void SleepForever() {
  for (;;) pause();
}

using Step = std::function<bool(const std::string& rest, ScriptResult&, Reporter&)>;

bool DoWrite(const std::string& rest, ScriptResult& result, Reporter& reporter) {
  auto [path, text] = SplitFirstWord(rest);
  if (!IsSafeRelpath(path)) return false;
  std::string abspath = CurrentDir() + "/" + path;
  bool existed = FileExists(abspath);
  if (!WriteFile(abspath, text + "\n")) return false;
  reporter.Wrote(path, abspath, text + "\n", existed);
  bool listed = false;
  for (const std::string& f : result.files_changed) listed = listed || f == path;
  if (!listed) result.files_changed.push_back(path);
  return true;
}

bool DoSay(const std::string& rest, ScriptResult&, Reporter& reporter) {
  reporter.Said(rest);
  return true;
}

bool DoSleep(const std::string& rest, ScriptResult&, Reporter&) {
  char* end = nullptr;
  long ms = std::strtol(rest.c_str(), &end, 10);
  if (rest.empty() || *end != '\0' || ms < 0) return false;
  SleepMs(ms);
  return true;
}

bool DoStatus(const std::string& rest, ScriptResult& result, Reporter&) {
  if (rest != "done" && rest != "in_progress" && rest != "blocked" && rest != "needs_review" &&
      rest != "needs_input") {
    return false;
  }
  result.status = rest;
  return true;
}

bool DoReason(const std::string& rest, ScriptResult& result, Reporter&) {
  result.reason = rest;
  return true;
}

bool DoDelegate(const std::string& rest, ScriptResult& result, Reporter&) {
  if (rest.empty()) return false;
  result.delegations.push_back(
      {{"title", rest}, {"body", "delegated by standin"}, {"labels", Json::array()}});
  return true;
}

bool DoFinal(const std::string& rest, ScriptResult& result, Reporter&) {
  result.final_raw = rest;
  return true;
}

bool DoError(const std::string& rest, ScriptResult& result, Reporter&) {
  result.error = ParseErrorClass(rest);
  return result.error.has_value();
}

bool DoExit(const std::string& rest, ScriptResult& result, Reporter&) {
  char* end = nullptr;
  long code = std::strtol(rest.c_str(), &end, 10);
  if (rest.empty() || *end != '\0' || code < 0 || code > 255) return false;
  result.exit_code = static_cast<int>(code);
  return true;
}

// Leaves a grandchild behind on purpose: a test kills the process group on timeout and
// then checks that both pids are gone.
bool DoHang(const std::string& rest, ScriptResult&, Reporter&) {
  if (rest.empty() || rest[0] != '/') return false;
  pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) SleepForever();
  if (!WriteFile(rest + ".tmp", std::to_string(getpid()) + " " + std::to_string(child) + "\n") ||
      std::rename((rest + ".tmp").c_str(), rest.c_str()) != 0) {
    kill(child, SIGKILL);
    return false;
  }
  SleepForever();
}

bool DoEnv(const std::string& rest, ScriptResult&, Reporter&) {
  auto [name, path] = SplitFirstWord(rest);
  if (name.empty() || !IsSafeRelpath(path)) return false;
  const char* value = std::getenv(name.c_str());
  return WriteFile(CurrentDir() + "/" + path, value ? value : "<unset>");
}

const std::map<std::string, Step>& Steps() {
  static const auto* steps = new std::map<std::string, Step>{
      {"write", DoWrite},   {"say", DoSay},           {"sleep", DoSleep}, {"status", DoStatus},
      {"reason", DoReason}, {"delegate", DoDelegate}, {"final", DoFinal}, {"error", DoError},
      {"exit", DoExit},     {"hang", DoHang},         {"env", DoEnv},
  };
  return *steps;
}

}  // namespace

std::vector<std::string> ConflictsInPrompt(std::string_view prompt) {
  std::vector<std::string> out;
  size_t at = prompt.rfind("Conflicting files (");
  if (at == std::string_view::npos) return out;
  size_t line = prompt.find('\n', at);
  while (line != std::string_view::npos && prompt.substr(line + 1, 2) == "- ") {
    size_t end = prompt.find('\n', line + 1);
    out.emplace_back(prompt.substr(line + 3, end == std::string_view::npos ? end : end - line - 3));
    line = end;
  }
  return out;
}

namespace {

// As a model would: each conflicting file keeps both sides, its markers gone; a file that says
// "standin: unresolvable" is left as it is (and the contract still claims done, as a careless
// model's would).
void ResolveConflicts(std::string_view prompt, ScriptResult& result, Reporter& reporter) {
  for (const std::string& path : ConflictsInPrompt(prompt)) {
    if (!IsSafeRelpath(path)) continue;
    std::string abspath = CurrentDir() + "/" + path;
    std::ifstream in(abspath);
    std::string resolved, line;
    bool unresolvable = false;
    while (std::getline(in, line)) {
      unresolvable = unresolvable || line.find("standin: unresolvable") != std::string::npos;
      if (line.rfind("<<<<<<< ", 0) == 0 || line.rfind(">>>>>>> ", 0) == 0 || line == "=======") {
        continue;
      }
      resolved += line + "\n";
    }
    ++result.done;
    if (unresolvable) {
      result.accomplished.push_back("left " + path + " as it was");
      continue;
    }
    if (!WriteFile(abspath, resolved)) continue;
    reporter.Wrote(path, abspath, resolved, true);
    result.files_changed.push_back(path);
    result.accomplished.push_back("resolved " + path);
  }
}

}  // namespace

std::optional<std::string> AnswerInPrompt(std::string_view prompt) {
  size_t at = prompt.rfind("The answer, from @");
  if (at == std::string_view::npos) return std::nullopt;
  size_t open = prompt.find("<<<UNTRUSTED TASK\n", at);
  if (open == std::string_view::npos) return std::nullopt;
  size_t start = open + std::string_view("<<<UNTRUSTED TASK\n").size();
  size_t end = prompt.find('\n', start);
  return std::string(prompt.substr(start, end == std::string_view::npos ? end : end - start));
}

ScriptResult RunScript(const std::vector<Directive>& directives, Reporter& reporter,
                       std::string_view prompt) {
  ScriptResult result;
  ResolveConflicts(prompt, result, reporter);
  for (const Directive& d : directives) {
    if (d.verb == "ask" && !d.rest.empty()) {
      // As a model would: ask and stop, unless the prompt brings the answer; then go on.
      std::optional<std::string> answer = AnswerInPrompt(prompt);
      ++result.done;
      if (!answer) {
        result.status = "needs_input";
        result.question = d.rest;
        result.accomplished.push_back(d.text);
        break;
      }
      result.accomplished.push_back("answered: " + *answer);
      continue;
    }
    auto step = Steps().find(d.verb);
    if (step == Steps().end() || !step->second(d.rest, result, reporter)) {
      Err("standin: skipped directive: " + d.text + "\n");
      continue;
    }
    ++result.done;
    result.accomplished.push_back(d.text);
    if (result.error) break;
  }
  return result;
}

std::string FinalMessage(const ScriptResult& result, const std::string& agent) {
  if (result.final_raw) return *result.final_raw;
  Json contract = {
      {"status", result.status},
      {"summary", "standin " + agent + " " + std::to_string(result.done) + " directive(s) done"},
      {"accomplished", result.accomplished},
      {"remaining", Json::array()},
      {"files_changed", result.files_changed},
      {"blockers", Json::array()},
      {"reason", result.reason},
      {"delegations", result.delegations},
  };
  if (!result.question.empty()) contract["question"] = result.question;
  return contract.dump();
}

}  // namespace orch::standin
