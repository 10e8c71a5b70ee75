// orch: one binary, daemon (`orch serve`) and client (every other command).
#include <iostream>

#include "cli.h"
#include "clock.h"
#include "git.h"

int main(int argc, char** argv) {
  // The real objects are made here, once, and passed down by reference.
  orch::SystemClock clock;
  orch::Libgit2Git git;
  orch::Context ctx(std::cout, std::cerr, orch::ProcessEnv(), clock, git);
  return orch::RunCli(argc, argv, ctx);
}
