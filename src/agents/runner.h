// Runner: one attempt at a task (an Attempt, store.h) = one git work tree + one tmux session
// running the shim (shim.h). ("Run" alone means an orchestrated run, runs/runs.h.)
//
//   $ORCH_HOME/worktrees/<project>/<branch>/   the work tree (ORCH_WORKTREES moves the base)
//   $ORCH_HOME/worktrees/<project>/.pool/<n>/  pooled work trees (worktree_pool.h)
//   $ORCH_HOME/runs/<task>/<attempt>/          prompt.md, spec.json, output.log, stdout,
//                                              exit.json
//   tmux -L orch: session orch-<project>-<task> (ORCH_TMUX_SOCKET names another server)
//
// Start() is transactional: when any step fails, the work tree and branch it made are removed
// and no session is left. Check() says whether an attempt ended, from the shim's exit file, with
// the session's state as the backstop. A RunWatcher (inotify on the run directories) wakes the
// engine the moment a shim writes its exit file, so completion is not noticed by polling.
//
// Thread safety: Start/Check/Stop may run on worker threads; each touches only its own run.
#ifndef ORCH_AGENTS_RUNNER_H_
#define ORCH_AGENTS_RUNNER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agents/agent.h"
#include "agents/git.h"
#include "agents/shim.h"
#include "agents/tmux.h"
#include "base/dir_watcher.h"
#include "base/status.h"
#include "config/config.h"
#include "store/store.h"

namespace orch {

struct RunnerOptions {
  std::string orch_home;
  std::string worktrees_base;    // empty: $ORCH_HOME/worktrees
  std::string orch_binary = "";  // runs `orch shim`; empty: this process's executable
  // The token for fetching and pushing `repo` over https (empty: none), also removed from the
  // agent's environment by value, whatever variable it came from.
  std::function<std::string(const std::string& repo)> token_for = {};
};

// What to run: the task, where, and how.
struct AttemptPlan {
  Task task;
  Project project;
  std::string agent;
  std::string model;
  int attempt = 1;
  std::string resume_id = "";         // the agent's session to resume, if any
  std::string previous_failure = "";  // why the last attempt failed, told to the agent
  std::string answers = "";  // the questions it asked and their answers (questions.h), as text
  // A conflict follow-up (engine/ci.h): the base branch to bring in before the agent starts,
  // and how (workflow.update_strategy). Empty: none.
  std::string update_base = "";
  bool rebase = false;
  // The task's project's settings (config_set.h); null: the Runner's own.
  std::shared_ptr<const Config> config = nullptr;
  // A pooled work tree (worktree_pool.h) to move to the task's branch; empty: a fresh one is
  // made when the task has none.
  std::string pooled_worktree = "";
};

struct AttemptHandle {
  std::string session;
  std::string run_dir;
  std::string worktree;
  std::string branch;
  std::string base;  // the default branch the work started from
  std::vector<std::string> argv;
};

enum class AttemptState { kRunning, kExited, kVanished };

struct AttemptCheck {
  AttemptState state = AttemptState::kRunning;
  ShimExit exit;  // when kExited
};

// A file in a run directory: a person killed the run (`orch task kill`), so it is not retried.
inline constexpr const char* kKilledMarker = "killed";

// orch/<issue or task id>-<slug of the title>
std::string BranchName(const Task& task);
// orch-<project>-<task id>, with characters tmux dislikes replaced.
std::string SessionName(const std::string& project, int64_t task_id);
// The prompt file's text: the system prompt when the CLI has no switch for it, the task
// fenced as untrusted (with the router's profile and selected skills, a model's reading of
// it), the configured default skills, and the previous failure if any.
std::string BuildAgentPrompt(const AttemptPlan& plan, const std::string& system_prompt,
                             const std::vector<std::string>& default_skills = {});

class Runner {
 public:
  Runner(const Config& config, WorktreeGit& git, Tmux& tmux, RunnerOptions options);

