// Config: orch's settings as typed structs, parsed once from YAML.
//
// Two files make one Config: the global `$ORCH_HOME/config.yml` and a project's `.orch.yml`,
// merged key by key with the project winning (maps merge deeply; lists and scalars replace).
// String values may use `${VAR}` and `${VAR:-default}` from the environment, expanded before
// the value is typed, so `port: ${ORCH_PORT:-8080}` works.
//
// Every key below is read by some code or reserved for the issue that wires it (see
// docs/configuration.md); any other key is an error. Errors name the file, the line and the
// dotted key: `config.yml:12: engine.tick_interval: expected a duration like 30, 30s, 5m or 1h,
// got "fast"`. Every problem in the files is reported; checks across keys (an agent named in
// router.agent must exist, ...) run once the files themselves are free of errors.
//
// Parsing is pure: it takes text and an environment lookup, never paths or the real
// environment (the thin loader in config_loader.h does the I/O). Thread safety: values.
#ifndef ORCH_CONFIG_CONFIG_H_
#define ORCH_CONFIG_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/cron.h"

namespace orch {

using Seconds = std::chrono::seconds;

// Where an agent may write. Each adapter maps it onto its CLI's own switch. kNone: no sandbox
// and no approvals at all (codex --dangerously-bypass-approvals-and-sandbox), for machines that
// are a sandbox themselves. Config names: read-only, workspace-write (alias full-auto),
// full-access (alias danger-full-access), none.
enum class Sandbox { kReadOnly, kWorkspaceWrite, kFullAccess, kNone };
enum class RouterMode { kLlm, kRoundRobin };
// How a conflict follow-up brings the base into a pull request's branch.
enum class UpdateStrategy { kMerge, kRebase };
// What reaches the chat channels (notify.h: LevelSends). Config names: all, important,
// errors (alias errors_only), none.
enum class NotificationLevel { kAll, kImportant, kErrors, kNone };
// How a generic agent's output is read: one of the real CLIs' formats, or plain text.
enum class OutputFormat { kClaudeJson, kClaudeStreamJson, kCodexJsonl, kOpencodeJsonl, kText };

const char* SandboxName(Sandbox s);
const char* RouterModeName(RouterMode m);
const char* NotificationLevelName(NotificationLevel l);
const char* OutputFormatName(OutputFormat f);
// A sandbox by any of its config names (aliases included); nullopt when unknown.
std::optional<Sandbox> ParseSandboxName(std::string_view name);

struct WebhookConfig {
  bool enabled = true;
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::string secret;  // empty: the receiver refuses to start (fail closed)
  int64_t max_payload_bytes = 25 * 1024 * 1024;  // GitHub's own cap
  // What the health check fetches; empty: this receiver's own /health. Point it at the public
  // URL (tunnel, proxy) to check the whole path GitHub takes.
  std::string health_url;
};

// The daemon's local API (api_server.h): `orch stream` and SSE clients.
struct ApiConfig {
  std::string bind = "127.0.0.1";
  int port = 7171;  // 0: any free port (the one chosen is in $ORCH_HOME/state/api.json)
};

// Where the store is (store/store.h). Empty: $ORCH_HOME/orch.db, SQLite. A postgres:// URL: a
// PostgreSQL database, which several orch hosts may share.
struct StoreConfig {
  std::string url = "";
};

// Several hosts sharing one PostgreSQL store (engine/cluster.h).
struct ClusterConfig {
  std::string host_id = "";  // empty: the machine's hostname (with a postgres:// store.url)
  // A host that has not renewed its leases for this long is taken as gone: its tasks go to the
  // others, and another host becomes the leader.
  Seconds lease_ttl{60};
};

struct EngineConfig {
  Seconds tick_interval{10};
  Seconds sync_interval{120};
  Seconds fallback_sync_interval{30};
  Seconds webhook_health_check_interval{60};
  int max_parallel = 3;
  // An agent whose output has not grown for this long is ended (its task retried or needs_review).
  Seconds stuck_timeout{1800};
  // A finished agent's tmux session stays this long after its attempt is applied, to look at.
  Seconds keep_finished_sessions{300};
  // The runs/<task>/ logs of a task done this many days ago are deleted; 0 keeps them.
  int run_log_retention_days = 30;
  // Work trees kept per project for reuse after their task is done (worktree_pool.h); 0: none.
  int worktree_pool = 2;
};

struct WorkflowConfig {
  std::vector<std::string> trigger_labels{"orch"};
  std::vector<std::string> allowed_authors;
  int max_attempts = 3;
  // The wait before a retry after a transient agent error: full jitter up to
  // min(retry_max_delay, retry_base_delay * 2^(attempt-1)); a base of 0 retries at once.
  Seconds retry_base_delay{5};
  Seconds retry_max_delay{300};
  int max_review_cycles = 3;  // reviews requesting changes before a person must look
  Seconds timeout{1800};      // key: timeout_seconds
  bool auto_create_followup_on_changes = true;
  bool auto_close_task_on_approval = false;  // false: done when the PR is merged
  // A pooled work tree keeps its ignored files (build caches, dependencies) for the next task.
  bool keep_ignored = false;
  // An @mention on a pull request orch did not open works on that PR's branch too.
  bool mentions_on_foreign_prs = false;
  // Follow-ups made for failing checks on one task's PR before it goes to needs_review.
  int max_ci_fix_attempts = 3;
  // When the base moved and orch's PR conflicts: merge the base in, or rebase onto it.
  UpdateStrategy update_strategy = UpdateStrategy::kMerge;
  Sandbox sandbox = Sandbox::kWorkspaceWrite;
  // The project's test command (an argv, never a shell line): flows' `{{test_command}}`.
  std::vector<std::string> test_command;
};

// Orchestrated runs (runs.h).
struct RunsConfig {
  std::string orchestrator_agent = "codex";  // runs a debug run's aggregated prompt
  bool report_to_comment = true;             // key report_to: comment | none
  bool auto_orchestrate = true;              // key debug.auto_orchestrate
  std::vector<std::string> debug_agents;     // key debug.agents; empty: router.agents
  int session_output_budget = 6000;          // characters of each session in the prompt
  int total_output_budget = 24000;           // characters of all sessions together
  // A flow step's `role` -> the agent that takes it (key roles); a role not listed goes to the
  // router like any task.
  std::map<std::string, std::string> roles;
};

// Plan mode (runs.h): the repositories a goal is planned across.
struct PlanConfig {
  std::optional<std::vector<std::string>> repos;  // registered projects; unset: the project
  bool sequential = false;                        // key mode: parallel | sequential
};

struct RouterConfig {
  RouterMode mode = RouterMode::kLlm;
  std::string agent = "claude";
  std::string model = "haiku";
  Seconds timeout{60};  // key: timeout_seconds
  std::string fallback_executor = "claude";
  int max_route_attempts = 3;
  std::vector<std::string> agents{"claude", "codex", "opencode"};
  // The circuit breaker per agent (breaker.h): failures in a row within the window open it.
  int breaker_failures = 3;
  Seconds breaker_window{600};
  Seconds breaker_cooldown{300};
  std::vector<std::string> allowed_tools;
  std::vector<std::string> default_skills;
};

// model_map.<complexity>.<agent> = model; `review` is for follow-ups of a review. The defaults
// are claude's aliases by size and a model codex knows (docs/configuration.md says why).
struct ModelMap {
  std::map<std::string, std::string> simple{{"claude", "haiku"}, {"codex", "gpt-5.5"}};
  std::map<std::string, std::string> medium{{"claude", "sonnet"}, {"codex", "gpt-5.5"}};
  std::map<std::string, std::string> complex{{"claude", "opus"}, {"codex", "gpt-5.5"}};
  std::map<std::string, std::string> review{{"claude", "sonnet"}, {"codex", "gpt-5.5"}};
};

struct AgentConfig {
  std::string command;  // executable; built-in agents default to their own name
  std::vector<std::string> args;
  std::optional<Sandbox> sandbox;             // overrides workflow.sandbox
  std::optional<OutputFormat> output_format;  // required for agents that are not built in
  std::map<std::string, std::string> env;
  // Network access inside codex's workspace-write sandbox; unset: on (key agents.codex.network).
  std::optional<bool> network;
};

struct GitHubConfig {
  std::string api_url = "https://api.github.com";
  std::string token = "";
  int64_t app_id = 0;
  std::string private_key_path = "";
};

struct TelegramConfig {
  bool enabled = false;
  std::string bot_token;
  std::string chat_id;  // where notifications go, and the only chat whose commands are obeyed
  std::string api_url = "https://api.telegram.org";  // a local fake in tests
};

struct DiscordConfig {
  bool enabled = false;
  std::string bot_token;
  std::string channel_id;
  std::string api_url = "https://discord.com/api/v10";  // a local fake in tests
};

enum class JobType { kTask, kCommand };
const char* JobTypeName(JobType t);

// What a `task` job creates.
struct JobTask {
  std::string title;
  std::string body;
  std::vector<std::string> labels;
  std::string agent;  // becomes an agent:<name> label; empty: the router decides
};

// One scheduled job (jobs.h runs them). Keys: id (older name: `name`), schedule, type, task
// {title, body, labels, agent} (or the older flat title, body, labels), command, dir, timeout,
// enabled, project.
struct JobConfig {
  std::string id;
  std::string schedule;  // as written, for display
  Cron cron;
  JobType type = JobType::kTask;
  JobTask task;
  std::vector<std::string> command;  // argv, never a shell line
  std::string dir;                   // empty: the project's checkout, else $ORCH_HOME
  Seconds timeout{600};
  std::string project;  // empty: every registered project (task jobs)
  bool enabled = true;
};

struct Config {
  WebhookConfig webhook;
  ApiConfig api;
  StoreConfig store;
  ClusterConfig cluster;
  EngineConfig engine;
  WorkflowConfig workflow;
  RouterConfig router;
  ModelMap model_map;
  std::map<std::string, AgentConfig> agents;
  GitHubConfig github;
  TelegramConfig telegram;  // channels.telegram
  DiscordConfig discord;    // channels.discord
  NotificationLevel notification_level = NotificationLevel::kImportant;
  std::vector<JobConfig> jobs;
  RunsConfig runs;
  PlanConfig plan;
};

// The agents orch has adapters for; others need agents.<name>.command and output_format.
bool IsBuiltinAgent(std::string_view name);

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// One YAML document with the name it is reported under.
struct ConfigSource {
  std::string name;  // e.g. "/home/me/.orch/config.yml"
  std::string text;
  // A project's .orch.yml: the daemon-wide sections (webhook, api, engine, github, channels,
  // notifications, jobs) are errors there.
  bool project = false;
  // $ORCH_HOME/jobs.yml: only `jobs` is allowed, and its jobs are added to those before it
  // rather than replacing them.
  bool jobs_file = false;
};

// Where each key of a parsed Config was last set: dotted key ("workflow.max_attempts",
// "agents.claude.args") -> "<file>:<line>". Keys left at their defaults are absent.
using ConfigOrigins = std::map<std::string, std::string>;

// Parses and validates `sources` merged in order (later wins) into a Config. Every problem is
// reported, one per line, each as "<file>:<line>: <key>: <why>"; the Status is kConfig.
// `origins`, when given, receives where each key was set.
Result<Config> ParseConfig(const std::vector<ConfigSource>& sources, const EnvLookup& env,
                           ConfigOrigins* origins = nullptr);

// Renders `config` as YAML with every key, secrets replaced by "***" (for `config show`).
std::string RenderConfig(const Config& config);

// `yaml` (RenderConfig's) with each key's source appended as a comment: `# default`, or
// `# global <file>:<line>` / `# project <file>:<line>`, a file being the project's when its
// name is `project_source`.
std::string AnnotateOrigins(const std::string& yaml, const ConfigOrigins& origins,
                            const std::string& project_source);

// Expands ${VAR} and ${VAR:-default} in `in`; "$${" is a literal "${". Fails on an unset
// variable without a default, or an unterminated reference.
Result<std::string> ExpandEnv(std::string_view in, const EnvLookup& env);

}  // namespace orch

#endif  // ORCH_CONFIG_CONFIG_H_
