#include "dashboard/settings.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config_loader.h"

namespace orch {
namespace {

constexpr const char* kGlobalApplies =
    "orch serve reads config.yml when it starts: restart it (orch service restart) to apply "
    "a change";
constexpr const char* kProjectApplies =
    "applied at orch's next decision about this project; no restart needed";

std::string ReadAll(const std::string& path, bool* exists) {
  std::ifstream in(path);
  *exists = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status WriteSynced(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path, std::strerror(errno));
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  return ok ? Status::OK() : Status::IOError(path, "cannot write");
}

}  // namespace

std::vector<SettingsFile> ListSettingsFiles(const Home& home,
                                            const std::vector<Project>& projects) {
  std::vector<SettingsFile> files;
  SettingsFile global{.target = "global", .path = home.config_path()};
  global.text = ReadAll(global.path, &global.exists);
  global.applies = kGlobalApplies;
  files.push_back(global);
  for (const Project& p : projects) {
    SettingsFile f{.target = p.name, .path = p.path + "/.orch.yml"};
    f.text = ReadAll(f.path, &f.exists);
    f.editable = p.kind == ProjectKind::kLocal;
    f.applies =
        f.editable ? kProjectApplies : "a bare clone orch made: change .orch.yml in the repository";
    files.push_back(f);
  }
  return files;
}

std::vector<SettingsError> SplitConfigErrors(const std::string& message) {
  std::vector<SettingsError> out;
  std::istringstream lines(message);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    SettingsError e{.message = line};
    // "<file>:<line>: <key>: <why>"; the file may hold colons of its own (a:HEAD:.orch.yml).
    size_t sep = line.find(": ");
    size_t colon = sep == std::string::npos ? std::string::npos : line.rfind(':', sep - 1);
    if (colon != std::string::npos) {
      std::string number = line.substr(colon + 1, sep - colon - 1);
      if (!number.empty() && number.find_first_not_of("0123456789") == std::string::npos) {
        e.file = line.substr(0, colon);
        e.line = std::stoi(number);
        std::string rest = line.substr(sep + 2);
        size_t key_end = rest.find(": ");
        if (key_end != std::string::npos && rest.find(' ') >= key_end) {
          e.key = rest.substr(0, key_end);
          e.message = rest.substr(key_end + 2);
        } else {
          e.message = rest;
        }
      }
    }
    out.push_back(e);
  }
  return out;
}

std::vector<SettingsError> CheckSettings(const Home& home, const SettingsFile& file,
                                         const std::string& text, const EnvLookup& env) {
  std::vector<ConfigSource> sources;
  auto add_global = [&](bool with_config) -> Status {
    if (with_config) {
      Result<std::optional<ConfigSource>> g = ReadConfigFileIfPresent(home.config_path());
      if (!g.ok()) return g.status();
      if (*g) sources.push_back(**g);
    }
    Result<std::optional<ConfigSource>> jobs = ReadConfigFileIfPresent(home.jobs_path());
    if (!jobs.ok()) return jobs.status();
    if (*jobs) {
      (*jobs)->jobs_file = true;
      sources.push_back(**jobs);
    }
    return Status::OK();
  };
  bool global = file.target == "global";
  if (global) sources.push_back({file.path, text});
  if (Status s = add_global(!global); !s.ok()) return {{.message = s.message()}};
  if (!global) sources.push_back({file.path, text, /*project=*/true});
  Result<Config> parsed = ParseConfig(sources, env);
  if (parsed.ok()) return {};
  return SplitConfigErrors(parsed.status().message());
}

Status SaveSettingsFile(const std::string& path, const std::string& text) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::filesystem::copy_file(path, path + ".bak",
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError(path + ".bak", ec.message());
  }
  std::string tmp = path + ".tmp";
  ORCH_RETURN_IF_ERROR(WriteSynced(tmp, text));
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::filesystem::remove(tmp, ec);
    return Status::IOError(path, why);
  }
  return Status::OK();
}

}  // namespace orch
