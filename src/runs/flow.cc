// Flow definitions and the wave scheduler. yaml-cpp throws; every throw stops in ParseFlow.
#include "runs/flow.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace orch {
namespace {

constexpr const char* kArrow = " \u2192 ";

class FlowReader {
 public:
  FlowReader(std::string file, const std::function<bool(const std::string&)>& is_agent)
      : file_(std::move(file)), is_agent_(is_agent) {}

  Result<Flow> Read(const std::string& yaml) {
    Flow flow;
    flow.file = file_;
    YAML::Node root;
    try {
      root = YAML::Load(yaml);
    } catch (const YAML::ParserException& e) {
      return Status::Config(file_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!root.IsMap()) return Status::Config(file_ + ":1: a flow is a mapping with name and steps");
    for (const auto& kv : root) {
      std::string key = kv.first.Scalar();
      if (key == "name") {
        Scalar(kv.second, "name", &flow.name);
      } else if (key == "description") {
        Scalar(kv.second, "description", &flow.description);
      } else if (key == "pull_request") {
        Bool(kv.second, key, &flow.pull_request);
      } else if (key == "steps") {
        ReadSteps(kv.second, &flow);
      } else {
        Error(kv.first, key, "unknown key (name, description, pull_request, steps)");
      }
    }
    if (flow.name.empty()) Error(root, "name", "required");
    if (flow.steps.empty() && !root["steps"]) Error(root, "steps", "required");
    CheckReferences(flow);
    if (errors_.empty()) CheckCycles(flow);
    if (!errors_.empty()) {
      std::string all;
      for (const std::string& e : errors_) all += (all.empty() ? "" : "\n") + e;
      return Status::Config(all);
    }
    return flow;
  }

 private:
  void Error(const YAML::Node& node, const std::string& key, const std::string& why) {
    errors_.push_back(file_ + ":" + std::to_string(node.Mark().line + 1) + ": " + key + ": " + why);
  }
  void ErrorAtLine(int line, const std::string& key, const std::string& why) {
    errors_.push_back(file_ + ":" + std::to_string(line) + ": " + key + ": " + why);
  }
  bool Scalar(const YAML::Node& node, const std::string& key, std::string* out) {
    if (!node.IsScalar()) {
      Error(node, key, "expected a string");
      return false;
    }
    *out = node.Scalar();
    return true;
  }
  void Bool(const YAML::Node& node, const std::string& key, bool* out) {
    std::string v;
    if (!Scalar(node, key, &v)) return;
    if (v != "true" && v != "false") Error(node, key, "expected true or false");
    *out = v == "true";
  }
  void List(const YAML::Node& node, const std::string& key, std::vector<std::string>* out) {
    if (!node.IsSequence()) {
      Error(node, key, "expected a list");
      return;
    }
    for (const auto& item : node) {
      std::string s;
      if (Scalar(item, key, &s)) out->push_back(s);
    }
  }

  void ReadSteps(const YAML::Node& node, Flow* flow) {
    if (!node.IsSequence()) {
      Error(node, "steps", "expected a list of steps");
      return;
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& n = node[i];
      std::string path = "steps[" + std::to_string(i) + "]";
      if (!n.IsMap()) {
        Error(n, path, "expected a mapping");
        continue;
      }
      std::string kind = "agent";
      FlowStep step = ReadStep(n, path, &kind);
      if (step.id.empty()) {
        Error(n, path + ".id", "required");
      } else if (!ids.insert(step.id).second) {
        Error(n, path + ".id", "\"" + step.id + "\" is used by an earlier step");
      }
      SetKind(n, path, kind, &step);
      flow->steps.push_back(std::move(step));
    }
  }

  // The keys of the step mapping `n` at `path`; its `kind:` goes to `kind` (SetKind checks it).
  FlowStep ReadStep(const YAML::Node& n, const std::string& path, std::string* kind) {
    FlowStep step;
    step.line = n.Mark().line + 1;
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      std::string at = path + "." + key;
      if (key == "id") {
        Scalar(kv.second, at, &step.id);
      } else if (key == "kind") {
        Scalar(kv.second, at, kind);
      } else if (key == "agent") {
        Scalar(kv.second, at, &step.agent);
      } else if (key == "role") {
        Scalar(kv.second, at, &step.role);
      } else if (key == "prompt") {
        Scalar(kv.second, at, &step.prompt);
      } else if (key == "command") {
        List(kv.second, at, &step.command);
      } else if (key == "needs") {
        List(kv.second, at, &step.needs);
      } else if (key == "writes") {
        List(kv.second, at, &step.writes);
      } else if (key == "read_only") {
        Bool(kv.second, at, &step.read_only);
      } else if (key == "not_agent_of") {
        Scalar(kv.second, at, &step.not_agent_of);
      } else if (key == "loop_to") {
        Scalar(kv.second, at, &step.loop_to);
      } else if (key == "max_cycles") {
        MaxCycles(kv.second, at, &step.max_cycles);
      } else {
        Error(kv.first, at,
              "unknown key (id, kind, agent, role, prompt, command, needs, writes, read_only, "
              "not_agent_of, loop_to, max_cycles)");
      }
    }
    return step;
  }

