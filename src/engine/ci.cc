#include "engine/ci.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "base/secret_scan.h"
#include "engine/follow_ups.h"

namespace orch {
namespace {

std::string Short(const std::string& sha) { return sha.substr(0, 7); }

bool IsFailure(const std::string& conclusion) {
  return conclusion == "failure" || conclusion == "timed_out";
}

// The last `n` lines of `text`.
std::string Tail(const std::string& text, int n) {
  size_t at = text.size();
  for (int i = 0; i <= n && at != std::string::npos && at > 0; ++i) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos || at == 0 ? text : text.substr(at + 1);
}

// The task whose PR the check is about: one of the PRs the check names, else the branch.
Result<std::optional<Task>> OwnerOf(Store& store, const Project& project, const CheckRun& check) {
  for (int64_t pr : check.pull_requests) {
    Result<std::optional<Task>> owner = PullRequestOwner(store, project, pr, check.head_branch);
    if (!owner.ok() || *owner) return owner;
  }
  if (check.head_branch.empty()) return std::optional<Task>();
  Result<std::vector<Task>> tasks = store.ListTasks({.project_id = project.id});
  if (!tasks.ok()) return tasks.status();
  for (const Task& t : *tasks) {
    if (!IsFollowUp(t) && t.pr_number && t.branch == check.head_branch) {
      return std::optional<Task>(t);
    }
  }
  return std::optional<Task>();
}

}  // namespace

Result<std::string> CiHandler::ApplyCheck(const Project& project, const CheckRun& check) {
  return Judge(project, check, nullptr);
}

Result<std::string> CiHandler::Judge(const Project& project, const CheckRun& check,
                                     const PullRequest* known) {
  if (check.status != "completed") return "check " + check.name + " is " + check.status;
  Result<std::optional<Task>> owner = OwnerOf(store_, project, check);
  if (!owner.ok()) return owner.status();
  if (!*owner) return "ignored: check " + check.name + " is not on a pull request of orch's";
  const Task& parent = **owner;
  if (parent.status != TaskStatus::kInReview) {
    return "ignored: task " + std::to_string(parent.id) + " is " + TaskStatusName(parent.status);
  }
  Result<PullRequest> pr = known && known->number == *parent.pr_number
                               ? Result<PullRequest>(*known)
                               : github_.GetPullRequest(*project.repo, *parent.pr_number);
  if (!pr.ok()) return pr.status();
  if (pr->state != "open")
    return "ignored: pull request #" + std::to_string(pr->number) + " is closed";
  if (!pr->head_sha.empty() && check.head_sha != pr->head_sha) {
    return "ignored: check " + check.name + " ran on " + Short(check.head_sha) +
           ", not on the pull request's head " + Short(pr->head_sha);
  }
  if (IsFailure(check.conclusion)) return Failed(project, parent, pr->number, check);
  if (parent.status_reason.find("failed on") != std::string::npos) {
    ORCH_RETURN_IF_ERROR(store_.SetTaskStatusReason(
        parent.id, "checks pass on " + Short(check.head_sha) + "; waiting for review"));
    return "check " + check.name + " passes: task " + std::to_string(parent.id) +
           " waits for review";
  }
  return "check " + check.name + ": " + check.conclusion;
}

Result<std::string> CiHandler::Failed(const Project& project, const Task& parent, int64_t pr,
                                      const CheckRun& check) {
  std::string key = "ci " + check.head_sha;
  Result<std::vector<Task>> made_for_commit =
      store_.ListTasks({.project_id = project.id, .source_id = key});
  if (!made_for_commit.ok()) return made_for_commit.status();
  if (!made_for_commit->empty()) {
    return "follow-up task " + std::to_string(made_for_commit->front().id) + " exists for " +
           Short(check.head_sha);
  }
  Result<std::vector<Task>> earlier =
      store_.ListTasks({.parent_id = parent.id, .source_id_prefix = std::string("ci ")});
  if (!earlier.ok()) return earlier.status();
  int cap = configs_.For(project)->workflow.max_ci_fix_attempts;
  std::string where = "check " + check.name + " " + check.conclusion + " on " +
                      Short(check.head_sha) + " of pull request #" + std::to_string(pr);
  if (static_cast<int>(earlier->size()) >= cap) {
    ORCH_RETURN_IF_ERROR(
        store_.Transition(parent.id, TaskStatus::kInReview, TaskStatus::kNeedsReview,
                          {"github", where + " after " + std::to_string(earlier->size()) +
                                         " fix attempt(s) (workflow.max_ci_fix_attempts)"}));
    Result<Comment> told = github_.CreateComment(
        *project.repo, pr,
        "**orch**: " + where + ". " + std::to_string(earlier->size()) +
            " fix attempt(s) were made (workflow.max_ci_fix_attempts): a person should look.\n");
    if (!told.ok()) spdlog::warn("ci: commenting on #{}: {}", pr, told.status().message());
    return "task " + std::to_string(parent.id) + " needs review: " + where;
  }
  NewTask t{.project_id = project.id,
            .parent_id = parent.id,
            .source = TaskSource::kReview,
            .source_id = key,
            .title = "Fix check " + check.name + " on #" + std::to_string(pr),
            .body = FollowUpBody(project, parent, pr, check),
            .branch = parent.branch};
  Result<Task> made = store_.AddTask(t, {"github", where});
  if (!made.ok()) return made.status();
  ORCH_RETURN_IF_ERROR(store_.SetTaskStatusReason(
      parent.id, "check " + check.name + " failed on " + Short(check.head_sha) +
                     "; follow-up task " + std::to_string(made->id) + " fixes it"));
  Result<Comment> told = github_.CreateComment(
      *project.repo, pr,
      "**orch**: " + where + ". Follow-up task " + std::to_string(made->id) +
          " works on it on this branch (fix attempt " + std::to_string(earlier->size() + 1) +
          " of " + std::to_string(cap) + ").\n");
  if (!told.ok()) spdlog::warn("ci: commenting on #{}: {}", pr, told.status().message());
  spdlog::info("ci: {} #{}: {}: follow-up task {}", project.name, pr, where, made->id);
  return "created follow-up task " + std::to_string(made->id) + " for " + where;
}

std::string CiHandler::FollowUpBody(const Project& project, const Task& parent, int64_t pr,
                                    const CheckRun& check) {
  std::ostringstream b;
  b << "The check `" << check.name << "` ended " << check.conclusion << " on commit "
    << check.head_sha << " of pull request #" << pr << " (branch `" << parent.branch
    << "`). Make it pass on the same branch; orch pushes to the same pull request.\n\n";
  if (!check.title.empty()) b << "Check output: " << check.title << "\n";
  if (!check.summary.empty()) b << check.summary << "\n";
  Result<std::vector<CheckAnnotation>> notes =
      github_.ListCheckAnnotations(*project.repo, check.id);
  if (notes.ok() && !notes->empty()) {
    b << "\nAnnotations:\n";
    for (const CheckAnnotation& a : *notes) {
      b << "- " << a.path << ":" << a.start_line << ": " << a.level << ": " << a.message << "\n";
    }
  } else if (!notes.ok()) {
    spdlog::warn("ci: annotations of check {}: {}", check.id, notes.status().message());
  }
  Result<std::string> log = github_.GetJobLog(*project.repo, check.id);
  if (log.ok() && !log->empty()) {
    b << "\nThe last " << kLogTailLines << " lines of its log at most:\n```\n"
      << Tail(*log, kLogTailLines) << (log->back() == '\n' ? "" : "\n") << "```\n";
  } else if (!log.ok() && !log.status().IsNotFound()) {
    spdlog::warn("ci: log of job {}: {}", check.id, log.status().message());
  }
  b << "\nParent task: " << parent.id << " (" << parent.title << ")\n";
  return RedactSecrets(b.str());
}

Result<std::string> CiHandler::ApplyCommit(const Project& project, const std::string& head_sha) {
  Result<std::vector<CheckRun>> checks = github_.ListCheckRuns(*project.repo, head_sha);
  if (!checks.ok()) return checks.status();
  std::string out;
  for (const CheckRun& c : *checks) {
    Result<std::string> did = ApplyCheck(project, c);
    if (!did.ok()) return did.status();
    out += (out.empty() ? "" : "; ") + *did;
  }
  return out.empty() ? "no check runs on " + Short(head_sha) : out;
}

Result<std::string> CiHandler::ApplyMergeable(const Project& project, const PullRequest& pr) {
  if (pr.state != "open" || !pr.mergeable || *pr.mergeable || pr.mergeable_state != "dirty") {
    return std::string();
  }
  Result<std::optional<Task>> owner = PullRequestOwner(store_, project, pr.number, pr.head_ref);
  if (!owner.ok()) return owner.status();
  if (!*owner || (*owner)->status != TaskStatus::kInReview) return std::string();
  const Task& parent = **owner;
  std::string key = ConflictKey(pr.base_ref, pr.base_sha, pr.head_sha);
  Result<std::vector<Task>> made = store_.ListTasks({.project_id = project.id, .source_id = key});
  if (!made.ok()) return made.status();
  if (!made->empty()) return std::string();
  std::string where = "pull request #" + std::to_string(pr.number) + " conflicts with `" +
                      pr.base_ref + "` (" + Short(pr.base_sha) + ")";
  bool rebase = configs_.For(project)->workflow.update_strategy == UpdateStrategy::kRebase;
  NewTask t{.project_id = project.id,
            .parent_id = parent.id,
            .source = TaskSource::kReview,
            .source_id = key,
            .title = "Resolve conflicts with " + pr.base_ref + " on #" + std::to_string(pr.number),
            .body = "The base branch `" + pr.base_ref + "` moved and " + where +
                    ": GitHub cannot merge it. Before you start, orch " +
                    (rebase ? "rebases the branch onto" : "merges") + " `" + pr.base_ref +
                    "` in your work tree and lists the files in conflict below. Resolve each "
                    "one so both sides' changes survive; orch commits and pushes to the same "
                    "pull request.\n\nParent task: " +
                    std::to_string(parent.id) + " (" + parent.title + ")\n",
            .branch = parent.branch};
  Result<Task> follow_up = store_.AddTask(t, {"github", where});
  if (!follow_up.ok()) return follow_up.status();
  ORCH_RETURN_IF_ERROR(
      store_.SetTaskStatusReason(parent.id, "conflicts with " + pr.base_ref + "; follow-up task " +
                                                std::to_string(follow_up->id) + " resolves them"));
  Result<Comment> told = github_.CreateComment(
      *project.repo, pr.number,
      "**orch**: " + where + ". Follow-up task " + std::to_string(follow_up->id) + " " +
          (rebase ? "rebases this branch onto" : "merges") + " `" + pr.base_ref +
          "` and resolves the conflicts on this branch.\n");
  if (!told.ok()) spdlog::warn("ci: commenting on #{}: {}", pr.number, told.status().message());
  spdlog::info("ci: {} #{}: {}: follow-up task {}", project.name, pr.number, where, follow_up->id);
  return "created follow-up task " + std::to_string(follow_up->id) + " for " + where;
}

Result<int> CiHandler::SyncPull(const Project& project, const PullRequest& pr) {
  if (pr.state != "open" || pr.head_sha.empty()) return 0;
  Result<std::string> merged = ApplyMergeable(project, pr);
  if (!merged.ok()) return merged.status();
  int conflicts = merged->empty() ? 0 : 1;
  Result<std::vector<CheckRun>> checks = github_.ListCheckRuns(*project.repo, pr.head_sha);
  if (!checks.ok()) return checks.status();
  int changed = conflicts;
  for (CheckRun c : *checks) {
    if (c.pull_requests.empty()) c.pull_requests = {pr.number};
    Result<std::string> did = Judge(project, c, &pr);
    if (!did.ok()) return did.status();
    if (did->rfind("created", 0) == 0 || did->find("needs review") != std::string::npos ||
        did->find("waits for review") != std::string::npos) {
      spdlog::info("sync: {} #{}: {}", project.name, pr.number, *did);
      ++changed;
    }
  }
  return changed;
}

}  // namespace orch
