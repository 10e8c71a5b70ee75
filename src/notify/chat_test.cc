#include "notify/chat.h"

#include <gtest/gtest.h>

namespace orch {
namespace {

using std::chrono::milliseconds;

TEST(SplitMessageTest, ShortTextIsOnePartAndEmptyTextNone) {
  EXPECT_EQ(SplitMessage("hello", 10), std::vector<std::string>{"hello"});
  EXPECT_TRUE(SplitMessage("", 10).empty());
}

TEST(SplitMessageTest, CutsAtTheLastLineBreakThatFits) {
  // "aaa\nbbb\ncc" at 9: "aaa\nbbb\n" fits, so the cut is after "bbb" and the break dropped.
  EXPECT_EQ(SplitMessage("aaa\nbbb\ncccc", 9), (std::vector<std::string>{"aaa\nbbb", "cccc"}));
}

TEST(SplitMessageTest, ALineLongerThanTheLimitIsCutWithin) {
  EXPECT_EQ(SplitMessage("abcdefgh", 3), (std::vector<std::string>{"abc", "def", "gh"}));
}

TEST(SplitMessageTest, NeverCutsInsideAUtf8Sequence) {
  // "é" is two bytes, one unit; "→" three bytes, one unit; "😀" four bytes, two units.
  std::string text = "é→😀é→😀";
  std::vector<std::string> parts = SplitMessage(text, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "é→");  // 😀 (2 units) would make 4
  EXPECT_EQ(parts[1], "😀é");  // 2 + 1
  EXPECT_EQ(parts[2], "→😀");
  std::string joined;
  for (const auto& p : parts) {
    EXPECT_LE(Utf16Length(p), 3u);
    joined += p;
  }
  EXPECT_EQ(joined, text);
}

TEST(SplitMessageTest, EveryPartOfALongMessageFitsTheLimit) {
  std::string text = "line 0";
  for (int i = 1; i < 500; ++i) text += "\nline " + std::to_string(i) + " ünïcödé 😀";
  for (size_t limit : {2000u, 4096u}) {
    std::vector<std::string> parts = SplitMessage(text, limit);
    EXPECT_GT(parts.size(), 1u);
    std::string joined;
    for (const auto& p : parts) {
      EXPECT_LE(Utf16Length(p), limit);
      EXPECT_EQ(p.rfind("line ", 0), 0u);  // cut on line boundaries
      joined += (joined.empty() ? "" : "\n") + p;
    }
    EXPECT_TRUE(joined == text);  // not EXPECT_EQ: its message would print all of it
  }
}

TEST(SplitMessageTest, InvalidBytesCountAsOneUnitEach) {
  std::string text =
      "ab\xff\xfe"
      "cd";
  EXPECT_EQ(Utf16Length(text), 6u);
  EXPECT_EQ(SplitMessage(text, 3), (std::vector<std::string>{"ab\xff",
                                                             "\xfe"
                                                             "cd"}));
}

TEST(SendGateTest, LetsOneMessageThroughPerInterval) {
  SendGate gate(milliseconds(1000));
  SteadyTime t0{};
  EXPECT_TRUE(gate.TryAcquire(t0 + milliseconds(1)));
  EXPECT_FALSE(gate.TryAcquire(t0 + milliseconds(500)));
  EXPECT_TRUE(gate.TryAcquire(t0 + milliseconds(1001)));
}

TEST(SendGateTest, AHoldDelaysTheNextMessage) {
  SendGate gate(milliseconds(0));
  SteadyTime t0{};
  gate.HoldUntil(t0 + milliseconds(3000));
  gate.HoldUntil(t0 + milliseconds(1000));  // an earlier hold changes nothing
  EXPECT_FALSE(gate.TryAcquire(t0 + milliseconds(2999)));
  EXPECT_TRUE(gate.TryAcquire(t0 + milliseconds(3000)));
}

// A channel whose sends answer from a script (then OK), recording what went out. A scripted
// retryable failure holds the gate `hold` long, as a platform's 429 does.
class ScriptedChannel : public ChatChannel {
 public:
  ScriptedChannel(std::vector<Status> script, milliseconds hold)
      : script_(std::move(script)), hold_(hold) {}
  std::string name() const override { return "scripted"; }
  size_t max_chars() const override { return 5; }
  SendGate& gate() override { return gate_; }
  Status Send(const std::string& text) override {
    ++calls;
    Status s = calls <= static_cast<int>(script_.size()) ? script_[calls - 1] : Status::OK();
    if (s.ok()) sent.push_back(text);
    if (s.IsRetryable()) gate_.HoldUntil(std::chrono::steady_clock::now() + hold_);
    return s;
  }
  Status CheckHealth() override { return Status::OK(); }

  std::vector<std::string> sent;
  int calls = 0;
  SendGate gate_{milliseconds(0)};

 private:
  std::vector<Status> script_;
  milliseconds hold_;
};

TEST(SendWholeTest, SendsEveryPartInOrderWaitingOutARateLimit) {
  ScriptedChannel channel({Status::Unavailable("scripted", "429")}, milliseconds(50));
  auto start = std::chrono::steady_clock::now();
  Status s = SendWhole(channel, "aaaa\nbbbb");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(channel.sent, (std::vector<std::string>{"aaaa", "bbbb"}));
  EXPECT_EQ(channel.calls, 3);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
}

TEST(SendWholeTest, StopsAtARefusalOrAGateHeldTooLong) {
  ScriptedChannel refused({Status::InvalidArgument("scripted", "400")}, milliseconds(0));
  EXPECT_EQ(SendWhole(refused, "aaaa\nbbbb").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.calls, 1);  // not retried, and the next part not sent
  ScriptedChannel held({}, milliseconds(0));
  held.gate_.HoldUntil(std::chrono::steady_clock::now() + std::chrono::hours(1));
  Status s = SendWhole(held, "hi", milliseconds(100));
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_EQ(held.calls, 0);
}

}  // namespace
}  // namespace orch
