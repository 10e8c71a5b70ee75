#include "agents/prompt.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/subprocess.h"

namespace orch {
namespace {

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

Result<PromptFile> LoadPrompt(const std::string& orch_home, const std::string& name) {
  std::vector<std::string> dirs;
  if (!orch_home.empty()) dirs.push_back(orch_home + "/prompts");
  if (const char* d = std::getenv("ORCH_PROMPTS_DIR"); d && *d) dirs.push_back(d);
  std::string exe = ExecutablePath();
  if (!exe.empty()) {
    dirs.push_back(std::filesystem::path(exe).parent_path().string() + "/../share/orch/prompts");
  }
#ifdef ORCH_SOURCE_PROMPTS
  dirs.push_back(ORCH_SOURCE_PROMPTS);
#endif
  for (const std::string& d : dirs) {
    std::string path = d + "/" + name;
    std::ifstream in(path);
    if (!in) continue;
    std::ostringstream s;
    s << in.rdbuf();
    return PromptFile{path, s.str()};
  }
  std::string looked;
  for (const auto& d : dirs) looked += (looked.empty() ? "" : ", ") + d;
  return Status::NotFound("prompt " + name, "not found in " + looked);
}

std::string DefuseMarkers(std::string_view text) {
  std::string s(text);
  // A zero-width space inside the marker keeps the text readable but no longer a marker.
  ReplaceAll(s, kUntrustedOpen, "<<<UNTRUSTED\u200b TASK");
  ReplaceAll(s, kUntrustedClose, "UNTRUSTED\u200b TASK>>>");
  return s;
}

std::string FenceUntrusted(std::string_view text) {
  std::string out(kUntrustedOpen);
  out += "\n";
  out += DefuseMarkers(text);
  if (out.back() != '\n') out += "\n";
  out += kUntrustedClose;
  out += "\n";
  return out;
}

std::string FillTemplate(std::string_view tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("{{", i);
    if (open == std::string_view::npos) break;
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(tmpl.substr(i, open - i));
    std::string key(tmpl.substr(open + 2, close - open - 2));
    auto it = values.find(key);
    out += it != values.end() ? it->second : "{{" + key + "}}";
    i = close + 2;
  }
  out.append(tmpl.substr(i));
  return out;
}

}  // namespace orch
