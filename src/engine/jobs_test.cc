#include "engine/jobs.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "engine/engine.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using test::Utc;

// Records what it was asked to run and answers with `result`.
class FakeRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const ProcessOptions& options) override {
    std::lock_guard<std::mutex> lock(mu_);
    ran_.push_back(options);
    return result_;
  }
  std::vector<ProcessOptions> ran() {
    std::lock_guard<std::mutex> lock(mu_);
    return ran_;
  }
  Result<ProcessResult> result_ = ProcessResult{};

 private:
  std::mutex mu_;
  std::vector<ProcessOptions> ran_;
};

JobConfig TaskJob(const std::string& id, const std::string& schedule) {
  JobConfig j;
  j.id = id;
  j.schedule = schedule;
  j.cron = *ParseCron(schedule);
  j.task.title = "Nightly check";
  j.task.labels = {"chore"};
  return j;
}

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(":memory:", clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    project_id_ = store_->AddProject({.name = "acme/widgets", .path = "/w"})->id;
  }
  std::vector<Task> JobTasks(const std::string& id) {
    return *store_->ListTasks({.source_id_prefix = id + "@"});
  }
  void Finish(const Task& t) {
    Status s = store_->Transition(t.id, t.status, TaskStatus::kDone, {"test", ""});
    ASSERT_TRUE(s.ok()) << s.message();
  }
  JobState State(const std::string& id) { return **store_->GetJobState(id); }
  // Ticks every `step` seconds until `until`, finishing each task a job creates at once so the
  // overlap guard cannot hide a duplicate. Returns the tasks created.
  std::vector<Task> TickThrough(JobScheduler& s, const std::string& id, int64_t until,
                                int64_t step) {
    while (clock_.NowUnix() < until) {
      EXPECT_TRUE(s.Step().ok());
      std::vector<Task> all = *store_->ListTasks({});
      for (const Task& t : all) {
        if (t.status != TaskStatus::kDone) Finish(t);
      }
      clock_.Advance(step);
    }
    return JobTasks(id);
  }

  test::ScopedTz tz_{"UTC"};
  test::FakeClock clock_;
  FakeRunner runner_;
  std::unique_ptr<Store> store_;
  int64_t project_id_ = 0;
};

TEST_F(JobsTest, ADueTaskJobCreatesItsTaskOnceHoweverOftenItTicks) {
  // Given a 03:00 job first seen at 02:59, a tick at 03:00 creates one task with the job as its
  // source and the agent as a label; more ticks, even with the run's record lost, add none.
  JobConfig job = TaskJob("nightly", "0 3 * * *");
  job.task.agent = "codex";
  clock_.Set(Utc(2026, 3, 10, 2, 59));
  JobScheduler s(*store_, {job}, clock_, runner_, "/home");
  ASSERT_TRUE(s.Step().ok());
  EXPECT_TRUE(JobTasks("nightly").empty());

  clock_.Advance(60);
  Result<JobReport> r = s.Step();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->started, 1);
  std::vector<Task> tasks = JobTasks("nightly");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source, TaskSource::kJob);
  EXPECT_EQ(tasks[0].source_id, "nightly@2026-03-10T03:00:00Z");
  EXPECT_EQ(tasks[0].title, "Nightly check");
  EXPECT_EQ(tasks[0].labels, (std::vector<std::string>{"chore", "agent:codex"}));
  EXPECT_EQ(State("nightly").last_result, "created task " + std::to_string(tasks[0].id));
  EXPECT_EQ(State("nightly").last_task_id, tasks[0].id);

  ASSERT_TRUE(s.Step().ok());
  JobState lost = State("nightly");
  lost.last_slot_at = Utc(2026, 3, 9, 3, 0);  // as if the crash came before the record
  ASSERT_TRUE(store_->SaveJobState(lost).ok());
  Finish(tasks[0]);  // not the overlap guard: the task of that time already exists
  ASSERT_TRUE(s.Step().ok());
  EXPECT_EQ(JobTasks("nightly").size(), 1u);
}

TEST_F(JobsTest, MissedTimesCatchUpOnceAndOnlyWithinADay) {
  // Given an hourly job, five hours of downtime give one run, for the latest missed hour;
  // three days of downtime give one run too, not 72.
  clock_.Set(Utc(2026, 3, 10, 0, 30));
  JobScheduler s(*store_, {TaskJob("hourly", "0 * * * *")}, clock_, runner_, "/home");
  ASSERT_TRUE(s.Step().ok());
  clock_.Advance(5 * 3600);  // 05:30
  ASSERT_TRUE(s.Step().ok());
  std::vector<Task> tasks = JobTasks("hourly");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source_id, "hourly@2026-03-10T05:00:00Z");
  Finish(tasks[0]);

  clock_.Advance(3 * 86400);
  ASSERT_TRUE(s.Step().ok());
  tasks = JobTasks("hourly");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[1].source_id, "hourly@2026-03-13T05:00:00Z");
}

