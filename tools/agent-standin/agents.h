// The three imitated CLIs. Each takes argv without the program name, prints what the real CLI
// prints for it and returns the process exit code (or never returns, for "hang").
#ifndef ORCH_AGENT_STANDIN_AGENTS_H_
#define ORCH_AGENT_STANDIN_AGENTS_H_

#include <string>
#include <vector>

namespace orch::standin {

int RunClaude(const std::vector<std::string>& argv);
int RunCodex(const std::vector<std::string>& argv);
int RunOpencode(const std::vector<std::string>& argv);

}  // namespace orch::standin

#endif  // ORCH_AGENT_STANDIN_AGENTS_H_
