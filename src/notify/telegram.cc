#include "notify/telegram.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "github/http_session.h"

namespace orch {

using Json = nlohmann::json;

std::string TelegramApi::Scrub(std::string text) const {
  if (token_.empty()) return text;
  for (size_t at = text.find(token_); at != std::string::npos; at = text.find(token_, at)) {
    text.replace(at, token_.size(), "<token>");
  }
  return text;
}

Result<Json> TelegramApi::Call(const std::string& method, const Json& params, int read_timeout) {
  std::string what = "telegram " + method;
  Result<std::unique_ptr<HttpSession>> http = HttpSession::Open(api_url_);
  if (!http.ok())
    return Status::InvalidArgument("channels.telegram.api_url", Scrub(http.status().message()));
  (*http)->set_read_timeout(read_timeout);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable(what, "stopping");
    active_.push_back(http->get());
  }
  Result<HttpResponse> r = (*http)->Send("POST", "/bot" + token_ + "/" + method, {}, params.dump());
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(active_, http->get());
  }
  if (!r.ok()) return Status::Unavailable(what, Scrub(r.status().message()));
  Json j = Json::parse(r->body, nullptr, false);
  if (!j.is_object()) {
    std::string why = "HTTP " + std::to_string(r->status) + ", not JSON";
    return r->status >= 500 || r->status == 429 ? Status::Unavailable(what, why)
                                                : Status::InvalidArgument(what, why);
  }
  if (j.value("ok", false) && r->status == 200) return j.value("result", Json());
  std::string why = Scrub("HTTP " + std::to_string(r->status) + ": " + j.value("description", ""));
  if (r->status == 429) {
    int64_t wait = 1;
    const Json& p = j.value("parameters", Json::object());
    if (p.is_object() && p.value("retry_after", Json()).is_number_integer()) {
      wait = std::max<int64_t>(1, p["retry_after"].get<int64_t>());
    }
    return Status::Unavailable(what, why).WithRetryAfter(wait);
  }
  if (r->status >= 500) return Status::Unavailable(what, why);
  return Status::InvalidArgument(what, why);
}

void TelegramApi::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  for (HttpSession* s : active_) s->Stop();
}

Status TelegramChannel::CheckHealth() {
  Result<Json> me = api_.Call("getMe", Json::object());
  return me.ok() ? Status::OK() : me.status();
}

Status TelegramChannel::SendTo(const std::string& chat_id, const std::string& text) {
  Result<Json> sent = api_.Call(
      "sendMessage", {{"chat_id", chat_id}, {"text", text}, {"disable_web_page_preview", true}});
  if (sent.ok()) return Status::OK();
  if (sent.status().retry_after_seconds() > 0) {
    gate_.HoldUntil(clock_.Monotonic() + std::chrono::seconds(sent.status().retry_after_seconds()));
  }
  return sent.status();
}

TelegramCommands::TelegramCommands(TelegramApi& api, TelegramChannel& replies, Store& store,
                                   const Config& config, std::function<void()> on_change)
    : api_(api),
      replies_(replies),
      store_(store),
      config_(config),
      on_change_(std::move(on_change)) {}

Status TelegramCommands::Step(int poll_seconds) {
  if (!offset_) {
    Result<std::optional<std::string>> saved = store_.GetKv(kOffsetKey);
    if (!saved.ok()) return saved.status();
    offset_ = *saved ? std::strtoll((*saved)->c_str(), nullptr, 10) : 0;
  }
  Json params = {{"timeout", poll_seconds}, {"allowed_updates", Json::array({"message"})}};
  if (*offset_ > 0) params["offset"] = *offset_;
  Result<Json> updates = api_.Call("getUpdates", params, poll_seconds + 10);
  if (!updates.ok()) return updates.status();
  if (!updates->is_array()) return Status::Unavailable("telegram getUpdates", "no update list");
  for (const Json& u : *updates) {
    if (!u.is_object() || !u.value("update_id", Json()).is_number_integer()) continue;
    offset_ = std::max(*offset_, u["update_id"].get<int64_t>() + 1);
    // Saved before the command runs: a crash mid-command loses it rather than doing it twice.
    ORCH_RETURN_IF_ERROR(store_.SetKv(kOffsetKey, std::to_string(*offset_)));
    if (u.contains("message") && u["message"].is_object()) Handle(u["message"]);
  }
  return Status::OK();
}

void TelegramCommands::Handle(const Json& message) {
  const Json& chat = message.value("chat", Json::object());
  std::string chat_id =
      chat.is_object() && chat.contains("id")
          ? (chat["id"].is_string() ? chat["id"].get<std::string>() : chat["id"].dump())
          : "";
  std::string text = message.value("text", "");
  if (text.empty() || text[0] != '/') return;
  const Json& from = message.value("from", Json::object());
  std::string who = from.is_object() ? from.value("username", "") : "";
  if (who.empty() && from.is_object() && from.contains("id")) who = from["id"].dump();
  if (chat_id != config_.telegram.chat_id) {
    spdlog::warn(
        "telegram: ignored a command from chat {} (only channels.telegram.chat_id is "
        "obeyed)",
        chat_id);
    return;
  }
  std::optional<ChatReply> reply =
      HandleChatCommand(store_, config_, text, "telegram:" + (who.empty() ? "?" : who));
  if (!reply) return;
  spdlog::info("telegram: {} from {}", text.substr(0, text.find(' ')), who);
  if (reply->changed && on_change_) on_change_();
  Reply(reply->text);
}

void TelegramCommands::Reply(const std::string& text) {
  Status s = SendWhole(replies_, text);
  if (!s.ok()) spdlog::warn("telegram: replying: {}", s.message());
}

}  // namespace orch
