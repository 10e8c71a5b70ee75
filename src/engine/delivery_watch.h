// DeliveryWatch: notices that GitHub's webhooks stopped reaching orch although the receiver is
// up, which the receiver's health probe cannot see (it asks the receiver, which answers while
// the process lives): a tunnel down, the webhook deleted, a wrong secret on GitHub's side. The
// sync tells it each change it found on GitHub (an issue updated: a label, a comment, its state)
// with GitHub's time of the change; a change that no delivery for its repository followed
// within the grace period means deliveries are missing. The engine then polls in fallback mode
// and asks DeliveredSince whether deliveries arrive again. It also reads GitHub's own record of
// the repository's webhooks that point at orch (a config.url ending in "/webhook"), where the
// credentials may read it (admin rights on the repository): when the newest attempt since the
// watch began, and since the newest delivery orch received for the repository, failed (any
// answer but 2xx, or none), deliveries are missing too.
//
// A change counts only if it happened after the watch began (before that, orch was not
// listening), and a delivery received up to kClockSkew before the change still counts for it
// (GitHub's clock and this machine's may disagree by that much). A webhook subscribed to fewer
// events than the sync sees (say, issues but not issue_comment) reads as missing deliveries
// when such a change comes; the cost is polling every engine.fallback_sync_interval.
//
// Decisions only: the store is read for delivery times; the engine owns the mode and the log.
// Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_DELIVERY_WATCH_H_
#define ORCH_ENGINE_DELIVERY_WATCH_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/config.h"
#include "github/github.h"
#include "store/store.h"

namespace orch {

class DeliveryWatch {
 public:
  static constexpr int64_t kClockSkew = 30;

  // `grace`: how long after a change its delivery may take to arrive.
  DeliveryWatch(Store& store, const Clock& clock, Seconds grace);

  // A change on `repo` (owner/name) that GitHub made at `changed_at` (unix seconds); `what`
  // names it for the log ("issue #4 updated").
  void Saw(const std::string& repo, const std::string& what, int64_t changed_at);
  // The same with GitHub's ISO-8601 time ("2026-11-21T10:00:00Z"); ignored when unreadable.
  void Saw(const std::string& repo, const std::string& what, const std::string& changed_at);

  // Why deliveries look missing: GitHub's record of failed attempts (CheckGitHubRecord) when it
  // has one, else the first change whose grace has passed with no delivery for its repository
  // since it happened; nullopt when there is none. Changes judged are forgotten.
  // Fails with the store's error (the changes are then judged next time).
  Result<std::optional<std::string>> MissingDelivery();

  // Reads GitHub's record of `repo`'s webhooks that point at orch; a failed newest attempt is
  // reported by the next MissingDelivery. Credentials that may not read it (403, 404) are
  // noted once and not asked again for that repository; other failures are returned.
  Status CheckGitHubRecord(GitHubClient& github, const std::string& repo);

  // Whether any delivery (or redelivery) was received at or after `since` (unix seconds).
  Result<bool> DeliveredSince(int64_t since);

  // Changes seen and not yet judged.
  size_t pending() const { return pending_.size(); }

 private:
  struct Change {
    std::string repo;
    std::string what;
    int64_t at = 0;
  };

  Store& store_;
  const Clock& clock_;
  const Seconds grace_;
  const int64_t started_at_;
  std::vector<Change> pending_;
  std::optional<std::string> failed_on_github_;  // from CheckGitHubRecord, until reported
  std::set<std::string> unreadable_;             // repositories whose hooks orch may not read
};

}  // namespace orch

#endif  // ORCH_ENGINE_DELIVERY_WATCH_H_
