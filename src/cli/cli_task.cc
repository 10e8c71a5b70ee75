// `orch task add | list | show | log | retry | unblock | run | attach | kill`.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "agents/agent_stack.h"
#include "agents/questions.h"
#include "base/time_format.h"
#include "cli/cli.h"
#include "config/config_loader.h"
#include "engine/daemon.h"
#include "engine/task_actions.h"
#include "github/github_locked.h"

namespace orch {
namespace {

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json TaskJson(const Task& t) {
  return {{"id", t.id},
          {"project", t.project},
          {"external_id", OrNull(t.external_id)},
          {"parent_id", OrNull(t.parent_id)},
          {"source", TaskSourceName(t.source)},
          {"source_id", OrNull(t.source_id)},
          {"title", t.title},
          {"body", t.body},
          {"labels", t.labels},
          {"status", TaskStatusName(t.status)},
          {"status_reason", t.status_reason},
          {"attempts", t.attempts},
          {"pr_number", OrNull(t.pr_number)},
          {"route", t.route ? nlohmann::json::parse(*t.route, nullptr, false) : nlohmann::json()},
          {"branch", t.branch},
          {"agent_session", t.agent_session},
          {"created_at", FormatUnixTime(t.created_at, TimeFormat::kIso8601)},
          {"updated_at", FormatUnixTime(t.updated_at, TimeFormat::kIso8601)}};
}

nlohmann::json RunJson(const Attempt& r) {
  return {{"attempt", r.attempt},
          {"agent", r.agent},
          {"model", r.model},
          {"command", r.command},
          {"tmux_session", r.tmux_session},
          {"run_dir", r.run_dir},
          {"worktree", r.worktree},
          {"started_at", FormatUnixTime(r.started_at, TimeFormat::kIso8601)},
          {"finished_at", r.finished_at
                              ? nlohmann::json(FormatUnixTime(*r.finished_at, TimeFormat::kIso8601))
                              : nlohmann::json()},
          {"exit_code", r.exit_code ? nlohmann::json(*r.exit_code) : nlohmann::json()},
          {"outcome", r.outcome},
          {"error_class", r.error_class},
          {"summary", r.summary},
          {"agent_session", r.agent_session},
          {"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"cost_usd", r.cost_usd}};
}

nlohmann::json EventJson(const Event& e) {
  return {{"id", e.id},
          {"kind", e.kind},
          {"from", e.from_status},
          {"to", e.to_status},
          {"actor", e.actor},
          {"reason", e.reason},
          {"at", FormatUnixTime(e.created_at, TimeFormat::kIso8601)}};
}

class TaskAddCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("title", task_.title, "What is to be done")->required();
    app.add_option("--body,-b", task_.body, "Details");
    app.add_option("--label,-l", task_.labels, "A label (repeatable)");
    app.add_option("--project,-p", project_, "Project name or id (default: the only one)");
    app.add_flag("--json", json_, "Print the new task as JSON");
  }
  Status Run(Context& ctx) override {
    Result<Project> project = ctx.project(project_);
    if (!project.ok()) return project.status();
    task_.project_id = project->id;
    task_.source = TaskSource::kCli;
    Result<Task> t = (*ctx.store())->AddTask(task_, {ctx.actor(), "added from the command line"});
    if (!t.ok()) return t.status();
    if (json_) {
      ctx.out << TaskJson(*t).dump(2) << "\n";
    } else {
      ctx.out << "added task " << t->id << " to " << t->project << "\n";
    }
    return Status::OK();
  }

 private:
  NewTask task_;
  std::optional<std::string> project_;
  bool json_ = false;
};

class TaskListCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("--status,-s", status_, "Only tasks with this status");
    app.add_option("--project,-p", project_, "Only this project's tasks");
    app.add_flag("--json", json_, "Print JSON");
  }
  Status Run(Context& ctx) override {
    TaskFilter filter;
    if (status_) {
      Result<TaskStatus> s = ParseTaskStatus(*status_);
      if (!s.ok()) return s.status();
      filter.status = *s;
    }
    if (project_) {
      Result<Project> p = ctx.project(project_);
      if (!p.ok()) return p.status();
      filter.project_id = p->id;
    }
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<std::vector<Task>> tasks = (*store)->ListTasks(filter);
    if (!tasks.ok()) return tasks.status();
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const Task& t : *tasks) out.push_back(TaskJson(t));
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    if (tasks->empty()) ctx.out << "no tasks\n";
    for (const Task& t : *tasks) {
      ctx.out << t.id << "  " << TaskStatusName(t.status) << "  " << t.project << "  " << t.title
              << "\n";
    }
    return Status::OK();
  }

 private:
  std::optional<std::string> status_;
  std::optional<std::string> project_;
  bool json_ = false;
};

