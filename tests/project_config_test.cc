// Per-project settings under one daemon: the built `orch serve`, the GitHub simulator with two
// repositories, each a real checkout with a local bare origin, and the agent stand-ins. One
// project has no .orch.yml; the other sets its own trigger labels, agents and sandbox, and
// changes them while the daemon runs.
#include <gmock/gmock.h>

#include <filesystem>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ProjectConfigTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }

  void SetUp() override {
    GitHubLoopTest::SetUp();
    // A second repository on the simulator, and its checkout registered as a project.
    Json repos = Json::array();
    for (const char* name : {"acme/widgets", "acme/gadgets"}) {
      repos.push_back(
          {{"full_name", name},
           {"collaborators", {{"alice", "admin"}, {"bob", "write"}}},
           {"labels",
            {{{"name", "orch"}, {"color", "ededed"}}, {{"name", "ai"}, {"color", "ededed"}}}}});
    }
    StartSim({{"repos", repos}}, {});
    MakeRepoWithOrigin(dir_.Sub("gadgets-origin.git"), dir_.Sub("gadgets"));
    SystemClock clock;
    auto store = std::move(Store::Open(home() + "/orch.db", clock)).value();
    ASSERT_TRUE(
        store
            ->AddProject(
                {.name = "acme/gadgets", .repo = "acme/gadgets", .path = dir_.Sub("gadgets")})
            .ok());
  }

  // Opens an issue on `repo` as alice and has bob add `label`; returns its number.
  int LabelOn(const std::string& repo, const std::string& label) {
    int number = Sim("POST", "/_sim/repos/" + repo + "/issues",
                     {{"user", "alice"},
                      {"title", "Add a greeting"},
                      {"body", "standin: write hello.txt hi\n"}})["issue"]["number"];
    Sim("POST", "/_sim/repos/" + repo + "/issues/" + std::to_string(number) + "/labels",
        {{"user", "bob"}, {"label", label}});
    return number;
  }
  // The task of issue `number` in `project` once it has finished an attempt, else null.
  Json FinishedTask(const std::string& project, int number) {
    Json found;
    bool ok = Eventually(
        [&] {
          for (const Json& t : Tasks()) {
            if (t["project"] == project && t["external_id"] == std::to_string(number)) {
              Json full = Task(t["id"]);
              if (full["status"] == "in_review") found = full;
            }
          }
          return !found.is_null();
        },
        std::chrono::seconds(30));
    EXPECT_TRUE(ok) << "no finished task for " << project << " #" << number << "\n" << Log();
    return found;
  }
};

TEST_F(ProjectConfigTest, TwoProjectsWithTheirOwnLabelsAgentsAndSandboxes) {
  Configure(
      "router:\n  mode: round_robin\n  agents: [claude]\n  breaker_failures: 100\n"
      "workflow:\n  timeout_seconds: 30\n  retry_base_delay: 0\n");
  WriteFile(dir_.Sub("gadgets/.orch.yml"),
            "workflow:\n  trigger_labels: [ai]\n  sandbox: read-only\n"
            "router:\n  agents: [codex]\n");
  StartOrch();

  // widgets: the global settings: `orch` starts claude, writing.
  int w = LabelOn("acme/widgets", "orch");
  Json widget = FinishedTask("acme/widgets", w);
  ASSERT_FALSE(widget.is_null());
  EXPECT_EQ(widget["route"]["agent"], "claude");
  std::string claude_argv = widget["runs"][0]["command"].dump();
  EXPECT_THAT(claude_argv, HasSubstr("acceptEdits"));

  // gadgets: `orch` is not its trigger label, so nothing starts; `ai` starts codex, read-only.
  int ignored = LabelOn("acme/gadgets", "orch");
  int g = LabelOn("acme/gadgets", "ai");
  Json gadget = FinishedTask("acme/gadgets", g);
  ASSERT_FALSE(gadget.is_null());
  EXPECT_EQ(gadget["route"]["agent"], "codex");
  std::string codex_argv = gadget["runs"][0]["command"].dump();
  EXPECT_THAT(codex_argv, HasSubstr("\"-s\",\"read-only\""));
  for (const Json& t : Tasks()) {
    EXPECT_FALSE(t["project"] == "acme/gadgets" && t["external_id"] == std::to_string(ignored))
        << "a label that is not gadgets' trigger label started task " << t.dump();
  }

  // An edit to gadgets' file applies at its next decision, without a restart.
  WriteFile(dir_.Sub("gadgets/.orch.yml"),
            "workflow:\n  trigger_labels: [ai]\nrouter:\n  agents: [opencode]\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the one-second recheck
  int again = LabelOn("acme/gadgets", "ai");
  Json third = FinishedTask("acme/gadgets", again);
  ASSERT_FALSE(third.is_null());
  EXPECT_EQ(third["route"]["agent"], "opencode");
  EXPECT_THAT(third["runs"][0]["command"].dump(), Not(HasSubstr("read-only")));
  // widgets never changed.
  EXPECT_THAT(Log(), Not(HasSubstr("config: project acme/widgets")));
}

TEST_F(ProjectConfigTest, AForbiddenKeyIsAnErrorWithFileAndLineAndShowSaysWhereValuesCameFrom) {
  Configure("workflow:\n  max_attempts: 4\n");
  WriteFile(dir_.Sub("gadgets/.orch.yml"),
            "workflow:\n  max_attempts: 2\nengine:\n  max_parallel: 9\n");
  ProcessResult validate = Orch({"config", "validate"});
  EXPECT_NE(validate.exit_code, 0);
  EXPECT_THAT(validate.err, HasSubstr(dir_.Sub("gadgets/.orch.yml") +
                                      ":3: engine: only allowed in the global config.yml"));

  WriteFile(dir_.Sub("gadgets/.orch.yml"), "workflow:\n  max_attempts: 2\n");
  ProcessResult shown = Orch({"config", "show", "-p", "acme/gadgets"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out,
              HasSubstr("max_attempts: 2  # project " + dir_.Sub("gadgets/.orch.yml") + ":2"));
  EXPECT_THAT(shown.out, HasSubstr("tick_interval: 1s  # global " + home() + "/config.yml:"));
  EXPECT_THAT(shown.out, HasSubstr("max_review_cycles: 3  # default"));
  ProcessResult global = Orch({"config", "show", "-p", "acme/widgets"});
  EXPECT_THAT(global.out, HasSubstr("max_attempts: 4  # global " + home() + "/config.yml:"));
}

}  // namespace
}  // namespace orch::test
