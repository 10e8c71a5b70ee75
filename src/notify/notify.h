// Notifier: tells the chat channels (chat.h) what happened to tasks.
//
// The source of truth is the store's `events` table. Each channel has its own cursor (the last
// event it is done with, and how many parts of the next message it already posted), kept in
// kv under `notify.cursor` as JSON ({"telegram": {"after": 41, "parts": 0}, ...}), so across
// restarts nothing is lost and nothing is sent twice, and one channel being down does not make
// another repeat itself. A cursor moves only past events that were sent, or that the level does
// not send. A channel without a cursor starts at the newest event: enabling one does not replay
// history.
//
// Which events make a message (NotifyKind) and which level sends which kind: LevelSends.
// Every message passes RedactSecrets.
//
// A failed send is never fatal: the cursor stays, and the channel is tried again after
// DeliveryRetryDelay (5 s doubling to 5 min), or when the platform's rate limit says. A channel
// whose health check fails is logged once, retried with the same backoff, and logged again once
// it is back. A message the platform refuses 5 times (InvalidArgument) is logged and skipped.
//
// Thread safety: one thread calls Step() (the notifier's own, notify_service.h); the store is
// that thread's own connection.
#ifndef ORCH_NOTIFY_NOTIFY_H_
#define ORCH_NOTIFY_NOTIFY_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/config.h"
#include "notify/chat.h"
#include "store/store.h"

namespace orch {

enum class NotifyKind {
  kRouted,         // new -> routed
  kStarted,        // -> in_progress
  kPullRequest,    // -> in_review
  kFollowUp,       // created: a review's follow-up (source review, with a parent)
  kDone,           // -> done
  kNeedsReview,    // -> needs_review
  kFailedAttempt,  // in_progress -> routed, the reason saying the attempt failed
};
const char* NotifyKindName(NotifyKind k);

// What `e` (an event of `task`) is worth telling, or nullopt.
std::optional<NotifyKind> ClassifyEvent(const Event& e, const Task& task);
// all: every kind; important: all but routed and started; errors: needs_review and failed
// attempts; none: nothing.
bool LevelSends(NotificationLevel level, NotifyKind kind);
// "[acme/widgets#12] Fix it: in_progress → in_review (pull request #7 is open)", then the PR's
// URL on a line of its own when `pr_url` is not empty. Not yet redacted. The notifier links
// the PR on moves to in_review, done or needs_review and on moves out of in_review.
std::string FormatNotification(const Event& e, const Task& task, const std::string& pr_url);
// The web URL of pull request `number` of `repo` on the GitHub behind `api_url`.
std::string PullRequestUrl(const std::string& api_url, const std::string& repo, int64_t number);

struct NotifierOptions {
  NotificationLevel level = NotificationLevel::kImportant;
  std::string github_api_url = "https://api.github.com";  // for PR links
  // In a fleet (engine/cluster.h): whether this host leads now. Only the leader's notifier
  // sends; one that becomes leader reads the cursors again first (the last leader moved
  // them), so a change of leader neither repeats nor skips a message. Empty: always.
  std::function<bool()> leads = {};
};

class Notifier {
 public:
  static constexpr const char* kCursorKey = "notify.cursor";
  static constexpr int kMaxRefusals = 5;

  // The channels are not owned and must outlive the notifier.
  Notifier(Store& store, const Clock& clock, NotifierOptions options,
           std::vector<ChatChannel*> channels);

  // Reads the cursors from kv (channels without one start at the newest event). Step() calls
  // it when it has not run yet; the daemon calls it before its first tick, so that no event of
  // that tick is taken for history. Fails when the store cannot be read.
  Status LoadCursors();
  // Sends what is due on every channel that is not waiting (backoff, rate limit) and returns.
  // Fails only when the store cannot be read or written; channel failures are handled here.
  Status Step();

 private:
  struct ChannelState {
    ChatChannel* channel;
    int64_t after = 0;  // done with every event up to this id
    size_t parts = 0;   // parts of the next event's message already posted
    bool healthy = false;
    bool reported = false;  // the health failure is in the log
    int failures = 0;       // in a row: health checks or sends
    SteadyTime next_try{};
  };
  Status StepChannel(ChannelState& st, SteadyTime now);
  // The message for `e`, redacted, or "" when it sends nothing at this level.
  Result<std::string> MessageFor(const Event& e);
  void Backoff(ChannelState& st, SteadyTime now);
  Status SaveCursors();

  Store& store_;
  const Clock& clock_;
  NotifierOptions options_;
  std::vector<ChannelState> channels_;
  bool loaded_ = false;
  std::map<int64_t, std::string> messages_;  // by event id, shared by the channels of a Step
};

}  // namespace orch

#endif  // ORCH_NOTIFY_NOTIFY_H_
