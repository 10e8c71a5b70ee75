// The platform unit: each function on this system, and the rule that nothing else in src/ uses
// a Linux-only API or asks which system it is on.
#include "base/platform.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/subprocess.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::IsEmpty;

// `source` with its comments blanked (newlines kept, so line numbers hold). String and character
// literals stay: "/proc/self/exe" in a string is a use.
std::string WithoutComments(std::string_view source) {
  std::string out(source);
  enum class In { kCode, kLine, kBlock, kString, kChar } in = In::kCode;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i], next = i + 1 < out.size() ? out[i + 1] : '\0';
    switch (in) {
      case In::kCode:
        if (c == '/' && next == '/') in = In::kLine, out[i] = ' ';
        if (c == '/' && next == '*') in = In::kBlock, out[i] = out[i + 1] = ' ', ++i;
        if (c == 'R' && next == '"' &&
            (i == 0 || !std::isalnum(static_cast<unsigned char>(out[i - 1])))) {
          // A raw string: R"delim( ... )delim", which may hold quotes and slashes.
          size_t open = out.find('(', i + 2);
          if (open == std::string::npos) break;
          std::string close = ")" + out.substr(i + 2, open - i - 2) + "\"";
          size_t end = out.find(close, open);
          i = end == std::string::npos ? out.size() : end + close.size() - 1;
          break;
        }
        if (c == '"') in = In::kString;
        if (c == '\'' && !(i > 0 && std::isxdigit(static_cast<unsigned char>(out[i - 1])))) {
          in = In::kChar;  // not a digit separator (1'000)
        }
        break;
      case In::kLine:
        if (c == '\n')
          in = In::kCode;
        else
          out[i] = ' ';
        break;
      case In::kBlock:
        if (c == '*' && next == '/') in = In::kCode, out[i + 1] = ' ';
        if (c != '\n') out[i] = ' ';
        break;
      case In::kString:
      case In::kChar:
        if (c == '\\')
          ++i;
        else if (c == (in == In::kString ? '"' : '\''))
          in = In::kCode;
        break;
    }
  }
  return out;
}

// Each use in `source` of what only Linux has (or macOS lacks: pthread_setname_np's signature
// differs, sem_init fails there), or of a question about the system, as "<line>: <what>".
std::vector<std::string> LinuxOnlyUses(std::string_view source) {
  static const std::vector<std::pair<std::regex, std::string>> kRules = [] {
    std::vector<std::pair<std::regex, std::string>> r;
    for (const char* p :
         {R"(\bepoll_\w+|sys/epoll\.h)", R"(\binotify_\w+|sys/inotify\.h)", R"(\baccept4\b)",
          R"(\bpipe2\b)", R"(\beventfd\b)", R"(\bprctl\b)", R"(\bMSG_NOSIGNAL\b)",
          R"(\bSOCK_NONBLOCK\b)", R"(\bSOCK_CLOEXEC\b)", R"(/proc/)", R"(\bfdatasync\b)",
          R"(\bpthread_setname_np\b)", R"(\bsem_init\b)",
          R"(\b__linux__\b|\b__linux\b|\b__gnu_linux__\b)", R"(\b__APPLE__\b|\b__MACH__\b)"}) {
      r.emplace_back(std::regex(p), p);
    }
    return r;
  }();
  std::vector<std::string> uses;
  std::istringstream lines(WithoutComments(source));
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    for (const auto& [re, what] : kRules) {
      std::smatch m;
      if (std::regex_search(line, m, re)) uses.push_back(std::to_string(n) + ": " + m.str());
    }
  }
  return uses;
}

TEST(PlatformTest, TheScannerFindsUsesAndSkipsComments) {
  EXPECT_THAT(LinuxOnlyUses("int ep = epoll_create1(0);\n"
                            "// epoll_wait in a comment\n"
                            "/* pipe2() in a block\n   comment */ int x = 1'000;\n"
                            "auto p = \"/proc/self/exe\";  // and inotify_add_watch\n"
                            "spdlog::warn(\"inotify unavailable\");\n"
                            "#ifdef __APPLE__\n"
                            "send(fd, b, n, MSG_NOSIGNAL);\n"
                            "auto r = R\"x(\"q\" // /proc/1)x\"; char q = '\"'; pipe2(p, 0);\n"),
              ElementsAre("1: epoll_create1", "5: /proc/", "7: __APPLE__", "8: MSG_NOSIGNAL",
                          "9: pipe2", "9: /proc/"));
}

// Files that still use a Linux-only API, each to be moved onto libuv or platform.h. The list
// only shrinks: a file here that no longer needs to be here fails the test as well.
const std::set<std::string> kNotYetPorted = {};

