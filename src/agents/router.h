// Router: picks the agent, model and complexity for a task.
//
// Order: an `agent:<name>` label naming a configured, installed agent; else, with
// router.mode round_robin, the next of router.agents (the position is kept in the store, so
// it survives restarts); else an LLM classification: router.agent runs prompts/route.md with
// the task fenced as untrusted and answers {executor, complexity, reason, profile,
// selected_skills}; after router.max_route_attempts failures, round robin; and
// router.fallback_executor when nothing else is usable. A `complexity:<c>` label overrides
// the complexity; model_map[complexity][agent] gives the model.
//
// Route() may run an agent CLI for up to router.timeout_seconds: call it off the engine's
// thread when NeedsModel() says so. Thread safety: one Route() at a time per Router.
#ifndef ORCH_AGENTS_ROUTER_H_
#define ORCH_AGENTS_ROUTER_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/subprocess.h"
#include "config/config.h"
#include "store/store.h"
#include "store/task.h"

namespace orch {

struct Route {
  std::string agent;
  std::string model;       // empty: the CLI's default
  std::string complexity;  // simple | medium | complex
  std::string reason;
  nlohmann::json profile = nlohmann::json::object();  // {role, skills, tools, constraints}
  std::vector<std::string> selected_skills;
  std::string by;  // "label", "round_robin", "llm", "fallback"
  // What did not go as configured: an agent label naming an unusable agent, a failed
  // classification, no installed agent (shown by `orch task show`).
  std::vector<std::string> warnings = {};
};

nlohmann::json RouteToJson(const Route& r);
Result<Route> RouteFromJson(const std::string& text);

// Whether agent `name`'s CLI can be started (found in PATH).
using AgentInstalled = std::function<bool(const std::string& name)>;
// The real check: the adapter's command is an executable file in $PATH (or a path).
AgentInstalled PathAgentInstalled(const Config& config);

// model_map[complexity][agent], or "" (the CLI's default) when the map has none. For `review`
// work (a follow-up of a review) model_map.review[agent] comes first when it names a model.
std::string ModelFor(const Config& config, const std::string& complexity, const std::string& agent,
                     bool review = false);

// Reads the classification from an LLM's final text (JSON, possibly fenced). Exposed for tests.
Result<Route> ParseRouteAnswer(const std::string& text);

class Router {
 public:
  // `kv` holds the round-robin position (it may be null: then it starts at 0 each time).
  Router(const Config& config, Store* kv, ProcessRunner& runner, AgentInstalled installed,
         std::string orch_home);

  // The route for `task` under `config` (its project's; without one, the Router's own);
  // never fails for want of an agent while fallback_executor is set.
  Result<Route> RouteTask(const Task& task, const Config& config);
  Result<Route> RouteTask(const Task& task);
  // True when RouteTask would ask an LLM (slow).
  bool NeedsModel(const Task& task, const Config& config) const;
  bool NeedsModel(const Task& task) const;

  static constexpr const char* kRoundRobinKey = "router.round_robin";

 private:
  // The agent of an `agent:<name>` label when it is configured and usable (installed, breaker
  // closed); a run's step gets its named agent whatever its breaker says.
  // Each label it passes over is explained in `warnings` (when given).
  std::optional<std::string> LabelAgent(const Task& task, const Config& c,
                                        std::vector<std::string>* warnings) const;
  Result<Route> RoundRobin(const Config& c);
  Result<Route> AskModel(const Task& task, const Config& c);
  void Finish(const Task& task, const Config& c, Route* route) const;  // complexity, model_map
  std::vector<std::string> Usable(const Config& c) const;

  const Config& config_;
  Store* kv_;
  ProcessRunner& runner_;
  AgentInstalled installed_;
  std::string orch_home_;
  int64_t rr_fallback_ = 0;
};

}  // namespace orch

#endif  // ORCH_AGENTS_ROUTER_H_
