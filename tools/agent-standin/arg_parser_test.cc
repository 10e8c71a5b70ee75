#include "arg_parser.h"

#include <gtest/gtest.h>

#include "flag_tables.h"

namespace orch::standin {
namespace {

TEST(ArgParserTest, ShapeReadsNamesAndArityFromTheHelpText) {
  FlagShape tools = ShapeOf(FlagSpec("--allowedTools, --allowed-tools <tools...>"));
  EXPECT_EQ(tools.names, (std::vector<std::string>{"--allowedTools", "--allowed-tools"}));
  EXPECT_EQ(tools.arity, Arity::kVariadic);
  EXPECT_EQ(ShapeOf(FlagSpec("-r, --resume [value]")).arity, Arity::kOptional);
  EXPECT_EQ(ShapeOf(FlagSpec("-i, --image <FILE>...")).arity, Arity::kVariadic);
  EXPECT_EQ(ShapeOf(FlagSpec("-m, --model <MODEL>")).arity, Arity::kOne);
  EXPECT_EQ(ShapeOf(FlagSpec("-p, --print")).arity, Arity::kNone);
  EXPECT_EQ(ShapeOf(FlagSpec("-p, --print")).Primary(), "--print");
}

TEST(ArgParserTest, CommanderVariadicTakesWordsUpToTheNextFlag) {
  // As in the real claude, the variadic list also swallows a prompt placed right after it.
  ParseOutcome p = ParseArgs(ClaudeCommand(), {"--allowedTools", "Write", "Bash", "-p",
                                               "--disallowed-tools", "WebFetch", "prompt"});
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.args.Values("--allowedTools"), (std::vector<std::string>{"Write", "Bash"}));
  EXPECT_EQ(p.args.Values("--disallowedTools"), (std::vector<std::string>{"WebFetch", "prompt"}));
  EXPECT_TRUE(p.args.Has("--print"));
  EXPECT_TRUE(p.args.positionals.empty());
}

TEST(ArgParserTest, InlineValuesAndShortClusters) {
  ParseOutcome p = ParseArgs(ClaudeCommand(), {"--output-format=json", "-pc", "hi"});
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.args.Value("--output-format"), "json");
  EXPECT_TRUE(p.args.Has("--print"));
  EXPECT_TRUE(p.args.Has("--continue"));
  EXPECT_EQ(p.args.positionals, (std::vector<std::string>{"hi"}));
  ParseOutcome o = ParseArgs(CodexExecCommand(), {"-o/tmp/x", "--", "--json"});
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.args.Value("--output-last-message"), "/tmp/x");
  EXPECT_EQ(o.args.positionals, (std::vector<std::string>{"--json"}));
}

TEST(ArgParserTest, ClapStopsAtTheSubcommandAndRefusesExtraPositionals) {
  ParseOutcome p = ParseArgs(CodexExecCommand(), {"--json", "resume", "id", "-s", "x"});
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.args.subcommand, "resume");
  EXPECT_EQ(p.args.rest, (std::vector<std::string>{"id", "-s", "x"}));
  ParseOutcome extra = ParseArgs(CodexExecCommand(), {"a", "b"});
  ASSERT_TRUE(extra.error);
  EXPECT_EQ(extra.error->exit_code, 2);
  EXPECT_EQ(extra.error->message.rfind("error: unexpected argument 'b' found\n", 0), 0u);
}

TEST(ArgParserTest, ClapMissingValueNamesTheLongFlag) {
  ParseOutcome p = ParseArgs(CodexExecCommand(), {"-m", "--json"});
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->message,
            "error: a value is required for '--model <MODEL>' but none was supplied\n\n"
            "For more information, try '--help'.\n");
}

TEST(ArgParserTest, YargsStringWithoutValueIsEmpty) {
  ParseOutcome p = ParseArgs(OpencodeRunCommand(), {"--session", "--format", "json", "a", "b"});
  ASSERT_FALSE(p.error);
  EXPECT_TRUE(p.args.Has("--session"));
  EXPECT_EQ(p.args.Value("--session"), "");
  EXPECT_EQ(p.args.positionals, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace orch::standin
