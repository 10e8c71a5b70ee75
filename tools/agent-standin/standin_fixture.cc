#include "standin_fixture.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace orch::standin::test {
namespace {

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child: stdin from `in`, stdout and stderr to the given fds, then exec. Only
// async-signal-safe calls between fork and exec.
[[noreturn]] void ExecChild(const std::string& dir, int in, int out, int err, char** argv,
                            char** envp, const char* path) {
  if (chdir(dir.c_str()) != 0) _exit(127);
  dup2(in, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  execve(path, argv, envp);
  _exit(127);
}

}  // namespace

std::vector<nlohmann::json> RunResult::Events() const {
  std::vector<nlohmann::json> events;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    try {
      events.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "not a JSON line: " << line;
    }
  }
  return events;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFileText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

void StandinTest::SetUp() {
  char pattern[] = "/tmp/agent-standin-test-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  root_ = pattern;
  std::filesystem::create_directories(cwd() + "/.git");  // codex exec wants a repository
  std::filesystem::create_directories(home());
  std::filesystem::create_directories(root_ + "/bin");
  for (const char* agent : {"claude", "codex", "opencode"}) {
    std::filesystem::create_symlink(STANDIN_BINARY, root_ + "/bin/" + agent);
  }
}

void StandinTest::TearDown() {
  std::error_code ec;
  if (!root_.empty()) std::filesystem::remove_all(root_, ec);
}

std::vector<std::string> StandinTest::Environment(
    const std::map<std::string, std::optional<std::string>>& env) const {
  std::map<std::string, std::optional<std::string>> all = env;
  all.emplace("HOME", home());
  all.emplace("PATH", root_ + "/bin:/usr/bin:/bin");
  all.emplace("ORCH_STANDIN_AS", std::nullopt);
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (all.count(entry.substr(0, entry.find('='))) == 0) out.push_back(entry);
  }
  for (const auto& [name, value] : all) {
    if (value) out.push_back(name + "=" + *value);
  }
  return out;
}

RunResult StandinTest::Run(const std::string& agent, const std::vector<std::string>& args,
                           const std::string& stdin_text,
                           const std::map<std::string, std::optional<std::string>>& env) {
  WriteFileText(root_ + "/stdin", stdin_text);
  std::vector<std::string> argv_strings = {agent};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = Environment(env);
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);
  std::string path = root_ + "/bin/" + agent;
  int in = open((root_ + "/stdin").c_str(), O_RDONLY | O_CLOEXEC);
  int out = open((root_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open((root_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = fork();
  if (pid == 0) ExecChild(cwd(), in, out, err, argv.data(), envp.data(), path.c_str());
  close(in);
  close(out);
  close(err);
  RunResult result;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = ReadFileText(root_ + "/stdout");
  result.err = ReadFileText(root_ + "/stderr");
  return result;
}

pid_t StandinTest::Start(const std::string& agent, const std::vector<std::string>& args,
                         const std::string& stdin_text, int* stdout_fd) {
  WriteFileText(root_ + "/stdin", stdin_text);
  std::vector<std::string> argv_strings = {agent};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = Environment({});
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);
  std::string path = root_ + "/bin/" + agent;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  int in = open((root_ + "/stdin").c_str(), O_RDONLY | O_CLOEXEC);
  int err = open((root_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    ExecChild(cwd(), in, pipe_fds[1], err, argv.data(), envp.data(), path.c_str());
  }
  if (pid > 0) setpgid(pid, pid);  // both sides, so the group exists before either goes on
  close(in);
  close(err);
  close(pipe_fds[1]);
  *stdout_fd = pipe_fds[0];
  return pid;
}

}  // namespace orch::standin::test
