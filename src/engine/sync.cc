#include "engine/sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runs/runs.h"

namespace orch {
namespace {

std::string KvKey(const std::string& repo) { return "sync." + repo; }
// {"<issue number>": failures so far} of the issues whose intake failed.
std::string RetryKey(const std::string& repo) { return "sync.retry." + repo; }
constexpr int kMaxIssueRetries = 10;

struct Labeling {
  std::optional<GitHubUser> who;  // the person who last added one of the labels
  bool by_orch_only = false;      // such labels were added, but only by orch itself
};

// Who added one of the labels `counts` accepts most recently, from the issue's events. orch's
// own label changes (it projects agent:* labels) do not count, as its own webhooks do not.
Result<Labeling> FindLabeler(GitHubClient& github, const std::string& repo, const Issue& issue,
                             const std::function<bool(const std::string&)>& counts,
                             const IntakeRules& rules) {
  Result<std::vector<IssueEvent>> events = github.ListIssueEvents(repo, issue.number);
  if (!events.ok()) return events.status();
  Labeling out;
  bool by_orch = false;
  for (const IssueEvent& e : *events) {
    if (e.event != "labeled" || !counts(e.label)) continue;
    if (SameLogin(e.actor.login, rules.bot_login)) {
      by_orch = true;
    } else {
      out.who = e.actor;
    }
  }
  out.by_orch_only = by_orch && !out.who;
  return out;
}

// Unix seconds of an ISO-8601 UTC time as GitHub writes it ("2026-11-21T10:00:00Z"), or 0.
int64_t UnixOf(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return in.fail() ? 0 : static_cast<int64_t>(timegm(&tm));
}

// A reopen the webhook would have reported: the issue's last "reopened" event by someone other
// than orch, after its task was done. The sync cannot tell "reopened" from "still open after
// the pull request merged" by the issue alone, so it asks the events.
Result<std::optional<IntakeDecision>> ReopenedSince(GitHubClient& github, const std::string& repo,
                                                    const Issue& issue, const Task& task,
                                                    const IntakeRules& rules) {
  if (task.status != TaskStatus::kDone) return std::optional<IntakeDecision>();
  Result<std::vector<IssueEvent>> events = github.ListIssueEvents(repo, issue.number);
  if (!events.ok()) return events.status();
  const IssueEvent* last = nullptr;
  for (const IssueEvent& e : *events) {
    if (e.event == "reopened" && !SameLogin(e.actor.login, rules.bot_login)) last = &e;
  }
  if (!last || UnixOf(last->created_at) <= task.updated_at) return std::optional<IntakeDecision>();
  IntakeDecision d;
  d.action = IntakeAction::kReopenTask;
  d.reason = "issue reopened (seen by sync)";
  d.repo = repo;
  d.actor = last->actor;
  d.external_id = std::to_string(issue.number);
  return std::optional<IntakeDecision>(d);
}

}  // namespace

Status Syncer::StartLabelledRuns(const Project& project, const Issue& issue,
                                 const IntakeRules& rules) {
  if (issue.is_pull_request || issue.state != "open") return Status::OK();
  const std::string& repo = *project.repo;
  for (const char* label : {kDebugLabel, kPlanLabel}) {
    if (std::find(issue.labels.begin(), issue.labels.end(), label) == issue.labels.end()) continue;
    std::string kind = label == kDebugLabel ? "debug" : "plan";
    // Once per issue and kind: asked of the store first, which spares the events request.
    std::string number = std::to_string(issue.number);
    Result<std::optional<RunRecord>> existing = FindIssueRun(store_, project.id, number, kind);
    if (!existing.ok()) return existing.status();
    if (*existing) continue;
    Result<Labeling> labeling = FindLabeler(
        github_, repo, issue, [&](const std::string& l) { return l == label; }, rules);
    if (!labeling.ok()) return labeling.status();
    if (!labeling->who) continue;  // orch's own label starts nothing
    IntakeDecision d;
    d.action = IntakeAction::kStartRun;
    d.run_kind = kind;
    d.reason = std::string("labelled ") + label + " (seen by sync)";
    d.repo = repo;
    d.actor = *labeling->who;
    d.external_id = number;
    d.title = issue.title;
    d.body = issue.body;
    d.labels = issue.labels;
    Result<std::string> applied = intake_.Apply(project, d);
    if (!applied.ok()) return applied.status();
    spdlog::info("sync: {}#{}: {}", repo, issue.number, *applied);
  }
  return Status::OK();
}

Result<SyncReport> Syncer::SyncProject(const Project& project, const IntakeRules& rules) {
  SyncReport report;
  const std::string& repo = *project.repo;
  // {"since": cursor, "etag": first page's ETag for that cursor}
  nlohmann::json state = nlohmann::json::object();
  Result<std::optional<std::string>> saved = store_.GetKv(KvKey(repo));
  if (!saved.ok()) return saved.status();
  if (saved->has_value()) state = nlohmann::json::parse(**saved, nullptr, false);
  if (!state.is_object()) state = nlohmann::json::object();
  IssueQuery query;
  query.since = state.value("since", "");
  query.etag = state.value("etag", "");
  // Issues an earlier sync could not apply go first, whatever the listing says.
  Result<std::map<int64_t, int>> retries = LoadRetries(repo);
  if (!retries.ok()) return retries.status();
  if (!retries->empty()) {
    ORCH_RETURN_IF_ERROR(RetryFailedIssues(project, rules, &*retries, &report));
  }
  Result<IssueListing> listing = github_.ListIssues(repo, query);
  if (!listing.ok()) return listing.status();
  if (listing->not_modified) {
    report.not_modified = true;
    return report;
  }
  std::string newest = query.since;
  std::map<int64_t, int> failed = *retries;
  for (const Issue& issue : listing->issues) {
    ++report.issues_seen;
    report.changes.push_back({issue.number, issue.updated_at});
    newest = std::max(newest, issue.updated_at);  // ISO-8601 UTC sorts as text
    Status s = SyncIssue(project, issue, rules, &report);
    if (s.retry_after_seconds() > 0) {
      // GitHub asked orch to back off: the rest waits too, and this sync is retried whole.
      ORCH_RETURN_IF_ERROR(SaveRetries(repo, failed));
      return s;
    }
    if (s.ok()) {
      failed.erase(issue.number);
    } else {
      NoteFailure(repo, issue.number, s, &failed);
    }
  }
  // The cursor moves past every issue listed: one that failed is retried from the retry list
  // instead, so it holds nothing else up. A new cursor means a new URL, so its ETag is the one
  // to keep only when the cursor stayed.
  nlohmann::json next = {{"since", newest}, {"etag", newest == query.since ? listing->etag : ""}};
  ORCH_RETURN_IF_ERROR(store_.SetKv(KvKey(repo), next.dump()));
  ORCH_RETURN_IF_ERROR(SaveRetries(repo, failed));
  return report;
}

Status Syncer::SyncIssue(const Project& project, const Issue& issue, const IntakeRules& rules,
                         SyncReport* report) {
  const std::string& repo = *project.repo;
  ORCH_RETURN_IF_ERROR(StartLabelledRuns(project, issue, rules));
  IntakeDecision d = DecideIssue(repo, issue, std::nullopt, rules);
  if (d.action == IntakeAction::kCreateTask) {
    Result<std::vector<Task>> existing =
        store_.ListTasks({.project_id = project.id, .external_id = std::to_string(issue.number)});
    if (!existing.ok()) return existing.status();
    if (!existing->empty()) {  // one issue, one task; but a reopened issue revives it
      Result<std::optional<IntakeDecision>> reopen =
          ReopenedSince(github_, repo, issue, existing->front(), rules);
      if (!reopen.ok()) return reopen.status();
      if (!*reopen) return Status::OK();
      d = **reopen;
    } else {
      Result<Labeling> labeling = FindLabeler(
          github_, repo, issue, [&](const std::string& l) { return IsTriggerLabel(l, rules); },
          rules);
      if (!labeling.ok()) return labeling.status();
      if (labeling->by_orch_only) return Status::OK();  // orch's own label starts nothing
      d = DecideIssue(repo, issue, labeling->who, rules);
    }
  }
  Result<std::string> applied = intake_.Apply(project, d);
  if (!applied.ok()) return applied.status();
  if (applied->rfind("created task", 0) == 0) ++report->tasks_created;
  if (d.action != IntakeAction::kIgnore) {
    spdlog::debug("sync: {}#{}: {}", repo, issue.number, *applied);
  }
  return Status::OK();
}

// ---- Issues whose intake failed, retried at each sync until they work (or kMaxIssueRetries).

Result<std::map<int64_t, int>> Syncer::LoadRetries(const std::string& repo) {
  std::map<int64_t, int> out;
  Result<std::optional<std::string>> saved = store_.GetKv(RetryKey(repo));
  if (!saved.ok()) return saved.status();
  if (!saved->has_value()) return out;
  nlohmann::json j = nlohmann::json::parse(**saved, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [number, tries] : j.items()) {
    if (tries.is_number_integer()) out[std::atoll(number.c_str())] = tries.get<int>();
  }
  return out;
}

Status Syncer::SaveRetries(const std::string& repo, const std::map<int64_t, int>& failed) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [number, tries] : failed) j[std::to_string(number)] = tries;
  return store_.SetKv(RetryKey(repo), j.dump());
}

