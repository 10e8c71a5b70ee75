#include "notify/notify_service.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/secret_scan.h"
#include "notify/discord.h"
#include "notify/notify.h"
#include "notify/telegram.h"
#include "store/store.h"

namespace orch {

constexpr auto kNotifyEvery = std::chrono::milliseconds(500);
constexpr int kPollSeconds = 25;  // Telegram's long poll; under HttpSession's 30 s read timeout

struct NotifyService::State {
  Config config;
  std::unique_ptr<Store> notify_store;
  std::unique_ptr<Store> command_store;
  std::unique_ptr<TelegramApi> telegram_api;
  std::unique_ptr<TelegramChannel> telegram;
  std::unique_ptr<DiscordChannel> discord;
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<TelegramCommands> commands;
  std::function<bool()> leads;  // empty: one host, which always leads
  std::vector<ChatChannel*> channels;
  std::mutex send_mu;  // the channels, one caller at a time: the notifier's thread or Share()
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread notify_thread;
  std::thread command_thread;

  // Waits `d` or until stopping; false when stopping.
  bool Wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    return !cv.wait_for(lock, d, [this] { return stop; });
  }

  void NotifyLoop() {
    std::string last_error;
    do {
      Status s = [this] {
        std::lock_guard<std::mutex> lock(send_mu);
        return notifier->Step();
      }();
      if (!s.ok() && s.message() != last_error) spdlog::warn("notify: {}", s.message());
      last_error = s.ok() ? "" : s.message();
    } while (Wait(kNotifyEvery));
  }

  void CommandLoop() {
    int failures = 0;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) return;
      }
      if (leads && !leads()) {  // another host of the fleet takes the commands
        if (!Wait(std::chrono::seconds(1))) return;
        continue;
      }
      Status s = commands->Step(kPollSeconds);
      if (s.ok()) {
        if (failures > 0) spdlog::info("telegram: receiving commands again");
        failures = 0;
        continue;
      }
      if (failures++ == 0) {
        std::lock_guard<std::mutex> lock(mu);
        if (!stop)
          spdlog::warn("telegram: getUpdates failed, retrying with backoff: {}", s.message());
      }
      if (!Wait(std::chrono::duration_cast<std::chrono::milliseconds>(
              DeliveryRetryDelay(failures)))) {
        return;
      }
    }
  }
};

NotifyService::NotifyService(std::unique_ptr<State> state) : state_(std::move(state)) {}

NotifyService::~NotifyService() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
  if (state_->telegram_api) state_->telegram_api->Stop();
  if (state_->notify_thread.joinable()) state_->notify_thread.join();
  if (state_->command_thread.joinable()) state_->command_thread.join();
}

Result<std::string> NotifyService::Share(const std::string& text) {
  std::string redacted = RedactSecrets(text);
  std::lock_guard<std::mutex> lock(state_->send_mu);
  std::string sent;
  for (ChatChannel* ch : state_->channels) {
    Status s = SendWhole(*ch, redacted);
    if (!s.ok()) {
      return s.Prefixed(sent.empty() ? ch->name()
                                     : ch->name() + " (after sending to " + sent + ")");
    }
    sent += (sent.empty() ? "" : " and ") + ch->name();
  }
  spdlog::info("notify: shared a text of {} bytes to {}", redacted.size(), sent);
  return "sent to " + sent;
}

Result<std::unique_ptr<NotifyService>> NotifyService::Start(const std::string& db_path,
                                                            const Config& config,
                                                            const Clock& clock,
                                                            std::function<void()> on_change,
                                                            std::function<bool()> leads) {
  if (!config.telegram.enabled && !config.discord.enabled) {
    spdlog::info("notify: no chat channel enabled (channels.telegram, channels.discord)");
    return std::unique_ptr<NotifyService>();
  }
  auto st = std::make_unique<State>();
  st->config = config;
  st->leads = leads;
  std::vector<ChatChannel*>& channels = st->channels;
  if (config.telegram.enabled) {
    st->telegram_api =
        std::make_unique<TelegramApi>(config.telegram.api_url, config.telegram.bot_token);
    st->telegram =
        std::make_unique<TelegramChannel>(*st->telegram_api, config.telegram.chat_id, clock);
    channels.push_back(st->telegram.get());
  }
  if (config.discord.enabled) {
    Result<std::unique_ptr<DiscordChannel>> d = DiscordChannel::Open(config.discord, clock);
    if (!d.ok()) return d.status();
    st->discord = std::move(d).value();
    channels.push_back(st->discord.get());
  }
  Result<std::unique_ptr<Store>> store = Store::Open(db_path, clock);
  if (!store.ok()) return store.status();
  st->notify_store = std::move(store).value();
  st->notifier = std::make_unique<Notifier>(*st->notify_store, clock,
                                            NotifierOptions{.level = config.notification_level,
                                                            .github_api_url = config.github.api_url,
                                                            .leads = leads},
                                            channels);
  ORCH_RETURN_IF_ERROR(st->notifier->LoadCursors());
  if (st->telegram) {
    Result<std::unique_ptr<Store>> s = Store::Open(db_path, clock);
    if (!s.ok()) return s.status();
    st->command_store = std::move(s).value();
    st->commands = std::make_unique<TelegramCommands>(
        *st->telegram_api, *st->telegram, *st->command_store, st->config, std::move(on_change));
  }
  State* raw = st.get();
  st->notify_thread = std::thread([raw] { raw->NotifyLoop(); });
  if (st->commands) st->command_thread = std::thread([raw] { raw->CommandLoop(); });
  spdlog::info("notify: {}{}{}, level {}", config.telegram.enabled ? "telegram" : "",
               config.telegram.enabled && config.discord.enabled ? " and " : "",
               config.discord.enabled ? "discord" : "",
               NotificationLevelName(config.notification_level));
  return std::unique_ptr<NotifyService>(new NotifyService(std::move(st)));
}

}  // namespace orch
