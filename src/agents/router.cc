#include "agents/router.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "agents/agent.h"
#include "agents/prompt.h"

namespace orch {
namespace {

const char* const kComplexities[] = {"simple", "medium", "complex"};

bool IsComplexity(const std::string& c) {
  for (const char* k : kComplexities) {
    if (c == k) return true;
  }
  return false;
}

std::vector<std::string> Strings(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

bool Executable(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

nlohmann::json RouteToJson(const Route& r) {
  return {{"agent", r.agent},   {"model", r.model},      {"complexity", r.complexity},
          {"reason", r.reason}, {"profile", r.profile},  {"selected_skills", r.selected_skills},
          {"by", r.by},         {"warnings", r.warnings}};
}

Result<Route> RouteFromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::Corruption("route", "not a JSON object");
  Route r;
  r.agent = j.value("agent", "");
  r.model = j.value("model", "");
  r.complexity = j.value("complexity", "");
  r.reason = j.value("reason", "");
  if (j.contains("profile") && j["profile"].is_object()) r.profile = j["profile"];
  r.selected_skills = Strings(j.value("selected_skills", nlohmann::json::array()));
  r.by = j.value("by", "");
  r.warnings = Strings(j.value("warnings", nlohmann::json::array()));
  return r;
}

AgentInstalled PathAgentInstalled(const Config& config) {
  return [&config](const std::string& name) {
    std::string command = name;
    auto it = config.agents.find(name);
    if (it != config.agents.end() && !it->second.command.empty()) command = it->second.command;
    if (command.find('/') != std::string::npos) return Executable(command);
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && Executable(dir + "/" + command)) return true;
    }
    return false;
  };
}

Result<Route> ParseRouteAnswer(const std::string& text) {
  // Models wrap JSON in prose or fences; take the outermost object that parses.
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  // Else the widest {...} span that parses as an object with an executor, trying each opening
  // brace from the left (prose before the JSON may hold braces of its own).
  int starts = 0;
  for (size_t open = text.find('{'); !j.is_object() && open != std::string::npos && starts < 32;
       open = text.find('{', open + 1), ++starts) {
    for (size_t close = text.rfind('}'); close != std::string::npos && close > open;
         close = close == 0 ? std::string::npos : text.rfind('}', close - 1)) {
      nlohmann::json c = nlohmann::json::parse(text.substr(open, close - open + 1), nullptr, false);
      if (c.is_object() && c.contains("executor")) {
        j = std::move(c);
        break;
      }
    }
  }
  if (!j.is_object()) return Status::InvalidArgument("route answer", "no JSON object in it");
  Route r;
  if (!j.contains("executor") || !j["executor"].is_string()) {
    return Status::InvalidArgument("route answer", "no \"executor\"");
  }
  r.agent = j["executor"].get<std::string>();
  r.complexity = j.value("complexity", "");
  if (!IsComplexity(r.complexity)) {
    return Status::InvalidArgument(
        "route answer", "complexity \"" + r.complexity + "\" is not simple|medium|complex");
  }
  if (j.contains("reason") && j["reason"].is_string()) r.reason = j["reason"];
  if (j.contains("profile") && j["profile"].is_object()) r.profile = j["profile"];
  r.selected_skills = Strings(j.value("selected_skills", nlohmann::json::array()));
  r.by = "llm";
  return r;
}

Router::Router(const Config& config, Store* kv, ProcessRunner& runner, AgentInstalled installed,
               std::string orch_home)
    : config_(config),
      kv_(kv),
      runner_(runner),
      installed_(std::move(installed)),
      orch_home_(std::move(orch_home)) {}

std::vector<std::string> Router::Usable(const Config& c) const {
  std::vector<std::string> out;
  for (const auto& a : c.router.agents) {
    if (installed_(a)) out.push_back(a);
  }
  return out;
}

std::optional<std::string> Router::LabelAgent(const Task& task, const Config& c,
                                              std::vector<std::string>* warnings) const {
  for (const auto& l : task.labels) {
    if (l.rfind("agent:", 0) != 0) continue;
    std::string name = l.substr(6);
    bool known = IsBuiltinAgent(name) || c.agents.count(name) > 0;
    std::string why;
    if (!known) {
      why = "label " + l + " names no configured agent";
    } else if (task.run_id || installed_(name)) {
      // A run's step keeps its named agent even while that agent's breaker is open (the
      // dispatcher waits out the cooldown): a debug run compares agents.
      return name;
    } else {
      why = "label " + l + ": " + name + " is not installed or its circuit breaker is open";
    }
    spdlog::warn("router: task {}: {}", task.id, why);
    if (warnings != nullptr) warnings->push_back(why);
  }
  return std::nullopt;
}

bool Router::NeedsModel(const Task& task) const { return NeedsModel(task, config_); }

bool Router::NeedsModel(const Task& task, const Config& c) const {
  return !LabelAgent(task, c, nullptr) && c.router.mode == RouterMode::kLlm;
}

Result<Route> Router::RouteTask(const Task& task) { return RouteTask(task, config_); }

Result<Route> Router::RouteTask(const Task& task, const Config& c) {
  Route route;
  std::vector<std::string> warnings;
  if (std::optional<std::string> agent = LabelAgent(task, c, &warnings)) {
    route.agent = *agent;
    route.by = "label";
    route.reason = "the task's agent:" + *agent + " label";
  } else if (c.router.mode == RouterMode::kRoundRobin) {
    Result<Route> rr = RoundRobin(c);
    if (!rr.ok()) return rr.status();
    route = *rr;
  } else {
    Result<Route> asked = AskModel(task, c);
    if (asked.ok()) {
      route = *asked;
    } else {
      spdlog::warn("router: task {}: classification failed, using round robin: {}", task.id,
                   asked.status().message());
      Result<Route> rr = RoundRobin(c);
      if (!rr.ok()) return rr.status();
      route = *rr;
      route.reason = "classification failed (" + asked.status().message() + "); " + route.reason;
      warnings.push_back("classification by " + c.router.agent + " failed (" +
                         asked.status().message() + "); routed by round robin");
    }
  }
  if (route.by == "fallback") warnings.push_back(route.reason);
  route.warnings.insert(route.warnings.begin(), warnings.begin(), warnings.end());
  Finish(task, c, &route);
  // A `model:<name>` label (a run started with a model) overrides the model map.
  for (const auto& l : task.labels) {
    if (l.rfind("model:", 0) == 0 && l.size() > 6) route.model = l.substr(6);
  }
  return route;
}

Result<Route> Router::RoundRobin(const Config& c) {
  std::vector<std::string> usable = Usable(c);
  Route r;
  if (usable.empty()) {
    r.agent = c.router.fallback_executor;
    r.by = "fallback";
    r.reason = "none of router.agents is installed; router.fallback_executor";
    return r;
  }
  int64_t next = rr_fallback_;
  if (kv_) {
    Result<std::optional<std::string>> v = kv_->GetKv(kRoundRobinKey);
    if (!v.ok()) return v.status();
    if (*v) next = std::atoll((*v)->c_str());
  }
  r.agent = usable[static_cast<size_t>(next) % usable.size()];
  r.by = "round_robin";
  r.reason = "round robin over " + std::to_string(usable.size()) + " agent(s)";
  rr_fallback_ = next + 1;
  if (kv_) ORCH_RETURN_IF_ERROR(kv_->SetKv(kRoundRobinKey, std::to_string(next + 1)));
  return r;
}

Result<Route> Router::AskModel(const Task& task, const Config& c) {
  std::vector<std::string> usable = Usable(c);
  if (usable.empty()) return Status::NotFound("router", "none of router.agents is installed");
  Result<PromptFile> tmpl = LoadPrompt(orch_home_, "route.md");
  if (!tmpl.ok()) return tmpl.status();
  std::string agents, skills;
  for (const auto& a : usable) agents += (agents.empty() ? "" : ", ") + a;
  for (const auto& s : c.router.default_skills) skills += (skills.empty() ? "" : ", ") + s;
  std::string untrusted = "Title: " + task.title + "\nLabels: ";
  for (const auto& l : task.labels) untrusted += l + " ";
  untrusted += "\n\n" + task.body;
  std::string prompt = FillTemplate(tmpl->text, {{"agents", agents},
                                                 {"skills", skills.empty() ? "none" : skills},
                                                 {"task", DefuseMarkers(untrusted)}});
  Result<std::unique_ptr<AgentAdapter>> adapter = MakeAgentAdapter(c.router.agent, c);
  if (!adapter.ok()) return adapter.status();
  AgentRequest req;
  req.model = c.router.model;
  req.workdir = orch_home_;
  req.sandbox = Sandbox::kReadOnly;
  AgentCommand cmd = (*adapter)->Build(req);
  Status last;
  for (int attempt = 1; attempt <= std::max(1, c.router.max_route_attempts); ++attempt) {
    ProcessOptions opts{
        .argv = cmd.argv,
        .cwd = orch_home_,
        .env_set = cmd.env_set,
        .env_unset = {"GH_TOKEN", "GITHUB_TOKEN"},
        .stdin_data = prompt,
        .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.router.timeout)};
    // The classifier reads issue text too: an allowlisted environment, as an agent run's.
    opts.env_keep = AgentEnvironment(cmd);
    opts.env_set["ORCH_AGENT"] = c.router.agent;
    opts.env_set["ORCH_MODEL"] = c.router.model;
    Result<ProcessResult> ran = runner_.Run(opts);
    if (!ran.ok()) {
      last = ran.status();
      continue;
    }
    AgentResult res = (*adapter)->Parse({.exit_code = ran->exit_code,
                                         .timed_out = ran->timed_out,
                                         .stdout_text = ran->out,
                                         .stderr_text = ran->err});
    if (res.error != AgentError::kNone && res.error != AgentError::kUnparseable) {
      last = Status::Unavailable("router " + c.router.agent,
                                 std::string(AgentErrorName(res.error)) + ": " + res.error_message);
      continue;
    }
    Result<Route> route = ParseRouteAnswer(res.final_text);
    if (!route.ok()) {
      last = route.status();
      continue;
    }
    bool listed = false;
    for (const auto& a : usable) listed = listed || a == route->agent;
    if (!listed) {
      last = Status::InvalidArgument("route answer",
                                     "executor \"" + route->agent + "\" is not available");
      continue;
    }
    return route;
  }
  return last;
}

void Router::Finish(const Task& task, const Config& c, Route* route) const {
  for (const auto& l : task.labels) {
    if (l.rfind("complexity:", 0) == 0 && IsComplexity(l.substr(11))) {
      route->complexity = l.substr(11);
    }
  }
  if (route->complexity.empty()) route->complexity = "medium";
  route->model = ModelFor(c, route->complexity, route->agent, IsFollowUp(task));
}

std::string ModelFor(const Config& config, const std::string& complexity, const std::string& agent,
                     bool review) {
  if (review) {
    auto it = config.model_map.review.find(agent);
    if (it != config.model_map.review.end() && !it->second.empty()) return it->second;
  }
  const std::map<std::string, std::string>& models =
      complexity == "simple"    ? config.model_map.simple
      : complexity == "complex" ? config.model_map.complex
                                : config.model_map.medium;
  auto it = models.find(agent);
  return it == models.end() ? "" : it->second;
}

}  // namespace orch