  void MaxCycles(const YAML::Node& node, const std::string& key, int* out) {
    std::string v;
    if (!Scalar(node, key, &v)) return;
    try {
      *out = std::stoi(v);
    } catch (const std::exception&) {
      *out = -1;
    }
    if (*out < 1 || *out > 20) Error(node, key, "expected a number from 1 to 20");
  }

  // Sets the kind of the step at `path` and checks it has the keys that kind needs, and no
  // others.
  void SetKind(const YAML::Node& n, const std::string& path, const std::string& kind,
               FlowStep* step) {
    if (kind == "agent") {
      step->kind = StepKind::kAgent;
      if (step->agent.empty() && step->role.empty()) Error(n, path, "needs an agent or a role");
      if (!step->agent.empty() && !is_agent_(step->agent)) {
        Error(n, path + ".agent", "no agent \"" + step->agent + "\" is configured");
      }
      if (step->prompt.empty()) Error(n, path + ".prompt", "required for an agent step");
      if (!step->command.empty()) Error(n, path + ".command", "only for kind: code");
    } else if (kind == "code") {
      step->kind = StepKind::kCode;
      if (step->command.empty()) {
        Error(n, path + ".command", "required for a code step (an argv)");
      }
      if (!step->agent.empty() || !step->role.empty() || !step->prompt.empty()) {
        Error(n, path, "agent, role and prompt are only for kind: agent");
      }
    } else {
      Error(n, path + ".kind", "\"" + kind + "\" is not one of agent, code");
    }
  }

  // Every need names a step; every {{steps.X.output}} names a step it needs, directly or not.
  void CheckReferences(const Flow& flow) {
    for (size_t i = 0; i < flow.steps.size(); ++i) {
      const FlowStep& s = flow.steps[i];
      std::string path = "steps[" + std::to_string(i) + "]";
      for (const std::string& need : s.needs) {
        if (need == s.id) {
          ErrorAtLine(s.line, path + ".needs", "\"" + s.id + "\" needs itself");
        } else if (flow.Find(need) == nullptr) {
          ErrorAtLine(s.line, path + ".needs", "unknown step \"" + need + "\"");
        }
      }
      if (!s.not_agent_of.empty() && flow.Find(s.not_agent_of) == nullptr) {
        ErrorAtLine(s.line, path + ".not_agent_of", "unknown step \"" + s.not_agent_of + "\"");
      }
    }
    if (!errors_.empty()) return;
    for (size_t i = 0; i < flow.steps.size(); ++i) {
      const FlowStep& s = flow.steps[i];
      if (!s.loop_to.empty() && Ancestors(flow, s.id).count(s.loop_to) == 0) {
        ErrorAtLine(s.line, "steps[" + std::to_string(i) + "].loop_to",
                    "\"" + s.loop_to + "\" is not a step this one needs");
      }
    }
    for (size_t i = 0; i < flow.steps.size(); ++i) {
      const FlowStep& s = flow.steps[i];
      std::set<std::string> before = Ancestors(flow, s.id);
      size_t pos = 0;
      while ((pos = s.prompt.find("{{", pos)) != std::string::npos) {
        size_t end = s.prompt.find("}}", pos);
        if (end == std::string::npos) break;
        std::string ref = s.prompt.substr(pos + 2, end - pos - 2);
        ref.erase(0, ref.find_first_not_of(' '));
        ref.erase(ref.find_last_not_of(' ') + 1);
        pos = end + 2;
        if (ref == "input") continue;
        std::string path = "steps[" + std::to_string(i) + "].prompt";
        if (ref.rfind("steps.", 0) != 0 || ref.size() < 14 ||
            ref.compare(ref.size() - 7, 7, ".output") != 0) {
          ErrorAtLine(s.line, path,
                      "unknown placeholder {{" + ref + "}} (input, steps.<id>.output)");
          continue;
        }
        std::string id = ref.substr(6, ref.size() - 13);
        if (before.count(id) == 0) {
          ErrorAtLine(s.line, path, "{{" + ref + "}}: \"" + id + "\" is not a step this one needs");
        }
      }
    }
  }

