// Parsing and validation of config.yml / .orch.yml. yaml-cpp throws; every throw stops here.
#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>

namespace orch {
namespace {

struct Field;
using Fields = std::vector<Field>;

// Reads YAML nodes into a Config, collecting errors instead of stopping at the first one.
// Sources are parsed in order into the same Config, so a later file overrides only the keys
// it sets; `origin_` remembers where each key was last set for checks made after all files.
class Reader {
 public:
  Reader(const EnvLookup& env, Config* config) : env_(env), config_(config) {}

  void ParseSource(const ConfigSource& source);
  void CheckCrossReferences();
  const std::vector<std::string>& errors() const { return errors_; }
  const ConfigOrigins& origins() const { return origin_; }

 private:
  void Error(const YAML::Node& node, const std::string& key, const std::string& why) {
    errors_.push_back(file_ + ":" + std::to_string(node.Mark().line + 1) + ": " + key + ": " + why);
  }
  void ErrorAt(const std::string& key, const std::string& why) {
    auto it = origin_.find(key);
    errors_.push_back((it == origin_.end() ? std::string("(default)") : it->second) + ": " + key +
                      ": " + why);
  }
  void Remember(const YAML::Node& node, const std::string& key) {
    origin_[key] = file_ + ":" + std::to_string(node.Mark().line + 1);
  }

  // Calls each field's reader for the keys present in `node`; unknown keys are errors.
  void ReadMap(const YAML::Node& node, const std::string& path, const Fields& fields);
  // For maps whose keys are names chosen by the user (agents, model_map.<c>).
  bool ExpectMap(const YAML::Node& node, const std::string& path);

  bool Scalar(const YAML::Node& node, const std::string& key, std::string* out);
  void String(const YAML::Node& node, const std::string& key, std::string* out);
  void Bool(const YAML::Node& node, const std::string& key, bool* out);
  void Int(const YAML::Node& node, const std::string& key, int64_t lo, int64_t hi, int64_t* out);
  void Int(const YAML::Node& node, const std::string& key, int lo, int hi, int* out) {
    int64_t v = *out;
    Int(node, key, lo, hi, &v);
    *out = static_cast<int>(v);
  }
  void Duration(const YAML::Node& node, const std::string& key, Seconds lo, Seconds* out);
  void List(const YAML::Node& node, const std::string& key, std::vector<std::string>* out);
  void StringMap(const YAML::Node& node, const std::string& key,
                 std::map<std::string, std::string>* out);
  template <typename E>
  void Enum(const YAML::Node& node, const std::string& key,
            const std::vector<std::pair<const char*, E>>& names, E* out);

  void ReadAgents(const YAML::Node& node);
  void ReadJob(const YAML::Node& node, const std::string& path, JobConfig* job);
  void ReadJobs(const YAML::Node& node);
  // One reader per top-level section; `path` is the section's key.
  void ReadWebhook(const YAML::Node& node, const std::string& path);
  void ReadApi(const YAML::Node& node, const std::string& path);
  void ReadStore(const YAML::Node& node, const std::string& path);
  void ReadCluster(const YAML::Node& node, const std::string& path);
  void ReadEngine(const YAML::Node& node, const std::string& path);
  void ReadWorkflow(const YAML::Node& node, const std::string& path);
  void ReadRuns(const YAML::Node& node, const std::string& path);
  void ReadPlan(const YAML::Node& node, const std::string& path);
  void ReadRouter(const YAML::Node& node, const std::string& path);
  void ReadModelMap(const YAML::Node& node, const std::string& path);
  void ReadGithub(const YAML::Node& node, const std::string& path);
  void ReadChannels(const YAML::Node& node, const std::string& path);
  void ReadNotifications(const YAML::Node& node, const std::string& path);
  void ReadRoot(const YAML::Node& root);
  void RemoveGlobalOnly(YAML::Node& root);

