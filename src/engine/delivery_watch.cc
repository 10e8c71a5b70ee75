#include "engine/delivery_watch.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <utility>

#include "base/time_format.h"

namespace orch {

DeliveryWatch::DeliveryWatch(Store& store, const Clock& clock, Seconds grace)
    : store_(store), clock_(clock), grace_(grace), started_at_(clock.NowUnix()) {}

void DeliveryWatch::Saw(const std::string& repo, const std::string& what, int64_t changed_at) {
  if (changed_at < started_at_) return;  // orch was not listening yet
  for (Change& c : pending_) {
    if (c.repo == repo && c.what == what) {  // seen again: the newest time counts
      c.at = std::max(c.at, changed_at);
      return;
    }
  }
  pending_.push_back({repo, what, changed_at});
}

namespace {

constexpr int kHookDeliveriesRead = 10;

// Unix seconds of GitHub's ISO-8601 UTC time ("2026-11-21T10:00:00Z"), or nullopt.
std::optional<int64_t> UnixOf(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

// Whether a hook's deliveries are sent to orch's receiver (POST /webhook), by its URL's path.
bool PointsAtOrch(const RepoHook& hook) {
  std::string path = hook.url.substr(0, hook.url.find_first_of("?#"));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return hook.active && path.ends_with("/webhook");
}

}  // namespace

void DeliveryWatch::Saw(const std::string& repo, const std::string& what,
                        const std::string& changed_at) {
  if (std::optional<int64_t> at = UnixOf(changed_at)) Saw(repo, what, *at);
}

Status DeliveryWatch::CheckGitHubRecord(GitHubClient& github, const std::string& repo) {
  if (unreadable_.count(repo)) return Status::OK();
  auto unreadable = [&](const Status& s) {
    // 404 or 403: no admin rights on the repository, or a client that cannot ask.
    if (!s.IsNotFound() && s.message().find("HTTP 403") == std::string::npos) return false;
    spdlog::info(
        "webhook: cannot read GitHub's record of {}'s webhook deliveries ({}); only "
        "changes the sync finds tell whether deliveries arrive",
        repo, s.message());
    unreadable_.insert(repo);
    return true;
  };
  // Attempts count from the watch's start (before, orch may simply not have been running) and
  // after the newest delivery orch received for the repository (older failures are history).
  Result<std::optional<int64_t>> received = store_.LastDeliveryFor(repo);
  if (!received.ok()) return received.status();
  int64_t since = std::max(started_at_, received->value_or(0) + 1);
  Result<std::vector<RepoHook>> hooks = github.ListRepoHooks(repo);
  if (!hooks.ok()) return unreadable(hooks.status()) ? Status::OK() : hooks.status();
  for (const RepoHook& hook : *hooks) {
    if (!PointsAtOrch(hook)) continue;
    Result<std::vector<HookDelivery>> record =
        github.ListHookDeliveries(repo, hook.id, kHookDeliveriesRead);
    if (!record.ok()) return unreadable(record.status()) ? Status::OK() : record.status();
    // Newest first: the failures since the last success.
    int failed = 0;
    std::string why;
    for (const HookDelivery& d : *record) {
      std::optional<int64_t> at = UnixOf(d.delivered_at);
      if (!at || *at < since || (d.status_code >= 200 && d.status_code < 300)) break;
      if (failed++ == 0) why = d.status.empty() ? std::to_string(d.status_code) : d.status;
    }
    if (failed > 0 && !failed_on_github_) {
      failed_on_github_ = "GitHub's record of webhook " + std::to_string(hook.id) + " (" +
                          hook.url + ") shows its last " + std::to_string(failed) +
                          " delivery attempt(s) failed (" + why + ")";
    }
  }
  return Status::OK();
}

Result<std::optional<std::string>> DeliveryWatch::MissingDelivery() {
  int64_t now = clock_.NowUnix();
  std::optional<std::string> missing;
  std::vector<Change> keep;
  for (const Change& c : pending_) {
    if (missing || now < c.at + grace_.count()) {
      keep.push_back(c);
      continue;
    }
    Result<std::optional<int64_t>> last = store_.LastDeliveryFor(c.repo);
    if (!last.ok()) return last.status();  // pending_ is left as it was
    if (!*last || **last < c.at - kClockSkew) {
      missing = c.repo + " " + c.what + " at " + FormatUnixTime(c.at, TimeFormat::kIso8601) +
                " and no webhook delivery for it arrived within " + std::to_string(grace_.count()) +
                "s";
    }
  }
  // Judged changes are dropped; so, once missing, are the rest (they would say the same).
  pending_.clear();
  if (!missing) pending_ = std::move(keep);
  // GitHub's own record, when it says attempts failed, is the better reason: it names the hook
  // and the error, where a late change only says that nothing came.
  if (failed_on_github_) missing = std::exchange(failed_on_github_, std::nullopt);
  return missing;
}

Result<bool> DeliveryWatch::DeliveredSince(int64_t since) {
  Result<std::optional<int64_t>> last = store_.LastWebhookAt();
  if (!last.ok()) return last.status();
  return *last && **last >= since;  // whole seconds: one in the same second counts
}

}  // namespace orch
