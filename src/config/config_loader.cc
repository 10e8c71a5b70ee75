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

namespace {

// config.yml, then jobs.yml, as far as they exist.
Result<std::vector<ConfigSource>> ReadGlobalSources(const Home& home) {
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
  return sources;
}

}  // namespace

Result<Config> LoadConfig(const Home& home, const EnvLookup& env, Git& git, const Project* project,
                          ConfigOrigins* origins, std::string* project_source) {
  Result<std::vector<ConfigSource>> sources = ReadGlobalSources(home);
  if (!sources.ok()) return sources.status();
  if (project_source != nullptr) project_source->clear();
  if (project != nullptr) {
    Result<std::optional<ConfigSource>> local = ReadProjectConfig(*project, git);
    if (!local.ok()) return local.status();
    if (*local) {
      if (project_source != nullptr) *project_source = (*local)->name;
      sources->push_back(**local);
    }
  }
  return ParseConfig(*sources, env, origins);
}

Result<ConfigSet> LoadConfigSet(const Home& home, const EnvLookup& env, Git& git,
                                ConfigSet::ProjectLookup lookup) {
  Result<std::vector<ConfigSource>> sources = ReadGlobalSources(home);
  if (!sources.ok()) return sources.status();
  Result<Config> global = ParseConfig(*sources, env);
  if (!global.ok()) return global.status();
  ConfigSet::Options options;
  options.global = std::move(*global);
  options.global_sources = std::move(*sources);
  options.env = env;
  options.read_project = [&git](const Project& p) { return ReadProjectConfig(p, git); };
  options.lookup = std::move(lookup);
  return ConfigSet(std::move(options));
}

}  // namespace orch
