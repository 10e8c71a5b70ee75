#include "engine/breaker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "store/store.h"

namespace orch {
namespace {

std::string Key(const std::string& agent) { return "breaker." + agent; }

}  // namespace

const char* BreakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "?";
}

BreakerStatus Breakers::Get(const std::string& agent) {
  BreakerStatus s;
  Result<std::optional<std::string>> raw = store_.GetKv(Key(agent));
  if (!raw.ok() || !*raw) return s;
  nlohmann::json j = nlohmann::json::parse(**raw, nullptr, false);
  if (!j.is_object()) return s;
  std::string state = j.value("state", "closed");
  s.state = state == "open"        ? BreakerState::kOpen
            : state == "half-open" ? BreakerState::kHalfOpen
                                   : BreakerState::kClosed;
  if (j.contains("failures") && j["failures"].is_array()) {
    for (const auto& t : j["failures"]) {
      if (t.is_number_integer()) s.failures.push_back(t.get<int64_t>());
    }
  }
  s.opened_at = j.value("opened_at", int64_t{0});
  return s;
}

void Breakers::Put(const std::string& agent, const BreakerStatus& s) {
  nlohmann::json j = {
      {"state", BreakerStateName(s.state)}, {"failures", s.failures}, {"opened_at", s.opened_at}};
  Status st = store_.SetKv(Key(agent), j.dump());
  if (!st.ok()) spdlog::error("breaker {}: {}", agent, st.message());
}

bool Breakers::Available(const std::string& agent) {
  BreakerStatus s = Get(agent);
  switch (s.state) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kHalfOpen:
      return false;
    case BreakerState::kOpen:
      return clock_.NowUnix() >= s.opened_at + config_.breaker_cooldown.count();
  }
  return true;
}

void Breakers::Started(const std::string& agent) {
  BreakerStatus s = Get(agent);
  if (s.state != BreakerState::kOpen) return;
  if (clock_.NowUnix() < s.opened_at + config_.breaker_cooldown.count()) return;
  s.state = BreakerState::kHalfOpen;
  Put(agent, s);
  spdlog::info("breaker {}: half-open, this run is the probe", agent);
}

void Breakers::Succeeded(const std::string& agent) {
  BreakerStatus s = Get(agent);
  if (s.state == BreakerState::kClosed && s.failures.empty()) return;
  if (s.state != BreakerState::kClosed) spdlog::info("breaker {}: closed (a run succeeded)", agent);
  Put(agent, BreakerStatus{});
}

void Breakers::Failed(const std::string& agent) {
  BreakerStatus s = Get(agent);
  int64_t now = clock_.NowUnix();
  s.failures.push_back(now);
  // Only the failures in a row within the window count.
  int64_t since = now - config_.breaker_window.count();
  s.failures.erase(std::remove_if(s.failures.begin(), s.failures.end(),
                                  [since](int64_t t) { return t < since; }),
                   s.failures.end());
  bool probe_failed = s.state == BreakerState::kHalfOpen;
  if (probe_failed || static_cast<int>(s.failures.size()) >= config_.breaker_failures) {
    if (s.state != BreakerState::kOpen || probe_failed) {
      spdlog::warn("breaker {}: open for {}s ({})", agent, config_.breaker_cooldown.count(),
                   probe_failed ? "the probe failed"
                                : std::to_string(s.failures.size()) + " failures in a row");
    }
    s.state = BreakerState::kOpen;
    s.opened_at = now;
  }
  Put(agent, s);
}

std::string Breakers::Describe(const std::string& agent) {
  BreakerStatus s = Get(agent);
  switch (s.state) {
    case BreakerState::kClosed:
      return s.failures.empty()
                 ? "closed"
                 : "closed (" + std::to_string(s.failures.size()) + " failure(s) in a row)";
    case BreakerState::kHalfOpen:
      return "half-open (a probe run is going)";
    case BreakerState::kOpen: {
      int64_t left = s.opened_at + config_.breaker_cooldown.count() - clock_.NowUnix();
      return left > 0
                 ? "open (" + std::to_string(s.failures.size()) +
                       " failure(s) in a row; a probe may run in " + std::to_string(left) + "s)"
                 : "open (the next run is a probe)";
    }
  }
  return "?";
}

}  // namespace orch
