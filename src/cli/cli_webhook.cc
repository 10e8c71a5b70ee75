// `orch webhook stats | deliveries | redeliver`: the inbox as the receiver and engine left it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/time_format.h"
#include "cli/cli.h"

namespace orch {
namespace {

std::string StateOf(const Delivery& d) {
  if (d.processed_at) return "applied";
  if (d.failed()) return "failed";
  return d.retry_count > 0 ? "retrying" : "pending";
}

nlohmann::json DeliveryJson(const Delivery& d) {
  nlohmann::json j = {{"id", d.id},
                      {"delivery_id", d.delivery_id},
                      {"event", d.event_type},
                      {"action", d.action},
                      {"repo", d.repo},
                      {"state", StateOf(d)},
                      {"result", d.result},
                      {"error", d.error},
                      {"attempts", d.retry_count},
                      {"created_at", d.created_at}};
  j["processed_at"] = d.processed_at ? nlohmann::json(*d.processed_at) : nlohmann::json();
  j["next_attempt_at"] = d.next_attempt_at ? nlohmann::json(*d.next_attempt_at) : nlohmann::json();
  return j;
}

class WebhookStatsCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<WebhookStats> st = (*store)->GetWebhookStats(ctx.clock.NowUnix() - 86400);
    if (!st.ok()) return st.status();
    if (json_) {
      nlohmann::json by_event = nlohmann::json::object();
      for (const auto& [event, n] : st->received_by_event) by_event[event] = n;
      nlohmann::json out = {{"window_hours", 24},           {"received", st->received},
                            {"duplicates", st->duplicates}, {"applied", st->applied},
                            {"failed", st->failed},         {"pending", st->pending},
                            {"by_event", by_event}};
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    ctx.out << "last 24 hours\n"
            << "  received    " << st->received << "\n"
            << "  duplicates  " << st->duplicates << "\n"
            << "  applied     " << st->applied << "\n"
            << "  failed      " << st->failed << "\n"
            << "  pending     " << st->pending << "\n";
    if (!st->received_by_event.empty()) ctx.out << "by event\n";
    for (const auto& [event, n] : st->received_by_event) {
      ctx.out << "  " << event << "  " << n << "\n";
    }
    return Status::OK();
  }

 private:
  bool json_ = false;
};

class WebhookDeliveriesCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_flag("--failed", failed_, "Only deliveries that failed for good");
    app.add_option("--limit,-n", limit_, "How many, newest first")->check(CLI::PositiveNumber);
    app.add_flag("--json", json_, "Print JSON");
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Result<std::vector<Delivery>> list =
        (*store)->ListDeliveries({.failed_only = failed_, .limit = limit_});
    if (!list.ok()) return list.status();
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const Delivery& d : *list) out.push_back(DeliveryJson(d));
      ctx.out << out.dump(2) << "\n";
      return Status::OK();
    }
    if (list->empty()) ctx.out << (failed_ ? "no failed deliveries\n" : "no deliveries\n");
    for (const Delivery& d : *list) {
      ctx.out << d.id << "  " << FormatUnixTime(d.created_at, TimeFormat::kUtcSpaced) << "  "
              << d.event_type << (d.action.empty() ? "" : "." + d.action) << "  " << d.repo << "  "
              << StateOf(d) << "  " << d.delivery_id << "\n";
      if (!d.result.empty()) ctx.out << "    " << d.result << "\n";
      if (!d.error.empty() && !d.processed_at) {
        ctx.out << "    error (attempt " << d.retry_count << "): " << d.error << "\n";
      }
    }
    return Status::OK();
  }

 private:
  bool failed_ = false;
  int limit_ = 50;
  bool json_ = false;
};

class WebhookRedeliverCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("id", id_, "The delivery's number (from `orch webhook deliveries`)")->required();
  }
  Status Run(Context& ctx) override {
    Result<Store*> store = ctx.store();
    if (!store.ok()) return store.status();
    Status s = (*store)->RequeueDelivery(id_);
    if (s.IsNotFound()) return Status::InvalidArgument(s.message());
    ORCH_RETURN_IF_ERROR(s);
    ctx.out << "delivery " << id_ << " queued; the daemon applies it on its next tick\n";
    return Status::OK();
  }

 private:
  int64_t id_ = 0;
};

}  // namespace

std::unique_ptr<Command> MakeWebhookStatsCommand() {
  return std::make_unique<WebhookStatsCommand>();
}
std::unique_ptr<Command> MakeWebhookDeliveriesCommand() {
  return std::make_unique<WebhookDeliveriesCommand>();
}
std::unique_ptr<Command> MakeWebhookRedeliverCommand() {
  return std::make_unique<WebhookRedeliverCommand>();
}

}  // namespace orch