TEST_F(JobsTest, ATimeOlderThanTheCatchUpWindowIsNotRun) {
  // A weekly job whose time passed two days ago while orch was down waits for next week.
  clock_.Set(Utc(2026, 3, 6, 12, 0));  // a Friday
  JobScheduler s(*store_, {TaskJob("weekly", "0 9 * * 0")}, clock_, runner_, "/home");
  ASSERT_TRUE(s.Step().ok());
  clock_.Set(Utc(2026, 3, 10, 12, 0));  // Tuesday; Sunday 09:00 was 51 hours ago
  ASSERT_TRUE(s.Step().ok());
  EXPECT_TRUE(JobTasks("weekly").empty());
  EXPECT_EQ(NextJobRun(TaskJob("weekly", "0 9 * * 0"), State("weekly"), clock_.NowUnix()),
            Utc(2026, 3, 15, 9, 0));
}

TEST_F(JobsTest, OverlappingRunIsSkippedWhileTheLastTaskIsActive) {
  clock_.Set(Utc(2026, 3, 10, 0, 30));
  JobScheduler s(*store_, {TaskJob("hourly", "0 * * * *")}, clock_, runner_, "/home");
  ASSERT_TRUE(s.Step().ok());
  clock_.Advance(3600);
  ASSERT_TRUE(s.Step().ok());
  std::vector<Task> tasks = JobTasks("hourly");
  ASSERT_EQ(tasks.size(), 1u);

  clock_.Advance(3600);  // task still new: skipped, and said so
  Result<JobReport> r = s.Step();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(JobTasks("hourly").size(), 1u);
  EXPECT_EQ(State("hourly").last_result,
            "skipped: task " + std::to_string(tasks[0].id) + " is still new");

  ASSERT_TRUE(
      store_->Transition(tasks[0].id, TaskStatus::kNew, TaskStatus::kNeedsReview, {"test", ""})
          .ok());
  clock_.Advance(3600);  // needs_review is not active: the next time runs
  ASSERT_TRUE(s.Step().ok());
  EXPECT_EQ(JobTasks("hourly").size(), 2u);
}

TEST_F(JobsTest, ADisabledJobLetsItsTimesPass) {
  clock_.Set(Utc(2026, 3, 10, 0, 30));
  JobScheduler s(*store_, {TaskJob("hourly", "0 * * * *")}, clock_, runner_, "/home");
  ASSERT_TRUE(s.Step().ok());
  JobState st = State("hourly");
  st.enabled = false;  // orch job disable
  ASSERT_TRUE(store_->SaveJobState(st).ok());
  clock_.Advance(3600);
  ASSERT_TRUE(s.Step().ok());
  EXPECT_TRUE(JobTasks("hourly").empty());
  EXPECT_EQ(NextJobRun(TaskJob("hourly", "0 * * * *"), State("hourly"), clock_.NowUnix()),
            std::nullopt);

  st = State("hourly");
  st.enabled = true;  // orch job enable: 01:00 has passed, it is not run now
  ASSERT_TRUE(store_->SaveJobState(st).ok());
  ASSERT_TRUE(s.Step().ok());
  EXPECT_TRUE(JobTasks("hourly").empty());
  clock_.Advance(3600);
  ASSERT_TRUE(s.Step().ok());
  EXPECT_EQ(JobTasks("hourly").size(), 1u);
}

TEST_F(JobsTest, ACommandJobRunsItsArgvInItsDirAndRecordsTheOutcome) {
  JobConfig job = TaskJob("backup", "*/5 * * * *");
  job.type = JobType::kCommand;
  job.command = {"tar", "czf", "/tmp/b.tgz", "; rm -rf /"};
  job.dir = "/srv";
  job.timeout = Seconds(90);
  runner_.result_ =
      ProcessResult{.exit_code = 3, .out = std::string(5000, 'x') + "done\n", .err = "warning\n"};
  clock_.Set(Utc(2026, 3, 10, 0, 4));
  JobScheduler s(*store_, {job}, clock_, runner_, "/home");
  ASSERT_TRUE(s.Step().ok());
  clock_.Advance(60);
  Result<JobReport> r = s.Step();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->started, 1);
  ASSERT_TRUE(s.WaitForCommands().ok());
  std::vector<ProcessOptions> ran = runner_.ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].argv, job.command);  // as separate words, never through a shell
  EXPECT_EQ(ran[0].cwd, "/srv");
  EXPECT_EQ(ran[0].timeout, std::chrono::milliseconds(90000));
  EXPECT_EQ(ran[0].env_set.at("ORCH_JOB"), "backup");
  JobState st = State("backup");
  EXPECT_EQ(st.last_result, "exit 3");
  EXPECT_EQ(st.last_exit_code, 3);
  EXPECT_EQ(st.last_output.size(), kJobOutputTail);
  EXPECT_EQ(st.last_output.substr(st.last_output.size() - 13), "done\nwarning\n");
  EXPECT_EQ(st.last_run_at, Utc(2026, 3, 10, 0, 5));

  ProcessResult timed_out;
  timed_out.timed_out = true;
  runner_.result_ = timed_out;
  ASSERT_EQ(*s.RunNow("backup"), "timed out after 90s");
  runner_.result_ = Status::NotFound("tar", "not found in PATH");
  EXPECT_EQ(*s.RunNow("backup"), "failed: tar: not found in PATH");
}