  const EnvLookup& env_;
  Config* config_;
  std::string file_;
  bool jobs_file_ = false;  // the source being read is $ORCH_HOME/jobs.yml
  std::vector<std::string> errors_;
  ConfigOrigins origin_;
};

struct Field {
  const char* key;
  std::function<void(const YAML::Node&, const std::string&)> read;
};

// The first name of each value is the one printed; the others are aliases taken from Codex's
// own vocabulary (`full-auto` was its workspace-write preset before 0.169).
const std::vector<std::pair<const char*, Sandbox>> kSandboxes = {
    {"read-only", Sandbox::kReadOnly},       {"workspace-write", Sandbox::kWorkspaceWrite},
    {"full-access", Sandbox::kFullAccess},   {"none", Sandbox::kNone},
    {"full-auto", Sandbox::kWorkspaceWrite}, {"danger-full-access", Sandbox::kFullAccess}};
const std::vector<std::pair<const char*, UpdateStrategy>> kUpdateStrategies = {
    {"merge", UpdateStrategy::kMerge}, {"rebase", UpdateStrategy::kRebase}};
const std::vector<std::pair<const char*, bool>> kReportTo = {{"comment", true}, {"none", false}};
const std::vector<std::pair<const char*, bool>> kPlanModes = {{"parallel", false},
                                                              {"sequential", true}};
const std::vector<std::pair<const char*, RouterMode>> kRouterModes = {
    {"llm", RouterMode::kLlm}, {"round_robin", RouterMode::kRoundRobin}};
const std::vector<std::pair<const char*, NotificationLevel>> kLevels = {
    {"all", NotificationLevel::kAll},
    {"important", NotificationLevel::kImportant},
    {"errors", NotificationLevel::kErrors},
    {"none", NotificationLevel::kNone},
    {"errors_only", NotificationLevel::kErrors}};  // the name the issue used
const std::vector<std::pair<const char*, OutputFormat>> kFormats = {
    {"claude-json", OutputFormat::kClaudeJson},
    {"claude-stream-json", OutputFormat::kClaudeStreamJson},
    {"codex-jsonl", OutputFormat::kCodexJsonl},
    {"opencode-jsonl", OutputFormat::kOpencodeJsonl},
    {"text", OutputFormat::kText}};
const std::vector<std::pair<const char*, JobType>> kJobTypes = {{"task", JobType::kTask},
                                                                {"command", JobType::kCommand}};

template <typename E>
const char* NameOf(const std::vector<std::pair<const char*, E>>& names, E value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// For each line of `text`: the dotted key path in effect there, judged by indentation, and
// whether the line itself names that key. One pass; comments, list items and keys that are not
// plain names leave the path as it was.
struct LineKey {
  std::string path;  // "(top level)" outside any key
  bool is_key = false;
};
std::vector<LineKey> KeysByLine(const std::string& text) {
  std::vector<std::pair<size_t, std::string>> stack;  // (indent, key)
  std::vector<LineKey> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    LineKey line;
    size_t indent = l.find_first_not_of(' ');
    bool may_be_key = indent != std::string::npos && l[indent] != '#' && l[indent] != '-';
    size_t colon = may_be_key ? l.find(':', indent) : std::string::npos;
    if (colon != std::string::npos) {
      std::string key = l.substr(indent, colon - indent);
      line.is_key = key.find_first_of(" \"'{[") == std::string::npos;
      if (line.is_key) {
        while (!stack.empty() && stack.back().first >= indent) stack.pop_back();
        stack.emplace_back(indent, key);
      }
    }
    for (const auto& [i, key] : stack) line.path = Join(line.path, key);
    if (line.path.empty()) line.path = "(top level)";
    lines.push_back(std::move(line));
  }
  return lines;
}

// The dotted key path in effect at 0-based `line` of `text`. Used to name the key near a YAML
// syntax error, where yaml-cpp knows only the position.
std::string KeyPathAtLine(const std::string& text, int line) {
  std::vector<LineKey> lines = KeysByLine(text);
  if (line < 0 || lines.empty()) return "(top level)";
  return lines[std::min(static_cast<size_t>(line), lines.size() - 1)].path;
}

void Reader::ReadMap(const YAML::Node& node, const std::string& path, const Fields& fields) {
  if (node.IsNull()) return;  // "engine:" with nothing under it keeps the defaults
  if (!node.IsMap()) {
    Error(node, path.empty() ? "(top level)" : path, "expected a mapping of keys");
    return;
  }
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    std::string full = Join(path, key);
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return key == f.key; });
    if (it == fields.end()) {
      std::string why = "unknown key";
      const Field* best = nullptr;
      size_t best_d = 3;  // suggest only close spellings
      for (const Field& f : fields) {
        size_t d = EditDistance(key, f.key);
        if (d < best_d) best_d = d, best = &f;
      }
      if (best) why += " (did you mean '" + Join(path, best->key) + "'?)";
      Error(kv.first, full, why);
      continue;
    }
    Remember(kv.second, full);
    it->read(kv.second, full);
  }
}

bool Reader::ExpectMap(const YAML::Node& node, const std::string& path) {
  if (node.IsNull()) return false;
  if (!node.IsMap()) {
    Error(node, path, "expected a mapping of names");
    return false;
  }
  return true;
}

bool Reader::Scalar(const YAML::Node& node, const std::string& key, std::string* out) {
  if (node.IsNull()) {
    out->clear();
    return true;
  }
  if (!node.IsScalar()) {
    Error(node, key,
          node.IsSequence() ? "expected a single value, got a list"
                            : "expected a single value, got a mapping");
    return false;
  }
  Result<std::string> expanded = ExpandEnv(node.Scalar(), env_);
  if (!expanded.ok()) {
    Error(node, key, expanded.status().message());
    return false;
  }
  *out = std::move(expanded).value();
  return true;
}

void Reader::String(const YAML::Node& node, const std::string& key, std::string* out) {
  Scalar(node, key, out);
}

void Reader::Bool(const YAML::Node& node, const std::string& key, bool* out) {
  std::string s;
  if (!Scalar(node, key, &s)) return;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on") {
    *out = true;
  } else if (s == "false" || s == "no" || s == "off") {
    *out = false;
  } else {
    Error(node, key, "expected true or false, got \"" + s + "\"");
  }
}

