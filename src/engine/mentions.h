// Mentions: "@orch-bot, please ..." in a comment becomes work, by webhook or by the sync.
//
// Where a mention comes from: an issue comment (on an issue, or on a pull request's
// conversation), a pull request review comment, or the body of a review that only comments.
// What it becomes:
//   on an issue with no task              -> a task tied to the issue (external id = its number,
//                                            so its PR says "Closes #N"); the comment is the
//                                            instruction, the issue and its thread the context
//   on an issue whose task is not done    -> a follow-up of that task, on its branch and PR
//   on an issue whose task is done        -> a new task for the request (no "Closes": the issue
//                                            was dealt with), replying on the issue
//   on a pull request a task of orch owns -> a follow-up of that task, on the PR's branch
//   on another pull request               -> with workflow.mentions_on_foreign_prs, a task on
//                                            that PR's branch (same repository only); else
//                                            nothing, and the reason is logged
// Each is keyed by its comment ("comment 12", "review comment 34", "review 56" as source id),
// so a webhook and a sync, or a redelivery, make one task. orch reacts with 👀 on the comment
// when it takes the request, and once the work is pushed the task's author gets a reply on the
// thread with the link (agents/attempt_outcome.h, ReplyToMention). orch's own comments and
// untrusted authors (trust.h) start nothing; the log says why. Text from GitHub reaches the
// agent only in the task's body, which the prompt fences as untrusted.
//
// The sync lists the repository's issue comments and review comments updated since its
// cursor (kv `sync.comments.<repo>`), conditionally (ETag, 304 costs no rate limit). The first
// sync of a repository starts at the issues' cursor (sync.h): older comments start nothing.
//
// A plain comment (no mention needed) that replies on a thread where a task waits for an
// answer to its agent's question answers it (agents/questions.h), if its author is trusted.
//
// Thread safety: one thread (the engine's).
#ifndef ORCH_ENGINE_MENTIONS_H_
#define ORCH_ENGINE_MENTIONS_H_

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "config/config_set.h"
#include "github/github.h"
#include "github/trust.h"
#include "store/store.h"

namespace orch {

// True when `text` mentions @login as a whole word (case-insensitive, as GitHub matches).
bool MentionsLogin(const std::string& text, const std::string& login);

enum class Thread { kUnknown, kIssue, kPullRequest };

// One comment that may mention orch, wherever it came from.
struct Mention {
  std::string source_id = "";  // "comment 12", "review comment 34", "review 56"
  CommentKind kind = CommentKind::kIssue;
  int64_t comment_id = 0;  // what gets the reaction; 0 for a review's body (no reactions)
  int64_t number = 0;      // the issue or pull request it is on
  Thread thread = Thread::kUnknown;
  std::string pr_head = "";       // the pull request's branch, when the event says
  std::string pr_head_repo = "";  // and its repository
  GitHubUser author = {};
  std::string body = "";
  std::string html_url = "";
  std::string path = "";  // a review comment's file, line and diff hunk
  std::optional<int64_t> line = std::nullopt;
  std::string diff_hunk = "";
};

Mention MentionOfComment(const Comment& c, Thread thread);
Mention MentionOfReviewComment(const ReviewComment& c, const std::string& head);
Mention MentionOfReview(int64_t pr, const std::string& head, const Review& review);

class MentionHandler {
 public:
  // workflow.mentions_on_foreign_prs is each project's own.
  MentionHandler(Store& store, GitHubClient& github, TrustPolicy& trust, ConfigSet configs)
      : store_(store), github_(github), trust_(trust), configs_(std::move(configs)) {}

  // orch's own login: what a mention names, and whose comments start nothing.
  void set_bot_login(const std::string& login) { bot_login_ = login; }

  // Takes the request of mention `m` in `project`; says what it did ("created task 4",
  // "ignored: untrusted: ..."). Fails only when the store or GitHub did (the caller retries),
  // or with Unavailable for an orch/ branch no task owns yet (a race with its bookkeeping).
  Result<std::string> Apply(const Project& project, const Mention& m);
  // Lists the comments updated since the cursor and applies the mentions among them. Returns
  // how many it applied.
  Result<int> Sync(const Project& project);

 private:
  struct Target;
  // When `m` replies to a question a task of the project waits on (agents/questions.h): records
  // a trusted author's answer and resumes the task, or says why an untrusted one does not.
  // nullopt when it answers nothing.
  Result<std::optional<std::string>> Answer(const Project& project, const Mention& m);
  bool AwaitsAnswer(const Project& project, int64_t thread);
  Result<Target> Resolve(const Project& project, const Mention& m);
  Result<Target> OnPullRequest(const Project& project, const Mention& m);
  Result<std::string> Create(const Project& project, const Mention& m, const Target& target);
  // The issue or pull request and its last comments, as text; `*title` gets its title.
  std::string Context(const Project& project, const Mention& m, std::string* title);
  // One listing (issue comments or review comments) from its cursor; `*state` moves on.
  template <typename T, typename List, typename ToMention>
  Result<int> SyncListing(const Project& project, nlohmann::json* state, List list,
                          ToMention to_mention);

  Store& store_;
  GitHubClient& github_;
  TrustPolicy& trust_;
  ConfigSet configs_;
  std::string bot_login_;
};

}  // namespace orch

#endif  // ORCH_ENGINE_MENTIONS_H_
