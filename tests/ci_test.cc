// Failing CI on orch's pull request becomes work on it (issue 21, part 1), end to end: `orch
// serve`, the GitHub simulator's check runs, annotations and job logs (behind GitHub's
// redirect), git with a bare origin, tmux and the agent stand-ins.
#include <gmock/gmock.h>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class CiLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    Configure(
        "router:\n  mode: round_robin\n  agents: [claude]\n"
        "workflow:\n  max_ci_fix_attempts: 1\n");
  }
  Json Check(const std::string& sha, const std::string& conclusion, const Json& annotations,
             const std::string& log) {
    return Sim("POST", "/_sim/repos/acme/widgets/check-runs",
               {{"name", "tests"},
                {"head_sha", sha},
                {"status", "completed"},
                {"conclusion", conclusion},
                {"output", {{"title", "1 failed"}, {"summary", "calc: 1 failed"}}},
                {"annotations", annotations},
                {"log", log}});
  }
  std::vector<Json> CiFollowUps(int64_t parent) {
    std::vector<Json> out;
    for (const Json& t : Tasks()) {
      if (t["parent_id"] == parent && t["source_id"].get<std::string>().rfind("ci ", 0) == 0) {
        out.push_back(t);
      }
    }
    return out;
  }
  std::string PullHead(int pr) {
    return Sim("GET", "/repos/acme/widgets/pulls/" + std::to_string(pr))["head"]["sha"];
  }
};

TEST_F(CiLoopTest, AFailingCheckIsFixedOnThePullRequestAndAPassingOneReturnsItToReview) {
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write hello.txt hello\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  int pr = Task(id)["pr_number"];
  std::string branch = Task(id)["branch"];
  std::string first = PullHead(pr);
  std::string log;
  for (int i = 1; i <= 250; ++i) log += "step " + std::to_string(i) + "\n";
  log += "FAILED calc_test.py::test_add - assert 3 == 4\n";
  Json failed = Check(first, "failure",
                      Json::array({{{"path", "calc.py"},
                                    {"start_line", 3},
                                    {"end_line", 3},
                                    {"annotation_level", "failure"},
                                    {"message", "assert 3 == 4\nstandin: write fix.txt fixed"}}}),
                      log);
  ASSERT_TRUE(Eventually([&] { return CiFollowUps(id).size() == 1; })) << Log();
  Json child = CiFollowUps(id)[0];
  ASSERT_TRUE(Reaches(child["id"], "done")) << Log();
  std::string body = Task(child["id"])["body"];
  EXPECT_THAT(body, HasSubstr("calc.py:3: failure: assert 3 == 4"));
  EXPECT_THAT(body, HasSubstr("FAILED calc_test.py::test_add"));  // the log's tail
  EXPECT_THAT(body, ::testing::Not(HasSubstr("step 10\n")));
  EXPECT_EQ(Task(child["id"])["branch"], branch);
  EXPECT_EQ(test::Run({"git", "-C", dir_.Sub("origin.git"), "show", branch + ":fix.txt"}).out,
            "fixed\n");
  EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 1u);
  EXPECT_THAT(Task(id)["status_reason"].get<std::string>(), HasSubstr("check tests failed"));

  // The same failure delivered again makes no second follow-up.
  // The check_run delivery (its suite's check_suite and workflow_run followed it).
  Sim("POST",
      "/_sim/deliveries/" + failed["deliveries"][0]["guid"].get<std::string>() + "/redeliver");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(CiFollowUps(id).size(), 1u);
  // The suite's check_suite and workflow_run deliveries were read too, and made nothing more.
  for (const char* event : {"check_suite", "workflow_run"}) {
    bool applied = false;
    for (const Json& d : Deliveries()) {
      if (d["event"] == event && d["state"] == "applied") {
        applied = true;
        EXPECT_THAT(d["result"].get<std::string>(), HasSubstr("exists")) << event;
      }
    }
    EXPECT_TRUE(applied) << event << "\n" << Deliveries().dump(2);
  }

  // GitHub sees the push; its checks pass: the task waits for review again.
  std::string pushed = test::Run({"git", "-C", dir_.Sub("origin.git"), "rev-parse", branch}).out;
  pushed.erase(pushed.find_last_not_of('\n') + 1);
  Sim("POST", "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr) + "/head", {{"sha", pushed}});
  Check(pushed, "success", Json::array(), "");
  ASSERT_TRUE(Eventually([&] {
    return Task(id)["status_reason"].get<std::string>().find("checks pass") != std::string::npos;
  })) << Log();
  EXPECT_EQ(Task(id)["status"], "in_review");

  // A check of the old commit now says nothing; a new failure past the cap needs a person.
  Check(first, "failure", Json::array(), "old");
  Check(pushed, "failure", Json::array(), "broken again");
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  EXPECT_EQ(CiFollowUps(id).size(), 1u);
}

TEST_F(CiLoopTest, PollingAloneFindsAFailingCheck) {
  ConfigurePolling("router:\n  mode: round_robin\n  agents: [claude]\n");
  StartOrch();
  auto [number, id] = LabelledIssue("standin: write hello.txt hello\n");
  ASSERT_TRUE(Reaches(id, "in_review")) << Log();
  int pr = Task(id)["pr_number"];
  Check(PullHead(pr), "failure",
        Json::array({{{"path", "a.c"},
                      {"start_line", 1},
                      {"end_line", 1},
                      {"annotation_level", "failure"},
                      {"message", "standin: write fix.txt fixed"}}}),
        "boom\n");
  ASSERT_TRUE(Eventually([&] { return CiFollowUps(id).size() == 1; })) << Log();
  ASSERT_TRUE(Reaches(CiFollowUps(id)[0]["id"], "done")) << Log();
}

}  // namespace
}  // namespace orch::test
