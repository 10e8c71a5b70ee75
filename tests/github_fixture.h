// GitHubLoopTest: the built `orch serve` and the GitHub simulator (tools/github-sim) talking
// over real HTTP on 127.0.0.1: the simulator sends signed webhooks to orch and answers its REST
// calls. Shared by the intake tests (github_test.cc) and the agent loop (agents_test.cc).
#ifndef ORCH_TESTS_GITHUB_FIXTURE_H_
#define ORCH_TESTS_GITHUB_FIXTURE_H_

#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "orch_fixture.h"
#include "store/store.h"

namespace orch::test {

using Json = nlohmann::json;

inline constexpr const char* kSecret = "s3cret";
inline constexpr const char* kToken = "t0ken";

class GitHubLoopTest : public OrchTest {
 protected:
  void SetUp() override {
    orch_port_ = FreePort();
    StartSim(Json::object(), {});
    // The project, registered as `orch project add` would.
    SystemClock clock;
    std::filesystem::create_directories(home());
    auto store = std::move(Store::Open(home() + "/orch.db", clock)).value();
    ASSERT_TRUE(
        store->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = ProjectPath()})
            .ok());
  }
  // The project's checkout; the intake tests need none.
  virtual std::string ProjectPath() { return dir_.path(); }
  // For tests that run agents: a checkout whose origin is a local bare repo, and the agent
  // stand-ins (tools/agent-standin) under the real CLIs' names first in orch's PATH.
  std::string RepoWithStandins() {
    MakeRepoWithOrigin(dir_.Sub("origin.git"), dir_.Sub("work"));
    std::filesystem::create_directories(dir_.Sub("bin"));
    for (const char* name : {"claude", "codex", "opencode"}) {
      std::filesystem::create_symlink(ORCH_AGENT_STANDIN, dir_.Sub("bin/") + name);
    }
    extra_env_["PATH"] = dir_.Sub("bin") + ":" + std::string(getenv("PATH"));
    return dir_.Sub("work");
  }
  // (Re)starts the simulator with the test seed plus `more_seed`, and `more_args`.
  void StartSim(const Json& more_seed, const std::vector<std::string>& more_args) {
    if (sim_) {
      sim_->Signal(SIGTERM);
      sim_->Wait(std::chrono::seconds(5));
      sim_.reset();
      std::filesystem::remove(dir_.Sub("sim.port"));
    }
    Json seed = {
        {"authenticated_user", "orch-bot"},
        {"tokens", {kToken}},
        {"start_time", "2026-11-21T10:00:00Z"},
        {"repos",
         {{{"full_name", "acme/widgets"},
           {"collaborators",
            {{"alice", "admin"}, {"bob", "write"}, {"eve", "read"}, {"orch-bot", "write"}}},
           {"labels", {{{"name", "orch"}, {"color", "ededed"}}}}}}}};
    if (more_seed.is_object()) seed.update(more_seed);
    WriteFile(dir_.Sub("seed.json"), seed.dump());
    std::vector<std::string> argv = {ORCH_GITHUB_SIM,
                                     "--port",
                                     "0",
                                     "--port-file",
                                     dir_.Sub("sim.port"),
                                     "--seed",
                                     dir_.Sub("seed.json"),
                                     "--webhook-url",
                                     WebhookUrl(),
                                     "--webhook-secret",
                                     kSecret};
    argv.insert(argv.end(), more_args.begin(), more_args.end());
    sim_ = std::make_unique<Background>(argv, std::map<std::string, std::string>{},
                                        dir_.Sub("sim.out"));
    ASSERT_TRUE(Eventually([&] { return !ReadFile(dir_.Sub("sim.port")).empty(); }))
        << ReadFile(dir_.Sub("sim.out"));
    sim_port_ = std::stoi(ReadFile(dir_.Sub("sim.port")));
    sim_client_ = std::make_unique<httplib::Client>("127.0.0.1", sim_port_);
  }
  void TearDown() override {
    if (orch_) {
      orch_->Signal(SIGTERM);
      orch_->Wait(std::chrono::seconds(5));
    }
  }

  std::string WebhookUrl() const {
    return "http://127.0.0.1:" + std::to_string(orch_port_) + "/webhook";
  }
  // Writes config.yml with webhooks off and a sync every second (all orch hears is polling),
  // and `extra` YAML appended.
  void ConfigurePolling(const std::string& extra = "") {
    WriteFile(home() + "/config.yml",
              "webhook:\n  enabled: false\ngithub:\n  api_url: http://127.0.0.1:" +
                  std::to_string(sim_port_) + "\n  token: " + kToken +
                  "\nengine:\n  tick_interval: 1\n  sync_interval: 1\n" + extra);
  }
  // Writes config.yml: the simulator as GitHub, quick ticks, and `extra` YAML appended.
  void Configure(const std::string& extra = "") {
    WriteFile(home() + "/config.yml",
              "webhook:\n  secret: " + std::string(kSecret) +
                  "\n  port: " + std::to_string(orch_port_) + "\n" +
                  "github:\n  api_url: http://127.0.0.1:" + std::to_string(sim_port_) +
                  "\n  token: " + kToken + "\n" +
                  "engine:\n  tick_interval: 1\n  sync_interval: 3600\n" + extra);
  }
  void StartOrch() {
    orch_ = std::make_unique<Background>(std::vector<std::string>{ORCH_BINARY, "serve"}, Env(),
                                         dir_.Sub("orch.out"));
    ASSERT_TRUE(Eventually([&] { return Log().find("engine: ticking") != std::string::npos; }))
        << ReadFile(dir_.Sub("orch.out"));
  }
  std::string Log() const { return ReadFile(home() + "/state/orch.log"); }

  Json Sim(const std::string& method, const std::string& path, const Json& body = Json()) {
    // REST paths want orch's token; the /_sim control API wants none.
    httplib::Headers auth;
    if (path.rfind("/_sim", 0) != 0) auth = {{"Authorization", std::string("token ") + kToken}};
    httplib::Result r = method == "GET" ? sim_client_->Get(path, auth)
                        : method == "DELETE"
                            ? sim_client_->Delete(path)
                            : sim_client_->Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << method << " " << path << ": " << r->body;
    return Json::parse(r->body, nullptr, false);
  }
  Json OpenIssue(const std::string& user = "alice") {
    return Sim("POST", "/_sim/repos/acme/widgets/issues",
               {{"user", user}, {"title", "Fix the frobnicator"}, {"body", "It breaks."}});
  }
  Json Label(int number, const std::string& user, const std::string& label = "orch") {
    return Sim("POST", "/_sim/repos/acme/widgets/issues/" + std::to_string(number) + "/labels",
               {{"user", user}, {"label", label}});
  }
  Json Tasks() { return OrchJson({"task", "list", "--json"}); }
  // Opens an issue as alice, has bob add `label`, and waits for the task that starts:
  // {issue number, task id}; the id is 0 (and the test fails) when none comes.
  std::pair<int, int64_t> LabelledIssue(const std::string& body,
                                        const std::string& title = "Add a greeting",
                                        const std::string& label = "orch") {
    int number = Sim("POST", "/_sim/repos/acme/widgets/issues",
                     {{"user", "alice"}, {"title", title}, {"body", body}})["issue"]["number"];
    Label(number, "bob", label);
    int64_t id = 0;
    EXPECT_TRUE(Eventually([&] {
      for (const Json& t : Tasks()) {
        if (t["external_id"] == std::to_string(number)) id = t["id"];
      }
      return id != 0;
    })) << "no task for issue "
        << number << "\n"
        << Log();
    return {number, id};
  }
  Json Deliveries() { return OrchJson({"webhook", "deliveries", "--json"}); }
  // A client of the daemon's local API (its address from state/api.json), and its token.
  std::unique_ptr<httplib::Client> Api(int read_timeout_seconds = 30) {
    Json j = Json::parse(ReadFile(home() + "/state/api.json"));
    auto c = std::make_unique<httplib::Client>(j["url"].get<std::string>());
    c->set_read_timeout(read_timeout_seconds);
    return c;
  }
  std::string Token() {
    std::string t = ReadFile(home() + "/state/api.token");
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  // The simulator's log of REST requests orch made whose path starts with `prefix`.
  std::vector<Json> Requests(const std::string& prefix) {
    std::vector<Json> out;
    for (const Json& r : Sim("GET", "/_sim/requests")) {
      if (r["path"].get<std::string>().rfind(prefix, 0) == 0) out.push_back(r);
    }
    return out;
  }

  int orch_port_ = 0;
  int sim_port_ = 0;
  std::unique_ptr<Background> sim_;
  std::unique_ptr<httplib::Client> sim_client_;
  std::unique_ptr<Background> orch_;
};

}  // namespace orch::test

#endif  // ORCH_TESTS_GITHUB_FIXTURE_H_