void Syncer::NoteFailure(const std::string& repo, int64_t number, const Status& why,
                         std::map<int64_t, int>* failed) {
  int tries = ++(*failed)[number];
  if (tries >= kMaxIssueRetries) {
    spdlog::error("sync: {}#{}: {} (failed {} times; no more retries until it changes)", repo,
                  number, why.message(), tries);
    failed->erase(number);
    return;
  }
  spdlog::warn("sync: {}#{}: {} (retried at the next sync)", repo, number, why.message());
}

Status Syncer::RetryFailedIssues(const Project& project, const IntakeRules& rules,
                                 std::map<int64_t, int>* failed, SyncReport* report) {
  const std::string& repo = *project.repo;
  std::map<int64_t, int> before = *failed;
  for (const auto& [number, tries] : before) {
    Result<Issue> issue = github_.GetIssue(repo, number);
    Status s = issue.ok() ? SyncIssue(project, *issue, rules, report) : issue.status();
    if (s.retry_after_seconds() > 0) {
      ORCH_RETURN_IF_ERROR(SaveRetries(repo, *failed));
      return s;  // GitHub asked orch to back off
    }
    if (s.ok()) {
      failed->erase(number);
      spdlog::info("sync: {}#{}: applied on retry", repo, number);
    } else {
      NoteFailure(repo, number, s, failed);
    }
  }
  return SaveRetries(repo, *failed);
}

}  // namespace orch
