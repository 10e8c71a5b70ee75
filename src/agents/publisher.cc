#include "agents/publisher.h"

#include <spdlog/spdlog.h>

#include <thread>
#include <type_traits>

#include "base/secret_scan.h"

namespace orch {
namespace {

template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}
Status StatusOf(const Status& s) { return s; }

}  // namespace

Publisher::Publisher(Runner& runner, GitHubClient* github, Sleep sleep)
    : runner_(runner), github_(github), sleep_(std::move(sleep)) {
  if (!sleep_) sleep_ = [](std::chrono::seconds s) { std::this_thread::sleep_for(s); };
}

template <typename F>
auto Publisher::WithRetries(F f) -> decltype(f()) {
  auto r = f();
  for (int i = 1; i < kTries; ++i) {
    Status s = StatusOf(r);
    if (s.ok() || !s.IsRetryable()) break;
    sleep_(std::chrono::seconds(i));
    r = f();
  }
  return r;
}

Result<bool> Publisher::Commit(const std::string& worktree, const std::string& message) {
  return runner_.Commit(worktree, message, kBotName, kBotEmail);
}

Result<int> Publisher::Ahead(const std::string& worktree, int64_t task_id) {
  return runner_.Ahead(worktree, task_id);
}

Result<std::optional<PullRequest>> Publisher::Publish(const Project& project,
                                                      const std::string& worktree,
                                                      const NewPullRequest& pr) {
  Status pushed = WithRetries([&] { return runner_.Push(project, worktree, pr.head); });
  if (!pushed.ok()) return pushed.Prefixed("push failed");
  if (!OnGitHub(project)) return std::optional<PullRequest>();
  Result<std::vector<PullRequest>> open =
      WithRetries([&] { return github_->ListPullRequests(*project.repo, pr.head, "open"); });
  if (!open.ok()) return open.status().Prefixed("looking for the branch's pull request failed");
  if (!open->empty()) return std::optional<PullRequest>(open->front());
  Result<PullRequest> made =
      WithRetries([&] { return github_->CreatePullRequest(*project.repo, pr); });
  if (!made.ok()) return made.status().Prefixed("opening the pull request failed");
  spdlog::info("github: {}: pull request #{} for {}", *project.repo, made->number, pr.head);
  return std::optional<PullRequest>(*made);
}

void Publisher::Comment(const Project& project, int64_t number, const std::string& text,
                        const std::string& key) {
  if (!OnGitHub(project)) return;
  std::string body = RedactSecrets(text);
  if (!key.empty()) {
    std::string marker = "<!-- orch: " + key + " -->";
    Result<std::vector<orch::Comment>> thread =
        WithRetries([&] { return github_->ListComments(*project.repo, number); });
    if (!thread.ok()) {
      spdlog::warn("github: reading #{} before commenting: {}", number, thread.status().message());
      return;  // rather none than a second
    }
    for (const orch::Comment& c : *thread) {
      if (c.body.find(marker) != std::string::npos) {
        spdlog::info("github: #{} has its comment for {} already", number, key);
        return;
      }
    }
    body += "\n\n" + marker;
  }
  Result<orch::Comment> posted = github_->CreateComment(*project.repo, number, body);
  if (!posted.ok())
    spdlog::warn("github: commenting on #{}: {}", number, posted.status().message());
}

Result<orch::Comment> Publisher::Ask(const Project& project, int64_t number, const std::string& to,
                                     const std::string& text) {
  if (!OnGitHub(project)) return Status::NotFound("GitHub", "no repository to ask on");
  std::string login = to;
  if (login.empty()) {
    Result<Issue> issue = WithRetries([&] { return github_->GetIssue(*project.repo, number); });
    if (issue.ok()) login = issue->user.login;
    Result<GitHubUser> me = github_->AuthenticatedUser();
    if (me.ok() && SameLogin(me->login, login)) login.clear();
  }
  std::string body = (login.empty() ? "" : "@" + login + " ") + RedactSecrets(text);
  return WithRetries([&] { return github_->CreateComment(*project.repo, number, body); });
}

void Publisher::Label(const Project& project, int64_t number,
                      const std::vector<std::string>& labels) {
  if (!OnGitHub(project)) return;
  Status s = github_->AddLabels(*project.repo, number, labels);
  if (!s.ok()) spdlog::warn("github: labelling #{}: {}", number, s.message());
}

}  // namespace orch
