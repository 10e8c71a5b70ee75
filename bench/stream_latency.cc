// stream_latency: how fast and how cheaply agents' output reaches a watcher, at 10 and 50 live
// sessions, for orch's SSE stream and for the reference design's 2 s `tmux capture-pane` poll.
//
// Each session is a real tmux session on a private socket, registered in the store as an
// in_progress task with an unfinished run, as the dispatcher leaves it, so `orch serve` adopts
// it like any agent. What runs in it is a small writer (this binary with --writer) instead of an
// agent stand-in: it appends "L <seq> <CLOCK_MONOTONIC ns>" lines to the run's output.log (as the
// shim does) and prints them to the pane, at a fixed rate with a random phase. A writer, not
// `standin: say` in a loop, because the latency needs the write time inside the line, the rate
// must be the same for every session, and a stand-in per line would add process starts and
// shim CPU to the numbers being compared.
//
// Per session count, three phases of the same length, one daemon:
//   idle:  writers only; the daemon's own cost with N live agents (ticks, reaping checks).
//   sse:   one stream client per session (GET /api/tasks/ID/stream); latency = receive time -
//          write time of every line written in the phase; daemon CPU from /proc/PID/stat.
//   poll:  the reference design: every 2 s `tmux capture-pane -p` of every session; latency =
//          when a line first shows up in a capture - its write time; CPU = the poller thread +
//          the tmux clients it starts + what the tmux server burnt beyond the idle phase.
//
// Run: build/orch_stream_bench [seconds per phase, default 10] [lines/s per session, default 5].
// Prints figures; asserts nothing.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "live_tasks.h"
#include "stream/stream.h"

