// What the stream and dashboard benchmarks share: N live tasks as the dispatcher leaves them
// (in_progress, an unfinished attempt, a tmux session on a private socket) whose sessions run a
// writer that appends to the run's output.log as an agent's shim would, and `orch serve`
// adopting them; and a process's CPU time from /proc.
#ifndef ORCH_BENCH_LIVE_TASKS_H_
#define ORCH_BENCH_LIVE_TASKS_H_

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "agents/runner.h"
#include "store/store.h"
#include "testing/test_util.h"

namespace orch::test {

// utime + stime of `pid` in seconds.
inline double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct LiveTasks {
  TempDir dir;
  std::string home = dir.Sub("home");
  std::string socket = "orch-bench-" + std::to_string(getpid());
  std::vector<int64_t> ids;
  std::vector<std::string> sessions;
  std::unique_ptr<Background> orch;
  std::string url, token;
  int tmux_pid = 0;
  LiveTasks() = default;
  LiveTasks(const LiveTasks&) = delete;
  LiveTasks& operator=(const LiveTasks&) = delete;
  ~LiveTasks() {
    if (orch) {
      orch->Signal(SIGTERM);
      orch->Wait(std::chrono::seconds(10));
    }
    Run({"tmux", "-L", socket, "kill-server"});
  }
  std::map<std::string, std::string> Env() const {
    return {{"ORCH_HOME", home},
            {"HOME", dir.path()},
            {"ORCH_TMUX_SOCKET", socket},
            {"GH_TOKEN", ""},
            {"GITHUB_TOKEN", ""}};
  }
};

// `n` in_progress tasks, each session running `writer` + [run dir, interval_ms], and the daemon
// serving them (no webhook, the API on a free port). False, saying why, when it cannot start.
inline bool StartLiveTasks(LiveTasks& s, int n, const std::vector<std::string>& writer,
                           int interval_ms) {
  std::filesystem::create_directories(s.home);
  WriteFile(s.home + "/config.yml",
            "webhook:\n  enabled: false\napi:\n  port: 0\n"
            "engine:\n  tick_interval: 10\n  max_parallel: 64\n"
            "router:\n  mode: round_robin\n  agents: [claude]\n");
  SystemClock clock;
  auto store = std::move(Store::Open(s.home + "/orch.db", clock)).value();
  Project project = *store->AddProject({.name = "bench", .path = s.dir.path()});
  for (int i = 0; i < n; ++i) {
    NewTask nt;
    nt.project_id = project.id;
    nt.title = "session " + std::to_string(i);
    nt.status = TaskStatus::kInProgress;
    Task t = *store->AddTask(nt, {"bench", "live session"});
    std::string run_dir = s.home + "/runs/" + std::to_string(t.id) + "/1";
    std::filesystem::create_directories(run_dir);
    WriteFile(run_dir + "/output.log", "");  // exists before its writer starts
    Attempt run;
    run.task_id = t.id;
    run.agent = "claude";
    run.model = "bench";
    run.command = {"writer"};
    run.tmux_session = SessionName(project.name, t.id);
    run.run_dir = run_dir;
    run.worktree = s.dir.path();
    if (!store->StartAttempt(run).ok()) return false;
    std::vector<std::string> argv = {
        "tmux", "-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", run.tmux_session};
    argv.insert(argv.end(), writer.begin(), writer.end());
    argv.insert(argv.end(), {run_dir, std::to_string(interval_ms)});
    Run(argv);
    s.ids.push_back(t.id);
    s.sessions.push_back(run.tmux_session);
  }
  s.tmux_pid =
      std::atoi(Run({"tmux", "-L", s.socket, "display-message", "-p", "#{pid}"}).out.c_str());
  s.orch = std::make_unique<Background>(std::vector<std::string>{ORCH_BINARY, "serve"}, s.Env(),
                                        s.dir.Sub("orch.out"));
  if (!Eventually([&] { return std::filesystem::exists(s.home + "/state/api.json"); })) {
    fprintf(stderr, "orch serve did not start:\n%s\n", ReadFile(s.dir.Sub("orch.out")).c_str());
    return false;
  }
  s.url = nlohmann::json::parse(ReadFile(s.home + "/state/api.json"))["url"];
  s.token = ReadFile(s.home + "/state/api.token");
  s.token.erase(s.token.find_last_not_of('\n') + 1);
  return true;
}

}  // namespace orch::test

#endif  // ORCH_BENCH_LIVE_TASKS_H_
