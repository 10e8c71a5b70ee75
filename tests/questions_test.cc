// An agent asks, a person answers on GitHub, the agent goes on (issue 21, part 3): the agent's
// contract says needs_input with a question; orch asks it on the issue, addressed to its
// author; a trusted reply (no @mention needed) resumes the same agent session with the answer,
// which ends in a pull request; an untrusted reply resumes nothing. By webhook and by polling
// alone. Real parts: `orch serve`, the GitHub simulator, git with a bare origin, tmux and the
// agent stand-ins (whose `ask` directive asks unless the prompt brings orch's answer).
#include <gmock/gmock.h>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class QuestionLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    Configure("router:\n  mode: round_robin\n  agents: [claude]\n");
  }
  Json Reply(int number, const std::string& user, const std::string& body) {
    return Sim("POST", "/_sim/repos/acme/widgets/issues/" + std::to_string(number) + "/comments",
               {{"user", user}, {"body", body}})["comment"];
  }
  // orch's comment on `number` asking a question, or "".
  std::string Question(int number) {
    for (const Json& c :
         Sim("GET", "/repos/acme/widgets/issues/" + std::to_string(number) + "/comments")) {
      std::string body = c["body"];
      if (c["user"]["login"] == "orch-bot" && body.find("needs an answer") != std::string::npos) {
        return body;
      }
    }
    return "";
  }

  // A labelled issue whose agent asks; then eve (read access) and bob (write) reply.
  void AskedAnsweredAndResumed() {
    auto [number, id] =
        LabelledIssue("standin: ask Metric or imperial units?\nstandin: write units.txt decided\n");
    ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
    Json asked = Task(id);
    EXPECT_THAT(asked["status_reason"].get<std::string>(),
                HasSubstr("waiting for input: Metric or imperial units? (asked on #" +
                          std::to_string(number) + ")"));
    ASSERT_EQ(asked["runs"].size(), 1u);
    std::string session = asked["runs"][0]["agent_session"];
    ASSERT_FALSE(session.empty());
    std::string question = Question(number);
    EXPECT_THAT(question, HasSubstr("@alice "));  // the issue's author
    EXPECT_THAT(question, HasSubstr("> Metric or imperial units?"));
    EXPECT_EQ(Sim("GET", "/repos/acme/widgets/pulls?state=all").size(), 0u);  // nothing pushed

    // eve has read access only: her reply resumes nothing.
    Reply(number, "eve", "Imperial!");
    ASSERT_TRUE(Eventually([&] {
      return Log().find("by eve answers nothing") != std::string::npos;
    })) << Log();
    EXPECT_EQ(Task(id)["status"], "needs_review");

    int64_t answer = Reply(number, "bob", "Metric, please.")["id"];
    ASSERT_TRUE(Reaches(id, "in_review")) << Log();
    Json done = Task(id);
    ASSERT_EQ(done["runs"].size(), 2u);
    // The same session, resumed: claude --resume <the first run's session>.
    std::vector<std::string> argv = done["runs"][1]["command"];
    EXPECT_THAT(argv, ::testing::Contains("--resume"));
    EXPECT_THAT(argv, ::testing::Contains(session));
    ASSERT_EQ(done["questions"].size(), 1u);
    EXPECT_EQ(done["questions"][0]["answer"], "Metric, please.");
    EXPECT_EQ(done["questions"][0]["answered_by"], "bob");
    int pr = done["pr_number"];
    Json pull = Sim("GET", "/repos/acme/widgets/pulls/" + std::to_string(pr));
    // The stand-in lists the answer it was given; the rest of its script ran.
    EXPECT_THAT(pull["body"].get<std::string>(), HasSubstr("answered: Metric, please."));
    EXPECT_EQ(test::Run({"git", "-C", dir_.Sub("origin.git"), "show",
                         pull["head"]["ref"].get<std::string>() + ":units.txt"})
                  .out,
              "decided\n");
    // The question and the answer are in the task's history and its text view.
    ProcessResult log = Orch({"task", "log", std::to_string(id)});
    EXPECT_THAT(log.out, HasSubstr("waiting for input: Metric or imperial units?"));
    EXPECT_THAT(log.out, HasSubstr("by github:bob: answered: Metric, please."));
    ProcessResult show = Orch({"task", "show", std::to_string(id)});
    EXPECT_THAT(show.out, HasSubstr("asked:    (run 1) Metric or imperial units?"));
    EXPECT_THAT(show.out, HasSubstr("answer:   Metric, please. (bob)"));
    std::vector<std::string> reactions;
    for (const Json& r : Sim("GET", "/repos/acme/widgets/issues/comments/" +
                                        std::to_string(answer) + "/reactions")) {
      reactions.push_back(r["content"]);
    }
    EXPECT_EQ(reactions, std::vector<std::string>{"eyes"});
  }
};

TEST_F(QuestionLoopTest, ATrustedReplyResumesTheSameSessionAndEndsInAPullRequest) {
  StartOrch();
  AskedAnsweredAndResumed();
}

TEST_F(QuestionLoopTest, PollingAloneReadsTheAnswer) {
  ConfigurePolling("router:\n  mode: round_robin\n  agents: [claude]\n");
  StartOrch();
  AskedAnsweredAndResumed();
}

TEST_F(QuestionLoopTest, ALocalTasksQuestionIsAnsweredWithOrchTaskAnswer) {
  StartOrch();
  ProcessResult added =
      Orch({"task", "add", "Pick units", "-b",
            "standin: ask Which units?\nstandin: write units.txt si", "-p", "acme/widgets"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  int64_t id = Tasks().back()["id"];
  ASSERT_TRUE(Reaches(id, "needs_review")) << Log();
  EXPECT_THAT(Task(id)["status_reason"].get<std::string>(), HasSubstr("waiting for input"));
  ProcessResult answered = Orch({"task", "answer", std::to_string(id), "SI units"});
  ASSERT_EQ(answered.exit_code, 0) << answered.err;
  EXPECT_THAT(answered.out, HasSubstr("resumes its agent"));
  ASSERT_TRUE(Eventually([&] { return Task(id)["runs"].size() == 2u; })) << Log();
  ASSERT_TRUE(Eventually([&] {
    Json t = Task(id);
    return t["status"] != "routed" && t["status"] != "in_progress";
  })) << Log();
  Json t = Task(id);
  EXPECT_THAT(t["runs"][1]["summary"].get<std::string>(), ::testing::Not(HasSubstr("failed")));
  EXPECT_EQ(t["questions"][0]["answer"], "SI units");
  // A second answer has no question left to answer.
  EXPECT_NE(Orch({"task", "answer", std::to_string(id), "again"}).exit_code, 0);
}

}  // namespace
}  // namespace orch::test
