// orch-github-sim: a local stand-in for api.github.com, for orch's tests and offline demo.
//
//   orch-github-sim [--bind 127.0.0.1] [--port 0] [--port-file PATH] [--seed FILE.json]
//                   [--webhook-url URL] [--webhook-secret S] [--app-public-key PEM-FILE]
//
// Prints "listening on http://HOST:PORT" once it accepts connections and writes PORT to
// --port-file (atomically: a temporary name, then rename). SIGTERM or SIGINT stop it; it exits
// 0 after a clean stop, 2 for a bad command line or seed, 1 when it cannot serve.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "base/status.h"
#include "seed.h"
#include "server.h"

namespace orch::sim {
namespace {

struct Flags {
  std::string bind = "127.0.0.1";
  std::string port = "0";
  std::string port_file;
  std::string seed;
  std::string webhook_url;
  std::string webhook_secret;
  std::string app_public_key;
};

struct FlagRow {
  const char* name;
  std::string Flags::*field;
};

constexpr FlagRow kFlags[] = {
    {"--bind", &Flags::bind},
    {"--port", &Flags::port},
    {"--port-file", &Flags::port_file},
    {"--seed", &Flags::seed},
    {"--webhook-url", &Flags::webhook_url},
    {"--webhook-secret", &Flags::webhook_secret},
    {"--app-public-key", &Flags::app_public_key},
};

constexpr char kUsage[] =
    "usage: orch-github-sim [--bind 127.0.0.1] [--port 0] [--port-file PATH] [--seed FILE.json]\n"
    "                       [--webhook-url URL] [--webhook-secret S] [--app-public-key PEM]\n";

// Accepts "--name value" and "--name=value".
Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Status::InvalidArgument(arg, "needs a value");
    }
    const FlagRow* row = nullptr;
    for (const FlagRow& r : kFlags) {
      if (arg == r.name) row = &r;
    }
    if (row == nullptr) return Status::InvalidArgument(arg, "unknown flag");
    flags.*(row->field) = value;
  }
  if (flags.port.empty() || flags.port.size() > 5 ||
      flags.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(flags.port) > 65535) {
    return Status::InvalidArgument("--port", "not a port number: " + flags.port);
  }
  return flags;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path, "cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return Status::IOError(tmp, "cannot write");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError(path, "cannot rename");
  return Status::OK();
}

int64_t WallNow() { return static_cast<int64_t>(std::time(nullptr)); }

Result<std::unique_ptr<SimServer>> MakeServer(const Flags& flags) {
  std::string seed_text, pem;
  if (!flags.seed.empty()) {
    Result<std::string> text = ReadFile(flags.seed);
    if (!text.ok()) return text.status();
    seed_text = *text;
  }
  pem = flags.app_public_key;
  if (!pem.empty() && pem.rfind("-----BEGIN", 0) != 0) {
    Result<std::string> text = ReadFile(pem);
    if (!text.ok()) return text.status();
    pem = *text;
  }
  Result<Seeded> seeded = LoadSeed(seed_text, WallNow());
  if (!seeded.ok()) return seeded.status();
  if (!seeded->settings.start_time) seeded->state.SetWallClock(WallNow);
  return SimServer::Create(std::move(*seeded),
                           {pem, flags.webhook_url, flags.webhook_secret, WallNow});
}

// Waits for SIGTERM or SIGINT (blocked in every thread) and stops the server, repeating until
// Run() has returned in case the signal came before it started listening.
void StopOnSignal(SimServer* server, const sigset_t* signals, const std::atomic<bool>* done) {
  int sig = 0;
  sigwait(signals, &sig);
  while (!done->load()) {
    server->Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Binds, announces the port, and serves until a signal; the exit code.
int Serve(SimServer& server, const Flags& flags, const sigset_t& signals) {
  Result<int> port = server.Bind(flags.bind, std::stoi(flags.port));
  Status written =
      port.ok() && !flags.port_file.empty() ? WritePortFile(flags.port_file, *port) : port.status();
  if (!written.ok()) {
    std::cerr << "orch-github-sim: " << written.ToString() << "\n";
    return 1;
  }
  std::cout << "listening on http://" << flags.bind << ":" << *port << std::endl;

  std::atomic<bool> done{false};
  std::thread stopper(StopOnSignal, &server, &signals, &done);
  Status served = server.Run();
  done = true;
  pthread_kill(stopper.native_handle(), SIGTERM);  // wakes sigwait if no signal came
  stopper.join();
  if (!flags.port_file.empty()) std::remove(flags.port_file.c_str());
  if (!served.ok()) std::cerr << "orch-github-sim: " << served.ToString() << "\n";
  return served.ok() ? 0 : 1;
}

int Main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  Result<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "orch-github-sim: " << flags.status().ToString() << "\n" << kUsage;
    return 2;
  }
  Result<std::unique_ptr<SimServer>> server = MakeServer(*flags);
  if (!server.ok()) {
    std::cerr << "orch-github-sim: " << server.status().ToString() << "\n";
    return server.status().IsUsageError() ? 2 : 1;
  }
  return Serve(**server, *flags, signals);
}

}  // namespace
}  // namespace orch::sim

int main(int argc, char** argv) { return orch::sim::Main(argc, argv); }
