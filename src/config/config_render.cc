// RenderConfig: the merged configuration as YAML, for `orch config show`.
#include <yaml-cpp/yaml.h>

#include "config/config.h"

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

}  // namespace

std::string RenderConfig(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;

  out << YAML::Key << "webhook" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.webhook.enabled;
  out << YAML::Key << "port" << YAML::Value << c.webhook.port;
  out << YAML::Key << "bind" << YAML::Value << c.webhook.bind;
  out << YAML::Key << "secret" << YAML::Value << Mask(c.webhook.secret);
  out << YAML::Key << "max_payload_bytes" << YAML::Value << c.webhook.max_payload_bytes;
  out << YAML::Key << "health_url" << YAML::Value << c.webhook.health_url;
  out << YAML::EndMap;

  out << YAML::Key << "api" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bind" << YAML::Value << c.api.bind;
  out << YAML::Key << "port" << YAML::Value << c.api.port;
  out << YAML::EndMap;

  const EngineConfig& e = c.engine;
  out << YAML::Key << "engine" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "tick_interval" << YAML::Value << Secs(e.tick_interval);
  out << YAML::Key << "sync_interval" << YAML::Value << Secs(e.sync_interval);
  out << YAML::Key << "fallback_sync_interval" << YAML::Value << Secs(e.fallback_sync_interval);
  out << YAML::Key << "webhook_health_check_interval" << YAML::Value
      << Secs(e.webhook_health_check_interval);
  out << YAML::Key << "max_parallel" << YAML::Value << e.max_parallel;
  out << YAML::Key << "stuck_timeout" << YAML::Value << Secs(e.stuck_timeout);
  out << YAML::Key << "run_log_retention_days" << YAML::Value << e.run_log_retention_days;
  out << YAML::EndMap;

  const WorkflowConfig& w = c.workflow;
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
  out << YAML::Key << "sandbox" << YAML::Value << SandboxName(w.sandbox);
  EmitList(out, "test_command", w.test_command);
  out << YAML::EndMap;

  const RunsConfig& rn = c.runs;
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

  out << YAML::Key << "plan" << YAML::Value << YAML::BeginMap;
  if (c.plan.repos) EmitList(out, "repos", *c.plan.repos);
  out << YAML::Key << "mode" << YAML::Value << (c.plan.sequential ? "sequential" : "parallel");
  out << YAML::EndMap;

  const RouterConfig& r = c.router;
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

  out << YAML::Key << "model_map" << YAML::Value << YAML::BeginMap;
  EmitMap(out, "simple", c.model_map.simple);
  EmitMap(out, "medium", c.model_map.medium);
  EmitMap(out, "complex", c.model_map.complex);
  EmitMap(out, "review", c.model_map.review);
  out << YAML::EndMap;

  EmitAgents(out, c.agents);

  out << YAML::Key << "github" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "api_url" << YAML::Value << c.github.api_url;
  out << YAML::Key << "token" << YAML::Value << Mask(c.github.token);
  out << YAML::Key << "app_id" << YAML::Value << c.github.app_id;
  out << YAML::Key << "private_key_path" << YAML::Value << c.github.private_key_path;
  out << YAML::EndMap;

  out << YAML::Key << "channels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "telegram" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.telegram.enabled;
  out << YAML::Key << "bot_token" << YAML::Value << Mask(c.telegram.bot_token);
  out << YAML::Key << "chat_id" << YAML::Value << c.telegram.chat_id;
  out << YAML::Key << "api_url" << YAML::Value << c.telegram.api_url;
  out << YAML::EndMap;
  out << YAML::Key << "discord" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.discord.enabled;
  out << YAML::Key << "bot_token" << YAML::Value << Mask(c.discord.bot_token);
  out << YAML::Key << "channel_id" << YAML::Value << c.discord.channel_id;
  out << YAML::Key << "api_url" << YAML::Value << c.discord.api_url;
  out << YAML::EndMap;
  out << YAML::EndMap;

  out << YAML::Key << "notifications" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << NotificationLevelName(c.notification_level);
  out << YAML::EndMap;

  EmitJobs(out, c.jobs);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace orch