void Reader::Int(const YAML::Node& node, const std::string& key, int64_t lo, int64_t hi,
                 int64_t* out) {
  std::string s;
  if (!Scalar(node, key, &s)) return;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    Error(node, key, "expected a whole number, got \"" + s + "\"");
  } else if (v < lo || v > hi) {
    Error(node, key,
          std::to_string(v) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  } else {
    *out = v;
  }
}

void Reader::Duration(const YAML::Node& node, const std::string& key, Seconds lo, Seconds* out) {
  std::string s;
  if (!Scalar(node, key, &s)) return;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  int64_t mult = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (s.empty() || ec != std::errc() || mult == 0 || n < 0) {
    Error(node, key, "expected a duration like 30, 30s, 5m or 1h, got \"" + s + "\"");
    return;
  }
  const int64_t kMax = 7 * 24 * 3600;  // a week; checked before multiplying, so no overflow
  if (n > kMax / mult || n * mult < lo.count()) {
    Error(node, key,
          "\"" + s + "\" is out of range " + std::to_string(lo.count()) + "s..168h (a week)");
    return;
  }
  *out = Seconds(n * mult);
}

void Reader::List(const YAML::Node& node, const std::string& key, std::vector<std::string>* out) {
  if (node.IsNull()) {
    out->clear();
    return;
  }
  if (!node.IsSequence()) {
    Error(node, key, "expected a list, e.g. [a, b]");
    return;
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string item;
    if (!Scalar(node[i], key + "[" + std::to_string(i) + "]", &item)) return;
    items.push_back(std::move(item));
  }
  *out = std::move(items);
}

void Reader::StringMap(const YAML::Node& node, const std::string& key,
                       std::map<std::string, std::string>* out) {
  if (!ExpectMap(node, key)) return;
  for (const auto& kv : node) {
    std::string value;
    Remember(kv.second, Join(key, kv.first.Scalar()));
    if (Scalar(kv.second, Join(key, kv.first.Scalar()), &value)) {
      (*out)[kv.first.Scalar()] = std::move(value);
    }
  }
}

template <typename E>
void Reader::Enum(const YAML::Node& node, const std::string& key,
                  const std::vector<std::pair<const char*, E>>& names, E* out) {
  std::string s;
  if (!Scalar(node, key, &s)) return;
  std::string allowed;
  for (const auto& [name, value] : names) {
    if (s == name) {
      *out = value;
      return;
    }
    allowed += allowed.empty() ? name : std::string(", ") + name;
  }
  Error(node, key, "\"" + s + "\" is not one of " + allowed);
}

void Reader::ReadAgents(const YAML::Node& node) {
  if (!ExpectMap(node, "agents")) return;
  for (const auto& kv : node) {
    std::string name = kv.first.Scalar();
    std::string path = "agents." + name;
    AgentConfig& a = config_->agents[name];
    Remember(kv.second, path);
    ReadMap(kv.second, path,
            {{"command", [&](auto& n, auto& k) { String(n, k, &a.command); }},
             {"args", [&](auto& n, auto& k) { List(n, k, &a.args); }},
             {"sandbox",
              [&](auto& n, auto& k) {
                Sandbox s{};
                Enum(n, k, kSandboxes, &s);
                a.sandbox = s;
              }},
             {"output_format",
              [&](auto& n, auto& k) {
                OutputFormat f{};
                Enum(n, k, kFormats, &f);
                a.output_format = f;
              }},
             {"env", [&](auto& n, auto& k) { StringMap(n, k, &a.env); }},
             {"network", [&](auto& n, auto& k) {
                bool on = true;
                Bool(n, k, &on);
                a.network = on;
              }}});
  }
}

