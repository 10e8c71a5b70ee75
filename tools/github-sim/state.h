// The simulated GitHub's data: repositories with their labels, issues, pull requests (issues
// with a `pull` part, sharing the number sequence as on GitHub), comments, reviews, issue events
// and check runs, plus a clock. Pure data and rules, no HTTP: render.h turns it into GitHub's
// JSON shapes and the server sends the webhooks.
//
// Time is a simulated clock: every mutation ticks it at least one second, so `updated_at`
// strictly increases and `since` filtering is deterministic. A frozen clock (the default)
// starts at `start` and only ticks; SetWallClock makes each tick catch up with a real clock too.
//
// Mutations record GitHub's issue events and fail with a Status: NotFound for an unknown issue
// or label (the server answers 404 with the message), Conflict or InvalidArgument with the
// message "<resource>: <reason>" (the server answers 422 "Validation Failed").
//
// Thread safety: none. The server guards its one State with one mutex; references into it
// (Repo&, Issue&) stay valid while that mutex is held, since nothing is ever erased.
#ifndef ORCH_SIM_STATE_H_
#define ORCH_SIM_STATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace orch::sim {

struct Label {
  int64_t id = 0;
  std::string name;
  std::string color = "ededed";
  std::string description;
};

// One entry of GET /issues/{n}/events: "labeled", "unlabeled", "closed", "reopened", "merged".
struct IssueEvent {
  int64_t id = 0;
  std::string event;
  std::string actor;
  std::optional<Label> label;  // for labeled/unlabeled
  int64_t created_at = 0;
};

// A reaction on a comment; `content` is one of kReactionContents.
struct Reaction {
  int64_t id = 0;
  std::string user;
  std::string content;
  int64_t created_at = 0;
};

// What GitHub accepts as a reaction's content, in the order its `reactions` rollup lists them.
inline constexpr const char* kReactionContents[] = {"+1",       "-1",    "laugh",  "hooray",
                                                    "confused", "heart", "rocket", "eyes"};

struct Comment {
  int64_t id = 0;
  std::string user;
  std::string body;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::vector<Reaction> reactions;
};

struct ReviewComment {
  int64_t id = 0;
  int64_t review_id = 0;
  std::string path;
  int line = 0;
  std::string diff_hunk;
  std::string body;
  std::string user;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t in_reply_to_id = 0;  // 0 unless a reply
  std::vector<Reaction> reactions;
};

struct Review {
  int64_t id = 0;
  std::string user;
  std::string body;
  std::string state;  // REST spelling: APPROVED, CHANGES_REQUESTED, COMMENTED
  std::string commit_id;
  int64_t submitted_at = 0;
  std::vector<ReviewComment> comments;
};

// What makes an issue a pull request.
struct PullPart {
  std::string head_owner;
  std::string head_ref;
  std::string head_sha;
  std::string base_ref;
  std::string base_sha;
  bool draft = false;
  bool merged = false;
  int64_t merged_at = 0;
  std::string merged_by;
  std::vector<Review> reviews;
  // Mergeability (mergeable.h), with a git directory: the merge last worked out ("<base sha>
  // <head sha>"), whether it was clean and what conflicted, and whether a read showed it yet.
  std::string merge_key;
  bool merge_clean = true;
  std::vector<std::string> conflicts;
  bool merge_shown = false;
  std::string head_label() const { return head_owner + ":" + head_ref; }
};

struct Issue {
  int64_t id = 0;
  int number = 0;
  std::string title;
  std::string body;
  std::string user;
  std::string state = "open";       // open | closed
  std::string state_reason;         // "" (null), "completed", "reopened"
  std::vector<std::string> labels;  // names, as spelled by the repository's label
  std::vector<Comment> comments;
  std::vector<IssueEvent> events;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t closed_at = 0;  // 0 while open
  std::optional<PullPart> pull;
  bool is_pull() const { return pull.has_value(); }
};

// One line of a check run's output, as GET /check-runs/{id}/annotations lists it.
struct Annotation {
  std::string path;
  int start_line = 0;
  int end_line = 0;
  std::string level;  // annotation_level: notice | warning | failure
  std::string message;
  std::string title;        // "" (null) when not given
  std::string raw_details;  // "" (null) when not given
};

