// `orch flow list | validate`: the flow definitions orch finds, and whether each one holds.
// Flows live in `$ORCH_HOME/flows/*.yml`, in each registered project's `flows/*.yml`, and
// orch ships some (share/orch/flows).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "cli/cli.h"
#include "runs/flow.h"
#include "runs/runs.h"

namespace orch {
namespace {

// Every flows/*.yml orch would look at (runs.h: $ORCH_HOME's, each project's, shipped).
Result<std::vector<FlowFile>> FindFlowFiles(Context& ctx) {
  Result<Home> home = ctx.home();
  if (!home.ok()) return home.status();
  Result<Store*> store = ctx.store();
  if (!store.ok()) return store.status();
  Result<std::vector<Project>> projects = (*store)->ListProjects();
  if (!projects.ok()) return projects.status();
  return orch::FindFlowFiles(home->root, *projects);
}

class FlowListCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    Result<std::vector<FlowFile>> files = FindFlowFiles(ctx);
    if (!files.ok()) return files.status();
    nlohmann::json out = nlohmann::json::array();
    for (const FlowFile& f : *files) {
      Result<Flow> flow = LoadFlow(f.path, *config);
      nlohmann::json row = {{"file", f.path}, {"project", f.project}, {"ok", flow.ok()}};
      if (flow.ok()) {
        row["name"] = flow->name;
        row["steps"] = flow->steps.size();
        row["waves"] = StaticWaves(*flow).size();
        row["description"] = flow->description;
      } else {
        row["error"] = flow.status().message();
      }
      out.push_back(row);
    }
    if (json_) {
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    if (out.empty()) ctx.out << "no flows (put them in $ORCH_HOME/flows/ or a project's flows/)\n";
    for (const nlohmann::json& row : out) {
      if (row["ok"]) {
        ctx.out << row["name"].get<std::string>() << "  " << row["steps"] << " step(s) in "
                << row["waves"] << " wave(s)  " << row["file"].get<std::string>() << "\n";
      } else {
        ctx.out << "(invalid)  " << row["file"].get<std::string>()
                << "  (orch flow validate says why)\n";
      }
    }
    return Status::OK();
  }

 private:
  bool json_ = false;
};

class FlowValidateCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("files", files_, "Flow files (default: every flow orch finds)");
  }
  Status Run(Context& ctx) override {
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    std::vector<std::string> paths = files_;
    if (paths.empty()) {
      Result<std::vector<FlowFile>> found = FindFlowFiles(ctx);
      if (!found.ok()) return found.status();
      for (const FlowFile& f : *found) paths.push_back(f.path);
      if (paths.empty()) ctx.out << "no flows to check\n";
    }
    int bad = 0;
    for (const std::string& path : paths) {
      Result<Flow> flow = LoadFlow(path, *config);
      if (!flow.ok()) {
        ++bad;
        ctx.err << flow.status().message() << "\n";
        continue;
      }
      std::vector<std::vector<std::string>> waves = StaticWaves(*flow);
      ctx.out << path << ": ok: " << flow->name << ", " << flow->steps.size() << " step(s) in "
              << waves.size() << " wave(s):";
      for (size_t i = 0; i < waves.size(); ++i) {
        ctx.out << (i == 0 ? " " : " \u2192 ");
        for (size_t j = 0; j < waves[i].size(); ++j) ctx.out << (j ? ", " : "") << waves[i][j];
      }
      ctx.out << "\n";
    }
    if (bad > 0) {
      return Status::Config(std::to_string(bad) + " flow file(s) do not hold (above)");
    }
    return Status::OK();
  }

 private:
  std::vector<std::string> files_;
};

}  // namespace

std::unique_ptr<Command> MakeFlowListCommand() { return std::make_unique<FlowListCommand>(); }
std::unique_ptr<Command> MakeFlowValidateCommand() {
  return std::make_unique<FlowValidateCommand>();
}

}  // namespace orch