void Reader::ReadJob(const YAML::Node& node, const std::string& path, JobConfig* job) {
  std::set<std::string> given;
  auto mark = [&](const char* key, auto read) {
    return Field{key, [&given, key, read](const YAML::Node& n, const std::string& k) {
                   given.insert(key);
                   read(n, k);
                 }};
  };
  ReadMap(node, path,
          {mark("id", [&](auto& n, auto& k) { String(n, k, &job->id); }),
           mark("name", [&](auto& n, auto& k) { String(n, k, &job->id); }),
           mark("schedule",
                [&](auto& n, auto& k) {
                  if (!Scalar(n, k, &job->schedule)) return;
                  Result<Cron> cron = ParseCron(job->schedule);
                  if (cron.ok()) {
                    job->cron = *cron;
                  } else {
                    Error(n, k, cron.status().message());
                  }
                }),
           mark("type", [&](auto& n, auto& k) { Enum(n, k, kJobTypes, &job->type); }),
           mark("task",
                [&](auto& n, auto& k) {
                  ReadMap(n, k,
                          {{"title", [&](auto& v, auto& x) { String(v, x, &job->task.title); }},
                           {"body", [&](auto& v, auto& x) { String(v, x, &job->task.body); }},
                           {"labels", [&](auto& v, auto& x) { List(v, x, &job->task.labels); }},
                           {"agent", [&](auto& v, auto& x) { String(v, x, &job->task.agent); }}});
                }),
           mark("title", [&](auto& n, auto& k) { String(n, k, &job->task.title); }),
           mark("body", [&](auto& n, auto& k) { String(n, k, &job->task.body); }),
           mark("labels", [&](auto& n, auto& k) { List(n, k, &job->task.labels); }),
           mark("command", [&](auto& n, auto& k) { List(n, k, &job->command); }),
           mark("dir", [&](auto& n, auto& k) { String(n, k, &job->dir); }),
           mark("timeout", [&](auto& n, auto& k) { Duration(n, k, Seconds(1), &job->timeout); }),
           mark("project", [&](auto& n, auto& k) { String(n, k, &job->project); }),
           mark("enabled", [&](auto& n, auto& k) { Bool(n, k, &job->enabled); })});
  if (!node.IsMap()) return;
  auto has = [&](const char* key) { return given.count(key) > 0; };
  if (has("id") && has("name")) Error(node, path + ".name", "give either id or name, not both");
  if (!has("type")) job->type = has("command") ? JobType::kCommand : JobType::kTask;
  for (const char* key : {"title", "body", "labels"}) {
    if (has(key) && has("task")) {
      Error(node, Join(path, key), std::string("give either ") + key + " or task." + key);
    }
  }
  if (job->id.empty()) {
    Error(node, path + ".id", "required, and must not be empty");
  } else if (job->id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._-") != std::string::npos) {
    Error(node, path + ".id", "\"" + job->id + "\": use letters, digits, '.', '_' and '-' only");
  }
  if (job->schedule.empty()) Error(node, path + ".schedule", "required, and must not be empty");
  if (job->type == JobType::kTask) {
    if (job->task.title.empty()) Error(node, path + ".task.title", "required for a task job");
    for (const char* key : {"command", "dir", "timeout"}) {
      if (has(key)) Error(node, Join(path, key), "only for type: command");
    }
  } else {
    if (job->command.empty()) Error(node, path + ".command", "required for a command job");
    if (has("task") || has("title") || has("body") || has("labels")) {
      Error(node, path + ".task", "only for type: task");
    }
    if (!job->dir.empty() && job->dir[0] != '/') {
      Error(node, path + ".dir", "\"" + job->dir + "\": expected an absolute path");
    }
  }
}

void Reader::ReadJobs(const YAML::Node& node) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    Error(node, "jobs", "expected a list of jobs");
    return;
  }
  // jobs.yml adds to the jobs before it; config.yml replaces (lists replace when merging).
  std::vector<JobConfig> jobs;
  if (jobs_file_) jobs = config_->jobs;
  std::set<std::string> ids;
  for (const JobConfig& j : jobs) ids.insert(j.id);
  for (size_t i = 0; i < node.size(); ++i) {
    std::string path = "jobs[" + std::to_string(i) + "]";
    JobConfig job;
    ReadJob(node[i], path, &job);
    if (!node[i].IsMap()) continue;
    if (!job.id.empty() && !ids.insert(job.id).second) {
      Error(node[i], path + ".id", "duplicate job id \"" + job.id + "\"");
    }
    jobs.push_back(std::move(job));
  }
  config_->jobs = std::move(jobs);
}

void Reader::ReadWebhook(const YAML::Node& node, const std::string& path) {
  auto& wh = config_->webhook;
  ReadMap(
      node, path,
      {{"enabled", [&](auto& v, auto& k) { Bool(v, k, &wh.enabled); }},
       {"port", [&](auto& v, auto& k) { Int(v, k, 1, 65535, &wh.port); }},
       {"bind", [&](auto& v, auto& k) { String(v, k, &wh.bind); }},
       {"secret",
        [&](auto& v, auto& k) {
          String(v, k, &wh.secret);
          // A space is no secret (issue 22): refused here, with the file and line.
          if (!wh.secret.empty() && wh.secret.find_first_not_of(" \t\r\n") == std::string::npos) {
            Error(v, k, "is only whitespace; set the secret GitHub signs with, or leave it out");
          }
        }},
       {"max_payload_bytes",
        [&](auto& v, auto& k) {
          Int(v, k, int64_t{1024}, int64_t{1} << 30, &wh.max_payload_bytes);
        }},
       {"health_url", [&](auto& v, auto& k) { String(v, k, &wh.health_url); }}});
}

void Reader::ReadStore(const YAML::Node& node, const std::string& path) {
  ReadMap(node, path, {{"url", [&](auto& v, auto& k) { String(v, k, &config_->store.url); }}});
}

void Reader::ReadCluster(const YAML::Node& node, const std::string& path) {
  auto& cl = config_->cluster;
  ReadMap(node, path,
          {{"host_id", [&](auto& v, auto& k) { String(v, k, &cl.host_id); }},
           {"lease_ttl", [&](auto& v, auto& k) { Duration(v, k, Seconds(2), &cl.lease_ttl); }}});
}

void Reader::ReadApi(const YAML::Node& node, const std::string& path) {
  auto& api = config_->api;
  ReadMap(node, path,
          {{"bind", [&](auto& v, auto& k) { String(v, k, &api.bind); }},
           {"port", [&](auto& v, auto& k) { Int(v, k, 0, 65535, &api.port); }}});
}

