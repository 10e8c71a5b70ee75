// AgentStack: the objects that run agents (tmux, work trees, runner, router, publisher, the
// dispatcher and the work queue its jobs run on),
// wired the same way for the daemon (`orch serve`) and for `orch task run` in the foreground.
// Not thread-safe itself; see each member.
#ifndef ORCH_AGENTS_AGENT_STACK_H_
#define ORCH_AGENTS_AGENT_STACK_H_

#include <memory>
#include <mutex>

#include "agents/dispatch.h"
#include "agents/git.h"
#include "agents/publisher.h"
#include "agents/router.h"
#include "agents/runner.h"
#include "agents/tmux.h"
#include "base/file_system.h"
#include "base/home.h"
#include "base/work_queue.h"
#include "engine/breaker.h"
#include "github/github_rest.h"

namespace orch {

struct AgentStack {
  // `rest` (may be null) supplies tokens for fetch and push; `github` (may be null) is what
  // the dispatcher calls, shared safely between threads. `configs` gives each task its
  // project's settings (a plain Config converts: the same for every project).
  AgentStack(const Home& home, ConfigSet configs, const EnvLookup& env, Store& store,
             const Clock& clock, ProcessRunner& processes, RestGitHubClient* rest,
             GitHubClient* github, std::function<void()> wake)
      : configs(std::move(configs)),
        tmux(processes, TmuxSocketName(env)),
        runner(global(), git, tmux, Options(home, env, rest)),
        breakers(store, global().router, clock),
        router(
            global(), &store, processes,
            [installed = PathAgentInstalled(global()), this](const std::string& agent) {
              return installed(agent) && breakers.Available(agent);
            },
            home.root),
        publisher(runner, github),
        work(kWorkers, std::move(wake)),
        dispatcher({.store = store,
                    .configs = this->configs,
                    .clock = clock,
                    .router = router,
                    .runner = runner,
                    .publisher = publisher,
                    .work = work,
                    .files = files,
                    .breakers = &breakers}) {}
  ~AgentStack() { work.Stop(); }  // before the dispatcher its jobs report to goes

  // Jobs at once: routing calls, agent starts, reading and publishing what agents did.
  static constexpr int kWorkers = 3;

  ConfigSet configs;  // first: the members below hold references into it
  Libgit2Git git;
  RealFileSystem files;
  Tmux tmux;
  Runner runner;
  Breakers breakers;  // an agent whose breaker is open is not offered to the router
  Router router;
  Publisher publisher;
  WorkQueue work;  // the dispatcher's background jobs; wakes the daemon as each ends
  Dispatcher dispatcher;

 private:
  const Config& global() const { return configs.global(); }
  RunnerOptions Options(const Home& home, const EnvLookup& env, RestGitHubClient* rest) {
    RunnerOptions o{.orch_home = home.root, .worktrees_base = env("ORCH_WORKTREES").value_or("")};
    if (rest) {
      o.token_for = [rest, this](const std::string& repo) -> std::string {
        std::lock_guard<std::mutex> l(token_mu_);  // App tokens refresh; workers share them
        Result<std::string> auth = rest->mutable_tokens().Authorization(repo);
        if (!auth.ok()) return "";
        size_t space = auth->find(' ');  // "token X" or "Bearer X"
        return space == std::string::npos ? *auth : auth->substr(space + 1);
      };
    }
    return o;
  }
  std::mutex token_mu_;
};

}  // namespace orch

#endif  // ORCH_AGENTS_AGENT_STACK_H_
