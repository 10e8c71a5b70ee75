// `orch job list | add | remove | enable | disable | run`: scheduled jobs (jobs.h).
//
// Jobs come from config.yml and $ORCH_HOME/jobs.yml; `add` and `remove` edit jobs.yml only
// (rewritten whole, so comments in it are not kept). `enable` and `disable` change the store,
// never a YAML file.
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/subprocess.h"
#include "base/time_format.h"
#include "cli/cli.h"
#include "config/config_loader.h"
#include "engine/jobs.h"

namespace orch {
namespace {

// Local time, as schedules are read: "2026-03-08 03:00 EDT".
std::string LocalTime(std::optional<int64_t> t) {
  return t ? FormatUnixTime(*t, TimeFormat::kLocalMinutes) : "-";
}

nlohmann::json TimeJson(std::optional<int64_t> t) {
  return t ? nlohmann::json(FormatUnixTime(*t, TimeFormat::kIso8601)) : nlohmann::json();
}

Result<const JobConfig*> FindJob(const Config& config, const std::string& id) {
  for (const JobConfig& j : config.jobs) {
    if (j.id == id) return &j;
  }
  return Status::NotFound("job \"" + id + "\"", "no such job in config.yml or jobs.yml");
}

// jobs.yml as a YAML node with a `jobs` sequence (empty when the file does not exist).
Result<YAML::Node> ReadJobsFile(const Home& home) {
  Result<std::optional<ConfigSource>> file = ReadConfigFileIfPresent(home.jobs_path());
  if (!file.ok()) return file.status();
  YAML::Node root;
  if (*file) {
    try {
      root = YAML::Load((*file)->text);
    } catch (const YAML::Exception& e) {
      return Status::Config(home.jobs_path(), e.what());
    }
  }
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  if (!root["jobs"] || !root["jobs"].IsSequence())
    root["jobs"] = YAML::Node(YAML::NodeType::Sequence);
  return root;
}

// Checks `root` as jobs.yml together with config.yml, then replaces jobs.yml with it.
Status WriteJobsFile(Context& ctx, const Home& home, const YAML::Node& root) {
  YAML::Emitter out;
  out << root;
  std::string text = std::string(out.c_str()) + "\n";
  std::vector<ConfigSource> sources;
  Result<std::optional<ConfigSource>> global = ReadConfigFileIfPresent(home.config_path());
  if (!global.ok()) return global.status();
  if (*global) sources.push_back(**global);
  ConfigSource jobs{home.jobs_path(), text};
  jobs.jobs_file = true;
  sources.push_back(jobs);
  Result<Config> parsed = ParseConfig(sources, ctx.env);
  if (!parsed.ok()) return parsed.status();
  std::error_code ec;
  std::filesystem::create_directories(home.root, ec);
  std::string tmp = home.jobs_path() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) return Status::IOError(tmp, "cannot write");
  }
  if (std::rename(tmp.c_str(), home.jobs_path().c_str()) != 0) {
    return Status::IOError(home.jobs_path(), "cannot replace");
  }
  return Status::OK();
}

class JobListCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    int64_t now = ctx.clock.NowUnix();
    nlohmann::json rows = nlohmann::json::array();
    char line[512];
    if (!json_) {
      std::snprintf(line, sizeof line, "%-16s %-8s %-16s %-21s %-21s %-8s %s\n", "ID", "TYPE",
                    "SCHEDULE", "NEXT RUN", "LAST RUN", "ENABLED", "LAST RESULT");
      ctx.out << line;
    }
    for (const JobConfig& j : config->jobs) {
      Result<std::optional<JobState>> state = (*store)->GetJobState(j.id);
      if (!state.ok()) return state.status();
      std::optional<int64_t> next = NextJobRun(j, *state, now);
      JobState st = state->value_or(JobState{});
      nlohmann::json last_json = TimeJson(st.last_run_at);
      std::string last_text = LocalTime(st.last_run_at);
      const std::string& result = st.last_result;
      bool enabled = JobEnabled(j, *state);
      if (json_) {
        rows.push_back({{"id", j.id},
                        {"type", JobTypeName(j.type)},
                        {"schedule", j.schedule},
                        {"next_run", TimeJson(next)},
                        {"last_run", last_json},
                        {"last_result", result},
                        {"last_exit_code",
                         st.last_exit_code ? nlohmann::json(*st.last_exit_code) : nlohmann::json()},
                        {"enabled", enabled},
                        {"project", j.project}});
        continue;
      }
      std::snprintf(line, sizeof line, "%-16s %-8s %-16s %-21s %-21s %-8s %s\n", j.id.c_str(),
                    JobTypeName(j.type), j.schedule.c_str(), LocalTime(next).c_str(),
                    last_text.c_str(), enabled ? "yes" : "no",
                    result.empty() ? "-" : result.c_str());
      ctx.out << line;
    }
    if (json_) ctx.out << rows.dump(2) << "\n";
    return Status::OK();
  }

 private:
  bool json_ = false;
};

class JobAddCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("id", id_, "The job's id (letters, digits, '.', '_', '-')")->required();
    app.add_option("--schedule,-s", schedule_, "Five-field cron schedule or @daily etc.")
        ->required();
    app.add_option("--title,-t", title_, "Task job: the title of the task created");
    app.add_option("--body,-b", body_, "Task job: its body");
    app.add_option("--label,-l", labels_, "Task job: a label (repeatable)");
    app.add_option("--agent,-a", agent_, "Task job: the agent to use (an agent:<name> label)");
    app.add_option("--project,-p", project_, "The project (default: every registered project)");
    app.add_option("--dir", dir_, "Command job: where it runs (absolute path)");
    app.add_option("--timeout", timeout_, "Command job: how long it may run (e.g. 10m)");
    app.add_flag("--disabled", disabled_, "Add the job switched off");
    app.add_option("command", command_, "Command job: the argv, after --");
  }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<YAML::Node> root = ReadJobsFile(*home);
    if (!root.ok()) return root.status();
    YAML::Node job(YAML::NodeType::Map);
    job["id"] = id_;
    job["schedule"] = schedule_;
    if (!command_.empty()) {
      job["type"] = "command";
      for (const std::string& a : command_) job["command"].push_back(a);
      if (!dir_.empty()) job["dir"] = dir_;
      if (!timeout_.empty()) job["timeout"] = timeout_;
    } else {
      job["type"] = "task";
      job["task"]["title"] = title_;
      if (!body_.empty()) job["task"]["body"] = body_;
      for (const std::string& l : labels_) job["task"]["labels"].push_back(l);
      if (!agent_.empty()) job["task"]["agent"] = agent_;
      if (!dir_.empty()) job["dir"] = dir_;  // refused by the check below, with the reason
      if (!timeout_.empty()) job["timeout"] = timeout_;
    }
    if (!project_.empty()) job["project"] = project_;
    if (disabled_) job["enabled"] = false;
    (*root)["jobs"].push_back(job);
    Status written = WriteJobsFile(ctx, *home, *root);
    if (!written.ok()) return Status::InvalidArgument(written.message());
    ctx.out << "added job " << id_ << " to " << home->jobs_path() << "\n";
    return Status::OK();
  }

 private:
  std::string id_, schedule_, title_, body_, agent_, project_, dir_, timeout_;
  std::vector<std::string> labels_, command_;
  bool disabled_ = false;
};

class JobRemoveCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_option("id", id_, "The job's id")->required(); }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<YAML::Node> root = ReadJobsFile(*home);
    if (!root.ok()) return root.status();
    YAML::Node kept(YAML::NodeType::Sequence);
    bool found = false;
    for (const YAML::Node& j : (*root)["jobs"]) {
      std::string id = j.IsMap() && j["id"]     ? j["id"].Scalar()
                       : j.IsMap() && j["name"] ? j["name"].Scalar()
                                                : "";
      if (id == id_) {
        found = true;
      } else {
        kept.push_back(j);
      }
    }
    if (!found) {
      Result<Config> config = ctx.config();
      if (config.ok() && FindJob(*config, id_).ok()) {
        return Status::InvalidArgument("job \"" + id_ + "\"",
                                       "it is defined in config.yml; remove it there");
      }
      return Status::NotFound("job \"" + id_ + "\"", "not in " + home->jobs_path());
    }
    (*root)["jobs"] = kept;
    ORCH_RETURN_IF_ERROR(WriteJobsFile(ctx, *home, *root));
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    ORCH_RETURN_IF_ERROR((*store)->DeleteJobState(id_));
    ctx.out << "removed job " << id_ << "\n";
    return Status::OK();
  }

 private:
  std::string id_;
};

class JobEnableCommand : public Command {
 public:
  explicit JobEnableCommand(bool enable) : enable_(enable) {}
  void Define(CLI::App& app) override { app.add_option("id", id_, "The job's id")->required(); }
  Status Run(Context& ctx) override {
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    Result<const JobConfig*> job = FindJob(*config, id_);
    if (!job.ok()) return job.status();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<std::optional<JobState>> state = (*store)->GetJobState(id_);
    if (!state.ok()) return state.status();
    JobState s = state->value_or(JobState{.id = id_, .first_seen_at = ctx.clock.NowUnix()});
    s.enabled = enable_;
    ORCH_RETURN_IF_ERROR((*store)->SaveJobState(s));
    ctx.out << (enable_ ? "enabled" : "disabled") << " job " << id_ << "\n";
    return Status::OK();
  }

 private:
  bool enable_;
  std::string id_;
};

class JobRunCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("id", id_, "The job's id")->required();
    app.add_flag("--force", force_, "Run even while its previous task or run is still active");
  }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    ORCH_RETURN_IF_ERROR(FindJob(*config, id_).status());
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    PosixProcessRunner runner;
    JobScheduler scheduler(**store, config->jobs, ctx.clock, runner, home->root);
    Result<std::string> result = scheduler.RunNow(id_, force_);
    if (!result.ok()) return result.status();
    ctx.out << "job " << id_ << ": " << *result << "\n";
    Result<std::optional<JobState>> state = (*store)->GetJobState(id_);
    if (state.ok() && *state && !(*state)->last_output.empty() &&
        result->rfind("created", 0) != 0) {
      ctx.out << (*state)->last_output;
      if ((*state)->last_output.back() != '\n') ctx.out << "\n";
    }
    if (result->rfind("skipped", 0) == 0) {
      return Status::Conflict("job \"" + id_ + "\" not run", "pass --force to run it anyway");
    }
    if (result->rfind("created", 0) != 0 && *result != "exit 0") {
      return Status::Unavailable("job \"" + id_ + "\"", *result);
    }
    return Status::OK();
  }

 private:
  std::string id_;
  bool force_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeJobListCommand() { return std::make_unique<JobListCommand>(); }
std::unique_ptr<Command> MakeJobAddCommand() { return std::make_unique<JobAddCommand>(); }
std::unique_ptr<Command> MakeJobRemoveCommand() { return std::make_unique<JobRemoveCommand>(); }
std::unique_ptr<Command> MakeJobEnableCommand() { return std::make_unique<JobEnableCommand>(true); }
std::unique_ptr<Command> MakeJobDisableCommand() {
  return std::make_unique<JobEnableCommand>(false);
}
std::unique_ptr<Command> MakeJobRunCommand() { return std::make_unique<JobRunCommand>(); }

}  // namespace orch
