// The /_sim control API's housekeeping: injected faults, the webhook target, deliveries and
// redelivery, the request log, the rate limit and a dump of everything.
#include <nlohmann/json.hpp>

#include "routes.h"

namespace orch::sim {
namespace {

using nlohmann::json;

json RateJson(const RateLimiter& rate) {
  return {{"limit", rate.limit()},
          {"remaining", rate.remaining()},
          {"used", rate.used()},
          {"reset", rate.reset()}};
}

json FaultJson(const Fault& f) {
  return {{"method", f.method},    {"path_prefix", f.path_prefix}, {"status", f.status},
          {"count", f.count},      {"retry_after", f.retry_after}, {"secondary", f.secondary},
          {"delay_ms", f.delay_ms}};
}

Reply AddFault(Sim& sim, const Call& call) {
  Fault f;
  f.method = call.body.value("method", "");
  f.path_prefix = call.body.value("path_prefix", "");
  f.status = call.body.value("status", 0);
  f.count = call.body.value("count", 1);
  f.retry_after = call.body.value("retry_after", 0);
  f.secondary = call.body.value("secondary", false);
  f.delay_ms = call.body.value("delay_ms", 0);
  if (f.count < 1 || (f.status == 0 && f.delay_ms <= 0) || (f.status != 0 && f.status < 400)) {
    return FromStatus(Status::InvalidArgument(
        "Fault", "need count >= 1 and a status >= 400, a delay_ms > 0, or both"));
  }
  sim.faults.Add(f);
  return JsonReply(200, FaultJson(f));
}

Reply ListFaults(Sim& sim, const Call&) {
  json out = json::array();
  for (const Fault& f : sim.faults.faults()) out.push_back(FaultJson(f));
  return JsonReply(200, out);
}

Reply ClearFaults(Sim& sim, const Call&) {
  sim.faults.Clear();
  return JsonReply(200, json::object());
}

Reply ConfigureWebhook(Sim& sim, const Call& call) {
  std::string url = BodyString(call, "url"), secret = BodyString(call, "secret");
  sim.deliverer.Configure(url, secret);
  return JsonReply(200, {{"url", url}, {"secret_set", !secret.empty()}});
}

Reply ListDeliveries(Sim& sim, const Call&) {
  json out = json::array();
  for (const Delivery& d : sim.deliverer.deliveries()) out.push_back(d.ToJson());
  return JsonReply(200, out);
}

Reply Redeliver(Sim& sim, const Call& call) {
  std::optional<Delivery> d = sim.deliverer.Redeliver(call.match(1));
  if (!d) return NotFound("No delivery " + call.match(1));
  return JsonReply(200, {{"delivery", d->Summary()}});
}

Reply ListRequests(Sim& sim, const Call&) { return JsonReply(200, json(sim.requests)); }

Reply ClearRequests(Sim& sim, const Call&) {
  sim.requests.clear();
  return JsonReply(200, json::object());
}

Reply DumpAll(Sim& sim, const Call& call) {
  json out = DumpState(sim.state, call.urls);
  out["rate_limit"] = RateJson(sim.rate);
  out["faults"] = ListFaults(sim, call).body;
  out["installation_tokens_issued"] = sim.install_tokens.size();
  return JsonReply(200, out);
}

Reply GetRate(Sim& sim, const Call&) { return JsonReply(200, RateJson(sim.rate)); }

// {"limit": N, "remaining": M}: either may be left out to keep its value.
Reply SetRate(Sim& sim, const Call& call) {
  int limit = call.body.value("limit", sim.rate.limit());
  sim.rate.Set(limit, call.body.value("remaining", limit));
  return JsonReply(200, RateJson(sim.rate));
}

}  // namespace

std::vector<Route> AdminRoutes() {
  return {
      {"POST", "/_sim/faults", Auth::kNone, AddFault},
      {"GET", "/_sim/faults", Auth::kNone, ListFaults},
      {"DELETE", "/_sim/faults", Auth::kNone, ClearFaults},
      {"POST", "/_sim/webhook", Auth::kNone, ConfigureWebhook, /*needs_state=*/false},
      {"GET", "/_sim/deliveries", Auth::kNone, ListDeliveries, /*needs_state=*/false},
      {"POST", "/_sim/deliveries/([^/]+)/redeliver", Auth::kNone, Redeliver,
       /*needs_state=*/false},
      {"GET", "/_sim/requests", Auth::kNone, ListRequests},
      {"DELETE", "/_sim/requests", Auth::kNone, ClearRequests},
      {"GET", "/_sim/state", Auth::kNone, DumpAll},
      {"GET", "/_sim/rate_limit", Auth::kNone, GetRate},
      {"POST", "/_sim/rate_limit", Auth::kNone, SetRate},
  };
}

}  // namespace orch::sim
