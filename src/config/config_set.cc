#include "config/config_set.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

namespace orch {

struct ConfigSet::Impl {
  struct Entry {
    std::shared_ptr<const Config> config;
    std::optional<std::string> text;  // the project file's text it was parsed from
    std::string error;                // the last parse error reported
    std::chrono::steady_clock::time_point checked{};
  };

  Options options;
  std::shared_ptr<const Config> global;
  std::mutex mu;
  std::map<std::string, Entry> by_path;  // by the project's path
  std::map<int64_t, Project> projects;   // looked up once per id

  std::shared_ptr<const Config> Resolve(const Project& project);
  void Reload(const Project& project, Entry& entry);
};

ConfigSet::ConfigSet(const Config& config) : impl_(std::make_shared<Impl>()) {
  impl_->global = std::make_shared<const Config>(config);
}

ConfigSet::ConfigSet(Options options) : impl_(std::make_shared<Impl>()) {
  impl_->global = std::make_shared<const Config>(options.global);
  impl_->options = std::move(options);
}

const Config& ConfigSet::global() const { return *impl_->global; }

std::shared_ptr<const Config> ConfigSet::For(const Project& project) const {
  if (!impl_->options.read_project) return impl_->global;
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Resolve(project);
}

std::shared_ptr<const Config> ConfigSet::ForProject(int64_t project_id) const {
  if (!impl_->options.read_project || !impl_->options.lookup) return impl_->global;
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->projects.find(project_id);
  if (it == impl_->projects.end()) {
    Result<Project> project = impl_->options.lookup(project_id);
    if (!project.ok()) return impl_->global;
    it = impl_->projects.emplace(project_id, *project).first;
  }
  return impl_->Resolve(it->second);
}

std::shared_ptr<const Config> ConfigSet::Impl::Resolve(const Project& project) {
  Entry& entry = by_path[project.path];
  auto now = std::chrono::steady_clock::now();
  if (entry.config && now - entry.checked < options.recheck) return entry.config;
  entry.checked = now;
  Reload(project, entry);
  return entry.config ? entry.config : global;
}

void ConfigSet::Impl::Reload(const Project& project, Entry& entry) {
  Result<std::optional<ConfigSource>> file = options.read_project(project);
  if (!file.ok()) {  // unreadable now: keep what was read before
    if (file.status().message() != entry.error) {
      spdlog::error("config: project {}: {}; keeping its previous settings", project.name,
                    file.status().message());
      entry.error = file.status().message();
    }
    return;
  }
  std::optional<std::string> text;
  if (*file) text = (*file)->text;
  if (entry.config && text == entry.text) return;
  if (!text) {
    if (entry.config && entry.config != global) {
      spdlog::info("config: project {}: its .orch.yml is gone; the global settings apply",
                   project.name);
    }
    entry = Entry{global, std::nullopt, "", entry.checked};
    return;
  }
  std::vector<ConfigSource> sources = options.global_sources;
  sources.push_back(**file);
  Result<Config> parsed = ParseConfig(sources, options.env);
  if (!parsed.ok()) {
    if (parsed.status().message() != entry.error) {
      spdlog::error("config: project {}: {}\n  its {} settings apply until the file is fixed",
                    project.name, parsed.status().message(),
                    entry.config && entry.config != global ? "previous" : "global");
      entry.error = parsed.status().message();
    }
    if (!entry.config) entry.config = global;
    entry.text = text;
    return;
  }
  if (entry.text) spdlog::info("config: project {}: read {} again", project.name, (*file)->name);
  entry.config = std::make_shared<const Config>(std::move(*parsed));
  entry.text = text;
  entry.error.clear();
}

}  // namespace orch
