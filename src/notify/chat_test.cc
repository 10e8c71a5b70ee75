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

}  // namespace
}  // namespace orch