// A check run, as GitHub Actions makes one per job (its id is also the job id).
struct CheckRun {
  int64_t id = 0;
  std::string name;
  std::string head_sha;
  std::string head_branch;  // "" (null) when set on a bare sha no pull request has
  int64_t check_suite_id = 0;
  std::string status = "completed";  // queued | in_progress | completed
  std::string conclusion;            // "" (null) unless completed
  int64_t started_at = 0;
  int64_t completed_at = 0;
  std::string output_title;    // "" (null)
  std::string output_summary;  // "" (null)
  std::vector<Annotation> annotations;
  std::string log;  // the job's log (GET /actions/jobs/{id}/logs)
};

// The commit a ref names, and the branch when the ref was one.
struct ResolvedRef {
  std::string sha;
  std::string branch;  // "" for a sha
};

struct Repo {
  int64_t id = 0;
  std::string owner;
  std::string name;
  std::string default_branch = "main";
  std::map<std::string, std::string> collaborators;  // login -> admin|maintain|write|triage|read
  std::vector<Label> labels;
  std::map<int, Issue> issues;                              // issues and pull requests by number
  std::map<std::string, std::vector<CheckRun>> check_runs;  // by head sha
  std::map<std::string, int64_t> check_suites;              // head sha -> check suite id
  std::string git_dir;  // a bare repository pull requests' mergeability is read from, or ""
  int next_number = 1;
  std::string full_name() const { return owner + "/" + name; }
};

// Which issues a list request wants (GET /issues and GET /pulls).
struct IssueFilter {
  std::string state = "open";       // open | closed | all
  std::vector<std::string> labels;  // each must be on the issue (case-insensitive)
  std::optional<int64_t> since;     // updated_at >= since
  std::string sort = "created";     // created | updated | comments
  bool ascending = false;
  bool pulls_only = false;
  std::string head;  // pulls: "owner:branch" or "branch"
  std::string base;  // pulls: base branch
};

// Which comments a repository-wide list wants (GET .../issues/comments, .../pulls/comments).
struct CommentFilter {
  std::optional<int64_t> since;  // updated_at >= since
  bool by_updated = false;       // sort by updated_at instead of created_at
  bool ascending = true;
};

// A comment and the issue (or pull request) it is on.
template <typename C>
struct Located {
  const Issue* issue = nullptr;
  const C* comment = nullptr;
};

struct NewIssue {
  std::string user;
  std::string title;
  std::string body;
  std::vector<std::string> labels;
};

struct NewPull {
  std::string user;
  std::string title;
  std::string body;
  std::string head;  // "branch" or "owner:branch"
  std::string base;  // "" means the default branch
  bool draft = false;
};

struct NewReviewComment {
  std::string path;
  int line = 0;
  std::string body;
  std::string diff_hunk;
  int64_t in_reply_to_id = 0;  // AddSingleReviewComment only
};

class State {
 public:
  explicit State(int64_t start) : clock_(start) {}

  // Makes every later tick at least `wall()` (unix seconds).
  void SetWallClock(std::function<int64_t()> wall) { wall_ = std::move(wall); }
  int64_t now() const { return clock_; }
  // Advances the clock by at least one second and returns the new time.
  int64_t Tick();

  // Fails with InvalidArgument unless `full_name` is "owner/name" and new.
  Result<Repo*> AddRepo(const std::string& full_name, const std::string& default_branch);
  Repo* FindRepo(const std::string& owner, const std::string& name);
  const std::map<std::string, Repo>& repos() const { return repos_; }
  Issue* FindIssue(Repo& repo, int number);
  // Case-insensitive, as GitHub's label names are.
  const Label* FindLabel(const Repo& repo, const std::string& name) const;

  // Fails with Conflict "Label: already_exists" for a taken name.
  Result<Label> CreateLabel(Repo& repo, const Label& label);
  // Creates an open issue; labels missing from the repository are created.
  Result<Issue*> CreateIssue(Repo& repo, const NewIssue& issue);
  // Adds labels and returns those that were not on the issue yet (one webhook each).
  std::vector<Label> AddLabels(Repo& repo, Issue& issue, const std::string& actor,
                               const std::vector<std::string>& names);
  // Fails with NotFound "Label does not exist" when the issue does not carry it.
  Result<Label> RemoveLabel(Repo& repo, Issue& issue, const std::string& actor,
                            const std::string& name);
  // Opens or closes; false (and nothing recorded) when it already was.
  bool SetOpen(Issue& issue, const std::string& actor, bool open);
  // Changes the title and/or body (nullopt keeps it); false when nothing changed.
  bool Edit(Issue& issue, const std::optional<std::string>& title,
            const std::optional<std::string>& body);
  const Comment& AddComment(Issue& issue, const std::string& user, const std::string& body);

