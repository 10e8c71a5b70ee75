// dashboard: what the web dashboard costs the daemon, and how soon it shows the board.
//
// 50 live tasks (in_progress, each with a tmux session on a private socket running
// orch_stream_bench's writer, which appends a line to its output.log every 200 ms as an agent's
// shim would), registered as the dispatcher leaves them, so `orch serve` adopts them. Then, one
// daemon, phases of the same length:
//   idle:        no client; the daemon's own cost with 50 live agents
//   N clients:   N board streams (GET /api/board/events) connected and idle, N = 1, 10, 50
//   browser:     one dashboard open in headless Chromium (tests/dashboard/drive.js, `hold`)
// CPU from /proc/PID/stat, as % of one core; a phase's cost is its CPU minus idle's.
// First paint: drive.js `paint`, from navigation to the board's first card, and Chromium's own
// first-contentful-paint, five times.
//
// Run: build/orch_dashboard_bench [seconds per phase, default 10]. Needs chromium and
// puppeteer-core (scripts/install-dashboard-test); without them the browser figures are skipped.
// Prints figures; asserts nothing.
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "live_tasks.h"

namespace orch::test {
namespace {

using Json = nlohmann::json;

// The daemon's CPU over `seconds`, in % of one core.
double Phase(const LiveTasks& b, int seconds) {
  double c0 = CpuSeconds(b.orch->pid());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return 100.0 * (CpuSeconds(b.orch->pid()) - c0) / seconds;
}

// N board streams, each counting the events it gets, during one phase.
double BoardClients(const LiveTasks& b, int n, int seconds, int* events) {
  std::atomic<bool> stop{false};
  std::atomic<int> got{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back([&] {
      httplib::Client c(b.url);
      c.set_read_timeout(seconds + 30);
      c.Get("/api/board/events", {{"Authorization", "Bearer " + b.token}},
            [&](const char* data, size_t len) {
              got += static_cast<int>(std::string_view(data, len).find("event: board") !=
                                      std::string_view::npos);
              return !stop.load();
            });
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // connected, first snapshot sent
  int before = got.load();
  double cpu = Phase(b, seconds);
  *events = got.load() - before;
  stop = true;
  for (std::thread& t : clients) t.detach();  // each ends at its next keep-alive or exit
  return cpu;
}

// drive.js `scenario` against the bench's daemon; its figures, or null without a browser.
Json Drive(const LiveTasks& b, const std::string& scenario, Json config) {
  std::string modules = std::string(getenv("HOME")) + "/.cache/orch/dashboard-test";
  if (!std::filesystem::exists("/usr/bin/chromium") ||
      !std::filesystem::exists(modules + "/node_modules/puppeteer-core")) {
    return nullptr;
  }
  ProcessResult login = Run({ORCH_BINARY, "dashboard", "--no-open"}, "", b.Env());
  config["modules"] = modules;
  config["chromium"] = "/usr/bin/chromium";
  config["base"] = b.url;
  config["home"] = b.home;
  config["sim"] = "";
  config["artifacts"] = b.dir.Sub("artifacts");
  config["login"] = login.out.substr(0, login.out.find('\n'));
  WriteFile(b.dir.Sub("drive.json"), config.dump());
  ProcessResult r = Run({"node", std::string(ORCH_SOURCE_DIR) + "/tests/dashboard/drive.js",
                         scenario, b.dir.Sub("drive.json")});
  if (r.exit_code != 0) fprintf(stderr, "drive.js %s: %s\n", scenario.c_str(), r.err.c_str());
  return Json::parse(r.out, nullptr, false);
}

}  // namespace
}  // namespace orch::test

int main(int argc, char** argv) {
  using namespace orch::test;  // NOLINT: main only
  int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  if (seconds <= 0) {
    fprintf(stderr, "usage: %s [seconds per phase]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  constexpr int kTasks = 50;
  LiveTasks b;
  if (!StartLiveTasks(b, kTasks, {ORCH_STREAM_BENCH, "--writer"}, 200)) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // adopted, settled
  printf(
      "dashboard: %d live tasks (a writer each, 5 lines/s), %d s per phase; daemon CPU in %% "
      "of one core\n",
      kTasks, seconds);
  double idle = Phase(b, seconds);
  printf("  idle, no client                %6.3f%%\n", idle);
  for (int n : {1, 10, 50}) {
    int events = 0;
    double cpu = BoardClients(b, n, seconds, &events);
    printf("  %2d board streams, idle         %6.3f%%  (+%.3f%% over idle; %d board events)\n", n,
           cpu, std::max(0.0, cpu - idle), events);
  }
  Json hold = nullptr;
  std::thread browser([&] { hold = Drive(b, "hold", {{"hold_ms", (seconds + 3) * 1000}}); });
  std::this_thread::sleep_for(std::chrono::seconds(3));  // Chromium up, the board loaded
  double open = Phase(b, seconds);
  browser.join();
  if (hold.is_null()) {
    printf(
        "  (no chromium or puppeteer-core: scripts/install-dashboard-test; browser figures "
        "skipped)\n");
    return 0;
  }
  printf("  one dashboard open (Chromium)  %6.3f%%  (+%.3f%% over idle)\n", open,
         std::max(0.0, open - idle));
  std::vector<int> card, fcp;
  for (int i = 0; i < 5; ++i) {
    Json p = Drive(b, "paint", Json::object());
    if (!p.is_object() || !p.contains("board_first_card_ms")) continue;
    card.push_back(p["board_first_card_ms"]);
    if (p["first_contentful_paint_ms"].is_number()) fcp.push_back(p["first_contentful_paint_ms"]);
  }
  std::sort(card.begin(), card.end());
  std::sort(fcp.begin(), fcp.end());
  auto list = [](const std::vector<int>& v) {
    std::string s;
    for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
    return s.empty() ? std::string("none") : s;
  };
  printf("  first paint, 5 loads: board's first card %s ms; first-contentful-paint %s ms\n",
         list(card).c_str(), list(fcp).c_str());
  return 0;
}
