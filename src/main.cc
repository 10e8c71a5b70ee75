// orch: one binary, daemon (`orch serve`) and client (every other command).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "agents/git.h"
#include "agents/shim.h"
#include "base/clock.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  // `orch shim <run-dir>` runs inside an agent's tmux session: no config, no store, no CLI.
  if (argc == 3 && std::string(argv[1]) == "shim") return orch::RunShim(argv[2]);
  // Commands print their results on stdout (often JSON); log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("orch"));
  // The real objects are made here, once, and passed down by reference.
  orch::SystemClock clock;
  orch::Libgit2Git git;
  orch::Context ctx(std::cout, std::cerr, orch::ProcessEnv(), clock, git);
  return orch::RunCli(argc, argv, ctx);
}
