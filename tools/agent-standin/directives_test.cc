#include "directives.h"

#include <gtest/gtest.h>

namespace orch::standin {
namespace {

TEST(DirectivesTest, FindsIndentedLinesForThisAgentInOrder) {
  const char* prompt =
      "Task:\n"
      "<<<UNTRUSTED TASK\n"
      "```\n"
      "    standin: write a/b.txt two  words\n"
      "\tstandin[codex]: error rate_limit\n"
      "- standin[claude]: say hi there\n"
      "standins: not this\n"
      "standin[claude: nor this\n"
      "```\n"
      "UNTRUSTED TASK>>>\n";
  std::vector<Directive> claude = ParseDirectives(prompt, "claude");
  ASSERT_EQ(claude.size(), 2u);
  EXPECT_EQ(claude[0].verb, "write");
  EXPECT_EQ(claude[0].rest, "a/b.txt two  words");
  EXPECT_EQ(claude[1].verb, "say");
  EXPECT_EQ(claude[1].rest, "hi there");
  std::vector<Directive> codex = ParseDirectives(prompt, "codex");
  ASSERT_EQ(codex.size(), 2u);
  EXPECT_EQ(codex[1].text, "error rate_limit");
}

TEST(DirectivesTest, ErrorClassesMapToStatuses) {
  EXPECT_EQ(HttpStatusOf(*ParseErrorClass("rate_limit")), 429);
  EXPECT_EQ(HttpStatusOf(*ParseErrorClass("auth")), 401);
  EXPECT_EQ(HttpStatusOf(*ParseErrorClass("model")), 404);
  EXPECT_EQ(HttpStatusOf(*ParseErrorClass("context")), 400);
  EXPECT_EQ(HttpStatusOf(*ParseErrorClass("other")), 500);
  EXPECT_FALSE(ParseErrorClass("nope"));
}

}  // namespace
}  // namespace orch::standin