  // Depth-first along "runs before" (a need before the step needing it); the first back edge
  // found, in definition order, is the cycle reported.
  void CheckCycles(const Flow& flow) {
    std::map<std::string, std::vector<std::string>> after;  // step -> steps that need it
    for (const FlowStep& s : flow.steps) {
      for (const std::string& n : s.needs) after[n].push_back(s.id);
    }
    std::map<std::string, int> color;  // 0 new, 1 on the path, 2 done
    std::vector<std::string> path;
    std::function<bool(const std::string&)> visit = [&](const std::string& id) {
      color[id] = 1;
      path.push_back(id);
      for (const std::string& next : after[id]) {
        if (color[next] == 1) {
          auto from = std::find(path.begin(), path.end(), next);
          std::string cycle;
          for (auto it = from; it != path.end(); ++it) cycle += *it + kArrow;
          cycle += next;
          const FlowStep* s = flow.Find(next);
          ErrorAtLine(s ? s->line : 1, "steps", "cycle: " + cycle);
          return true;
        }
        if (color[next] == 0 && visit(next)) return true;
      }
      path.pop_back();
      color[id] = 2;
      return false;
    };
    for (const FlowStep& s : flow.steps) {
      if (color[s.id] == 0 && visit(s.id)) return;
    }
  }

  std::string file_;
  const std::function<bool(const std::string&)>& is_agent_;
  std::vector<std::string> errors_;
};

std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string p; std::getline(in, p, '/');) {
    if (!p.empty() && p != ".") parts.push_back(p);
  }
  return parts;
}

}  // namespace

std::set<std::string> Ancestors(const Flow& flow, const std::string& id) {
  std::set<std::string> seen;
  std::vector<std::string> todo = {id};
  while (!todo.empty()) {
    const FlowStep* s = flow.Find(todo.back());
    todo.pop_back();
    if (s == nullptr) continue;
    for (const std::string& n : s->needs) {
      if (seen.insert(n).second) todo.push_back(n);
    }
  }
  return seen;
}