void Reader::ReadEngine(const YAML::Node& node, const std::string& path) {
  auto& en = config_->engine;
  const Seconds one(1);
  ReadMap(
      node, path,
      {{"tick_interval", [&](auto& v, auto& k) { Duration(v, k, one, &en.tick_interval); }},
       {"sync_interval", [&](auto& v, auto& k) { Duration(v, k, one, &en.sync_interval); }},
       {"fallback_sync_interval",
        [&](auto& v, auto& k) { Duration(v, k, one, &en.fallback_sync_interval); }},
       {"webhook_health_check_interval",
        [&](auto& v, auto& k) { Duration(v, k, one, &en.webhook_health_check_interval); }},
       {"max_parallel", [&](auto& v, auto& k) { Int(v, k, 1, 64, &en.max_parallel); }},
       {"stuck_timeout", [&](auto& v, auto& k) { Duration(v, k, Seconds(1), &en.stuck_timeout); }},
       {"keep_finished_sessions",
        [&](auto& v, auto& k) { Duration(v, k, Seconds(0), &en.keep_finished_sessions); }},
       {"run_log_retention_days",
        [&](auto& v, auto& k) { Int(v, k, 0, 3650, &en.run_log_retention_days); }},
       {"worktree_pool", [&](auto& v, auto& k) { Int(v, k, 0, 64, &en.worktree_pool); }}});
}

void Reader::ReadWorkflow(const YAML::Node& node, const std::string& path) {
  auto& wf = config_->workflow;
  ReadMap(
      node, path,
      {{"trigger_labels", [&](auto& v, auto& k) { List(v, k, &wf.trigger_labels); }},
       {"allowed_authors", [&](auto& v, auto& k) { List(v, k, &wf.allowed_authors); }},
       {"max_attempts", [&](auto& v, auto& k) { Int(v, k, 1, 100, &wf.max_attempts); }},
       {"retry_base_delay",
        [&](auto& v, auto& k) { Duration(v, k, Seconds(0), &wf.retry_base_delay); }},
       {"retry_max_delay",
        [&](auto& v, auto& k) { Duration(v, k, Seconds(0), &wf.retry_max_delay); }},
       {"max_review_cycles", [&](auto& v, auto& k) { Int(v, k, 1, 100, &wf.max_review_cycles); }},
       {"timeout_seconds", [&](auto& v, auto& k) { Duration(v, k, Seconds(1), &wf.timeout); }},
       {"auto_create_followup_on_changes",
        [&](auto& v, auto& k) { Bool(v, k, &wf.auto_create_followup_on_changes); }},
       {"auto_close_task_on_approval",
        [&](auto& v, auto& k) { Bool(v, k, &wf.auto_close_task_on_approval); }},
       {"keep_ignored", [&](auto& v, auto& k) { Bool(v, k, &wf.keep_ignored); }},
       {"mentions_on_foreign_prs",
        [&](auto& v, auto& k) { Bool(v, k, &wf.mentions_on_foreign_prs); }},
       {"max_ci_fix_attempts",
        [&](auto& v, auto& k) { Int(v, k, 0, 100, &wf.max_ci_fix_attempts); }},
       {"update_strategy",
        [&](auto& v, auto& k) { Enum(v, k, kUpdateStrategies, &wf.update_strategy); }},
       {"sandbox", [&](auto& v, auto& k) { Enum(v, k, kSandboxes, &wf.sandbox); }},
       {"test_command", [&](auto& v, auto& k) { List(v, k, &wf.test_command); }}});
}

void Reader::ReadRuns(const YAML::Node& node, const std::string& path) {
  auto& r = config_->runs;
  ReadMap(node, path,
          {{"orchestrator_agent", [&](auto& v, auto& k) { String(v, k, &r.orchestrator_agent); }},
           {"report_to", [&](auto& v, auto& k) { Enum(v, k, kReportTo, &r.report_to_comment); }},
           {"session_output_budget",
            [&](auto& v, auto& k) { Int(v, k, 200, 1000000, &r.session_output_budget); }},
           {"total_output_budget",
            [&](auto& v, auto& k) { Int(v, k, 200, 10000000, &r.total_output_budget); }},
           {"roles", [&](auto& v, auto& k) { StringMap(v, k, &r.roles); }},
           {"debug", [&](auto& v, auto& k) {
              ReadMap(
                  v, k,
                  {{"auto_orchestrate", [&](auto& x, auto& y) { Bool(x, y, &r.auto_orchestrate); }},
                   {"agents", [&](auto& x, auto& y) { List(x, y, &r.debug_agents); }}});
            }}});
}

void Reader::ReadPlan(const YAML::Node& node, const std::string& path) {
  auto& plan = config_->plan;
  ReadMap(node, path,
          {{"repos",
            [&](auto& v, auto& k) {
              std::vector<std::string> repos;
              List(v, k, &repos);
              plan.repos = repos;
            }},
           {"mode", [&](auto& v, auto& k) { Enum(v, k, kPlanModes, &plan.sequential); }}});
}