// Base for commands that take one task id.
class TaskIdCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("id", id_, "Task id")->required();
    DefineMore(app);
  }
  Status Run(Context& ctx) override {
    Result<int64_t> id = ParseId(id_);
    if (!id.ok()) return id.status();
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<Task> t = (*store)->GetTask(*id);
    if (!t.ok()) return t.status();
    return RunOn(ctx, **store, *t);
  }

 protected:
  virtual void DefineMore(CLI::App&) {}
  virtual Status RunOn(Context& ctx, Store& store, const Task& t) = 0;
  std::string id_;
};

// The questions the task's agent asked (agents/questions.h) and their answers.
nlohmann::json QuestionsJson(const std::vector<Question>& qs) {
  nlohmann::json out = nlohmann::json::array();
  for (const Question& q : qs) {
    out.push_back({{"question", q.question},
                   {"attempt", q.attempt},
                   {"thread", q.thread},
                   {"answer", q.answered() ? nlohmann::json(q.answer) : nlohmann::json()},
                   {"answered_by", q.answered_by}});
  }
  return out;
}

void PrintQuestions(Context& ctx, const std::vector<Question>& qs) {
  for (const Question& q : qs) {
    ctx.out << "  asked:    (run " << q.attempt << ") " << q.question
            << (q.thread ? " [on #" + std::to_string(q.thread) + "]" : "") << "\n";
    ctx.out << "  answer:   "
            << (q.answered() ? q.answer.substr(0, 300) + " (" + q.answered_by + ")"
                             : std::string("none yet"))
            << "\n";
  }
}

