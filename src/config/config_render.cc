// RenderConfig: the merged configuration as YAML, for `orch config show`.
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "store/sql.h"

namespace orch {
namespace {

const char* kMasked = "***";

std::string Mask(const std::string& secret) { return secret.empty() ? "" : kMasked; }

// Environment values of agents often hold keys; mask those whose names say so.
bool LooksSecret(const std::string& name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"KEY", "TOKEN", "SECRET", "PASSWORD"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

void EmitList(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& item : items) out << item;
  out << YAML::EndSeq;
}

void EmitMap(YAML::Emitter& out, const char* key, const std::map<std::string, std::string>& m) {
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : m) out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
}

std::string Secs(Seconds s) { return std::to_string(s.count()) + "s"; }

void EmitAgents(YAML::Emitter& out, const std::map<std::string, AgentConfig>& agents) {
  out << YAML::Key << "agents" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, a] : agents) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "command" << YAML::Value << a.command;
    EmitList(out, "args", a.args);
    if (a.sandbox) out << YAML::Key << "sandbox" << YAML::Value << SandboxName(*a.sandbox);
    if (a.network) out << YAML::Key << "network" << YAML::Value << *a.network;
    if (a.output_format) {
      out << YAML::Key << "output_format" << YAML::Value << OutputFormatName(*a.output_format);
    }
    std::map<std::string, std::string> env;
    for (const auto& [k, v] : a.env) env[k] = LooksSecret(k) ? Mask(v) : v;
    EmitMap(out, "env", env);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void EmitJobs(YAML::Emitter& out, const std::vector<JobConfig>& jobs) {
  out << YAML::Key << "jobs" << YAML::Value << YAML::BeginSeq;
  for (const auto& j : jobs) {
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << j.id;
    out << YAML::Key << "schedule" << YAML::Value << j.schedule;
    out << YAML::Key << "type" << YAML::Value << JobTypeName(j.type);
    if (j.type == JobType::kTask) {
      out << YAML::Key << "task" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "title" << YAML::Value << j.task.title;
      out << YAML::Key << "body" << YAML::Value << j.task.body;
      EmitList(out, "labels", j.task.labels);
      out << YAML::Key << "agent" << YAML::Value << j.task.agent;
      out << YAML::EndMap;
    } else {
      EmitList(out, "command", j.command);
      out << YAML::Key << "dir" << YAML::Value << j.dir;
      out << YAML::Key << "timeout" << YAML::Value << Secs(j.timeout);
    }
    out << YAML::Key << "project" << YAML::Value << j.project;
    out << YAML::Key << "enabled" << YAML::Value << j.enabled;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void EmitWebhook(YAML::Emitter& out, const WebhookConfig& wh) {
  out << YAML::Key << "webhook" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << wh.enabled;
  out << YAML::Key << "port" << YAML::Value << wh.port;
  out << YAML::Key << "bind" << YAML::Value << wh.bind;
  out << YAML::Key << "secret" << YAML::Value << Mask(wh.secret);
  out << YAML::Key << "max_payload_bytes" << YAML::Value << wh.max_payload_bytes;
  out << YAML::Key << "health_url" << YAML::Value << wh.health_url;
  out << YAML::EndMap;
}

void EmitApi(YAML::Emitter& out, const ApiConfig& api) {
  out << YAML::Key << "api" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bind" << YAML::Value << api.bind;
  out << YAML::Key << "port" << YAML::Value << api.port;
  out << YAML::EndMap;
}

void EmitStore(YAML::Emitter& out, const StoreConfig& store) {
  out << YAML::Key << "store" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "url" << YAML::Value << sql::RedactedUrl(store.url);
  out << YAML::EndMap;
}

void EmitCluster(YAML::Emitter& out, const ClusterConfig& cluster) {
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "host_id" << YAML::Value << cluster.host_id;
  out << YAML::Key << "lease_ttl" << YAML::Value << Secs(cluster.lease_ttl);
  out << YAML::EndMap;
}

void EmitEngine(YAML::Emitter& out, const EngineConfig& e) {
  out << YAML::Key << "engine" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "tick_interval" << YAML::Value << Secs(e.tick_interval);
  out << YAML::Key << "sync_interval" << YAML::Value << Secs(e.sync_interval);
  out << YAML::Key << "fallback_sync_interval" << YAML::Value << Secs(e.fallback_sync_interval);
  out << YAML::Key << "webhook_health_check_interval" << YAML::Value
      << Secs(e.webhook_health_check_interval);
  out << YAML::Key << "max_parallel" << YAML::Value << e.max_parallel;
  out << YAML::Key << "stuck_timeout" << YAML::Value << Secs(e.stuck_timeout);
  out << YAML::Key << "keep_finished_sessions" << YAML::Value << Secs(e.keep_finished_sessions);
  out << YAML::Key << "run_log_retention_days" << YAML::Value << e.run_log_retention_days;
  out << YAML::Key << "worktree_pool" << YAML::Value << e.worktree_pool;
  out << YAML::EndMap;
}

void EmitWorkflow(YAML::Emitter& out, const WorkflowConfig& w) {
  out << YAML::Key << "workflow" << YAML::Value << YAML::BeginMap;
  EmitList(out, "trigger_labels", w.trigger_labels);
  EmitList(out, "allowed_authors", w.allowed_authors);
  out << YAML::Key << "max_attempts" << YAML::Value << w.max_attempts;
  out << YAML::Key << "retry_base_delay" << YAML::Value << w.retry_base_delay.count();
  out << YAML::Key << "retry_max_delay" << YAML::Value << w.retry_max_delay.count();
  out << YAML::Key << "max_review_cycles" << YAML::Value << w.max_review_cycles;
  out << YAML::Key << "timeout_seconds" << YAML::Value << w.timeout.count();
  out << YAML::Key << "auto_create_followup_on_changes" << YAML::Value
      << w.auto_create_followup_on_changes;
  out << YAML::Key << "auto_close_task_on_approval" << YAML::Value << w.auto_close_task_on_approval;
  out << YAML::Key << "keep_ignored" << YAML::Value << w.keep_ignored;
  out << YAML::Key << "mentions_on_foreign_prs" << YAML::Value << w.mentions_on_foreign_prs;
  out << YAML::Key << "max_ci_fix_attempts" << YAML::Value << w.max_ci_fix_attempts;
  out << YAML::Key << "update_strategy" << YAML::Value
      << (w.update_strategy == UpdateStrategy::kRebase ? "rebase" : "merge");
  out << YAML::Key << "sandbox" << YAML::Value << SandboxName(w.sandbox);
  EmitList(out, "test_command", w.test_command);
  out << YAML::EndMap;
}

void EmitRuns(YAML::Emitter& out, const RunsConfig& rn) {
  out << YAML::Key << "runs" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "orchestrator_agent" << YAML::Value << rn.orchestrator_agent;
  out << YAML::Key << "report_to" << YAML::Value << (rn.report_to_comment ? "comment" : "none");
  out << YAML::Key << "session_output_budget" << YAML::Value << rn.session_output_budget;
  out << YAML::Key << "total_output_budget" << YAML::Value << rn.total_output_budget;
  EmitMap(out, "roles", rn.roles);
  out << YAML::Key << "debug" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "auto_orchestrate" << YAML::Value << rn.auto_orchestrate;
  EmitList(out, "agents", rn.debug_agents);
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void EmitPlan(YAML::Emitter& out, const PlanConfig& plan) {
  out << YAML::Key << "plan" << YAML::Value << YAML::BeginMap;
  if (plan.repos) EmitList(out, "repos", *plan.repos);
  out << YAML::Key << "mode" << YAML::Value << (plan.sequential ? "sequential" : "parallel");
  out << YAML::EndMap;
}

void EmitRouter(YAML::Emitter& out, const RouterConfig& r) {
  out << YAML::Key << "router" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "mode" << YAML::Value << RouterModeName(r.mode);
  out << YAML::Key << "agent" << YAML::Value << r.agent;
  out << YAML::Key << "model" << YAML::Value << r.model;
  out << YAML::Key << "timeout_seconds" << YAML::Value << r.timeout.count();
  out << YAML::Key << "fallback_executor" << YAML::Value << r.fallback_executor;
  out << YAML::Key << "max_route_attempts" << YAML::Value << r.max_route_attempts;
  EmitList(out, "agents", r.agents);
  out << YAML::Key << "breaker_failures" << YAML::Value << r.breaker_failures;
  out << YAML::Key << "breaker_window" << YAML::Value << r.breaker_window.count();
  out << YAML::Key << "breaker_cooldown" << YAML::Value << r.breaker_cooldown.count();
  EmitList(out, "allowed_tools", r.allowed_tools);
  EmitList(out, "default_skills", r.default_skills);
  out << YAML::EndMap;
}

void EmitModelMap(YAML::Emitter& out, const ModelMap& mm) {
  out << YAML::Key << "model_map" << YAML::Value << YAML::BeginMap;
  EmitMap(out, "simple", mm.simple);
  EmitMap(out, "medium", mm.medium);
  EmitMap(out, "complex", mm.complex);
  EmitMap(out, "review", mm.review);
  out << YAML::EndMap;
}

void EmitGithub(YAML::Emitter& out, const GitHubConfig& gh) {
  out << YAML::Key << "github" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "api_url" << YAML::Value << gh.api_url;
  out << YAML::Key << "token" << YAML::Value << Mask(gh.token);
  out << YAML::Key << "app_id" << YAML::Value << gh.app_id;
  out << YAML::Key << "private_key_path" << YAML::Value << gh.private_key_path;
  out << YAML::EndMap;
}

void EmitChannels(YAML::Emitter& out, const TelegramConfig& tg, const DiscordConfig& dc) {
  out << YAML::Key << "channels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "telegram" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << tg.enabled;
  out << YAML::Key << "bot_token" << YAML::Value << Mask(tg.bot_token);
  out << YAML::Key << "chat_id" << YAML::Value << tg.chat_id;
  out << YAML::Key << "api_url" << YAML::Value << tg.api_url;
  out << YAML::EndMap;
  out << YAML::Key << "discord" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << dc.enabled;
  out << YAML::Key << "bot_token" << YAML::Value << Mask(dc.bot_token);
  out << YAML::Key << "channel_id" << YAML::Value << dc.channel_id;
  out << YAML::Key << "api_url" << YAML::Value << dc.api_url;
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void EmitNotifications(YAML::Emitter& out, NotificationLevel level) {
  out << YAML::Key << "notifications" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << NotificationLevelName(level);
  out << YAML::EndMap;
}

}  // namespace

std::string RenderConfig(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  EmitWebhook(out, c.webhook);
  EmitApi(out, c.api);
  EmitStore(out, c.store);
  EmitCluster(out, c.cluster);
  EmitEngine(out, c.engine);
  EmitWorkflow(out, c.workflow);
  EmitRuns(out, c.runs);
  EmitPlan(out, c.plan);
  EmitRouter(out, c.router);
  EmitModelMap(out, c.model_map);
  EmitAgents(out, c.agents);
  EmitGithub(out, c.github);
  EmitChannels(out, c.telegram, c.discord);
  EmitNotifications(out, c.notification_level);
  EmitJobs(out, c.jobs);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace orch
