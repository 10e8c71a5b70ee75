// NotifyService: the chat channels as `orch serve` runs them (notify.h, telegram.h, discord.h).
//
// One thread runs Notifier::Step() about twice a second; with Telegram enabled, another
// long-polls getUpdates for commands. Each opens its own store connection, so neither ever
// waits on the engine's thread. Share() posts a text at once (a run's report, from the
// dashboard), taking turns with the notifier's thread on the channels. Start() reads the notifier's
// cursors before it returns, so the events of the daemon's first tick are sent, not taken for
// history.
//
// Thread safety: Start() and the destructor on the daemon's main thread; Share() from any.
#ifndef ORCH_NOTIFY_NOTIFY_SERVICE_H_
#define ORCH_NOTIFY_NOTIFY_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "config/config.h"

namespace orch {

class NotifyService {
 public:
  // Null when no channel is enabled. `on_change` runs (on the command thread) after a chat
  // command moved a task. Fails when the store cannot be opened or an api_url is not a URL.
  // `leads`: in a fleet (engine/cluster.h), whether this host leads; only the leader sends
  // notifications and takes chat commands (Telegram allows one getUpdates poller per bot).
  static Result<std::unique_ptr<NotifyService>> Start(const std::string& db_path,
                                                      const Config& config, const Clock& clock,
                                                      std::function<void()> on_change,
                                                      std::function<bool()> leads = {});
  // Stops both threads, aborting a long poll in progress, and joins them.
  ~NotifyService();
  // Posts `text` (redacted first) to every channel now, whole (SendWhole), between two of the
  // notifier's steps; what was done ("sent to telegram and discord"). Fails naming the channel
  // that failed; the channels before it have the text. Any thread; waits for the rate limits.
  Result<std::string> Share(const std::string& text);

  struct State;

 private:
  explicit NotifyService(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace orch

#endif  // ORCH_NOTIFY_NOTIFY_SERVICE_H_