TEST(PlatformTest, SourcesUseNoLinuxOnlyApi) {
  // Given every source in src/, only the platform unit itself may use what only Linux has or
  // ask which system it is on; the rest goes through libuv or platform.h.
  const std::filesystem::path src = std::filesystem::path(ORCH_SOURCE_DIR) / "src";
  const std::set<std::string> kPlatform = {"base/platform.h", "base/platform.cc",
                                           "base/platform_test.cc"};
  std::vector<std::string> offenders, ported;
  int scanned = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
    std::string rel = entry.path().lexically_relative(src).generic_string();
    if (kPlatform.count(rel)) continue;
    ++scanned;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> uses = LinuxOnlyUses(text.str());
    bool listed = kNotYetPorted.count(rel) > 0;
    if (!uses.empty() && !listed) offenders.push_back(rel + " line " + uses.front());
    if (uses.empty() && listed) ported.push_back(rel);
  }
  EXPECT_GT(scanned, 100);
  EXPECT_THAT(offenders, IsEmpty()) << "use libuv or base/platform.h instead";
  EXPECT_THAT(ported, IsEmpty()) << "take these out of kNotYetPorted";
}

TEST(PlatformTest, TheExecutablePathIsThisTestsBinary) {
  std::string exe = ExecutablePath();
  EXPECT_TRUE(std::filesystem::path(exe).is_absolute()) << exe;
  // The unit tests, or the libc++ build's (scripts/check-libcxx).
  EXPECT_THAT(exe, AnyOf(EndsWith("/orch_unit_tests"), EndsWith("/orch_libcxx_tests")));
  EXPECT_TRUE(std::filesystem::is_regular_file(exe));
}

TEST(PlatformTest, SyncFileDataSyncsAFileAndFailsOnABadDescriptor) {
  test::TempDir dir;
  int fd = open(dir.Sub("f").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  EXPECT_EQ(SyncFileData(fd), 0);
  close(fd);
  EXPECT_EQ(SyncFileData(fd), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(PlatformTest, ASocketIsCloseOnExec) {
  int fd = CloexecSocket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  close(fd);
}

TEST(PlatformTest, SendingToAGoneAcceptedPeerIsEpipeNotSigpipe) {
  // An accepted connection whose client has gone: the send fails with EPIPE (or a reset) and
  // the process lives on, SIGPIPE at its default action.
  auto* old = signal(SIGPIPE, SIG_DFL);
  int listener = CloexecSocket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int client = CloexecSocket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  int fd = AcceptCloexec(listener, nullptr, nullptr);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  close(client);
  ssize_t n = 0;
  for (int i = 0; i < 100 && n >= 0; ++i) n = SendNoSignal(fd, "x", 1);  // a reset, then EPIPE
  EXPECT_EQ(n, -1);
  EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET) << strerror(errno);
  close(fd);
  close(listener);
  signal(SIGPIPE, old);
}

TEST(PlatformTest, AThreadNameIsCutTo15Characters) {
  std::string seen;
  std::thread([&] {
    SetThreadName("orch-a-very-long-thread-name");
    char name[64] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    seen = name;
  }).join();
  EXPECT_EQ(seen, "orch-a-very-lon");
}

TEST(PlatformTest, AZombieIsNotRunning) {
  // A child runs until it is killed; killed and not yet reaped, it is a zombie: not running.
  Result<pid_t> pid = Spawn({.argv = {"sleep", "30"}, .env = {"PATH=/usr/bin:/bin"}});
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  EXPECT_TRUE(ProcessRunning(*pid));
  kill(*pid, SIGKILL);
  EXPECT_TRUE(test::Eventually([&] { return !ProcessRunning(*pid); }));
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, 0), *pid);  // it was there to be reaped
  EXPECT_FALSE(ProcessRunning(*pid));
}

TEST(PlatformTest, AChildLearnsWhetherItsParentIsStillThere) {
  // In a forked child: true for its real parent, false for any other pid (a parent that died
  // before the child asked).
  pid_t me = getpid();
  for (pid_t parent : {me, me + 100000}) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) _exit(SignalWhenParentDies(SIGTERM, parent) ? 0 : 1);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_EQ(WEXITSTATUS(status), parent == me ? 0 : 1) << "parent " << parent;
  }
}

TEST(PlatformTest, TheOsHasAName) {
  EXPECT_STRNE(OsName(), "unknown");
  EXPECT_EQ(OpenFileCeiling(), ThisOs() == Os::kMacOS ? 10240u : 65536u);
}

}  // namespace
}  // namespace orch