const FlowStep* Flow::Find(const std::string& id) const {
  for (const FlowStep& s : steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

Result<Flow> ParseFlow(const std::string& yaml, const std::string& file,
                       const std::function<bool(const std::string&)>& is_agent) {
  try {
    return FlowReader(file, is_agent).Read(yaml);
  } catch (const YAML::Exception& e) {
    return Status::Config(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

nlohmann::json FlowToJson(const Flow& flow) {
  nlohmann::json steps = nlohmann::json::array();
  for (const FlowStep& s : flow.steps) {
    steps.push_back({{"id", s.id},
                     {"kind", s.kind == StepKind::kCode ? "code" : "agent"},
                     {"agent", s.agent},
                     {"role", s.role},
                     {"prompt", s.prompt},
                     {"command", s.command},
                     {"needs", s.needs},
                     {"writes", s.writes},
                     {"read_only", s.read_only},
                     {"not_agent_of", s.not_agent_of},
                     {"loop_to", s.loop_to},
                     {"max_cycles", s.max_cycles},
                     {"project", s.project}});
  }
  return {{"name", flow.name},   {"description", flow.description},   {"file", flow.file},
          {"model", flow.model}, {"pull_request", flow.pull_request}, {"steps", steps}};
}

Result<Flow> FlowFromJson(const nlohmann::json& j) {
  try {
    Flow flow;
    flow.name = j.at("name").get<std::string>();
    flow.description = j.value("description", "");
    flow.file = j.value("file", "");
    flow.model = j.value("model", "");
    flow.pull_request = j.value("pull_request", false);
    for (const nlohmann::json& s : j.at("steps")) {
      FlowStep step;
      step.id = s.at("id").get<std::string>();
      step.kind = s.value("kind", "agent") == "code" ? StepKind::kCode : StepKind::kAgent;
      step.agent = s.value("agent", "");
      step.role = s.value("role", "");
      step.prompt = s.value("prompt", "");
      step.command = s.value("command", std::vector<std::string>{});
      step.needs = s.value("needs", std::vector<std::string>{});
      step.writes = s.value("writes", std::vector<std::string>{});
      step.read_only = s.value("read_only", false);
      step.not_agent_of = s.value("not_agent_of", "");
      step.loop_to = s.value("loop_to", "");
      step.max_cycles = s.value("max_cycles", 2);
      step.project = s.value("project", "");
      flow.steps.push_back(std::move(step));
    }
    return flow;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument("run definition", e.what());
  }
}

bool RequestsChanges(const std::string& output) {
  bool changes = false;
  std::stringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::string l;
    for (char c : line) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    size_t at = l.find("verdict:");
    if (at == std::string::npos) continue;
    std::string rest = l.substr(at + 8);
    rest.erase(0, rest.find_first_not_of(" *`\"'"));
    if (rest.rfind("changes", 0) == 0) changes = true;
    if (rest.rfind("approve", 0) == 0) changes = false;
  }
  return changes;
}

std::vector<std::vector<std::string>> StaticWaves(const Flow& flow) {
  std::map<std::string, int> depth;
  std::function<int(const FlowStep&)> depth_of = [&](const FlowStep& s) {
    if (auto it = depth.find(s.id); it != depth.end()) return it->second;
    int d = 0;
    for (const std::string& n : s.needs) {
      if (const FlowStep* need = flow.Find(n)) d = std::max(d, depth_of(*need) + 1);
    }
    return depth[s.id] = d;
  };
  std::vector<std::vector<std::string>> waves;
  for (const FlowStep& s : flow.steps) {
    size_t d = static_cast<size_t>(depth_of(s));
    if (waves.size() <= d) waves.resize(d + 1);
    waves[d].push_back(s.id);
  }
  return waves;
}

std::string RenderPrompt(const FlowStep& step, const std::string& input,
                         const std::map<std::string, std::string>& outputs) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = step.prompt.find("{{", pos);
    size_t close = open == std::string::npos ? open : step.prompt.find("}}", open);
    if (close == std::string::npos) break;
    out += step.prompt.substr(pos, open - pos);
    std::string ref = step.prompt.substr(open + 2, close - open - 2);
    ref.erase(0, ref.find_first_not_of(' '));
    ref.erase(ref.find_last_not_of(' ') + 1);
    if (ref == "input") {
      out += input;
    } else if (ref.size() > 13 && ref.rfind("steps.", 0) == 0) {
      auto it = outputs.find(ref.substr(6, ref.size() - 13));
      if (it != outputs.end()) out += it->second;
    }
    pos = close + 2;
  }
  return out + step.prompt.substr(pos);
}

bool PathsOverlap(const std::string& a, const std::string& b) {
  std::vector<std::string> x = Components(a), y = Components(b);
  size_t n = std::min(x.size(), y.size());
  return std::equal(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n), y.begin());
}

const char* StepStateName(StepState s) {
  switch (s) {
    case StepState::kPending:
      return "pending";
    case StepState::kRunning:
      return "running";
    case StepState::kCompleted:
      return "completed";
    case StepState::kFailed:
      return "failed";
    case StepState::kSkipped:
      return "skipped";
  }
  return "?";
}

FlowSchedule::FlowSchedule(const Flow& flow) : flow_(flow) {
  for (const FlowStep& s : flow.steps) states_[s.id] = StepState::kPending;
}

void FlowSchedule::Restore(const std::string& step, StepState state) {
  if (auto it = states_.find(step); it != states_.end()) it->second = state;
}

StepState FlowSchedule::state(const std::string& step) const {
  auto it = states_.find(step);
  return it == states_.end() ? StepState::kPending : it->second;
}

std::vector<std::string> FlowSchedule::NextWave(int max_parallel) {
  std::vector<const FlowStep*> busy;  // running, and chosen now
  for (const FlowStep& s : flow_.steps) {
    if (state(s.id) == StepState::kRunning) busy.push_back(&s);
  }
  std::vector<std::string> wave;
  for (const FlowStep& s : flow_.steps) {
    if (static_cast<int>(busy.size()) >= max_parallel) break;
    if (state(s.id) != StepState::kPending) continue;
    bool ready = std::all_of(s.needs.begin(), s.needs.end(), [&](const std::string& n) {
      return state(n) == StepState::kCompleted;
    });
    if (!ready) continue;
    bool conflict = std::any_of(busy.begin(), busy.end(), [&](const FlowStep* other) {
      for (const std::string& mine : s.writes) {
        for (const std::string& theirs : other->writes) {
          if (PathsOverlap(mine, theirs)) return true;
        }
      }
      return false;
    });
    if (conflict) continue;
    busy.push_back(&s);
    states_[s.id] = StepState::kRunning;
    wave.push_back(s.id);
  }
  return wave;
}

std::vector<std::string> FlowSchedule::Finish(const std::string& step, bool ok) {
  std::vector<std::string> skipped;
  if (state(step) != StepState::kRunning) return skipped;
  states_[step] = ok ? StepState::kCompleted : StepState::kFailed;
  if (ok) return skipped;
  return SkipBlocked();
}

std::vector<std::string> FlowSchedule::SkipBlocked() {
  std::vector<std::string> skipped;
  // Definition order is not dependency order: repeat until nothing more is skipped.
  for (bool more = true; more;) {
    more = false;
    for (const FlowStep& s : flow_.steps) {
      if (state(s.id) != StepState::kPending) continue;
      for (const std::string& n : s.needs) {
        if (state(n) == StepState::kFailed || state(n) == StepState::kSkipped) {
          states_[s.id] = StepState::kSkipped;
          skipped.push_back(s.id);
          more = true;
          break;
        }
      }
    }
  }
  return skipped;
}

bool FlowSchedule::Done() const {
  return std::none_of(states_.begin(), states_.end(), [](const auto& kv) {
    return kv.second == StepState::kPending || kv.second == StepState::kRunning;
  });
}

bool FlowSchedule::Succeeded() const {
  return std::all_of(states_.begin(), states_.end(),
                     [](const auto& kv) { return kv.second == StepState::kCompleted; });
}

std::string FlowSchedule::Report(const std::map<std::string, std::string>& outputs) const {
  std::ostringstream r;
  r << "# Flow " << flow_.name << ": "
    << (!Done()       ? "running"
        : Succeeded() ? "completed"
                      : "failed")
    << "\n";
  for (const FlowStep& s : flow_.steps) {
    StepState st = state(s.id);
    r << "\n## " << s.id << ": " << StepStateName(st) << "\n";
    if (st == StepState::kSkipped) {
      std::string why;
      for (const std::string& n : s.needs) {
        StepState ns = state(n);
        if (ns == StepState::kFailed || ns == StepState::kSkipped)
          why += (why.empty() ? "" : ", ") + n;
      }
      r << "\nNot run: it needs " << why << ".\n";
    }
    auto out = outputs.find(s.id);
    if ((st == StepState::kCompleted || st == StepState::kFailed) && out != outputs.end()) {
      r << "\n" << out->second << (out->second.empty() || out->second.back() != '\n' ? "\n" : "");
    }
  }
  return r.str();
}

}  // namespace orch
