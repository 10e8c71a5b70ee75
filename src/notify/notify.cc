#include "notify/notify.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/secret_scan.h"
#include "config/projects.h"

namespace orch {
namespace {

constexpr int kBatch = 100;

bool Contains(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it != haystack.end();
}

}  // namespace

const char* NotifyKindName(NotifyKind k) {
  switch (k) {
    case NotifyKind::kRouted:
      return "routed";
    case NotifyKind::kStarted:
      return "started";
    case NotifyKind::kPullRequest:
      return "pull_request";
    case NotifyKind::kFollowUp:
      return "follow_up";
    case NotifyKind::kDone:
      return "done";
    case NotifyKind::kNeedsReview:
      return "needs_review";
    case NotifyKind::kFailedAttempt:
      return "failed_attempt";
  }
  return "?";
}

std::optional<NotifyKind> ClassifyEvent(const Event& e, const Task& task) {
  if (e.kind == "created") {
    if (task.source == TaskSource::kReview && task.parent_id) return NotifyKind::kFollowUp;
    return std::nullopt;
  }
  if (e.kind != "transition") return std::nullopt;
  const std::string& to = e.to_status;
  if (to == "routed") {
    if (e.from_status == "new") return NotifyKind::kRouted;
    // The dispatcher's reasons for a failed attempt say "... failed" and "; retrying <agent>"
    // or "; failing over to <agent>"; a restart's "no agent was running" is no failure.
    if (e.from_status == "in_progress" &&
        (Contains(e.reason, "fail") || Contains(e.reason, "retrying"))) {
      return NotifyKind::kFailedAttempt;
    }
    return std::nullopt;
  }
  if (to == "in_progress") return NotifyKind::kStarted;
  if (to == "in_review") return NotifyKind::kPullRequest;
  if (to == "done") return NotifyKind::kDone;
  if (to == "needs_review") return NotifyKind::kNeedsReview;
  return std::nullopt;
}

bool LevelSends(NotificationLevel level, NotifyKind kind) {
  switch (level) {
    case NotificationLevel::kAll:
      return true;
    case NotificationLevel::kImportant:
      return kind != NotifyKind::kRouted && kind != NotifyKind::kStarted;
    case NotificationLevel::kErrors:
      return kind == NotifyKind::kNeedsReview || kind == NotifyKind::kFailedAttempt;
    case NotificationLevel::kNone:
      return false;
  }
  return false;
}

std::string FormatNotification(const Event& e, const Task& task, const std::string& pr_url) {
  std::string from = e.from_status.empty() ? e.kind : e.from_status;  // "created"
  std::string reason = e.reason;
  if (e.kind == "created" && task.parent_id) {
    std::string parent = "follow-up of #" + std::to_string(*task.parent_id);
    reason = reason.empty() ? parent : parent + ": " + reason;
  }
  std::string out = "[" + task.project + "#" + std::to_string(task.id) + "] " + task.title + ": " +
                    from + " \u2192 " + e.to_status;
  if (!reason.empty()) out += " (" + reason + ")";
  if (!pr_url.empty()) out += "\n" + pr_url;
  return out;
}

std::string PullRequestUrl(const std::string& api_url, const std::string& repo, int64_t number) {
  std::string url = CloneUrlForSlug(api_url, repo);
  if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
  return url + "/pull/" + std::to_string(number);
}

Notifier::Notifier(Store& store, const Clock& clock, NotifierOptions options,
                   std::vector<ChatChannel*> channels)
    : store_(store), clock_(clock), options_(std::move(options)) {
  for (ChatChannel* c : channels) channels_.push_back({.channel = c});
}

Status Notifier::LoadCursors() {
  Result<std::optional<std::string>> saved = store_.GetKv(kCursorKey);
  if (!saved.ok()) return saved.status();
  nlohmann::json j = nlohmann::json::parse(saved->value_or("{}"), nullptr, false);
  if (!j.is_object()) {
    spdlog::warn("notify: {} is not JSON; starting from the newest event", kCursorKey);
    j = nlohmann::json::object();
  }
  Result<int64_t> newest = store_.MaxEventId();
  if (!newest.ok()) return newest.status();
  for (ChannelState& st : channels_) {
    const nlohmann::json& c = j.value(st.channel->name(), nlohmann::json());
    if (c.is_object() && c.value("after", nlohmann::json()).is_number_integer()) {
      st.after = c["after"].get<int64_t>();
      st.parts = c.value("parts", 0);
    } else {
      st.after = *newest;
      st.parts = 0;
    }
  }
  loaded_ = true;
  return SaveCursors();
}

Status Notifier::SaveCursors() {
  // Kept on top of what is stored, so a channel disabled today keeps its place for tomorrow.
  Result<std::optional<std::string>> saved = store_.GetKv(kCursorKey);
  if (!saved.ok()) return saved.status();
  nlohmann::json j = nlohmann::json::parse(saved->value_or("{}"), nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  for (const ChannelState& st : channels_) {
    j[st.channel->name()] = {{"after", st.after}, {"parts", st.parts}};
  }
  return store_.SetKv(kCursorKey, j.dump());
}

Status Notifier::Step() {
  if (options_.leads && !options_.leads()) {
    loaded_ = false;  // another host sends, and moves the cursors
    return Status::OK();
  }
  if (!loaded_) ORCH_RETURN_IF_ERROR(LoadCursors());
  SteadyTime now = clock_.Monotonic();
  messages_.clear();
  Status first;
  bool moved = false;
  for (ChannelState& st : channels_) {
    int64_t after = st.after;
    size_t parts = st.parts;
    Status s = StepChannel(st, now);
    if (!s.ok() && first.ok()) first = s;
    moved = moved || st.after != after || st.parts != parts;
  }
  if (moved) {
    Status saved = SaveCursors();
    if (!saved.ok() && first.ok()) first = saved;
  }
  return first;
}

void Notifier::Backoff(ChannelState& st, SteadyTime now) {
  ++st.failures;
  st.next_try = now + DeliveryRetryDelay(st.failures);
}

Status Notifier::StepChannel(ChannelState& st, SteadyTime now) {
  ChatChannel& ch = *st.channel;
  if (now < st.next_try) return Status::OK();
  if (!st.healthy) {
    Status health = ch.CheckHealth();
    if (!health.ok()) {
      if (!st.reported) {
        spdlog::warn("notify: {}: health check failed, retrying with backoff: {}", ch.name(),
                     health.message());
        st.reported = true;
      }
      Backoff(st, now);
      return Status::OK();
    }
    spdlog::info("notify: {}: {}", ch.name(), st.reported ? "reachable again" : "connected");
    st.healthy = true;
    st.reported = false;  // failures stay: only a sent message resets the backoff
  }
  while (true) {
    Result<std::vector<Event>> events = store_.EventsAfter(st.after, kBatch);
    if (!events.ok()) return events.status();
    for (const Event& e : *events) {
      Result<std::string> text = MessageFor(e);
      if (!text.ok()) return text.status();
      std::vector<std::string> parts = SplitMessage(*text, ch.max_chars());
      while (st.parts < parts.size()) {
        if (!ch.gate().TryAcquire(now)) return Status::OK();  // the rate limit: next Step
        Status sent = ch.Send(parts[st.parts]);
        if (sent.ok()) {
          ++st.parts;
          st.failures = 0;
          continue;
        }
        if (sent.retry_after_seconds() > 0) return Status::OK();  // the gate holds it
        spdlog::log(st.failures == 0 ? spdlog::level::warn : spdlog::level::debug,
                    "notify: {}: sending event {} failed, will retry: {}", ch.name(), e.id,
                    sent.message());
        if (sent.code() == StatusCode::kInvalidArgument && st.failures + 1 >= kMaxRefusals) {
          spdlog::error("notify: {}: event {} refused {} times, skipped: {}", ch.name(), e.id,
                        kMaxRefusals, sent.message());
          st.failures = 0;
          break;
        }
        st.healthy = sent.code() == StatusCode::kInvalidArgument;  // else check it first
        Backoff(st, now);
        return Status::OK();
      }
      st.after = e.id;
      st.parts = 0;
    }
    if (events->size() < static_cast<size_t>(kBatch)) break;
  }
  return Status::OK();
}

Result<std::string> Notifier::MessageFor(const Event& e) {
  auto cached = messages_.find(e.id);
  if (cached != messages_.end()) return cached->second;
  std::string text;
  if (e.task_id) {
    Result<Task> task = store_.GetTask(*e.task_id);
    if (!task.ok() && !task.status().IsNotFound()) return task.status();
    std::optional<NotifyKind> kind;
    if (task.ok()) kind = ClassifyEvent(e, *task);
    if (kind && LevelSends(options_.level, *kind)) {
      std::string pr_url;
      // The task is read now, not as it was then: only moves that come with or after a PR
      // get its link.
      bool after_pr = e.to_status == "in_review" || e.to_status == "done" ||
                      e.to_status == "needs_review" || e.from_status == "in_review";
      if (task->pr_number && after_pr) {
        Result<Project> project = store_.FindProject(std::to_string(task->project_id));
        if (project.ok() && project->repo) {
          pr_url = PullRequestUrl(options_.github_api_url, *project->repo, *task->pr_number);
        }
      }
      text = RedactSecrets(FormatNotification(e, *task, pr_url));
    }
  }
  messages_[e.id] = text;
  return text;
}

}  // namespace orch
