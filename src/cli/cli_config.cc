// `orch init`, `orch config validate`, `orch config show`.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <ostream>

#include "cli/cli.h"
#include "config/config_loader.h"
#include "config/projects.h"

namespace orch {
namespace {

class InitCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--repo", repo_, "GitHub repository as owner/name (default: from origin)");
  }
  Status Run(Context& ctx) override {
    Result<ProjectRegistry> registry = ctx.registry();
    if (!registry.ok()) return registry.status();
    auto result = registry->Init(std::filesystem::current_path().string(), repo_);
    if (!result.ok()) return result.status();
    const auto& [project, wrote] = *result;
    ctx.out << "registered project " << project.name << " at " << project.path << "\n";
    ctx.out << (wrote ? "wrote " : "kept existing ") << project.path << "/.orch.yml\n";
    return Status::OK();
  }

 private:
  std::optional<std::string> repo_;
};

class ConfigValidateCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("file", file_,
                   "A config file to check alone (default: the global config and every "
                   "registered project's .orch.yml merged with it)");
  }
  Status Run(Context& ctx) override {
    if (file_) {
      Result<ConfigSource> source = ReadConfigFile(*file_);
      if (!source.ok()) return Status::InvalidArgument(source.status().message());
      source->project = std::filesystem::path(*file_).filename() == ".orch.yml";
      source->jobs_file = std::filesystem::path(*file_).filename() == "jobs.yml";
      Result<Config> config = ParseConfig({*source}, ctx.env);
      if (!config.ok()) return config.status();
      ctx.out << *file_ << ": ok\n";
      return Status::OK();
    }
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<Config> global = ctx.config();
    if (!global.ok()) return global.status();
    std::error_code ec;
    bool exists = std::filesystem::exists(home->config_path(), ec);
    ctx.out << home->config_path() << (exists ? ": ok\n" : ": not present, defaults apply\n");
    // Validation must not create a store: with no database there are no projects to check.
    if (!std::filesystem::exists(home->db_path(), ec)) return Status::OK();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<std::vector<Project>> projects = (*store)->ListProjects();
    if (!projects.ok()) return projects.status();
    Status first;
    for (const Project& p : *projects) {
      Result<Config> merged = ctx.config(&p);
      if (merged.ok()) {
        ctx.out << p.name << ": ok\n";
      } else {
        ctx.err << merged.status().message() << "\n";
        if (first.ok()) first = Status::Config("project " + p.name, "invalid configuration");
      }
    }
    return first;
  }

 private:
  std::optional<std::string> file_;
};

class ConfigShowCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--project,-p", project_,
                   "Merge this project's .orch.yml over the global file (what orch serve uses "
                   "for it)");
  }
  Status Run(Context& ctx) override {
    std::optional<Project> project;
    if (project_) {
      Result<Project> p = ctx.project(project_);
      if (!p.ok()) return p.status();
      project = *p;
    }
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    ConfigOrigins origins;
    std::string project_source;
    Result<Config> config = LoadConfig(*home, ctx.env, ctx.git, project ? &*project : nullptr,
                                       &origins, &project_source);
    if (!config.ok()) return config.status();
    // Each key says where its value came from: default, global (file:line), project (file:line).
    ctx.out << AnnotateOrigins(RenderConfig(*config), origins, project_source);
    return Status::OK();
  }

 private:
  std::optional<std::string> project_;
};

}  // namespace

std::unique_ptr<Command> MakeInitCommand() { return std::make_unique<InitCommand>(); }
std::unique_ptr<Command> MakeConfigValidateCommand() {
  return std::make_unique<ConfigValidateCommand>();
}
std::unique_ptr<Command> MakeConfigShowCommand() { return std::make_unique<ConfigShowCommand>(); }

}  // namespace orch
