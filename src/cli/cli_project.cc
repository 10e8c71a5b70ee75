// `orch project add | list | remove`.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/time_format.h"
#include "cli/cli.h"
#include "config/projects.h"

namespace orch {
namespace {

nlohmann::json ProjectJson(const Project& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"repo", p.repo ? nlohmann::json(*p.repo) : nlohmann::json(nullptr)},
          {"path", p.path},
          {"remote_url", p.remote_url},
          {"kind", ProjectKindName(p.kind)},
          {"created_at", FormatUnixTime(p.created_at, TimeFormat::kIso8601)}};
}

class ProjectAddCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("repository", arg_, "owner/repo, a clone URL, or a local checkout")->required();
    app.add_flag("--json", json_, "Print the project as JSON");
  }
  Status Run(Context& ctx) override {
    Result<ProjectRegistry> registry = ctx.registry();
    if (!registry.ok()) return registry.status();
    Result<Project> p = registry->Add(arg_);
    if (!p.ok()) return p.status();
    if (json_) {
      ctx.out << ProjectJson(*p).dump(2) << "\n";
    } else {
      ctx.out << "registered project " << p->name << " at " << p->path << "\n";
    }
    return Status::OK();
  }

 private:
  std::string arg_;
  bool json_ = false;
};

class ProjectListCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<std::vector<Project>> projects = (*store)->ListProjects();
    if (!projects.ok()) return projects.status();
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const Project& p : *projects) out.push_back(ProjectJson(p));
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    if (projects->empty()) ctx.out << "no projects (add one with `orch project add`)\n";
    for (const Project& p : *projects) {
      ctx.out << p.id << "  " << p.name << "  " << ProjectKindName(p.kind) << "  " << p.path
              << "\n";
    }
    return Status::OK();
  }

 private:
  bool json_ = false;
};

class ProjectRemoveCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("project", name_, "Project name or id")->required();
    app.add_flag("--force", force_, "Remove even while tasks are in progress or in review");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<Project> p = (*store)->FindProject(name_);
    if (!p.ok()) return p.status();
    Result<std::vector<Task>> tasks = (*store)->ListTasks({.project_id = p->id});
    if (!tasks.ok()) return tasks.status();
    int live = 0;
    for (const Task& t : *tasks) {
      live += t.status == TaskStatus::kInProgress || t.status == TaskStatus::kInReview;
    }
    if (live > 0 && !force_) {
      return Status::InvalidArgument(
          "project " + p->name,
          std::to_string(live) + " task(s) in progress or in review; pass --force to remove");
    }
    ORCH_RETURN_IF_ERROR((*store)->RemoveProject(p->id));
    ctx.out << "removed project " << p->name << " and its " << tasks->size() << " task(s)";
    if (p->kind == ProjectKind::kClone) ctx.out << "; its clone is left at " << p->path;
    ctx.out << "\n";
    return Status::OK();
  }

 private:
  std::string name_;
  bool force_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeProjectAddCommand() { return std::make_unique<ProjectAddCommand>(); }
std::unique_ptr<Command> MakeProjectListCommand() { return std::make_unique<ProjectListCommand>(); }
std::unique_ptr<Command> MakeProjectRemoveCommand() {
  return std::make_unique<ProjectRemoveCommand>();
}

}  // namespace orch
