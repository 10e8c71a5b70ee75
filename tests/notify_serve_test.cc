// Notifications and Telegram commands end to end: `orch serve` with the GitHub simulator, the
// agent stand-ins, and fake Telegram and Discord APIs served by this test process over
// 127.0.0.1 (fake_chat_apis.h), which record what orch posted and hand it Telegram updates.
#include <gmock/gmock.h>

#include <filesystem>

#include "fake_chat_apis.h"
#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class NotifyLoopTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void ConfigureChats(const std::string& level, int max_attempts) {
    Configure(
        "router:\n  mode: round_robin\n  agents: [claude]\n  breaker_failures: 100\n"
        "workflow:\n  max_attempts: " +
        std::to_string(max_attempts) + "\n  timeout_seconds: 30\n  retry_base_delay: 0\n" +
        chats_.ChannelsYaml() + "notifications:\n  level: " + level + "\n");
  }
  // The texts posted to `to` that contain `needle`.
  static std::vector<std::string> With(const std::vector<Posted>& posted, const std::string& to,
                                       const std::string& needle) {
    std::vector<std::string> out;
    for (const Posted& p : posted) {
      if (p.to == to && p.text.find(needle) != std::string::npos) out.push_back(p.text);
    }
    return out;
  }
  static std::string Dump(const std::vector<Posted>& posted) {
    std::string out;
    for (const Posted& p : posted) out += p.to + ": " + p.text + "\n";
    return out;
  }

  FakeChatApis chats_;
};

TEST_F(NotifyLoopTest, EveryMoveOfATaskReachesTelegramAndDiscordOnce) {
  // Given both channels at level all, a labelled issue that becomes a PR is told on each
  // channel once per move, with the PR's link; Discord's 429 is waited out, not lost.
  ConfigureChats("all", 3);
  StartOrch();
  int64_t id = LabelledIssue("standin: say working on it\nstandin: write hello.txt hi\n").second;
  ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
  std::string tag = "[acme/widgets#" + std::to_string(id) + "] Add a greeting: ";
  for (const char* move :
       {"new \u2192 routed", "routed \u2192 in_progress", "in_progress \u2192 in_review"}) {
    EXPECT_TRUE(Eventually(
        [&] {
          return !With(chats_.Telegram(), kChat, tag + move).empty() &&
                 !With(chats_.Discord(), "777", tag + move).empty();
        },
        std::chrono::seconds(20)))
        << move << "\n"
        << Dump(chats_.Telegram()) << Dump(chats_.Discord()) << Log();
    EXPECT_EQ(With(chats_.Telegram(), kChat, tag + move).size(), 1u) << Dump(chats_.Telegram());
    EXPECT_EQ(With(chats_.Discord(), "777", tag + move).size(), 1u) << Dump(chats_.Discord());
  }
  EXPECT_TRUE(chats_.DiscordWasLimited());
  std::vector<std::string> pr = With(chats_.Telegram(), kChat, "in_progress \u2192 in_review");
  ASSERT_EQ(pr.size(), 1u);
  EXPECT_THAT(pr[0],
              HasSubstr("\nhttp://127.0.0.1:" + std::to_string(sim_port_) + "/acme/widgets/pull/"));

  // /stream from the allowed chat answers with the tail of the agent's output.
  Json task = OrchJson({"task", "show", std::to_string(id), "--json"});
  std::string output = ReadFile(task["runs"][0]["run_dir"].get<std::string>() + "/output.log");
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  std::string last_line = output.substr(output.rfind('\n') + 1);
  chats_.Message(kChat, "alice", "/stream " + std::to_string(id));
  std::string head = "task " + std::to_string(id) + ", run 1 (claude, finished):";
  ASSERT_TRUE(Eventually([&] { return !With(chats_.Telegram(), kChat, head).empty(); }))
      << Dump(chats_.Telegram()) << Log();
  if (last_line.find('\x1b') == std::string::npos && last_line.size() > 10) {
    EXPECT_THAT(With(chats_.Telegram(), kChat, head)[0], HasSubstr(last_line.substr(0, 10)));
  }
  // The tokens never reach the log.
  EXPECT_THAT(Log(), Not(HasSubstr(kTelegramToken)));
  EXPECT_THAT(Log(), Not(HasSubstr(kDiscordToken)));
  EXPECT_THAT(Log(), HasSubstr("notify: telegram: connected"));
}

TEST_F(NotifyLoopTest, UnblockWorksFromTheAllowedChatOnly) {
  // Given two tasks that failed their way to needs_review (level errors_only: a failed attempt
  // and needs_review for each), /unblock from a stranger's chat does nothing and the same
  // command from the configured chat returns the other task to new.
  ConfigureChats("errors_only", 2);
  StartOrch();
  const std::string fail = "standin: write a.txt x\nstandin: final I think I am done!\n";
  int64_t a = LabelledIssue(fail, "First").second;
  int64_t b = LabelledIssue(fail, "Second").second;
  for (int64_t id : {a, b}) {
    ASSERT_TRUE(Reaches(id, "needs_review", std::chrono::seconds(40))) << Log();
    std::string tag = "[acme/widgets#" + std::to_string(id) + "]";
    EXPECT_TRUE(Eventually(
        [&] {
          return !With(chats_.Telegram(), kChat, tag).empty() &&
                 !With(chats_.Telegram(), kChat, "in_progress \u2192 needs_review").empty();
        },
        std::chrono::seconds(20)))
        << Dump(chats_.Telegram());
  }
  std::vector<std::string> failed = With(chats_.Telegram(), kChat, "in_progress \u2192 routed");
  EXPECT_EQ(failed.size(), 2u) << Dump(chats_.Telegram());
  EXPECT_TRUE(With(chats_.Telegram(), kChat, "new \u2192 routed").empty());  // not at this level

  chats_.Message("999", "mallory", "/unblock " + std::to_string(a));
  chats_.Message(kChat, "alice", "/unblock " + std::to_string(b));
  ASSERT_TRUE(Eventually([&] {
    return !With(chats_.Telegram(), kChat, "task " + std::to_string(b) + " unblocked").empty();
  })) << Dump(chats_.Telegram())
      << Log();
  EXPECT_EQ(Task(a)["status"], "needs_review");
  EXPECT_TRUE(With(chats_.Telegram(), "999", "").empty());  // the stranger hears nothing
  EXPECT_THAT(Log(), HasSubstr("telegram: ignored a command from chat 999"));
  Json events_b = OrchJson({"task", "log", std::to_string(b), "--json"});
  EXPECT_THAT(events_b.dump(), HasSubstr("telegram:alice"));
  Json events_a = OrchJson({"task", "log", std::to_string(a), "--json"});
  EXPECT_THAT(events_a.dump(), Not(HasSubstr("telegram:")));
}

}  // namespace
}  // namespace orch::test
