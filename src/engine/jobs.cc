#include "engine/jobs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

#include "base/time_format.h"

namespace orch {
namespace {

bool Active(TaskStatus s) { return s != TaskStatus::kDone && s != TaskStatus::kNeedsReview; }

// The last `n` bytes of `s`, not starting inside a UTF-8 sequence.
std::string Tail(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t start = s.size() - n;
  while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;
  return s.substr(start);
}

// NextJobRun, enabled or not.
std::optional<int64_t> SlotAt(const Cron& cron, const std::optional<JobState>& state, int64_t now) {
  int64_t baseline = std::max(state ? state->first_seen_at : now, now - kCatchUpWindow);
  if (state && state->last_slot_at) baseline = std::max(baseline, *state->last_slot_at);
  std::optional<int64_t> next = NextCronTime(cron, baseline);
  if (!next || *next > now) return next;
  // Due: every time missed within the window collapses into the latest of them.
  int64_t latest = *next;
  while (std::optional<int64_t> after = NextCronTime(cron, latest)) {
    if (*after > now) break;
    latest = *after;
  }
  return latest;
}

}  // namespace

bool JobEnabled(const JobConfig& job, const std::optional<JobState>& state) {
  return state && state->enabled ? *state->enabled : job.enabled;
}

std::optional<int64_t> NextJobRun(const JobConfig& job, const std::optional<JobState>& state,
                                  int64_t now) {
  if (!JobEnabled(job, state)) return std::nullopt;
  return SlotAt(job.cron, state, now);
}

JobScheduler::JobScheduler(Store& store, std::vector<JobConfig> jobs, const Clock& clock,
                           ProcessRunner& runner, std::string home_dir)
    : store_(store),
      jobs_(std::move(jobs)),
      clock_(clock),
      runner_(runner),
      home_dir_(std::move(home_dir)) {}

Result<JobState> JobScheduler::LoadState(const std::string& id) {
  Result<std::optional<JobState>> s = store_.GetJobState(id);
  if (!s.ok()) return s.status();
  if (*s) return **s;
  JobState fresh{.id = id, .first_seen_at = clock_.NowUnix()};
  ORCH_RETURN_IF_ERROR(store_.SaveJobState(fresh));
  return fresh;
}

Result<JobReport> JobScheduler::Step() {
  JobReport report;
  work_.ApplyDone();
  report.finished = std::exchange(finished_, 0);
  Status first = std::exchange(record_error_, Status::OK());
  if (loader_) {
    if (std::optional<std::vector<JobConfig>> jobs = loader_()) jobs_ = std::move(*jobs);
  }
  int64_t now = clock_.NowUnix();
  for (const JobConfig& job : jobs_) {
    Result<JobState> state = LoadState(job.id);
    if (!state.ok()) return state.status();
    std::optional<int64_t> slot = SlotAt(job.cron, *state, now);
    if (!slot || *slot > now) continue;
    if (!JobEnabled(job, *state)) {
      // Let the time pass, so enabling the job later does not run it at once for it.
      state->last_slot_at = *slot;
      ORCH_RETURN_IF_ERROR(store_.SaveJobState(*state));
      continue;
    }
    Result<std::string> r = Run(job, *state, slot, /*force=*/false, /*wait=*/false);
    if (!r.ok()) {
      if (first.ok()) first = r.status();
      continue;
    }
    if (r->rfind("skipped", 0) == 0) {
      ++report.skipped;
    } else if (r->rfind("failed", 0) != 0) {
      ++report.started;
    }
  }
  if (!first.ok()) return first;
  return report;
}

Result<std::string> JobScheduler::RunNow(const std::string& id, bool force) {
  auto it =
      std::find_if(jobs_.begin(), jobs_.end(), [&](const JobConfig& j) { return j.id == id; });
  if (it == jobs_.end()) return Status::NotFound("job \"" + id + "\"", "no such job");
  Result<JobState> state = LoadState(id);
  if (!state.ok()) return state.status();
  return Run(*it, *state, std::nullopt, force, /*wait=*/true);
}

Result<std::string> JobScheduler::Run(const JobConfig& job, JobState& state,
                                      std::optional<int64_t> slot, bool force, bool wait) {
  int64_t now = clock_.NowUnix();
  if (slot) state.last_slot_at = *slot;
  std::string when = slot ? FormatUnixTime(*slot, TimeFormat::kIso8601)
                          : FormatUnixTime(now, TimeFormat::kIso8601) + "/manual";
  std::string result;
  if (job.type == JobType::kTask) {
    Result<std::string> r = RunTask(job, state, when, force);
    if (!r.ok()) return r.status();
    result = *r;
  } else if (running_.count(job.id) > 0 && !force) {
    result = "skipped: the previous run is still running";
  } else if (wait) {
    state.last_run_at = now;
    ProcessOptions opts = CommandOptions(job);
    spdlog::info("job {}: running {} in {}", job.id, opts.argv[0], opts.cwd.value_or(""));
    result = Record(runner_.Run(opts), job.timeout, state);
  } else {
    state.last_run_at = now;
    ProcessOptions opts = CommandOptions(job);
    spdlog::info("job {}: running {} in {}", job.id, opts.argv[0], opts.cwd.value_or(""));
    running_.insert(job.id);
    work_.Submit([this, id = job.id, timeout = job.timeout, opts]() -> WorkQueue::Apply {
      Result<ProcessResult> r = runner_.Run(opts);
      return [this, id, timeout, r] { RecordFinished(id, r, timeout); };
    });
    result = "running";
  }
  if (result.rfind("skipped", 0) == 0) {
    spdlog::info("job {}: {} ({})", job.id, result, when);
  } else if (result != "running") {
    spdlog::info("job {}: {}", job.id, result);
  }
  state.last_result = result;
  ORCH_RETURN_IF_ERROR(store_.SaveJobState(state));
  return result;
}

Result<std::string> JobScheduler::RunTask(const JobConfig& job, JobState& state,
                                          const std::string& when, bool force) {
  Result<std::vector<Task>> previous = store_.ListTasks({.source_id_prefix = job.id + "@"});
  if (!previous.ok()) return previous.status();
  for (const Task& t : *previous) {
    if (!force && t.source == TaskSource::kJob && Active(t.status)) {
      return "skipped: task " + std::to_string(t.id) + " is still " + TaskStatusName(t.status);
    }
  }
  std::vector<Project> projects;
  if (job.project.empty()) {
    Result<std::vector<Project>> all = store_.ListProjects();
    if (!all.ok()) return all.status();
    projects = *all;
    if (projects.empty()) return std::string("failed: no project registered");
  } else {
    Result<Project> p = store_.FindProject(job.project);
    if (p.status().IsNotFound()) return "failed: project " + job.project + " is not registered";
    if (!p.ok()) return p.status();
    projects.push_back(*p);
  }
  NewTask task;
  task.source = TaskSource::kJob;
  task.source_id = job.id + "@" + when;
  task.title = job.task.title;
  task.body = job.task.body;
  task.labels = job.task.labels;
  if (!job.task.agent.empty()) {
    std::string label = "agent:" + job.task.agent;
    if (std::find(task.labels.begin(), task.labels.end(), label) == task.labels.end()) {
      task.labels.push_back(label);
    }
  }
  std::string ids;
  for (const Project& p : projects) {
    task.project_id = p.id;
    // Already there when an earlier attempt created it and then failed to record the run.
    Result<std::vector<Task>> existing =
        store_.ListTasks({.project_id = p.id, .source_id = task.source_id});
    if (!existing.ok()) return existing.status();
    int64_t id;
    if (!existing->empty()) {
      id = existing->front().id;
    } else {
      Result<Task> t = store_.AddTask(task, {"job:" + job.id, "scheduled job (" + when + ")"});
      if (!t.ok()) return t.status();
      id = t->id;
    }
    ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    state.last_task_id = id;
  }
  state.last_run_at = clock_.NowUnix();
  return (projects.size() == 1 ? "created task " : "created tasks ") + ids;
}

ProcessOptions JobScheduler::CommandOptions(const JobConfig& job) {
  ProcessOptions opts;
  opts.argv = job.command;
  opts.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(job.timeout);
  opts.env_set["ORCH_JOB"] = job.id;
  std::string dir = job.dir;
  if (dir.empty() && !job.project.empty()) {
    Result<Project> p = store_.FindProject(job.project);
    if (p.ok() && p->kind == ProjectKind::kLocal) dir = p->path;
  }
  opts.cwd = dir.empty() ? home_dir_ : dir;
  return opts;
}

std::string JobScheduler::Record(const Result<ProcessResult>& r, Seconds timeout, JobState& state) {
  if (!r.ok()) {
    state.last_exit_code = std::nullopt;
    state.last_output = "";
    return "failed: " + r.status().message();
  }
  state.last_output = Tail(r->out + r->err, kJobOutputTail);
  if (r->timed_out) {
    state.last_exit_code = std::nullopt;
    return "timed out after " + std::to_string(timeout.count()) + "s";
  }
  if (r->term_signal != 0) {
    state.last_exit_code = std::nullopt;
    return "killed by signal " + std::to_string(r->term_signal);
  }
  state.last_exit_code = r->exit_code;
  return "exit " + std::to_string(r->exit_code);
}

void JobScheduler::RecordFinished(const std::string& id, const Result<ProcessResult>& r,
                                  Seconds timeout) {
  running_.erase(id);
  ++finished_;
  Result<std::optional<JobState>> state = store_.GetJobState(id);
  Status saved = state.status();
  if (state.ok() && *state) {
    JobState s = **state;
    s.last_result = Record(r, timeout, s);
    spdlog::info("job {}: {}", id, s.last_result);
    saved = store_.SaveJobState(s);
  }
  if (!saved.ok() && record_error_.ok()) record_error_ = saved;
}

Status JobScheduler::WaitForCommands() {
  work_.Drain();
  finished_ = 0;
  return std::exchange(record_error_, Status::OK());
}

}  // namespace orch