void Reader::ReadRouter(const YAML::Node& node, const std::string& path) {
  auto& rt = config_->router;
  const Seconds one(1);
  ReadMap(
      node, path,
      {{"mode", [&](auto& v, auto& k) { Enum(v, k, kRouterModes, &rt.mode); }},
       {"agent", [&](auto& v, auto& k) { String(v, k, &rt.agent); }},
       {"model", [&](auto& v, auto& k) { String(v, k, &rt.model); }},
       {"timeout_seconds", [&](auto& v, auto& k) { Duration(v, k, one, &rt.timeout); }},
       {"fallback_executor", [&](auto& v, auto& k) { String(v, k, &rt.fallback_executor); }},
       {"max_route_attempts", [&](auto& v, auto& k) { Int(v, k, 1, 20, &rt.max_route_attempts); }},
       {"agents", [&](auto& v, auto& k) { List(v, k, &rt.agents); }},
       {"breaker_failures", [&](auto& v, auto& k) { Int(v, k, 1, 100, &rt.breaker_failures); }},
       {"breaker_window", [&](auto& v, auto& k) { Duration(v, k, one, &rt.breaker_window); }},
       {"breaker_cooldown", [&](auto& v, auto& k) { Duration(v, k, one, &rt.breaker_cooldown); }},
       {"allowed_tools", [&](auto& v, auto& k) { List(v, k, &rt.allowed_tools); }},
       {"default_skills", [&](auto& v, auto& k) { List(v, k, &rt.default_skills); }}});
}

void Reader::ReadModelMap(const YAML::Node& node, const std::string& path) {
  auto& mm = config_->model_map;
  ReadMap(node, path,
          {{"simple", [&](auto& v, auto& k) { StringMap(v, k, &mm.simple); }},
           {"medium", [&](auto& v, auto& k) { StringMap(v, k, &mm.medium); }},
           {"complex", [&](auto& v, auto& k) { StringMap(v, k, &mm.complex); }},
           {"review", [&](auto& v, auto& k) { StringMap(v, k, &mm.review); }}});
}

void Reader::ReadGithub(const YAML::Node& node, const std::string& path) {
  auto& gh = config_->github;
  ReadMap(node, path,
          {{"api_url", [&](auto& v, auto& k) { String(v, k, &gh.api_url); }},
           {"token", [&](auto& v, auto& k) { String(v, k, &gh.token); }},
           {"app_id", [&](auto& v, auto& k) { Int(v, k, 0, INT64_MAX, &gh.app_id); }},
           {"private_key_path", [&](auto& v, auto& k) { String(v, k, &gh.private_key_path); }}});
}

void Reader::ReadChannels(const YAML::Node& node, const std::string& path) {
  auto& tg = config_->telegram;
  auto& dc = config_->discord;
  ReadMap(node, path,
          {{"telegram",
            [&](auto& v, auto& k) {
              ReadMap(v, k,
                      {{"enabled", [&](auto& x, auto& y) { Bool(x, y, &tg.enabled); }},
                       {"bot_token", [&](auto& x, auto& y) { String(x, y, &tg.bot_token); }},
                       {"chat_id", [&](auto& x, auto& y) { String(x, y, &tg.chat_id); }},
                       {"api_url", [&](auto& x, auto& y) { String(x, y, &tg.api_url); }}});
            }},
           {"discord", [&](auto& v, auto& k) {
              ReadMap(v, k,
                      {{"enabled", [&](auto& x, auto& y) { Bool(x, y, &dc.enabled); }},
                       {"bot_token", [&](auto& x, auto& y) { String(x, y, &dc.bot_token); }},
                       {"channel_id", [&](auto& x, auto& y) { String(x, y, &dc.channel_id); }},
                       {"api_url", [&](auto& x, auto& y) { String(x, y, &dc.api_url); }}});
            }}});
}

void Reader::ReadNotifications(const YAML::Node& node, const std::string& path) {
  ReadMap(
      node, path,
      {{"level", [&](auto& v, auto& k) { Enum(v, k, kLevels, &config_->notification_level); }}});
}

void Reader::ReadRoot(const YAML::Node& root) {
  ReadMap(root, "",
          {{"webhook", [&](auto& n, auto& p) { ReadWebhook(n, p); }},
           {"api", [&](auto& n, auto& p) { ReadApi(n, p); }},
           {"store", [&](auto& n, auto& p) { ReadStore(n, p); }},
           {"cluster", [&](auto& n, auto& p) { ReadCluster(n, p); }},
           {"engine", [&](auto& n, auto& p) { ReadEngine(n, p); }},
           {"workflow", [&](auto& n, auto& p) { ReadWorkflow(n, p); }},
           {"runs", [&](auto& n, auto& p) { ReadRuns(n, p); }},
           {"plan", [&](auto& n, auto& p) { ReadPlan(n, p); }},
           {"router", [&](auto& n, auto& p) { ReadRouter(n, p); }},
           {"model_map", [&](auto& n, auto& p) { ReadModelMap(n, p); }},
           {"agents", [&](auto& n, auto&) { ReadAgents(n); }},
           {"github", [&](auto& n, auto& p) { ReadGithub(n, p); }},
           {"channels", [&](auto& n, auto& p) { ReadChannels(n, p); }},
           {"notifications", [&](auto& n, auto& p) { ReadNotifications(n, p); }},
           {"jobs", [&](auto& n, auto&) { ReadJobs(n); }}});
}

