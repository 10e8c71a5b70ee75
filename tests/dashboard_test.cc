// The web dashboard as a person uses it: `orch serve` with the GitHub simulator and the claude
// stand-in, and Debian's chromium, headless, driven by puppeteer-core (tests/dashboard/drive.js;
// both installed by scripts/install-dashboard-test, the dashboard.install fixture). Each page's
// screenshot goes to build/artifacts/dashboard/. Without chromium the tests fail, unless
// ORCH_SKIP_BROWSER=1 says to skip them.
#include <gmock/gmock.h>

#include <filesystem>

#include "fake_chat_apis.h"
#include "github/webhook_signature.h"
#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class DashboardTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    Configure(
        "router:\n  mode: round_robin\n  agents: [claude]\n"
        "workflow:\n  max_attempts: 1\n  timeout_seconds: 60\n"
        "api:\n  port: 0\n");
  }

  // The browser's parts, or a skip (ORCH_SKIP_BROWSER=1) or failure saying what is missing.
  bool FindBrowser() {
    const char* skip = getenv("ORCH_SKIP_BROWSER");
    const char* chromium = getenv("ORCH_CHROMIUM");
    chromium_ = chromium ? chromium : "";
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/snap/bin"}) {
      if (chromium_.empty() && access((std::string(dir) + "/chromium").c_str(), X_OK) == 0) {
        chromium_ = std::string(dir) + "/chromium";
      }
    }
    const char* modules = getenv("ORCH_DASHBOARD_TEST_DIR");
    modules_ = modules ? modules : std::string(getenv("HOME")) + "/.cache/orch/dashboard-test";
    std::string missing;
    if (chromium_.empty()) missing = "chromium (apt-get install chromium)";
    if (!std::filesystem::exists(modules_ + "/node_modules/puppeteer-core/package.json")) {
      missing += (missing.empty() ? "" : " and ") + std::string("puppeteer-core in ") + modules_;
    }
    if (missing.empty()) return true;
    if (skip && std::string(skip) == "1") {
      skip_ = "ORCH_SKIP_BROWSER=1 and " + missing + " is missing";
      return false;
    }
    ADD_FAILURE() << missing
                  << " is missing: run scripts/install-dashboard-test, or set "
                     "ORCH_SKIP_BROWSER=1 to skip the browser tests";
    return false;
  }
  // A one-time login URL from `orch dashboard`.
  std::string LoginUrl() {
    ProcessResult r = Orch({"dashboard", "--no-open"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  std::string Base() { return Json::parse(ReadFile(home() + "/state/api.json"))["url"]; }
  // Runs drive.js's `scenario` logged in (unless `login` is false); its figures.
  Json Drive(const std::string& scenario, Json config, bool login = true) {
    config["modules"] = modules_;
    config["chromium"] = chromium_;
    config["base"] = Base();
    config["sim"] = "http://127.0.0.1:" + std::to_string(sim_port_);
    config["home"] = home();
    config["artifacts"] = ORCH_DASHBOARD_ARTIFACTS;
    if (login) config["login"] = LoginUrl();
    std::string path = dir_.Sub(scenario + ".json");
    WriteFile(path, config.dump());
    ProcessResult r = test::Run(
        {"node", std::string(ORCH_SOURCE_DIR) + "/tests/dashboard/drive.js", scenario, path});
    EXPECT_EQ(r.exit_code, 0) << scenario << ": " << r.err << "\n" << Log();
    Json figures = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(figures.is_object()) << r.out;
    std::cout << "[ figures  ] " << scenario << ": " << r.out;
    return figures.is_object() ? figures : Json::object();
  }

  // Stops orch serve and starts it again, waiting for the new one's first tick.
  void RestartOrch() {
    orch_->Signal(SIGTERM);
    ASSERT_EQ(orch_->Wait(std::chrono::seconds(10)), 0) << Log();
    auto ticking = [&] {
      std::string log = Log();
      size_t n = 0;
      for (size_t at = log.find("engine: ticking"); at != std::string::npos;
           at = log.find("engine: ticking", at + 1)) {
        ++n;
      }
      return n;
    };
    size_t before = ticking();
    orch_ = std::make_unique<Background>(std::vector<std::string>{ORCH_BINARY, "serve"}, Env(),
                                         dir_.Sub("orch.out"));
    ASSERT_TRUE(Eventually([&] { return ticking() > before; })) << Log();
  }
  // Signs in with a login code: the session's Cookie header and its CSRF token.
  std::pair<httplib::Headers, std::string> SignIn(httplib::Client& api) {
    std::string login = LoginUrl();
    httplib::Result in = api.Get(login.substr(login.find("/login")));
    EXPECT_TRUE(in && in->status == 303);
    if (!in) return {};
    std::string cookie = in->get_header_value("Set-Cookie");
    httplib::Headers session = {{"Cookie", cookie.substr(0, cookie.find(';'))}};
    httplib::Result s = api.Get("/api/session", session);
    EXPECT_TRUE(s && s->status == 200);
    return {session, s ? Json::parse(s->body).value("csrf", "") : ""};
  }
  // Starts flow `flow` of acme/widgets through the API; the run's id.
  int64_t StartFlow(const std::string& flow) {
    httplib::Client api(Base());
    httplib::Result made =
        api.Post("/api/runs", {{"Authorization", "Bearer " + Token()}},
                 Json{{"project", "acme/widgets"}, {"flow", flow}, {"input", "go"}}.dump(),
                 "application/json");
    EXPECT_TRUE(made && made->status == 201) << (made ? made->body : "no answer");
    return made && made->status == 201 ? Json::parse(made->body)["id"].get<int64_t>() : 0;
  }

  std::string chromium_, modules_, skip_;
};

#define REQUIRE_BROWSER()                        \
  do {                                           \
    if (!FindBrowser()) {                        \
      if (!skip_.empty()) GTEST_SKIP() << skip_; \
      return;                                    \
    }                                            \
  } while (0)

TEST_F(DashboardTest, WithoutCookieOrToken401AndACookieWriteWithoutCsrf403) {
  // The page is public and asks to sign in; the API wants the token or a session; a login code
  // works once; with a session cookie a write without its CSRF token is refused.
  StartOrch();
  httplib::Client api(Base());
  EXPECT_EQ(api.Get("/")->status, 200);
  EXPECT_THAT(api.Get("/app.js")->body, HasSubstr("EventSource"));
  EXPECT_EQ(api.Get("/api/board/events")->status, 401);
  EXPECT_EQ(api.Get("/api/tasks")->status, 401);
  EXPECT_EQ(api.Post("/api/tasks/1/retry", "", "application/json")->status, 401);
  EXPECT_EQ(api.Put("/api/settings", "{}", "application/json")->status, 401);
  EXPECT_EQ(api.Get("/api/session", {{"Cookie", "orch_session=forged"}})->status, 401);
  // The token still works for the API.
  EXPECT_EQ(api.Get("/api/tasks", {{"Authorization", "Bearer " + Token()}})->status, 200);

  std::string login = LoginUrl();
  ASSERT_THAT(login, HasSubstr("/login?code="));
  // The code is kept as a hash in a 0600 file, never as itself.
  std::string code = login.substr(login.find("code=") + 5);
  int codes = 0;
  for (const auto& f : std::filesystem::directory_iterator(home() + "/state/dashboard-login")) {
    ++codes;
    EXPECT_THAT(ReadFile(f.path()), Not(HasSubstr(code)));
    EXPECT_EQ(std::filesystem::status(f.path()).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  EXPECT_EQ(codes, 1);
  std::string path = login.substr(login.find("/login"));
  httplib::Result in = api.Get(path);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->status, 303);
  std::string cookie = in->get_header_value("Set-Cookie");
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
  EXPECT_EQ(api.Get(path)->status, 403) << "a login code works once";
  httplib::Headers session = {{"Cookie", cookie.substr(0, cookie.find(';'))}};
  httplib::Result s = api.Get("/api/session", session);
  ASSERT_EQ(s->status, 200);
  std::string csrf = Json::parse(s->body)["csrf"];
  EXPECT_EQ(csrf.size(), 64u);

  int64_t id = OrchJson({"task", "add", "Look", "--json"})["id"];
  std::string retry = "/api/tasks/" + std::to_string(id) + "/retry";
  EXPECT_EQ(api.Post(retry, session, "", "application/json")->status, 403);
  httplib::Headers wrong = session;
  wrong.emplace("X-CSRF-Token", std::string(64, '0'));
  EXPECT_EQ(api.Post(retry, wrong, "", "application/json")->status, 403);
  httplib::Headers right = session;
  right.emplace("X-CSRF-Token", csrf);
  // Past the CSRF check, the action's own rule: a new task cannot be retried.
  httplib::Result r = api.Post(retry, right, "", "application/json");
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_THAT(r->body, HasSubstr("only needs_review, blocked or in_progress"));

  REQUIRE_BROWSER();
  Json figures = Drive("signed-out", Json::object(), /*login=*/false);
  EXPECT_THAT(figures.value("notice", ""), HasSubstr("orch dashboard"));
}

TEST_F(DashboardTest, TheBoardShowsALabelledIssueWithin2sLiveAndItsTaskAnAgentsLineWithin1s) {
  REQUIRE_BROWSER();
  StartOrch();
  Json figures = Drive("board", {{"token", "dash-token-7"},
                                 {"body",
                                  "Say hello.\n\nstandin: sleep 3000\nstandin: say dash-token-7\n"
                                  "standin: sleep 300\nstandin: write notes.txt done\n"}});
  ASSERT_TRUE(figures.contains("task_line_ms")) << figures.dump();
  EXPECT_LE(figures["board_new_task_ms"].get<int>(), 2000);
  EXPECT_LE(figures["task_line_ms"].get<int>(), 1000);
  // The board tab saw the card move, live: in_progress (the agent running), then in_review.
  Json statuses = figures["board_statuses"];
  EXPECT_GE(statuses.size(), 2u) << statuses.dump();
  EXPECT_THAT(statuses.dump(), HasSubstr("in_progress"));
  EXPECT_EQ(statuses.back(), "in_review") << statuses.dump();
  // What the page showed is what the store says.
  EXPECT_EQ(Task(figures["task_id"])["status"], "in_review");

  Json fleet = Drive("fleet", Json::object());
  EXPECT_THAT(fleet.value("agents", ""), HasSubstr("claude"));
  EXPECT_THAT(fleet.value("agents", ""), HasSubstr("closed"));
  EXPECT_THAT(fleet.value("mode", ""), HasSubstr("webhook"));
  for (const char* png : {"board", "task", "fleet"}) {
    EXPECT_TRUE(std::filesystem::file_size(std::string(ORCH_DASHBOARD_ARTIFACTS) + "/" + png +
                                           ".png") > 1000)
        << png;
  }
}

TEST_F(DashboardTest, KillAsksFirstThenStopsTheAgentAndUnblockRunsItAgain) {
  REQUIRE_BROWSER();
  StartOrch();
  Json figures = Drive("actions", {{"body", "Think long.\n\nstandin: sleep 30000\n"}});
  ASSERT_TRUE(figures.contains("unblocked")) << figures.dump();
  // Two questions: the first dismissed (nothing happened), the second accepted.
  EXPECT_EQ(figures["dialogs"].size(), 3u) << figures.dump();  // kill, kill, unblock
  EXPECT_THAT(figures["dialogs"][0].get<std::string>(), HasSubstr("Kill the running agent"));
  EXPECT_EQ(figures["after_dismiss"], "in_progress");
  EXPECT_THAT(figures.value("kill_result", ""), HasSubstr("killed"));
  EXPECT_THAT(figures.value("unblock_result", ""), HasSubstr("unblocked"));
  // The store agrees: killed by the dashboard, then unblocked, by the same functions the CLI's
  // rules are.
  std::string log = Orch({"task", "log", "1"}).out;
  EXPECT_THAT(log, HasSubstr("needs_review"));
  EXPECT_THAT(log, HasSubstr("by dashboard: unblocked"));
}

TEST_F(DashboardTest, AFlowRunsDagShowsItsStepsChangingState) {
  REQUIRE_BROWSER();
  std::filesystem::create_directories(home() + "/flows");
  WriteFile(home() + "/flows/two.yml",
            "name: two\nsteps:\n"
            "  - id: first\n    agent: claude\n"
            "    prompt: \"{{input}}\\nstandin: sleep 2500\\nstandin: say one\"\n"
            "  - id: second\n    kind: code\n    needs: [first]\n    command: [sleep, '1']\n");
  StartOrch();
  int64_t id = StartFlow("two");
  ASSERT_NE(id, 0);
  Json figures = Drive("run", {{"run_id", id}});
  Json first = figures["steps"]["first"], second = figures["steps"]["second"];
  // Each step was seen in more than one state, ending completed, without a reload.
  EXPECT_GE(first.size(), 2u) << figures.dump();
  EXPECT_EQ(first.back(), "completed") << figures.dump();
  EXPECT_GE(second.size(), 2u) << figures.dump();
  EXPECT_EQ(second.back(), "completed") << figures.dump();
  EXPECT_THAT(second.dump(), HasSubstr("running"));
  // The runs list, open in another tab all along, showed the run end without a reload.
  EXPECT_EQ(figures["runs_list_statuses"], Json::array({"running", "completed"})) << figures.dump();
  // No chat is configured: sending the report says so.
  EXPECT_THAT(figures.value("share", ""), HasSubstr("no chat configured"));
}

TEST_F(DashboardTest, ARunsReportIsSentToTheConfiguredChat) {
  // Given Telegram configured (a fake Bot API on 127.0.0.1) and a finished flow run, the run
  // page's "Send to chat" posts the run's Markdown report there; a cookie without the CSRF
  // token cannot.
  REQUIRE_BROWSER();
  FakeChatApis chats;
  Configure("router:\n  mode: round_robin\n  agents: [claude]\napi:\n  port: 0\n" +
            chats.ChannelsYaml(/*discord=*/false) + "notifications:\n  level: none\n");
  std::filesystem::create_directories(home() + "/flows");
  WriteFile(home() + "/flows/hello.yml",
            "name: hello\nsteps:\n"
            "  - id: greet\n    kind: code\n    command: [echo, a-line-of-the-report]\n");
  StartOrch();
  int64_t id = StartFlow("hello");
  ASSERT_NE(id, 0);
  httplib::Client api(Base());
  httplib::Headers bearer = {{"Authorization", "Bearer " + Token()}};
  std::string report;
  ASSERT_TRUE(Eventually(
      [&] {
        httplib::Result r = api.Get("/api/runs/" + std::to_string(id), bearer);
        report = r && r->status == 200 ? Json::parse(r->body).value("report", "") : "";
        return !report.empty();
      },
      std::chrono::seconds(20)))
      << Log();
  ASSERT_THAT(report, HasSubstr("a-line-of-the-report"));
  auto [session, csrf] = SignIn(api);
  std::string share = "/api/runs/" + std::to_string(id) + "/share";
  EXPECT_EQ(api.Post(share, session, "", "application/json")->status, 403);
  EXPECT_TRUE(chats.Telegram().empty());

  Json figures = Drive("send-report", {{"run_id", id}});
  EXPECT_EQ(figures.value("share_status", 0), 200) << figures.dump();
  EXPECT_THAT(figures.value("share", ""), HasSubstr("telegram"));
  std::vector<Posted> posted = chats.Telegram();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].to, kChat);
  auto trimmed = [](std::string t) {
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  };
  EXPECT_EQ(trimmed(posted[0].text), trimmed(report));
}

TEST_F(DashboardTest, ASessionOutlivesARestartKeptOnlyAsItsHashAndLogoutEndsIt) {
  StartOrch();
  httplib::Client api(Base());
  auto [session, csrf] = SignIn(api);
  ASSERT_EQ(csrf.size(), 64u);
  std::string cookie = session.begin()->second;
  std::string id = cookie.substr(cookie.find('=') + 1);
  RestartOrch();
  httplib::Client again(Base());
  httplib::Result s = again.Get("/api/session", session);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_EQ(Json::parse(s->body)["csrf"], csrf);
  // The store keeps the cookie's hash, never the cookie itself.
  std::string db = ReadFile(home() + "/orch.db") + ReadFile(home() + "/orch.db-wal");
  EXPECT_THAT(db, Not(HasSubstr(id)));
  EXPECT_THAT(db, HasSubstr(Sha256Hex(id)));

  httplib::Headers write = session;
  write.emplace("X-CSRF-Token", csrf);
  EXPECT_EQ(again.Post("/api/logout", session, "", "application/json")->status, 403);
  httplib::Result out = again.Post("/api/logout", write, "", "application/json");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_THAT(out->get_header_value("Set-Cookie"), HasSubstr("Max-Age=0"));
  EXPECT_EQ(again.Get("/api/session", session)->status, 401);
  RestartOrch();
  EXPECT_EQ(httplib::Client(Base()).Get("/api/session", session)->status, 401);
}

TEST_F(DashboardTest, ASettingsEditWithAnErrorChangesNothingAndAGoodOneIsSavedAndShown) {
  REQUIRE_BROWSER();
  StartOrch();
  std::string before = ReadFile(home() + "/config.yml");
  ASSERT_THAT(before, HasSubstr("max_attempts: 1"));
  Json figures =
      Drive("settings", {{"replace_from", "max_attempts: 1"}, {"replace_to", "max_attempts: 4"}});
  // The error names its line and key (the broken line is the file's last but one).
  int lines = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  EXPECT_THAT(figures.value("error", ""),
              HasSubstr("line " + std::to_string(lines + 2) + ": engine.max_parallel"));
  // The bad edit wrote nothing: the backup the good one made is the file as it was.
  EXPECT_EQ(ReadFile(home() + "/config.yml.bak"), before);
  std::string after = ReadFile(home() + "/config.yml");
  EXPECT_THAT(after, HasSubstr("max_attempts: 4"));
  EXPECT_THAT(after, Not(HasSubstr("lots")));
  EXPECT_THAT(figures.value("saved", ""), HasSubstr("restart"));
  ProcessResult shown = Orch({"config", "show"});
  EXPECT_THAT(shown.out, HasSubstr("max_attempts: 4"));
}

}  // namespace
}  // namespace orch::test
