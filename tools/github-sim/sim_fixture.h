// Test helpers for the GitHub simulator: a temporary directory, a running orch-github-sim
// child process (started from an argv, no shell) with its seed, and a fake "orch" webhook
// receiver that records every delivery. Each one cleans up what it made.
//
// Thread safety: HookReceiver's accessors may be called while it receives; the rest are for
// one test thread.
#ifndef ORCH_SIM_SIM_FIXTURE_H_
#define ORCH_SIM_SIM_FIXTURE_H_

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace orch::sim::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& text);

// The built simulator, listening on a free port of 127.0.0.1. The constructor waits (up to
// 10 s) for the port file and fails the test if it does not come.
class SimProcess {
 public:
  SimProcess(const nlohmann::json& seed, const std::vector<std::string>& extra_args = {});
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // A fresh client for the simulator (so each call's headers stand alone).
  std::unique_ptr<httplib::Client> Client() const;
  // SIGTERM, then the exit status (128 + signal if killed); -1 if it did not stop in 5 s.
  int Stop();

 private:
  void Start(const nlohmann::json& seed, const std::vector<std::string>& extra_args);

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct ReceivedHook {
  httplib::Headers headers;
  std::string body;
  std::string Header(const std::string& key) const;
  nlohmann::json Json() const { return nlohmann::json::parse(body); }
};

// An httplib::Server on a free port that answers every POST with `status` (200) after running
// `on_hook` (if set), recording headers and body.
class HookReceiver {
 public:
  HookReceiver();
  ~HookReceiver();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/webhook"; }
  void set_on_hook(std::function<void(const ReceivedHook&)> fn);
  std::vector<ReceivedHook> hooks() const;
  // Waits up to 10 s until at least `n` hooks have arrived.
  bool WaitFor(size_t n) const;

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::function<void(const ReceivedHook&)> on_hook_;  // (mu_)
  std::vector<ReceivedHook> hooks_;                   // (mu_)
};

// Polls `pred` every 10 ms for up to `timeout`.
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// {"Authorization": "<scheme> <token>"}.
httplib::Headers AuthHeaders(const std::string& token = "t0ken",
                             const std::string& scheme = "token");

// The seed most tests use: acme/widgets with collaborators, labels "orch" and "bug", and
// open issues #1-#5 plus closed #6, on a frozen clock from 2026-11-21T10:00:00Z.
nlohmann::json DefaultSeed();

// A simulator on DefaultSeed() whose webhooks go, signed with kSecret, to `hooks_`.
class SimTest : public ::testing::Test {
 protected:
  static constexpr char kSecret[] = "It's a Secret to Everybody";

  void SetUp() override;
  httplib::Result Get(const std::string& path, const httplib::Headers& headers = AuthHeaders());
  httplib::Result Post(const std::string& path, const nlohmann::json& body,
                       const httplib::Headers& headers = AuthHeaders());
  httplib::Result Delete(const std::string& path, const httplib::Headers& headers = AuthHeaders());
  // POSTs to the control API and returns its JSON answer; fails the test unless it is a 200.
  nlohmann::json Act(const std::string& path, const nlohmann::json& body);
  // GETs a REST path and returns its JSON; fails the test unless it is a 200.
  nlohmann::json GetJson(const std::string& path);

  HookReceiver hooks_;
  std::unique_ptr<SimProcess> sim_;
};

}  // namespace orch::sim::test

#endif  // ORCH_SIM_SIM_FIXTURE_H_