class TaskShowCommand : public TaskIdCommand {
  void DefineMore(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    Result<std::vector<Attempt>> runs = store.ListAttempts(t.id);
    if (!runs.ok()) return runs.status();
    // After a transient agent error: when the next attempt may start (dispatch.cc).
    std::optional<int64_t> retry_at;
    Result<std::optional<std::string>> kv = store.GetKv(RetryKey(t.id));
    if (kv.ok() && *kv) retry_at = std::atoll((*kv)->c_str());
    Result<std::vector<Question>> asked = LoadQuestions(store, t.id);
    if (!asked.ok()) return asked.status();
    if (json_) {
      nlohmann::json j = TaskJson(t);
      j["retry_not_before"] = retry_at
                                  ? nlohmann::json(FormatUnixTime(*retry_at, TimeFormat::kIso8601))
                                  : nlohmann::json();
      j["runs"] = nlohmann::json::array();
      for (const Attempt& r : *runs) j["runs"].push_back(RunJson(r));
      j["questions"] = QuestionsJson(*asked);
      ctx.out << j.dump(2) << "\n";
      return Status::OK();
    }
    ctx.out << "task " << t.id << ": " << t.title << "\n"
            << "  project:  " << t.project << "\n"
            << "  status:   " << TaskStatusName(t.status)
            << (t.status_reason.empty() ? "" : " (" + t.status_reason + ")") << "\n"
            << "  attempts: " << t.attempts << "\n"
            << "  source:   " << TaskSourceName(t.source)
            << (t.external_id ? " #" + *t.external_id : "") << "\n";
    if (t.parent_id) ctx.out << "  parent:   " << *t.parent_id << "\n";
    if (t.route) {
      nlohmann::json r = nlohmann::json::parse(*t.route, nullptr, false);
      if (r.is_object()) {
        ctx.out << "  route:    " << r.value("agent", "") << " "
                << (r.value("model", "").empty() ? "(default model)" : r.value("model", "")) << ", "
                << r.value("complexity", "") << ", by " << r.value("by", "") << ": "
                << r.value("reason", "") << "\n";
        if (r.contains("profile") && !r["profile"].empty()) {
          ctx.out << "  profile:  " << r["profile"].dump() << "\n";
        }
        if (r.contains("warnings") && r["warnings"].is_array()) {
          for (const auto& w : r["warnings"]) {
            if (w.is_string()) ctx.out << "  warning:  " << w.get<std::string>() << "\n";
          }
        }
      }
    }
    if (t.status == TaskStatus::kRouted && retry_at && *retry_at > ctx.clock.NowUnix()) {
      ctx.out << "  retry:    not before " << FormatUnixTime(*retry_at, TimeFormat::kIso8601)
              << " (backoff)\n";
    }
    if (!t.branch.empty()) ctx.out << "  branch:   " << t.branch << "\n";
    if (t.pr_number) ctx.out << "  pr:       #" << *t.pr_number << "\n";
    for (const Attempt& r : *runs) {
      ctx.out << "  run " << r.attempt << ":    " << r.agent
              << (r.model.empty() ? "" : " (" + r.model + ")") << " "
              << (r.finished_at
                      ? (r.outcome + (r.error_class.empty() ? "" : " [" + r.error_class + "]"))
                      : std::string("running in tmux session ") + r.tmux_session)
              << ", tokens " << r.input_tokens << "/" << r.output_tokens << ", $" << r.cost_usd
              << "\n";
      if (!r.summary.empty()) ctx.out << "           " << r.summary.substr(0, 300) << "\n";
      ctx.out << "           log: " << r.run_dir << "/output.log\n";
    }
    PrintQuestions(ctx, *asked);
    if (!t.labels.empty()) {
      ctx.out << "  labels:  ";
      for (const auto& l : t.labels) ctx.out << " " << l;
      ctx.out << "\n";
    }
    ctx.out << "  created:  " << FormatUnixTime(t.created_at, TimeFormat::kIso8601) << "\n"
            << "  updated:  " << FormatUnixTime(t.updated_at, TimeFormat::kIso8601) << "\n";
    if (!t.body.empty()) ctx.out << "\n" << t.body << "\n";
    return Status::OK();
  }
  bool json_ = false;
};

class TaskLogCommand : public TaskIdCommand {
  void DefineMore(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    Result<std::vector<Event>> events = store.TaskEvents(t.id);
    if (!events.ok()) return events.status();
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const Event& e : *events) out.push_back(EventJson(e));
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    for (const Event& e : *events) {
      ctx.out << FormatUnixTime(e.created_at, TimeFormat::kIso8601) << "  " << e.kind << "  ";
      if (!e.from_status.empty()) ctx.out << e.from_status << " -> ";
      ctx.out << e.to_status << "  by " << e.actor;
      if (!e.reason.empty()) ctx.out << ": " << e.reason;
      ctx.out << "\n";
    }
    return Status::OK();
  }
  bool json_ = false;
};

// answer: the answer to the question the task's agent asked (agents/questions.h), as a reply
// on GitHub gives it: the task is routed again and its agent resumes its session with it.
class TaskAnswerCommand : public TaskIdCommand {
  void DefineMore(CLI::App& app) override {
    app.add_option("text", text_, "The answer")->required();
  }
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    if (t.status != TaskStatus::kNeedsReview && t.status != TaskStatus::kBlocked) {
      return Status::InvalidArgument("task " + std::to_string(t.id),
                                     std::string("is ") + TaskStatusName(t.status) +
                                         "; only a task waiting for input takes an answer");
    }
    ORCH_RETURN_IF_ERROR(RecordAnswer(store, t, text_, ctx.actor(), ""));
    ctx.out << "task " << t.id << " resumes its agent with the answer\n";
    return Status::OK();
  }
  std::string text_;
};

