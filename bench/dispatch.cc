// dispatch: how long orch takes around an agent, end to end, with real parts.
//
//   webhook -> first line: from the moment a person labels an issue (the GitHub simulator
//     sends the signed `issues.labeled` delivery) to the agent's first output line appearing in
//     its run log. Covers the receiver, the inbox, the engine tick, the trust check, routing,
//     the work tree (fetch from a local bare origin), the tmux session and the shim.
//   exit -> PR opened: from the agent's exit (the shim's exit file) to the pull request
//     existing on the simulator. Covers noticing the exit, parsing the output, committing,
//     pushing to the bare origin and the REST calls.
//
// Everything is real but the model: `orch serve`, orch-github-sim, git, tmux on a private
// socket, and the agent stand-in answering as claude (it prints a line, sleeps 200 ms, writes a
// file and answers with the contract). Tasks run one at a time so each latency is its own.
//
// Run: build/orch_dispatch_bench [tasks, default 20]. Prints p50/p99/max; asserts nothing but
// that every task reached its PR (exit 1 otherwise).
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/store.h"
#include "testing/test_util.h"

namespace orch::test {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Report(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
  printf("%-28s n=%zu  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", what, v.size(), pct(0.50),
         pct(0.99), v.back());
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

int Main(int tasks) {
  TempDir dir;
  std::string home = dir.Sub("home");
  std::filesystem::create_directories(home);
  MakeRepoWithOrigin(dir.Sub("origin.git"), dir.Sub("work"));
  std::filesystem::create_directories(dir.Sub("bin"));
  std::filesystem::create_symlink(ORCH_AGENT_STANDIN, dir.Sub("bin/claude"));
  std::string socket = "orch-bench-" + std::to_string(getpid());
  int orch_port = FreePort();

  Json seed = {{"authenticated_user", "orch-bot"},
               {"tokens", {"t0ken"}},
               {"repos",
                {{{"full_name", "acme/widgets"},
                  {"collaborators", {{"alice", "admin"}, {"orch-bot", "write"}}},
                  {"labels", {{{"name", "orch"}, {"color", "ededed"}}}}}}}};
  WriteFile(dir.Sub("seed.json"), seed.dump());
  Background sim(
      {ORCH_GITHUB_SIM, "--port", "0", "--port-file", dir.Sub("sim.port"), "--seed",
       dir.Sub("seed.json"), "--webhook-url",
       "http://127.0.0.1:" + std::to_string(orch_port) + "/webhook", "--webhook-secret", "s3cret"},
      {}, dir.Sub("sim.out"));
  if (!Eventually([&] { return !ReadFile(dir.Sub("sim.port")).empty(); })) {
    fprintf(stderr, "the simulator did not start: %s\n", ReadFile(dir.Sub("sim.out")).c_str());
    return 1;
  }
  int sim_port = std::stoi(ReadFile(dir.Sub("sim.port")));
  WriteFile(home + "/config.yml",
            "webhook:\n  secret: s3cret\n  port: " + std::to_string(orch_port) +
                "\ngithub:\n  api_url: http://127.0.0.1:" + std::to_string(sim_port) +
                "\n  token: t0ken\nengine:\n  tick_interval: 10\n  sync_interval: 3600\n"
                "router:\n  mode: round_robin\n  agents: [claude]\n");
  std::map<std::string, std::string> env = {
      {"ORCH_HOME", home},
      {"HOME", dir.path()},
      {"ORCH_TMUX_SOCKET", socket},
      {"PATH", dir.Sub("bin") + ":" + std::string(getenv("PATH"))}};
  {
    // The project, registered as the simulator's repository (as `orch project add` would).
    SystemClock clock;
    Result<std::unique_ptr<Store>> store = Store::Open(home + "/orch.db", clock);
    if (!store.ok() ||
        !(*store)
             ->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = dir.Sub("work")})
             .ok()) {
      fprintf(stderr, "cannot register the project in %s\n", home.c_str());
      return 1;
    }
  }
  Background orch({ORCH_BINARY, "serve"}, env, dir.Sub("orch.out"));
  if (!Eventually([&] {
        return ReadFile(home + "/state/orch.log").find("engine: ticking") != std::string::npos;
      })) {
    fprintf(stderr, "orch did not start: %s\n", ReadFile(dir.Sub("orch.out")).c_str());
    return 1;
  }
  httplib::Client control("127.0.0.1", sim_port);
  httplib::Headers auth = {{"Authorization", "token t0ken"}};

  std::vector<double> to_first_line, exit_to_pr;
  for (int i = 1; i <= tasks; ++i) {
    std::string body = "standin: say first line\nstandin: sleep 200\nstandin: write f" +
                       std::to_string(i) + ".txt x\n";
    auto opened = control.Post(
        "/_sim/repos/acme/widgets/issues",
        Json{{"user", "alice"}, {"title", "Task " + std::to_string(i)}, {"body", body}}.dump(),
        "application/json");
    int number = Json::parse(opened->body)["issue"]["number"];
    // The run directory is known once the task exists; its id is its order here.
    std::string run_dir = home + "/runs/" + std::to_string(i) + "/1";
    std::string branch = "orch/" + std::to_string(number) + "-task-" + std::to_string(i);
    Clock::time_point labelled = Clock::now();
    control.Post("/_sim/repos/acme/widgets/issues/" + std::to_string(number) + "/labels",
                 Json{{"user", "alice"}, {"label", "orch"}}.dump(), "application/json");
    Clock::time_point first{}, exited{}, pr{};
    Clock::time_point deadline = labelled + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (first == Clock::time_point{} &&
          ReadFile(run_dir + "/output.log").find("first line") != std::string::npos) {
        first = Clock::now();
      }
      if (exited == Clock::time_point{} && Exists(run_dir + "/exit.json")) exited = Clock::now();
      if (exited != Clock::time_point{}) {
        auto r = control.Get("/repos/acme/widgets/pulls?state=all&head=acme:" + branch, auth);
        if (r && r->status == 200 && Json::parse(r->body).size() == 1) {
          pr = Clock::now();
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (first == Clock::time_point{} || pr == Clock::time_point{}) {
      fprintf(stderr, "task %d did not reach its PR; orch log:\n%s\n", i,
              ReadFile(home + "/state/orch.log").c_str());
      Run({"tmux", "-L", socket, "kill-server"});
      return 1;
    }
    to_first_line.push_back(Ms(first - labelled));
    exit_to_pr.push_back(Ms(pr - exited));
  }
  Run({"tmux", "-L", socket, "kill-server"});
  printf(
      "dispatch: %d tasks, one at a time (engine.tick_interval 10 s: every step below is "
      "event-driven)\n",
      tasks);
  Report("webhook -> first line", to_first_line);
  Report("agent exit -> PR opened", exit_to_pr);
  return 0;
}

}  // namespace
}  // namespace orch::test

int main(int argc, char** argv) {
  int tasks = argc > 1 ? std::atoi(argv[1]) : 20;
  return orch::test::Main(tasks > 0 ? tasks : 20);
}