  std::string AttemptDir(int64_t task_id, int attempt) const;
  // Where every task's run directories are: runs/<task>/<attempt>.
  std::string AttemptsDir() const;
  const std::string& worktrees_base() const { return options_.worktrees_base; }
  std::string WorktreePath(const std::string& project, const std::string& branch) const;
  // Where `project`'s pooled work trees are: worktrees/<project>/.pool.
  std::string PoolDir(const std::string& project) const;
  Tmux& tmux() { return tmux_; }

  Result<AttemptHandle> Start(const AttemptPlan& plan);
  // The argv Start would run, without starting anything (recorded on the run's row).
  Result<std::vector<std::string>> Argv(const AttemptPlan& plan) const;
  AttemptCheck Check(const std::string& session, const std::string& run_dir);
  // The agent's output, as the CLI printed it on stdout, and how it ended.
  Result<AgentOutput> ReadOutput(const std::string& run_dir, const ShimExit& exit);
  // Kills the session (the shim kills the agent's process group).
  Status Stop(const std::string& session);
  Status RemoveWorktree(const Project& project, const std::string& path, const std::string& branch);
  // Resets the work tree at `path` and moves it to `dest` in the pool (WorktreeGit::ParkWorktree);
  // `branch` is deleted. Returns the commit its files hold.
  Result<std::string> ParkWorktree(const Project& project, const std::string& path,
                                   const std::string& branch, const std::string& dest,
                                   bool keep_ignored);
  // The remote's default branch task `task_id`'s work started from ("main" if unknown).
  std::string Base(int64_t task_id) const;
  // The paths of `run_dir`'s attempt that a base update left in conflict (conflicts.txt).
  static std::vector<std::string> Conflicts(const std::string& run_dir);
  // WorktreeGit::FinishMerge of `branch` in `worktree`, as orch.
  Result<std::vector<std::string>> FinishMerge(const Project& project, const std::string& worktree,
                                               const std::string& branch,
                                               const std::vector<std::string>& conflicted);
  Result<bool> Commit(const std::string& worktree, const std::string& message,
                      const std::string& name, const std::string& email);
  // Commits on the work tree's branch beyond Base(task_id).
  Result<int> Ahead(const std::string& worktree, int64_t task_id);
  Status Push(const Project& project, const std::string& worktree, const std::string& branch);

 private:
  const Config& ConfigOf(const AttemptPlan& plan) const;
  // What Start made that a failed start must remove.
  struct MadeWorktree {
    bool tree = false;
    bool branch = false;
  };
  Result<MadeWorktree> AddWorktreeIfMissing(const AttemptPlan& plan, const std::string& token,
                                            AttemptHandle& h);
  // A conflict follow-up's merge or rebase of plan.update_base (git.h); returns what the
  // agent's prompt says of it, and keeps the conflicting paths in the run's conflicts.txt.
  Result<std::string> UpdateFromBase(const AttemptPlan& plan, const std::string& token,
                                     const AttemptHandle& h);
  Status StartSession(const AttemptPlan& plan, AgentAdapter& adapter, const std::string& token,
                      AttemptHandle& h);
  ShimSpec Spec(const AttemptPlan& plan, const AgentCommand& cmd, const AttemptHandle& h,
                const std::string& token, const std::string& prompt_path) const;
  std::string Token(const Project& project) const;
  AgentRequest Request(const AttemptPlan& plan, const std::string& system_prompt_file) const;

  const Config& config_;
  WorktreeGit& git_;
  Tmux& tmux_;
  RunnerOptions options_;
};

// Calls `on_exit` (from its watcher's thread) each time a shim writes exit.json in a watched run
// directory. A thin user of DirWatcher: without inotify it warns once and calls nothing, and the
// engine's tick notices exits instead.
class RunWatcher {
 public:
  explicit RunWatcher(std::function<void()> on_exit);
  // Watches `run_dir` until it is removed; a directory that does not exist is not watched.
  void Watch(const std::string& run_dir);

 private:
  std::function<void()> on_exit_;
  DirWatcher watcher_;  // after on_exit_: its thread stops before on_exit_ goes
};

}  // namespace orch

#endif  // ORCH_AGENTS_RUNNER_H_
