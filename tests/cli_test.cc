// End to end: the built `orch` binary against a temporary ORCH_HOME.
#include <gmock/gmock.h>

#include <filesystem>

#include "orch_fixture.h"
#include "store/sql.h"
#include "store/store.h"
#include "testing/postgres_server.h"
#include "version.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class CliTest : public OrchTest {
 protected:
  // A checkout whose origin is a local bare repo named acme/widgets, registered with orch.
  void RegisterWidgets() {
    MakeRepoWithOrigin(dir_.Sub("remotes/acme/widgets.git"), dir_.Sub("widgets"));
    ProcessResult r = Orch({"project", "add", dir_.Sub("widgets")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  int64_t AddTask(const std::string& title) {
    nlohmann::json t = OrchJson({"task", "add", title, "--json"});
    return t.value("id", int64_t{0});
  }
  // Moves a task's status behind the CLI's back, as the daemon would.
  void SetStatus(int64_t id, const std::string& status, int attempts) {
    std::unique_ptr<sql::Connection> db = sql::OpenSqlite(home() + "/orch.db", 5000);
    sql::Statement q(*db, "UPDATE tasks SET status = ?, attempts = ? WHERE id = ?");
    q.bind(1, status);
    q.bind(2, attempts);
    q.bind(3, static_cast<int64_t>(id));
    ASSERT_EQ(q.exec(), 1);
  }
};

TEST_F(CliTest, VersionPrintsTheOneVersion) {
  ProcessResult r = Orch({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("orch ") + ORCH_VERSION + " (" + ORCH_GIT_DESCRIBE + ")\n");
}

TEST_F(CliTest, TheStoreCanBeAPostgresDatabase) {
  // $ORCH_STORE_URL (or store.url) puts every command's state in PostgreSQL: no orch.db.
  std::string url = PostgresServer::Shared().FreshDatabaseUrl();
  extra_env_["ORCH_STORE_URL"] = url;
  RegisterWidgets();
  int64_t id = AddTask("kept in PostgreSQL");
  ASSERT_NE(id, 0);
  EXPECT_FALSE(std::filesystem::exists(home() + "/orch.db"));
  SystemClock clock;
  Result<std::unique_ptr<Store>> store = Store::Open(url, clock);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->GetTask(id)->title, "kept in PostgreSQL");
  // orch doctor checks the connection, the schema's version and the clock.
  std::map<std::string, nlohmann::json> checks;
  // (Other checks fail here, with no GitHub or agents configured: only the store's is read.)
  for (const nlohmann::json& c : nlohmann::json::parse(Orch({"doctor", "--json"}).out)) {
    checks[c["check"]] = c;
  }
  ASSERT_TRUE(checks.count("store"));
  EXPECT_EQ(checks["store"]["ok"], true) << checks["store"].dump();
  // (Whole seconds, each read once: a second's boundary between the two reads gives 1.)
  EXPECT_THAT(checks["store"]["detail"].get<std::string>(),
              ::testing::ContainsRegex("schema 10 \\(this orch: 10\\), clock skew -?[01]s"));
  // A server that cannot be reached: the check fails and says what to look at.
  extra_env_["ORCH_STORE_URL"] = "postgres://orch:hunter2@127.0.0.1:1/orch";
  ProcessResult down = Orch({"doctor"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.out, HasSubstr("FAIL  store: PostgreSQL postgres://orch@127.0.0.1:1/orch"));
  EXPECT_THAT(down.out, Not(HasSubstr("hunter2")));
  // The password never shows in `orch config show` either.
  extra_env_.erase("ORCH_STORE_URL");
  WriteFile(home() + "/config.yml", "store:\n  url: postgres://orch:hunter2@db.internal/orch\n");
  ProcessResult shown = Orch({"config", "show"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("url: postgres://orch@db.internal/orch"));
  EXPECT_THAT(shown.out, Not(HasSubstr("hunter2")));
}

TEST_F(CliTest, HelpListsEveryCommandGroup) {
  ProcessResult r = Orch({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"version", "init", "serve", "log", "config", "project", "task"}) {
    EXPECT_THAT(r.out, HasSubstr(cmd));
  }
  ProcessResult sub = Orch({"task", "add", "--help"});
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_THAT(sub.out, HasSubstr("--label"));
}

TEST_F(CliTest, FlowValidateNamesTheCycleAndListShowsEveryFlow) {
  std::filesystem::create_directories(home() + "/flows");
  WriteFile(home() + "/flows/fix.yml",
            "name: fix\nsteps:\n"
            "  - {id: code, agent: claude, prompt: \"Fix {{input}}\", writes: [src]}\n"
            "  - {id: test, kind: code, command: [make, test], needs: [code]}\n");
  WriteFile(home() + "/flows/loop.yml",
            "name: loop\nsteps:\n"
            "  - {id: plan, agent: claude, prompt: p, needs: [review]}\n"
            "  - {id: code, agent: codex, prompt: c, needs: [plan]}\n"
            "  - {id: review, agent: opencode, prompt: r, needs: [code]}\n");
  ProcessResult all = Orch({"flow", "validate"});
  EXPECT_EQ(all.exit_code, 2);
  EXPECT_THAT(all.out, HasSubstr("fix.yml: ok: fix, 2 step(s) in 2 wave(s): code \u2192 test"));
  EXPECT_THAT(all.err, HasSubstr(home() + "/flows/loop.yml:3: steps: cycle: plan \u2192 code "
                                          "\u2192 review \u2192 plan"));
  EXPECT_EQ(Orch({"flow", "validate", home() + "/flows/fix.yml"}).exit_code, 0);
  nlohmann::json list = OrchJson({"flow", "list", "--json"});
  ASSERT_EQ(list.size(), 3u);  // $ORCH_HOME's two, then the one orch ships
  EXPECT_EQ(list[0]["name"], "fix");
  EXPECT_EQ(list[1]["ok"], false);
  EXPECT_EQ(list[2]["name"], "code-review-test");
  EXPECT_EQ(list[2]["ok"], true);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Orch({}).exit_code, 2);
  ProcessResult r = Orch({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("frobnicate"));
  EXPECT_EQ(Orch({"task", "show"}).exit_code, 2);
  EXPECT_EQ(Orch({"task", "show", "abc"}).exit_code, 2);
  EXPECT_EQ(Orch({"task", "list", "--status", "finished"}).exit_code, 2);
}

TEST_F(CliTest, ConfigValidateNamesFileLineAndKeyAndExitsTwo) {
  WriteFile(dir_.Sub("bad.yml"), "webhook:\n  port: 8080\nengine:\n  tick_intervall: 5\n");
  ProcessResult r = Orch({"config", "validate", dir_.Sub("bad.yml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(dir_.Sub("bad.yml") + ":4: engine.tick_intervall: unknown key"));
  EXPECT_TRUE(r.out.empty());

  WriteFile(dir_.Sub("syntax.yml"), "engine:\n  tick_interval: [5\n");
  r = Orch({"config", "validate", dir_.Sub("syntax.yml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("syntax.yml:"));
  EXPECT_THAT(r.err, HasSubstr("engine.tick_interval"));

  EXPECT_EQ(Orch({"config", "validate", dir_.Sub("missing.yml")}).exit_code, 2);
}

TEST_F(CliTest, ConfigValidateAcceptsTheExample) {
  ProcessResult r =
      Orch({"config", "validate", std::string(ORCH_SOURCE_DIR) + "/config.example.yml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(": ok"));
}

TEST_F(CliTest, ValidateOnAFreshHomeSaysDefaultsApplyAndCreatesNothing) {
  ProcessResult r = Orch({"config", "validate"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("not present, defaults apply"));
  EXPECT_FALSE(std::filesystem::exists(home() + "/orch.db"));
}

TEST_F(CliTest, BadGlobalConfigStopsEveryCommandThatReadsIt) {
  WriteFile(home() + "/config.yml", "webhook:\n  port: 0\n");
  ProcessResult r = Orch({"config", "validate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(home() + "/config.yml:2: webhook.port"));
  EXPECT_EQ(Orch({"serve"}).exit_code, 2);
}

TEST_F(CliTest, ConfigShowMergesTheProjectFileAndMasksSecrets) {
  RegisterWidgets();
  WriteFile(home() + "/config.yml",
            "webhook:\n  secret: ${ORCH_TEST_SECRET:-topsecret}\nworkflow:\n  max_attempts: 2\n");
  WriteFile(dir_.Sub("widgets/.orch.yml"), "workflow:\n  max_attempts: 6\n");
  ProcessResult global = Orch({"config", "show"});
  ASSERT_EQ(global.exit_code, 0) << global.err;
  EXPECT_THAT(global.out, HasSubstr("max_attempts: 2"));
  EXPECT_THAT(global.out, HasSubstr("secret: \"***\""));
  EXPECT_THAT(global.out, ::testing::Not(HasSubstr("topsecret")));
  // Run from an unrelated directory: the project file is found through the registry.
  ProcessResult merged = Orch({"config", "show", "--project", "acme/widgets"}, "/");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_THAT(merged.out, HasSubstr("max_attempts: 6"));

  WriteFile(dir_.Sub("widgets/.orch.yml"), "workflow:\n  max_attempts: lots\n");
  ProcessResult bad = Orch({"config", "validate"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr(dir_.Sub("widgets/.orch.yml") + ":2: workflow.max_attempts"));
}

TEST_F(CliTest, InitRegistersTheCheckoutAndWritesOrchYml) {
  MakeRepoWithOrigin(dir_.Sub("remotes/acme/gears.git"), dir_.Sub("gears"));
  ProcessResult r = Orch({"init"}, dir_.Sub("gears"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("registered project acme/gears"));
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("gears/.orch.yml")));
  nlohmann::json list = OrchJson({"project", "list", "--json"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "acme/gears");
  EXPECT_EQ(list[0]["path"], dir_.Sub("gears"));
  EXPECT_EQ(Orch({"init"}, dir_.path()).exit_code, 2);  // not a checkout
}

TEST_F(CliTest, ProjectAddFromUrlClonesBare) {
  MakeRepoWithOrigin(dir_.Sub("remotes/acme/widgets.git"), dir_.Sub("widgets"));
  nlohmann::json p =
      OrchJson({"project", "add", "file://" + dir_.Sub("remotes/acme/widgets.git"), "--json"});
  EXPECT_EQ(p["name"], "acme/widgets");
  EXPECT_EQ(p["kind"], "clone");
  EXPECT_EQ(p["path"], home() + "/projects/acme/widgets.git");
  EXPECT_TRUE(std::filesystem::exists(home() + "/projects/acme/widgets.git/HEAD"));
  ProcessResult again = Orch({"project", "add", "file://" + dir_.Sub("remotes/acme/widgets.git")});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already registered"));
  ProcessResult rm = Orch({"project", "remove", "acme/widgets"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_TRUE(OrchJson({"project", "list", "--json"}).empty());
}

TEST_F(CliTest, TaskAddListShowAndLog) {
  RegisterWidgets();
  nlohmann::json t = OrchJson({"task", "add", "Fix the flaky test", "--body", "It fails on CI",
                               "--label", "bug", "--label", "orch", "--json"});
  EXPECT_EQ(t["title"], "Fix the flaky test");
  EXPECT_EQ(t["status"], "new");
  EXPECT_EQ(t["project"], "acme/widgets");
  EXPECT_EQ(t["labels"], nlohmann::json::array({"bug", "orch"}));
  std::string id = std::to_string(t["id"].get<int64_t>());

  nlohmann::json list = OrchJson({"task", "list", "--json"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], t["id"]);
  EXPECT_TRUE(OrchJson({"task", "list", "--status", "done", "--json"}).empty());

  ProcessResult show = Orch({"task", "show", id});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_THAT(show.out, HasSubstr("Fix the flaky test"));
  EXPECT_THAT(show.out, HasSubstr("It fails on CI"));
  EXPECT_EQ(OrchJson({"task", "show", id, "--json"})["body"], "It fails on CI");

  nlohmann::json log = OrchJson({"task", "log", id, "--json"});
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["kind"], "created");
  EXPECT_EQ(log[0]["actor"], "cli:tester");

  ProcessResult missing = Orch({"task", "show", "999"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("task 999"));
}

TEST_F(CliTest, TaskAddNeedsAProject) {
  ProcessResult r = Orch({"task", "add", "orphan"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no project registered"));
}

TEST_F(CliTest, UnblockAllReallyResetsTasks) {
  // Regression: the reference's unblock left attempts at the maximum, so the engine bounced
  // tasks straight back. Here unblock returns them to new with attempts at zero, and says so
  // in the task's log.
  RegisterWidgets();
  int64_t failed = AddTask("agent gave up");
  int64_t waiting = AddTask("waiting on children");
  int64_t fine = AddTask("still new");
  SetStatus(failed, "needs_review", 3);
  SetStatus(waiting, "blocked", 1);
  ProcessResult r = Orch({"task", "unblock", "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("unblocked 2 task(s)"));
  for (int64_t id : {failed, waiting}) {
    nlohmann::json t = OrchJson({"task", "show", std::to_string(id), "--json"});
    EXPECT_EQ(t["status"], "new");
    EXPECT_EQ(t["attempts"], 0);
    nlohmann::json log = OrchJson({"task", "log", std::to_string(id), "--json"});
    EXPECT_EQ(log.back()["reason"], "unblocked");
    EXPECT_EQ(log.back()["to"], "new");
  }
  EXPECT_EQ(OrchJson({"task", "show", std::to_string(fine), "--json"})["status"], "new");
  ProcessResult again = Orch({"task", "unblock", std::to_string(fine)});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("not blocked or needs_review"));
}

TEST_F(CliTest, RetryCountsAgainstMaxAttempts) {
  RegisterWidgets();
  int64_t id = AddTask("flaky");
  SetStatus(id, "needs_review", 1);
  ProcessResult r = Orch({"task", "retry", std::to_string(id)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json t = OrchJson({"task", "show", std::to_string(id), "--json"});
  EXPECT_EQ(t["status"], "new");
  EXPECT_EQ(t["attempts"], 1);
  SetStatus(id, "needs_review", 3);
  ProcessResult spent = Orch({"task", "retry", std::to_string(id)});
  EXPECT_EQ(spent.exit_code, 2);
  EXPECT_THAT(spent.err, HasSubstr("orch task unblock"));
  EXPECT_EQ(Orch({"task", "retry", std::to_string(AddTask("new one"))}).exit_code, 2);
}

TEST_F(CliTest, CorruptDatabaseIsNamed) {
  std::filesystem::create_directories(home());
  WriteFile(home() + "/orch.db", std::string(4096, 'z'));
  ProcessResult r = Orch({"task", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(home() + "/orch.db"));
  EXPECT_THAT(r.err, HasSubstr("not a usable orch database"));
}

}  // namespace
}  // namespace orch::test

namespace orch::test {
namespace {

class JobCliTest : public OrchTest {};

TEST_F(JobCliTest, AddListDisableRunAndRemoveAJob) {
  // Given a registered project, `orch job add` writes jobs.yml, `list` shows the job with its
  // next run, `disable` and `enable` change only the store, and `run` creates its task now.
  MakeRepoWithOrigin(dir_.Sub("remotes/acme/widgets.git"), dir_.Sub("widgets"));
  ASSERT_EQ(Orch({"project", "add", dir_.Sub("widgets")}).exit_code, 0);
  extra_env_["TZ"] = "UTC";

  ProcessResult r = Orch({"job", "add", "nightly", "--schedule", "30 2 * * *", "--title",
                          "Nightly check", "--label", "chore", "--agent", "codex"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string yml = ReadFile(home() + "/jobs.yml");
  EXPECT_THAT(yml, HasSubstr("nightly"));
  r = Orch({"job", "add", "echo", "--schedule", "@hourly", "--", "sh", "-c", "echo hi; exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Invalid jobs are refused with the field named, and jobs.yml stays as it was.
  yml = ReadFile(home() + "/jobs.yml");
  r = Orch({"job", "add", "bad", "--schedule", "0 9 * * 8", "--title", "t"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("weekday field \"8\""));
  r = Orch({"job", "add", "nightly", "--schedule", "@daily", "--title", "t"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("duplicate job id \"nightly\""));
  EXPECT_EQ(ReadFile(home() + "/jobs.yml"), yml);

  nlohmann::json list = OrchJson({"job", "list", "--json"});
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[0]["id"], "nightly");
  EXPECT_EQ(list[0]["schedule"], "30 2 * * *");
  EXPECT_EQ(list[0]["enabled"], true);
  EXPECT_THAT(list[0]["next_run"].get<std::string>(), HasSubstr("T02:30:00Z"));
  EXPECT_TRUE(list[0]["last_run"].is_null());
  EXPECT_EQ(list[1]["type"], "command");

  ASSERT_EQ(Orch({"job", "disable", "nightly"}).exit_code, 0);
  list = OrchJson({"job", "list", "--json"});
  EXPECT_EQ(list[0]["enabled"], false);
  EXPECT_TRUE(list[0]["next_run"].is_null());
  EXPECT_EQ(ReadFile(home() + "/jobs.yml"), yml);  // the YAML is never written for this
  r = Orch({"job", "list"});
  EXPECT_THAT(r.out, HasSubstr("nightly"));
  EXPECT_THAT(r.out, HasSubstr("NEXT RUN"));

  r = Orch({"job", "run", "nightly"});  // disabled, but run by hand
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("job nightly: created task"));
  nlohmann::json tasks = OrchJson({"task", "list", "--json"});
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["source"], "job");
  EXPECT_EQ(tasks[0]["title"], "Nightly check");
  EXPECT_EQ(tasks[0]["labels"], nlohmann::json({"chore", "agent:codex"}));
  r = Orch({"job", "run", "nightly"});  // its task is still new
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("skipped: task"));
  EXPECT_THAT(r.err, HasSubstr("--force"));

  r = Orch({"job", "run", "echo"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("job echo: exit 3"));
  EXPECT_THAT(r.out, HasSubstr("hi"));
  list = OrchJson({"job", "list", "--json"});
  EXPECT_EQ(list[1]["last_result"], "exit 3");
  EXPECT_EQ(list[1]["last_exit_code"], 3);
  EXPECT_FALSE(list[1]["last_run"].is_null());

  EXPECT_EQ(Orch({"job", "run", "nope"}).exit_code, 1);
  ASSERT_EQ(Orch({"job", "remove", "echo"}).exit_code, 0);
  list = OrchJson({"job", "list", "--json"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(Orch({"job", "remove", "echo"}).exit_code, 1);
}

}  // namespace
}  // namespace orch::test