// Sections that configure the one daemon rather than a repository's work: a project's file
// may not set them, since nothing would read them there.
// Jobs too: the scheduler reads config.yml and jobs.yml only (a job's `project` scopes it).
constexpr const char* kGlobalOnly[] = {"webhook", "api",      "store",         "cluster", "engine",
                                       "github",  "channels", "notifications", "jobs"};

// Reports each key of a project file that only the global file may set, by the line of the key
// itself, and drops it so that the rest of the file is still checked.
void Reader::RemoveGlobalOnly(YAML::Node& root) {
  auto drop = [this](YAML::Node& map, const std::string& path, const char* key, const char* why) {
    for (const auto& kv : map) {
      if (kv.first.Scalar() == key) Error(kv.first, Join(path, key), why);
    }
    map.remove(key);
  };
  for (const char* section : kGlobalOnly) {
    if (!root[section]) continue;
    drop(root, "", section,
         "only allowed in the global config.yml (it configures the daemon, not a project)");
  }
  // The circuit breakers are one per agent for the whole daemon.
  if (YAML::Node router = root["router"]; router.IsMap()) {
    for (const char* key : {"breaker_failures", "breaker_window", "breaker_cooldown"}) {
      if (!router[key]) continue;
      drop(router, "router", key,
           "only allowed in the global config.yml (a breaker is per agent, for the whole "
           "daemon)");
    }
  }
}

void Reader::ParseSource(const ConfigSource& source) {
  file_ = source.name;
  jobs_file_ = source.jobs_file;
  YAML::Node root;
  try {
    root = YAML::Load(source.text);
  } catch (const YAML::Exception& e) {
    errors_.push_back(file_ + ":" + std::to_string(e.mark.line + 1) + ": " +
                      KeyPathAtLine(source.text, e.mark.line) + ": YAML syntax error: " + e.msg);
    return;
  }
  if (source.jobs_file && root.IsMap()) {
    for (const auto& kv : root) {
      if (kv.first.Scalar() != "jobs") {
        Error(kv.first, kv.first.Scalar(), "jobs.yml may hold only `jobs`");
      }
    }
    if (!root["jobs"]) return;
    YAML::Node only;
    only["jobs"] = root["jobs"];
    root = only;
  }
  if (source.project && root.IsMap()) {
    RemoveGlobalOnly(root);
  }
  try {
    ReadRoot(root);
  } catch (const YAML::Exception& e) {  // e.g. a key that is itself a mapping
    errors_.push_back(file_ + ":" + std::to_string(e.mark.line + 1) + ": " +
                      KeyPathAtLine(source.text, e.mark.line) + ": " + e.msg);
  }
}

void Reader::CheckCrossReferences() {
  const Config& c = *config_;
  auto known = [&](const std::string& name) {
    return IsBuiltinAgent(name) || c.agents.count(name) > 0;
  };
  auto check_agent = [&](const std::string& key, const std::string& name) {
    if (!name.empty() && !known(name)) {
      ErrorAt(key, "unknown agent \"" + name +
                       "\" (built in: claude, codex, opencode; others go under agents.<name>)");
    }
  };
  check_agent("router.agent", c.router.agent);
  check_agent("router.fallback_executor", c.router.fallback_executor);
  check_agent("runs.orchestrator_agent", c.runs.orchestrator_agent);
  for (const auto& name : c.runs.debug_agents) check_agent("runs.debug.agents", name);
  for (const auto& [role, name] : c.runs.roles) check_agent("runs.roles." + role, name);
  for (const auto& name : c.router.agents) check_agent("router.agents", name);
  const std::pair<const char*, const std::map<std::string, std::string>*> maps[] = {
      {"simple", &c.model_map.simple},
      {"medium", &c.model_map.medium},
      {"complex", &c.model_map.complex},
      {"review", &c.model_map.review}};
  for (const auto& [complexity, m] : maps) {
    for (const auto& [agent, model] : *m) {
      check_agent(std::string("model_map.") + complexity + "." + agent, agent);
    }
  }
  for (const auto& [name, a] : c.agents) {
    if (IsBuiltinAgent(name)) continue;
    if (a.command.empty()) ErrorAt("agents." + name, "command is required for a custom agent");
    if (!a.output_format) {
      ErrorAt("agents." + name, "output_format is required for a custom agent");
    }
  }
  if ((c.github.app_id != 0) != !c.github.private_key_path.empty()) {
    ErrorAt(c.github.app_id != 0 ? "github.app_id" : "github.private_key_path",
            "a GitHub App needs both app_id and private_key_path");
  }
  if (c.telegram.enabled && (c.telegram.bot_token.empty() || c.telegram.chat_id.empty())) {
    ErrorAt("channels.telegram.enabled", "telegram needs bot_token and chat_id");
  }
  if (c.discord.enabled && (c.discord.bot_token.empty() || c.discord.channel_id.empty())) {
    ErrorAt("channels.discord.enabled", "discord needs bot_token and channel_id");
  }
  for (size_t i = 0; i < c.jobs.size(); ++i) {
    check_agent("jobs[" + std::to_string(i) + "].task.agent", c.jobs[i].task.agent);
  }
  if (c.webhook.bind.empty()) ErrorAt("webhook.bind", "must not be empty");
  if (c.api.bind.empty()) ErrorAt("api.bind", "must not be empty");
  if (!c.store.url.empty() && c.store.url.rfind("postgres://", 0) != 0 &&
      c.store.url.rfind("postgresql://", 0) != 0) {
    ErrorAt("store.url", "must be empty (SQLite in $ORCH_HOME) or a postgres:// URL");
  }
  for (const auto& [key, url] :
       {std::pair<const char*, const std::string&>{"github.api_url", c.github.api_url},
        {"channels.telegram.api_url", c.telegram.api_url},
        {"channels.discord.api_url", c.discord.api_url}}) {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      ErrorAt(key, "expected an http:// or https:// URL");
    }
  }
}

}  // namespace