  // Fails with Conflict when an open pull request has the same head, InvalidArgument for a
  // missing title or head.
  Result<Issue*> CreatePull(Repo& repo, const NewPull& pull);
  // Fails with InvalidArgument for a state other than APPROVED, CHANGES_REQUESTED, COMMENTED
  // (GitHub's event spellings APPROVE, REQUEST_CHANGES, COMMENT and lowercase are accepted).
  Result<const Review*> AddReview(Issue& pull, const std::string& user, const std::string& state,
                                  const std::string& body,
                                  const std::vector<NewReviewComment>& comments);
  // A lone review comment, as GitHub files one: a COMMENTED review with an empty body holding
  // it. A reply (`in_reply_to_id`) takes the path, line and diff hunk it leaves out from the
  // comment it answers. Fails with InvalidArgument for an empty body or path, or a reply to
  // a comment not on this pull request.
  Result<const Review*> AddSingleReviewComment(Issue& pull, const std::string& user,
                                               const NewReviewComment& comment);
  // Fails with Conflict unless the pull request is open.
  Status Merge(Issue& pull, const std::string& actor);

  // The commit `ref` names: a pull request's head sha for its branch (the open one first),
  // a sha as it is, any other branch a made-up sha that stays the same.
  ResolvedRef Resolve(const Repo& repo, const std::string& ref) const;
  // Sets the run named `run.name` on `run.head_sha` (same name and sha: updated in place,
  // keeping its id), in that commit's check suite. Clears the conclusion unless completed.
  const CheckRun& SetCheckRun(Repo& repo, const CheckRun& run);
  // The old form: the run on the commit `ref` resolves to.
  const CheckRun& SetCheckRun(Repo& repo, const std::string& ref, const CheckRun& run);
  // Runs on the commit `ref` resolves to, in the order they were first set.
  std::vector<CheckRun> CheckRuns(const Repo& repo, const std::string& ref) const;
  // The run with this id in `repo`, or null.
  const CheckRun* FindCheckRun(const Repo& repo, int64_t id) const;
  // A pull request's new head (a push GitHub learned of). Fails with InvalidArgument for an
  // empty sha; false when the head already was `sha`.
  Result<bool> SetHeadSha(Issue& pull, const std::string& sha);

  // Matching issues (and pull requests), sorted as asked.
  std::vector<const Issue*> List(const Repo& repo, const IssueFilter& filter) const;

  // Every issue comment (on issues and pull requests) or review comment of the repository
  // matching `filter`, sorted as asked (ties by id).
  std::vector<Located<Comment>> ListComments(const Repo& repo, const CommentFilter& filter) const;
  std::vector<Located<ReviewComment>> ListReviewComments(const Repo& repo,
                                                         const CommentFilter& filter) const;
  // The comment with this id anywhere in the repository; nulls when there is none.
  std::pair<Issue*, Comment*> FindComment(Repo& repo, int64_t id);
  std::pair<Issue*, ReviewComment*> FindReviewComment(Repo& repo, int64_t id);

  // `user`'s reaction with `content` on a comment whose reactions are `reactions`: a new one
  // (second: true) or the one the user already gave (second: false). Fails with
  // InvalidArgument for a content outside kReactionContents.
  Result<std::pair<const Reaction*, bool>> React(std::vector<Reaction>& reactions,
                                                 const std::string& user,
                                                 const std::string& content);

 private:
  int64_t NextId() { return next_id_++; }
  const Label& EnsureLabel(Repo& repo, const std::string& name);
  void Record(Issue& issue, const std::string& event, const std::string& actor,
              const std::optional<Label>& label, int64_t at);

  int64_t clock_;
  std::function<int64_t()> wall_;
  int64_t next_id_ = 1001;
  std::map<std::string, Repo> repos_;  // by full_name
};

// Open pull requests of `repo` whose head is `sha`, by number.
std::vector<const Issue*> OpenPullsAt(const Repo& repo, const std::string& sha);

// Case-insensitive ASCII equality (logins and label names).
bool SameName(const std::string& a, const std::string& b);

// The collaborator role of `login` (admin, maintain, write, triage, read), or "none".
std::string CollaboratorRole(const Repo& repo, const std::string& login);

}  // namespace orch::sim

#endif  // ORCH_SIM_STATE_H_