// retry: another attempt, counted against workflow.max_attempts (engine/task_actions.h).
class TaskRetryCommand : public TaskIdCommand {
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    Result<Project> project = store.FindProject(std::to_string(t.project_id));
    if (!project.ok()) return project.status();
    Result<Config> config = ctx.config(&*project);
    if (!config.ok()) return config.status();
    Result<std::string> done =
        RetryTask(store, t.id, config->workflow.max_attempts, ctx.actor(), "`orch task unblock`");
    if (!done.ok()) return done.status();
    ctx.out << *done << "\n";
    return Status::OK();
  }
};

// unblock: a person has looked; start over with a fresh attempt count.
class TaskUnblockCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("target", target_, "A task id, or `all`")->required();
    app.add_option("--project,-p", project_, "With `all`: only this project's tasks");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    if (target_ != "all") {
      Result<int64_t> id = ParseId(target_);
      if (!id.ok()) return id.status();
      Result<std::string> done = UnblockTask(**store, *id, ctx.actor());
      if (!done.ok()) return done.status();
      ctx.out << *done << "\n";
      return Status::OK();
    }
    std::optional<int64_t> project_id;
    if (project_) {
      Result<Project> p = ctx.project(project_);
      if (!p.ok()) return p.status();
      project_id = p->id;
    }
    Result<UnblockAllReport> report = UnblockAll(**store, project_id, ctx.actor());
    if (!report.ok()) return report.status();
    for (const std::string& why : report->skipped) ctx.err << "orch: skipped " << why << "\n";
    ctx.out << "unblocked " << report->moved << " task(s)\n";
    return Status::OK();
  }

 private:
  std::string target_;
  std::optional<std::string> project_;
};

}  // namespace

