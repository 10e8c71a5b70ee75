// Checks the hand-made flag tables against the real CLIs when they are installed: every long
// flag the stand-in accepts is in the real --help of that (sub)command (or, for the few hidden
// claude options, accepted by the real parser), and every long flag the real --help lists is
// in the table. Skips when the real CLIs are not installed.
#include "flag_tables.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace orch::standin {
namespace {

std::string RealBinDir() {
  const char* root = std::getenv("ORCH_AGENT_CLIS");
  std::string base = root && *root ? root : "/root/.cache/orch/agent-clis";
  return base + "/node_modules/.bin";
}

// Runs a real CLI offline with stdin from /dev/null and a throwaway HOME; returns stdout and
// stderr together ("" if it did not finish within 60 s).
std::string RunReal(const std::vector<std::string>& argv) {
  char pattern[] = "/tmp/agent-standin-real-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return "";
  std::string dir = pattern;
  std::string home = "HOME=" + dir, tmp = "TMPDIR=" + dir;
  std::string out_path = dir + "/out";
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || chdir(dir.c_str()) != 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    putenv(home.data());
    putenv(tmp.data());
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  bool done = false;
  for (int i = 0; i < 600 && !done; ++i) {
    done = waitpid(pid, &status, WNOHANG) == pid;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!done) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  std::stringstream text;
  text << std::ifstream(out_path).rdbuf();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return done ? text.str() : "";
}

bool Mentions(const std::string& help, const std::string& flag) {
  std::regex word("(^|[^A-Za-z0-9-])" + flag + "($|[^A-Za-z0-9-])");
  return std::regex_search(help, word);
}

// The long flags on the option lines of a --help text: the words before the description.
std::set<std::string> ListedFlags(const std::string& help) {
  std::set<std::string> out;
  std::istringstream lines(help);
  std::string line;
  static const std::regex kOptionLine(R"(^\s+(-[A-Za-z], )?--[A-Za-z])");
  static const std::regex kLong(R"(--[A-Za-z][A-Za-z0-9-]*)");
  while (std::getline(lines, line)) {
    if (!std::regex_search(line, kOptionLine)) continue;
    size_t start = line.find('-');
    std::string flags = line.substr(start, line.find("  ", start) - start);
    for (std::sregex_iterator it(flags.begin(), flags.end(), kLong), end; it != end; ++it) {
      out.insert(it->str());
    }
  }
  return out;
}

std::set<std::string> TableFlags(const CommandSpec& command, bool hidden) {
  std::set<std::string> out;
  for (const FlagSpec& flag : command.flags) {
    if (flag.hidden != hidden) continue;
    for (const std::string& name : ShapeOf(flag).names) {
      if (name.rfind("--", 0) == 0) out.insert(name);
    }
  }
  return out;
}

struct HelpCase {
  const char* name;  // the test's name
  const char* binary;
  std::vector<std::string> help_args;
  const CommandSpec& (*command)();
};

class FlagTablesTest : public ::testing::TestWithParam<HelpCase> {};

TEST_P(FlagTablesTest, TableMatchesTheRealHelp) {
  const HelpCase& c = GetParam();
  std::string binary = RealBinDir() + "/" + c.binary;
  if (access(binary.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "real " << c.binary << " not installed at " << binary
                 << " (set ORCH_AGENT_CLIS to its npm prefix to check the flag tables)";
  }
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), c.help_args.begin(), c.help_args.end());
  std::string help = RunReal(argv);
  ASSERT_NE(help.find("--help"), std::string::npos) << "no help from " << binary << ":\n" << help;
  std::set<std::string> table = TableFlags(c.command(), false);
  for (const std::string& flag : table) {
    EXPECT_TRUE(Mentions(help, flag)) << flag << " is not in the real " << c.binary << " help";
  }
  std::set<std::string> listed = ListedFlags(help);
  EXPECT_GT(listed.size(), 10u) << "could not read the option lines of:\n" << help;
  for (const std::string& flag : listed) {
    EXPECT_TRUE(table.count(flag))
        << "the real " << c.binary << " lists " << flag << " but the stand-in's table does not";
  }
}

INSTANTIATE_TEST_SUITE_P(
    RealClis, FlagTablesTest,
    ::testing::Values(
        HelpCase{"claude", "claude", {"--help"}, ClaudeCommand},
        HelpCase{"codex", "codex", {"--help"}, CodexCommand},
        HelpCase{"codex_exec", "codex", {"exec", "--help"}, CodexExecCommand},
        HelpCase{"codex_exec_resume", "codex", {"exec", "resume", "--help"}, CodexResumeCommand},
        HelpCase{"opencode_run", "opencode", {"run", "--help"}, OpencodeRunCommand}),
    [](const ::testing::TestParamInfo<HelpCase>& info) { return std::string(info.param.name); });

TEST(FlagTablesHiddenTest, RealClaudeAcceptsTheHiddenFlags) {
  // Given a hidden flag and then an unknown one, the real parser must complain about the
  // unknown one only: it took the hidden flag (and its value) as valid.
  std::string binary = RealBinDir() + "/claude";
  if (access(binary.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "real claude not installed at " << binary;
  }
  for (const std::string& flag : TableFlags(ClaudeCommand(), true)) {
    std::string out = RunReal({binary, "-p", flag, "x", "--standin-probe"});
    EXPECT_NE(out.find("unknown option '--standin-probe'"), std::string::npos)
        << flag << ": " << out;
  }
}

}  // namespace
}  // namespace orch::standin
