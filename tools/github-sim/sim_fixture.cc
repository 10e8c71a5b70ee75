#include "sim_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/http_stop.h"

extern char** environ;

namespace orch::sim::test {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// The exit code, 128 + signal, or -1 when still running after `timeout`.
int WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  int code = -1;
  Eventually(
      [&] {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) != pid) return false;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      },
      timeout);
  return code;
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "github-sim-XXXXXX").string();
  path_ = mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

SimProcess::SimProcess(const nlohmann::json& seed, const std::vector<std::string>& extra_args) {
  Start(seed, extra_args);
}

void SimProcess::Start(const nlohmann::json& seed, const std::vector<std::string>& extra_args) {
  WriteFile(dir_.Sub("seed.json"), seed.dump(2));
  std::vector<std::string> argv = {
      SIM_BINARY, "--port", "0", "--port-file", dir_.Sub("port"), "--seed", dir_.Sub("seed.json")};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  pid_ = Spawn(argv, dir_.Sub("sim.log"));
  ASSERT_GT(pid_, 0) << "cannot start " << SIM_BINARY;
  bool up = Eventually([&] {
    std::string text = ReadAll(dir_.Sub("port"));
    if (!text.empty()) port_ = std::stoi(text);
    return port_ > 0;
  });
  ASSERT_TRUE(up) << "no port file; log:\n" << ReadAll(dir_.Sub("sim.log"));
}

SimProcess::~SimProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::unique_ptr<httplib::Client> SimProcess::Client() const {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
  client->set_connection_timeout(5);
  client->set_read_timeout(15);
  return client;
}

int SimProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitExit(pid_, std::chrono::seconds(5));
  if (code >= 0) pid_ = -1;
  return code;
}

std::string ReceivedHook::Header(const std::string& key) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), key.c_str()) == 0) return v;
  }
  return "";
}

HookReceiver::HookReceiver() {
  server_.Post("/webhook", [this](const httplib::Request& req, httplib::Response& res) {
    ReceivedHook hook{req.headers, req.body};
    std::function<void(const ReceivedHook&)> on_hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_hook = on_hook_;
    }
    if (on_hook) on_hook(hook);
    {
      std::lock_guard<std::mutex> lock(mu_);
      hooks_.push_back(hook);
    }
    res.status = 200;
    res.set_content("{}", "application/json");
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

HookReceiver::~HookReceiver() {
  orch::StopServer(server_);
  thread_.join();
}

void HookReceiver::set_on_hook(std::function<void(const ReceivedHook&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  on_hook_ = std::move(fn);
}

std::vector<ReceivedHook> HookReceiver::hooks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hooks_;
}

bool HookReceiver::WaitFor(size_t n) const {
  return Eventually([&] { return hooks().size() >= n; });
}

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

httplib::Headers AuthHeaders(const std::string& token, const std::string& scheme) {
  return {{"Authorization", scheme + " " + token}};
}

nlohmann::json DefaultSeed() {
  return nlohmann::json::parse(R"({
    "authenticated_user": "orch-bot",
    "tokens": ["t0ken"],
    "start_time": "2026-11-21T10:00:00Z",
    "rate_limit": 5000,
    "repos": [{
      "full_name": "acme/widgets",
      "default_branch": "main",
      "collaborators": {"alice": "admin", "bob": "write", "carol": "maintain", "eve": "read",
                        "orch-bot": "write"},
      "labels": [{"name": "orch", "color": "ededed"}, {"name": "bug", "color": "d73a4a"}],
      "issues": [
        {"number": 1, "title": "First", "body": "one", "user": "alice", "labels": ["orch"]},
        {"number": 2, "title": "Second", "body": "two", "user": "bob", "labels": ["bug"]},
        {"number": 3, "title": "Third", "body": "three", "user": "alice",
         "labels": ["orch", "bug"]},
        {"number": 4, "title": "Fourth", "body": "four", "user": "eve"},
        {"number": 5, "title": "Fifth", "body": "five", "user": "alice", "labels": ["orch"]},
        {"number": 6, "title": "Sixth", "body": "six", "user": "alice", "state": "closed"}
      ]
    }]
  })");
}

void SimTest::SetUp() {
  sim_ = std::make_unique<SimProcess>(
      DefaultSeed(),
      std::vector<std::string>{"--webhook-url", hooks_.url(), "--webhook-secret", kSecret});
}

httplib::Result SimTest::Get(const std::string& path, const httplib::Headers& headers) {
  return sim_->Client()->Get(path, headers);
}

httplib::Result SimTest::Post(const std::string& path, const nlohmann::json& body,
                              const httplib::Headers& headers) {
  return sim_->Client()->Post(path, headers, body.dump(), "application/json");
}

httplib::Result SimTest::Delete(const std::string& path, const httplib::Headers& headers) {
  return sim_->Client()->Delete(path, headers);
}

nlohmann::json SimTest::Act(const std::string& path, const nlohmann::json& body) {
  httplib::Result res = Post(path, body, {});
  EXPECT_TRUE(res) << path;
  if (!res) return nullptr;
  EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  return nlohmann::json::parse(res->body, nullptr, false);
}

nlohmann::json SimTest::GetJson(const std::string& path) {
  httplib::Result res = Get(path);
  EXPECT_TRUE(res) << path;
  if (!res) return nullptr;
  EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  return nlohmann::json::parse(res->body, nullptr, false);
}

}  // namespace orch::sim::test
