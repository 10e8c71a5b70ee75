// The Fleet and Settings pages' JSON (dashboard.h).
#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dashboard/dashboard.h"
#include "dashboard/settings.h"
#include "engine/breaker.h"
#include "engine/cluster.h"
#include "engine/engine.h"

namespace orch {
namespace {

using Json = nlohmann::json;

std::string DeliveryState(const Delivery& d) {
  if (d.processed_at) return "applied";
  if (d.failed()) return "failed";
  return d.retry_count > 0 ? "retrying" : "pending";
}

Json DeliveriesJson(const std::vector<Delivery>& list) {
  Json out = Json::array();
  for (const Delivery& d : list) {
    out.push_back({{"id", d.id},
                   {"event", d.event_type},
                   {"action", d.action},
                   {"repo", d.repo},
                   {"state", DeliveryState(d)},
                   {"result", d.result},
                   {"error", d.error},
                   {"attempts", d.retry_count},
                   {"created_at", d.created_at}});
  }
  return out;
}

// The agents orch may route to: router.agents, then any configured under agents.
std::vector<std::string> AgentNames(const Config& config) {
  std::vector<std::string> names = config.router.agents;
  for (const auto& [name, agent] : config.agents) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// The hosts of a fleet sharing the store (engine/cluster.h); empty on one machine.
Json HostsJson(Store& store, int64_t now) {
  Json out = Json::array();
  Result<std::vector<HostRecord>> hosts = store.ListHosts();
  Result<std::string> leader = Cluster::CurrentLeader(store, now);
  if (!hosts.ok() || !leader.ok()) return out;
  for (const HostRecord& h : *hosts) {
    out.push_back({{"id", h.id},
                   {"version", h.version},
                   {"heartbeat_at", h.heartbeat_at},
                   {"running", h.running},
                   {"max_parallel", h.max_parallel},
                   {"leases", h.leases},
                   {"leader", h.id == *leader}});
  }
  return out;
}

}  // namespace

Result<Json> Dashboard::FleetJson() {
  static const Config kDefaults;
  const Config& config = parts_.config ? *parts_.config : kDefaults;
  std::lock_guard<std::mutex> lock(parts_.store_mu);
  Store& store = parts_.store;
  Result<std::vector<Attempt>> running = store.UnfinishedAttempts();
  if (!running.ok()) return running.status();
  Breakers breakers(store, config.router, parts_.clock);
  Json agents = Json::array();
  for (const std::string& name : AgentNames(config)) {
    Json sessions = Json::array();
    for (const Attempt& a : *running) {
      if (a.agent != name) continue;
      sessions.push_back({{"task_id", a.task_id},
                          {"host", a.host},
                          {"attempt", a.attempt},
                          {"session", a.tmux_session},
                          {"model", a.model},
                          {"started_at", a.started_at}});
    }
    agents.push_back({{"name", name},
                      {"breaker", BreakerStateName(breakers.Get(name).state)},
                      {"breaker_detail", breakers.Describe(name)},
                      {"sessions", sessions}});
  }
  int64_t now = parts_.clock.NowUnix();
  Result<WebhookStats> stats = store.GetWebhookStats(now - 86400);
  Result<std::vector<Delivery>> recent = store.ListDeliveries({.limit = 20});
  Result<std::vector<Delivery>> failed = store.ListDeliveries({.failed_only = true, .limit = 20});
  if (!stats.ok() || !recent.ok() || !failed.ok()) {
    return Status::IOError("webhook deliveries", "cannot read them");
  }
  auto kv = [&](const char* key) {
    Result<std::optional<std::string>> v = store.GetKv(key);
    return v.ok() && *v ? **v : std::string();
  };
  std::string mode = kv(Engine::kModeKey);
  Json webhooks = {{"enabled", config.webhook.enabled},
                   {"mode", mode.empty() ? "unknown" : mode},
                   {"reason", kv(Engine::kModeReasonKey)},
                   {"received", stats->received},
                   {"duplicates", stats->duplicates},
                   {"applied", stats->applied},
                   {"failed", stats->failed},
                   {"pending", stats->pending},
                   {"recent", DeliveriesJson(*recent)},
                   {"failures", DeliveriesJson(*failed)}};
  return Json{{"agents", agents}, {"webhooks", webhooks}, {"hosts", HostsJson(store, now)}};
}

void Dashboard::Fleet(const httplib::Request&, httplib::Response& res) {
  Result<Json> fleet = FleetJson();
  if (!fleet.ok()) return Reply(res, 500, {{"error", fleet.status().message()}});
  std::lock_guard<std::mutex> lock(parts_.store_mu);
  Result<std::optional<std::string>> tick = parts_.store.GetKv(Engine::kHeartbeatKey);
  (*fleet)["webhooks"]["last_tick"] = tick.ok() && *tick ? **tick : "";
  Reply(res, 200, *fleet);
}

void Dashboard::GetSettings(const httplib::Request&, httplib::Response& res) {
  Result<std::vector<Project>> projects = [&] {
    std::lock_guard<std::mutex> lock(parts_.store_mu);
    return parts_.store.ListProjects();
  }();
  if (!projects.ok()) return Reply(res, 500, {{"error", projects.status().message()}});
  Json files = Json::array();
  for (const SettingsFile& f : ListSettingsFiles(parts_.home, *projects)) {
    files.push_back({{"target", f.target},
                     {"path", f.path},
                     {"text", f.text},
                     {"exists", f.exists},
                     {"editable", f.editable},
                     {"applies", f.applies}});
  }
  Reply(res, 200, {{"files", files}});
}

void Dashboard::PutSettings(const httplib::Request& req, httplib::Response& res) {
  Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("target") || !body["target"].is_string() ||
      !body.contains("text") || !body["text"].is_string()) {
    return Reply(res, 400, {{"error", "expected {target, text}"}});
  }
  Result<std::vector<Project>> projects = [&] {
    std::lock_guard<std::mutex> lock(parts_.store_mu);
    return parts_.store.ListProjects();
  }();
  if (!projects.ok()) return Reply(res, 500, {{"error", projects.status().message()}});
  std::string target = body["target"];
  for (const SettingsFile& f : ListSettingsFiles(parts_.home, *projects)) {
    if (f.target != target) continue;
    if (!f.editable) return Reply(res, 409, {{"error", f.applies}});
    std::string text = body["text"];
    std::vector<SettingsError> errors = CheckSettings(parts_.home, f, text, ProcessEnv());
    if (!errors.empty()) {
      Json list = Json::array();
      for (const SettingsError& e : errors) {
        list.push_back(
            {{"file", e.file}, {"line", e.line}, {"key", e.key}, {"message", e.message}});
      }
      return Reply(res, 422, {{"error", "not saved: the file has errors"}, {"errors", list}});
    }
    if (Status s = SaveSettingsFile(f.path, text); !s.ok()) {
      return Reply(res, 500, {{"error", s.message()}});
    }
    if (parts_.wake) parts_.wake();
    return Reply(res, 200,
                 {{"saved", f.path},
                  {"backup", f.path + ".bak"},
                  {"applies", f.applies},
                  {"restart", target == "global"}});
  }
  Reply(res, 404, {{"error", "no settings file for " + target}});
}

}  // namespace orch
