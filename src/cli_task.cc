// `orch task add | list | show | log | retry | unblock`.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli.h"

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
          {"created_at", FormatTime(t.created_at)},
          {"updated_at", FormatTime(t.updated_at)}};
}

nlohmann::json EventJson(const Event& e) {
  return {{"id", e.id},
          {"kind", e.kind},
          {"from", e.from_status},
          {"to", e.to_status},
          {"actor", e.actor},
          {"reason", e.reason},
          {"at", FormatTime(e.created_at)}};
}

// Parses a task id argument; InvalidArgument for anything but a positive number.
Result<int64_t> ParseId(const std::string& s) {
  try {
    size_t used = 0;
    long long id = std::stoll(s, &used);
    if (used == s.size() && id > 0) return static_cast<int64_t>(id);
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument("task id \"" + s + "\"", "expected a positive number");
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
    Result<SqliteStore*> store = ctx.store();
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
    Result<SqliteStore*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<Task> t = (*store)->GetTask(*id);
    if (!t.ok()) return t.status();
    return RunOn(ctx, **store, *t);
  }

 protected:
  virtual void DefineMore(CLI::App&) {}
  virtual Status RunOn(Context& ctx, SqliteStore& store, const Task& t) = 0;
  std::string id_;
};

class TaskShowCommand : public TaskIdCommand {
  void DefineMore(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status RunOn(Context& ctx, SqliteStore&, const Task& t) override {
    if (json_) {
      ctx.out << TaskJson(t).dump(2) << "\n";
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
    if (!t.labels.empty()) {
      ctx.out << "  labels:  ";
      for (const auto& l : t.labels) ctx.out << " " << l;
      ctx.out << "\n";
    }
    ctx.out << "  created:  " << FormatTime(t.created_at) << "\n"
            << "  updated:  " << FormatTime(t.updated_at) << "\n";
    if (!t.body.empty()) ctx.out << "\n" << t.body << "\n";
    return Status::OK();
  }
  bool json_ = false;
};

class TaskLogCommand : public TaskIdCommand {
  void DefineMore(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status RunOn(Context& ctx, SqliteStore& store, const Task& t) override {
    Result<std::vector<Event>> events = store.TaskEvents(t.id);
    if (!events.ok()) return events.status();
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const Event& e : *events) out.push_back(EventJson(e));
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    for (const Event& e : *events) {
      ctx.out << FormatTime(e.created_at) << "  " << e.kind << "  ";
      if (!e.from_status.empty()) ctx.out << e.from_status << " -> ";
      ctx.out << e.to_status << "  by " << e.actor;
      if (!e.reason.empty()) ctx.out << ": " << e.reason;
      ctx.out << "\n";
    }
    return Status::OK();
  }
  bool json_ = false;
};

// retry: another attempt, counted against workflow.max_attempts.
class TaskRetryCommand : public TaskIdCommand {
  Status RunOn(Context& ctx, SqliteStore& store, const Task& t) override {
    if (t.status != TaskStatus::kNeedsReview && t.status != TaskStatus::kBlocked &&
        t.status != TaskStatus::kInProgress) {
      return Status::InvalidArgument("task " + std::to_string(t.id),
                                     std::string("is ") + TaskStatusName(t.status) +
                                         "; only needs_review, blocked or in_progress tasks can "
                                         "be retried");
    }
    Result<Project> project = store.FindProject(std::to_string(t.project_id));
    if (!project.ok()) return project.status();
    Result<Config> config = ctx.config(&*project);
    if (!config.ok()) return config.status();
    if (t.attempts >= config->workflow.max_attempts) {
      return Status::InvalidArgument("task " + std::to_string(t.id),
                                     "has used " + std::to_string(t.attempts) + " of " +
                                         std::to_string(config->workflow.max_attempts) +
                                         " attempts; `orch task unblock` resets them");
    }
    ORCH_RETURN_IF_ERROR(
        store.Transition(t.id, t.status, TaskStatus::kNew, {ctx.actor(), "retry requested"}));
    ctx.out << "task " << t.id << " is new again (attempt " << t.attempts + 1 << " of "
            << config->workflow.max_attempts << " next)\n";
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
    Result<SqliteStore*> store = ctx.store();
    if (!store.ok()) return store.status();
    std::vector<Task> tasks;
    if (target_ == "all") {
      TaskFilter filter;
      if (project_) {
        Result<Project> p = ctx.project(project_);
        if (!p.ok()) return p.status();
        filter.project_id = p->id;
      }
      for (TaskStatus s : {TaskStatus::kBlocked, TaskStatus::kNeedsReview}) {
        filter.status = s;
        Result<std::vector<Task>> some = (*store)->ListTasks(filter);
        if (!some.ok()) return some.status();
        tasks.insert(tasks.end(), some->begin(), some->end());
      }
    } else {
      Result<int64_t> id = ParseId(target_);
      if (!id.ok()) return id.status();
      Result<Task> t = (*store)->GetTask(*id);
      if (!t.ok()) return t.status();
      if (t->status != TaskStatus::kBlocked && t->status != TaskStatus::kNeedsReview) {
        return Status::InvalidArgument(
            "task " + target_,
            std::string("is ") + TaskStatusName(t->status) + ", not blocked or needs_review");
      }
      tasks.push_back(*t);
    }
    int moved = 0;
    for (const Task& t : tasks) {
      Status s = (*store)->Transition(t.id, t.status, TaskStatus::kNew, {ctx.actor(), "unblocked"},
                                      AttemptEffect::kReset);
      if (s.IsConflict()) {  // moved by the daemon meanwhile; say so and go on
        ctx.err << "orch: skipped " << s.message() << "\n";
        continue;
      }
      ORCH_RETURN_IF_ERROR(s);
      ++moved;
    }
    ctx.out << "unblocked " << moved << " task(s)\n";
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
std::unique_ptr<Command> MakeTaskLogCommand() { return std::make_unique<TaskLogCommand>(); }
std::unique_ptr<Command> MakeTaskRetryCommand() { return std::make_unique<TaskRetryCommand>(); }
std::unique_ptr<Command> MakeTaskUnblockCommand() { return std::make_unique<TaskUnblockCommand>(); }

}  // namespace orch