TEST_F(JobsTest, RunNowIgnoresTheScheduleButNotTheOverlapGuard) {
  clock_.Set(Utc(2026, 3, 10, 0, 30));
  JobConfig job = TaskJob("weekly", "0 9 * * 0");
  job.enabled = false;
  JobScheduler s(*store_, {job}, clock_, runner_, "/home");
  Result<std::string> r = s.RunNow("weekly");
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::vector<Task> tasks = JobTasks("weekly");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(*r, "created task " + std::to_string(tasks[0].id));
  EXPECT_EQ(tasks[0].source_id, "weekly@2026-03-10T00:30:00Z/manual");
  EXPECT_EQ(s.RunNow("weekly")->rfind("skipped: task", 0), 0u);
  clock_.Advance(1);
  EXPECT_EQ(s.RunNow("weekly", /*force=*/true)->rfind("created task", 0), 0u);
  EXPECT_TRUE(s.RunNow("nope").status().IsNotFound());
}

TEST_F(JobsTest, AJobForEveryProjectOrAMissingOne) {
  int64_t other = store_->AddProject({.name = "acme/gadgets", .path = "/g"})->id;
  clock_.Set(Utc(2026, 3, 10, 0, 30));
  JobConfig all = TaskJob("all", "0 9 * * 0");
  JobConfig missing = TaskJob("missing", "0 9 * * 0");
  missing.project = "acme/nothing";
  JobScheduler s(*store_, {all, missing}, clock_, runner_, "/home");
  std::vector<Task> before = JobTasks("all");
  ASSERT_EQ(s.RunNow("all")->rfind("created tasks ", 0), 0u);
  std::vector<Task> tasks = JobTasks("all");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(std::set<int64_t>({tasks[0].project_id, tasks[1].project_id}),
            std::set<int64_t>({project_id_, other}));
  EXPECT_EQ(*s.RunNow("missing"), "failed: project acme/nothing is not registered");
  EXPECT_EQ(State("missing").last_result, "failed: project acme/nothing is not registered");
}

TEST_F(JobsTest, SpringForwardRunsTheSkippedTimeOnceAndFallBackRunsOnce) {
  test::ScopedTz ny("America/New_York");
  JobScheduler s(*store_, {TaskJob("gap", "30 2 * * *"), TaskJob("twice", "30 1 * * *")}, clock_,
                 runner_, "/home");
  // 2026-03-08 00:00 EST to the next midnight, a tick every 5 minutes: 02:30 does not exist,
  // the job runs once, at 03:00 EDT.
  clock_.Set(Utc(2026, 3, 8, 5, 0));
  std::vector<Task> gap = TickThrough(s, "gap", Utc(2026, 3, 9, 4, 0), 300);
  ASSERT_EQ(gap.size(), 1u);
  EXPECT_EQ(gap[0].source_id, "gap@2026-03-08T07:00:00Z");
  // 2026-11-01: 01:30 happens twice; the job runs once, at the first (EDT).
  clock_.Set(Utc(2026, 11, 1, 4, 0));
  std::vector<Task> twice = TickThrough(s, "twice", Utc(2026, 11, 2, 5, 0), 300);
  std::vector<Task> nov;
  for (const Task& t : twice) {
    if (t.source_id->find("2026-11-01") != std::string::npos) nov.push_back(t);
  }
  ASSERT_EQ(nov.size(), 1u);
  EXPECT_EQ(nov[0].source_id, "twice@2026-11-01T05:30:00Z");
}

TEST_F(JobsTest, TheEngineTickRunsDueJobs) {
  clock_.Set(Utc(2026, 3, 10, 2, 59));
  Config config;
  JobScheduler s(*store_, {TaskJob("nightly", "0 3 * * *")}, clock_, runner_, "/home");
  Engine engine(*store_, config, clock_);
  engine.set_jobs(&s);
  ASSERT_TRUE(engine.Tick().ok());
  clock_.Advance(60);
  Result<TickReport> r = engine.Tick();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->jobs_started, 1);
  EXPECT_EQ(JobTasks("nightly").size(), 1u);
}

}  // namespace
}  // namespace orch