std::unique_ptr<Command> MakeTaskAddCommand() { return std::make_unique<TaskAddCommand>(); }
std::unique_ptr<Command> MakeTaskListCommand() { return std::make_unique<TaskListCommand>(); }
std::unique_ptr<Command> MakeTaskShowCommand() { return std::make_unique<TaskShowCommand>(); }
// `orch task run ID`: routes the task if needed and runs its agent in the foreground, through
// the same dispatcher as the daemon, printing the agent's output as it comes.
class TaskRunCommand : public TaskIdCommand {
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<PidLock> lock = PidLock::Acquire(home->pid_path());
    if (lock.status().IsConflict()) {
      return Status::InvalidArgument("task " + std::to_string(t.id),
                                     "the daemon is running (" + lock.status().message() +
                                         ") and dispatches it; watch with orch task attach " +
                                         std::to_string(t.id));
    }
    if (!lock.ok()) return lock.status();
    if (t.status != TaskStatus::kNew && t.status != TaskStatus::kRouted &&
        t.status != TaskStatus::kInProgress) {
      return Status::InvalidArgument(
          "task " + std::to_string(t.id),
          std::string("is ") + TaskStatusName(t.status) + "; orch task retry or unblock it first");
    }
    Result<Config> config = ctx.config();
    if (!config.ok()) return config.status();
    PosixProcessRunner processes;
    std::unique_ptr<RestGitHubClient> github;
    Result<std::unique_ptr<RestGitHubClient>> made =
        RestGitHubClient::Make(config->github, ctx.env, processes, ctx.clock);
    if (made.ok()) github = std::move(made).value();
    std::unique_ptr<LockedGitHubClient> shared;
    if (github) shared = std::make_unique<LockedGitHubClient>(*github);
    // The task's project's .orch.yml applies, as under the daemon.
    Result<ConfigSet> configs = LoadConfigSet(*home, ctx.env, ctx.git, [&store](int64_t id) {
      return store.FindProject(std::to_string(id));
    });
    if (!configs.ok()) return configs.status();
    AgentStack agents(*home, *configs, ctx.env, store, ctx.clock, processes, github.get(),
                      shared.get(), {});
    agents.dispatcher.set_only(t.id);
    ORCH_RETURN_IF_ERROR(agents.dispatcher.Adopt());
    uint64_t printed = 0;
    std::string log;
    while (true) {
      Result<DispatchReport> step = agents.dispatcher.Step();
      if (!step.ok()) return step.status();
      agents.dispatcher.Drain();
      Result<Task> now = store.GetTask(t.id);
      if (!now.ok()) return now.status();
      Result<std::vector<Attempt>> runs = store.ListAttempts(t.id);
      if (runs.ok() && !runs->empty() && runs->back().run_dir + "/output.log" != log) {
        log = runs->back().run_dir + "/output.log";
        printed = 0;
      }
      if (!log.empty()) {
        std::ifstream in(log, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(printed));
        std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        printed += chunk.size();
        ctx.out << chunk << std::flush;
      }
      if (now->status != TaskStatus::kNew && now->status != TaskStatus::kRouted &&
          now->status != TaskStatus::kInProgress) {
        ctx.out << "task " << t.id << ": " << TaskStatusName(now->status)
                << (now->status_reason.empty() ? "" : " (" + now->status_reason + ")") << "\n";
        return Status::OK();
      }
      if (now->status == TaskStatus::kNew && step->routed == 0 && (!runs.ok() || runs->empty())) {
        return Status::Unavailable("task " + std::to_string(t.id),
                                   "could not be routed (see the log)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
};

// The task's latest tmux session, if it has run.
Result<std::string> LatestSession(Store& store, const Task& t) {
  Result<std::vector<Attempt>> runs = store.ListAttempts(t.id);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) {
    return Status::NotFound("task " + std::to_string(t.id), "has not run an agent yet");
  }
  return runs->back().tmux_session;
}

class TaskAttachCommand : public TaskIdCommand {
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    Result<std::string> session = LatestSession(store, t);
    if (!session.ok()) return session.status();
    PosixProcessRunner processes;
    Tmux tmux(processes, TmuxSocketName(ctx.env));
    Result<bool> has = tmux.HasSession(*session);
    if (!has.ok()) return has.status();
    if (!*has) {
      return Status::NotFound(
          "tmux session " + *session,
          "is gone; the agent's output is in orch task show " + std::to_string(t.id) + "'s log");
    }
    std::vector<std::string> argv = tmux.AttachArgv(*session);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    unsetenv("TMUX");  // attaching from inside another tmux is fine: it is another server
    execvp(cargv[0], cargv.data());
    return Status::IOError("tmux", strerror(errno));
  }
};

class TaskKillCommand : public TaskIdCommand {
  Status RunOn(Context& ctx, Store& store, const Task& t) override {
    PosixProcessRunner processes;
    Tmux tmux(processes, TmuxSocketName(ctx.env));
    Result<std::string> done = KillTask(store, tmux, t.id, ctx.actor());
    if (!done.ok()) return done.status();
    ctx.out << *done << "\n";
    return Status::OK();
  }
};

std::unique_ptr<Command> MakeTaskRunCommand() { return std::make_unique<TaskRunCommand>(); }
std::unique_ptr<Command> MakeTaskAttachCommand() { return std::make_unique<TaskAttachCommand>(); }
std::unique_ptr<Command> MakeTaskKillCommand() { return std::make_unique<TaskKillCommand>(); }
std::unique_ptr<Command> MakeTaskLogCommand() { return std::make_unique<TaskLogCommand>(); }
std::unique_ptr<Command> MakeTaskRetryCommand() { return std::make_unique<TaskRetryCommand>(); }
std::unique_ptr<Command> MakeTaskAnswerCommand() { return std::make_unique<TaskAnswerCommand>(); }
std::unique_ptr<Command> MakeTaskUnblockCommand() { return std::make_unique<TaskUnblockCommand>(); }

}  // namespace orch
