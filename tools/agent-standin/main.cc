// orch-agent-standin: one program that answers as `claude`, `codex` or `opencode`, chosen by
// the name it was started under (a symlink) or by $ORCH_STANDIN_AS. See README.md.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agents.h"
#include "standin_io.h"

namespace {

struct Agent {
  const char* name;
  int (*run)(const std::vector<std::string>& argv);
};

constexpr Agent kAgents[] = {
    {"claude", orch::standin::RunClaude},
    {"codex", orch::standin::RunCodex},
    {"opencode", orch::standin::RunOpencode},
};

std::string Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

}  // namespace

int main(int argc, char** argv) {
  const char* forced = std::getenv("ORCH_STANDIN_AS");
  std::string as = forced && *forced ? forced : Basename(argv[0]);
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const Agent& agent : kAgents) {
    if (as == agent.name) return agent.run(args);
  }
  orch::standin::Err(
      "orch-agent-standin: run me as claude, codex or opencode (a symlink of "
      "that name, or ORCH_STANDIN_AS); not as \"" +
      as + "\"\n");
  return 2;
}