const char* SandboxName(Sandbox s) { return NameOf(kSandboxes, s); }

std::optional<Sandbox> ParseSandboxName(std::string_view name) {
  for (const auto& [n, value] : kSandboxes) {
    if (name == n) return value;
  }
  return std::nullopt;
}
const char* RouterModeName(RouterMode m) { return NameOf(kRouterModes, m); }
const char* NotificationLevelName(NotificationLevel l) { return NameOf(kLevels, l); }
const char* OutputFormatName(OutputFormat f) { return NameOf(kFormats, f); }
const char* JobTypeName(JobType t) { return NameOf(kJobTypes, t); }

bool IsBuiltinAgent(std::string_view name) {
  return name == "claude" || name == "codex" || name == "opencode";
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<std::string> ExpandEnv(std::string_view in, const EnvLookup& env) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (in.compare(i, 2, "${") != 0) {
      out += in[i++];
      continue;
    }
    size_t end = in.find('}', i + 2);
    if (end == std::string_view::npos) {
      return Status::Config("unterminated ${ in \"" + std::string(in) + "\"");
    }
    std::string_view ref = in.substr(i + 2, end - i - 2);
    std::optional<std::string> fallback;
    if (size_t sep = ref.find(":-"); sep != std::string_view::npos) {
      fallback = std::string(ref.substr(sep + 2));
      ref = ref.substr(0, sep);
    }
    bool valid = !ref.empty() && !std::isdigit(static_cast<unsigned char>(ref[0]));
    for (char ch : ref)
      valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    if (!valid) return Status::Config("bad variable name \"${" + std::string(ref) + "}\"");
    std::optional<std::string> value = env(std::string(ref));
    // As in the shell, ":-" also covers a variable that is set but empty.
    if (!value || (value->empty() && fallback)) {
      if (!fallback) {
        return Status::Config("environment variable " + std::string(ref) + " is not set (write ${" +
                              std::string(ref) + ":-default} to give a default)");
      }
      value = fallback;
    }
    out += *value;
    i = end + 1;
  }
  return out;
}

Result<Config> ParseConfig(const std::vector<ConfigSource>& sources, const EnvLookup& env,
                           ConfigOrigins* origins) {
  Config config;
  Reader reader(env, &config);
  for (const ConfigSource& source : sources) reader.ParseSource(source);
  if (reader.errors().empty()) reader.CheckCrossReferences();
  if (!reader.errors().empty()) {
    std::string all;
    for (const std::string& e : reader.errors()) all += (all.empty() ? "" : "\n") + e;
    return Status::Config(all);
  }
  if (origins != nullptr) *origins = reader.origins();
  return config;
}

std::string AnnotateOrigins(const std::string& yaml, const ConfigOrigins& origins,
                            const std::string& project_source) {
  auto describe = [&](const std::string& path) -> std::string {
    auto it = origins.find(path);
    // A job's keys are not remembered one by one: the jobs list says where they came from.
    if (it == origins.end() && path.rfind("jobs.", 0) == 0) it = origins.find("jobs");
    if (it == origins.end()) return "default";
    bool project = !project_source.empty() && it->second.rfind(project_source + ":", 0) == 0;
    return (project ? "project " : "global ") + it->second;
  };
  std::vector<LineKey> keys = KeysByLine(yaml);
  size_t block_indent = std::string::npos;  // inside a block scalar (`|`) begun at this indent
  std::istringstream in(yaml);
  std::ostringstream out;
  size_t n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    out << line;
    size_t indent = line.find_first_not_of(' ');
    if (block_indent != std::string::npos &&
        (indent == std::string::npos || indent > block_indent)) {
      out << "\n";  // a block scalar's text, never annotated
      continue;
    }
    block_indent = std::string::npos;
    // A key with a value on its line; a mapping's head says nothing, its keys do.
    size_t value = keys[n].is_key ? line.find_first_not_of(' ', line.find(':', indent) + 1)
                                  : std::string::npos;
    if (value != std::string::npos) {
      out << "  # " << describe(keys[n].path);
      if (line[value] == '|' || line[value] == '>') block_indent = indent;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace orch