namespace orch::test {
namespace {

using Json = nlohmann::json;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The writer inside each tmux session: one line every `interval_ms` until killed.
int Writer(const std::string& run_dir, int interval_ms) {
  int fd = open((run_dir + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  std::mt19937 rng(static_cast<unsigned>(getpid()));
  std::this_thread::sleep_for(std::chrono::milliseconds(rng() % interval_ms));
  for (int64_t seq = 0;; ++seq) {
    std::string line = "L " + std::to_string(seq) + " " + std::to_string(NowNs()) + "\n";
    if (write(fd, line.data(), line.size()) < 0) return 1;
    fwrite(line.data(), 1, line.size(), stdout);
    fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

double ChildrenCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// Collects latencies of lines "L <seq> <ns>" written at or after `since_ns`.
struct Latencies {
  std::mutex mu;
  std::vector<double> ms;
  void Line(std::string_view line, int64_t since_ns, int64_t now_ns) {
    if (line.rfind("L ", 0) != 0) return;
    size_t sp = line.find(' ', 2);
    if (sp == std::string_view::npos) return;
    int64_t written = std::stoll(std::string(line.substr(sp + 1)));
    if (written < since_ns) return;
    std::lock_guard<std::mutex> lock(mu);
    ms.push_back(static_cast<double>(now_ns - written) / 1e6);
  }
};

std::string Percentiles(std::vector<double> v) {
  if (v.empty()) return "no lines";
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
  char buf[160];
  snprintf(buf, sizeof buf, "n=%-6zu p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms", v.size(), pct(0.50),
           pct(0.99), v.back());
  return buf;
}

// One stream client per task until `stop`; lines written from `since_ns` on are measured.
void Stream(const LiveTasks& s, int64_t id, const std::atomic<bool>& stop,
            const std::atomic<int64_t>& since_ns, Latencies& out) {
  httplib::Client client(s.url);
  client.set_read_timeout(30);
  client.set_tcp_nodelay(true);
  SseParser parser;
  std::string partial;
  std::error_code ec;
  uint64_t offset =
      std::filesystem::file_size(s.home + "/runs/" + std::to_string(id) + "/1/output.log", ec);
  if (ec) offset = 0;
  client.Get("/api/tasks/" + std::to_string(id) + "/stream",
             {{"Authorization", "Bearer " + s.token}, {"Last-Event-ID", std::to_string(offset)}},
             [&](const char* data, size_t n) {
               int64_t now = NowNs();
               parser.Feed(std::string_view(data, n), [&](const SseMessage& m) {
                 Result<StreamEvent> e = ParseStreamEvent(m);
                 if (!e.ok()) return;
                 partial += e->content;
                 size_t nl;
                 while ((nl = partial.find('\n')) != std::string::npos) {
                   out.Line(std::string_view(partial).substr(0, nl), since_ns.load(), now);
                   partial.erase(0, nl + 1);
                 }
               });
               return !stop.load();
             });
}

// The reference: capture every pane every 2 s and note lines not seen before.
void Poll(const LiveTasks& s, const std::atomic<bool>& stop, int64_t since_ns, Latencies& out,
          double* cpu) {
  double start = ThreadCpuSeconds();
  std::vector<int64_t> last_seq(s.sessions.size(), -1);
  while (!stop.load()) {
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (size_t i = 0; i < s.sessions.size(); ++i) {
      ProcessResult r = Run(
          {"tmux", "-L", s.socket, "capture-pane", "-p", "-J", "-t", "=" + s.sessions[i] + ":"});
      int64_t now = NowNs();
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) {
        int64_t seq = -1;
        if (sscanf(line.c_str(), "L %ld", &seq) != 1 || seq <= last_seq[i]) continue;
        last_seq[i] = seq;
        out.Line(line, since_ns, now);
      }
    }
    while (!stop.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  *cpu = ThreadCpuSeconds() - start;
}

double Pct(double cpu_seconds, double seconds) { return 100.0 * cpu_seconds / seconds; }

void Measure(int n, int seconds, int lines_per_second, const std::string& self) {
  LiveTasks s;
  if (!StartLiveTasks(s, n, {self, "--writer"}, 1000 / lines_per_second)) return;
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the daemon settles, adopts
  auto phase = std::chrono::seconds(seconds);
  const double secs = static_cast<double>(seconds);
  int pid = s.orch->pid();

  // Idle: writers only.
  double d0 = CpuSeconds(pid), t0 = CpuSeconds(s.tmux_pid);
  std::this_thread::sleep_for(phase);
  double idle_daemon = CpuSeconds(pid) - d0, idle_tmux = CpuSeconds(s.tmux_pid) - t0;

  // SSE: a client per session.
  Latencies sse;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> since{INT64_MAX};
  std::vector<std::thread> clients;
  for (int64_t id : s.ids) {
    clients.emplace_back([&, id] { Stream(s, id, stop, since, sse); });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // all connected
  since = NowNs();
  d0 = CpuSeconds(pid);
  std::this_thread::sleep_for(phase);
  double sse_daemon = CpuSeconds(pid) - d0;
  stop = true;
  for (std::thread& c : clients) c.join();  // each returns at its next line

  // Poll: the reference design.
  Latencies poll;
  std::atomic<bool> stop_poll{false};
  double poll_thread = 0;
  d0 = CpuSeconds(pid);
  t0 = CpuSeconds(s.tmux_pid);
  double c0 = ChildrenCpuSeconds();
  std::thread poller([&] { Poll(s, stop_poll, NowNs(), poll, &poll_thread); });
  std::this_thread::sleep_for(phase);
  stop_poll = true;
  poller.join();
  double poll_children = ChildrenCpuSeconds() - c0;
  double poll_tmux_extra = std::max(0.0, CpuSeconds(s.tmux_pid) - t0 - idle_tmux);
  double poll_daemon = CpuSeconds(pid) - d0;
  double poll_cpu = poll_thread + poll_children + poll_tmux_extra;

  printf("\n%d live sessions, %d lines/s each, %d s per phase\n", n, lines_per_second, seconds);
  printf("  latency  sse stream        %s\n", Percentiles(sse.ms).c_str());
  printf("  latency  2 s capture-pane  %s\n", Percentiles(poll.ms).c_str());
  printf("  CPU (%% of one core)         total     per session\n");
  printf("  daemon, idle (no readers)  %7.3f%%   %8.4f%%\n", Pct(idle_daemon, secs),
         Pct(idle_daemon, secs) / n);
  printf("  daemon, serving sse        %7.3f%%   %8.4f%%   (streaming alone: %.4f%%/session)\n",
         Pct(sse_daemon, secs), Pct(sse_daemon, secs) / n,
         Pct(std::max(0.0, sse_daemon - idle_daemon), secs) / n);
  printf("  daemon, during the poll    %7.3f%%   %8.4f%%\n", Pct(poll_daemon, secs),
         Pct(poll_daemon, secs) / n);
  printf(
      "  2 s capture-pane poller    %7.3f%%   %8.4f%%   (thread %.3f s, tmux clients %.3f s, "
      "tmux server extra %.3f s)\n",
      Pct(poll_cpu, secs), Pct(poll_cpu, secs) / n, poll_thread, poll_children, poll_tmux_extra);
  fflush(stdout);
}

}  // namespace
}  // namespace orch::test

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--writer") {
    return orch::test::Writer(argv[2], std::atoi(argv[3]));
  }
  int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  int rate = argc > 2 ? std::atoi(argv[2]) : 5;
  if (seconds <= 0 || rate <= 0 || rate > 1000) {
    fprintf(stderr, "usage: %s [seconds per phase] [lines/s per session]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  std::string self = std::filesystem::canonical("/proc/self/exe");
  printf("stream latency: agent writes a line -> a client has it; CPU from /proc/PID/stat\n");
  for (int n : {10, 50}) orch::test::Measure(n, seconds, rate, self);
  return 0;
}
