#include "config/config_loader.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace orch {

Result<ConfigSource> ReadConfigFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound(path, "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError(path, "read failed");
  return ConfigSource{path, text.str()};
}

Result<std::optional<ConfigSource>> ReadConfigFileIfPresent(const std::string& path) {
  Result<ConfigSource> file = ReadConfigFile(path);
  if (file.ok()) return std::optional<ConfigSource>(*file);
  if (file.status().IsNotFound()) return std::optional<ConfigSource>();
  return file.status();
}

Result<std::optional<ConfigSource>> ReadProjectConfig(const Project& project, Git& git) {
  if (project.kind == ProjectKind::kClone) {
    Result<std::optional<std::string>> text = git.ReadFileAtHead(project.path, ".orch.yml");
    if (!text.ok()) return text.status();
    if (!*text) return std::optional<ConfigSource>();
    return std::optional<ConfigSource>(
        ConfigSource{project.path + ":HEAD:.orch.yml", **text, /*project=*/true});
  }
  Result<std::optional<ConfigSource>> file = ReadConfigFileIfPresent(project.path + "/.orch.yml");
  if (file.ok() && *file) (*file)->project = true;
  return file;
}

Result<Config> LoadConfig(const Home& home, const EnvLookup& env, Git& git,
                          const Project* project) {
  std::vector<ConfigSource> sources;
  Result<std::optional<ConfigSource>> global = ReadConfigFileIfPresent(home.config_path());
  if (!global.ok()) return global.status();
  if (*global) sources.push_back(**global);
  Result<std::optional<ConfigSource>> jobs = ReadConfigFileIfPresent(home.jobs_path());
  if (!jobs.ok()) return jobs.status();
  if (*jobs) {
    (*jobs)->jobs_file = true;
    sources.push_back(**jobs);
  }
  if (project != nullptr) {
    Result<std::optional<ConfigSource>> local = ReadProjectConfig(*project, git);
    if (!local.ok()) return local.status();
    if (*local) sources.push_back(**local);
  }
  return ParseConfig(sources, env);
}

}  // namespace orch
