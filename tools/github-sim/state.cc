#include "state.h"

#include <algorithm>
#include <cctype>

#include "github/webhook_signature.h"

namespace orch::sim {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A stable, made-up 40-hex commit id (GitHub's shas are SHA-1 sized).
std::string FakeSha(const std::string& seed) { return Sha256Hex(seed).substr(0, 40); }

// A commit id as people write one: 7 to 40 hex digits.
bool IsHex(const std::string& s) {
  return s.size() >= 7 && s.size() <= 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

bool HasLabel(const Issue& issue, const std::string& name) {
  return std::any_of(issue.labels.begin(), issue.labels.end(),
                     [&](const std::string& l) { return SameName(l, name); });
}

bool MatchesPull(const Issue& issue, const IssueFilter& f) {
  if (!f.pulls_only) return true;
  if (!issue.is_pull()) return false;
  const PullPart& p = *issue.pull;
  if (!f.head.empty()) {
    bool qualified = f.head.find(':') != std::string::npos;
    if (!SameName(qualified ? p.head_label() : p.head_ref, f.head)) return false;
  }
  return f.base.empty() || p.base_ref == f.base;
}

bool Matches(const Issue& issue, const IssueFilter& f) {
  if (f.state != "all" && issue.state != f.state) return false;
  for (const std::string& l : f.labels) {
    if (!HasLabel(issue, l)) return false;
  }
  if (f.since && issue.updated_at < *f.since) return false;
  return MatchesPull(issue, f);
}

int64_t SortKey(const Issue& issue, const std::string& sort) {
  if (sort == "updated") return issue.updated_at;
  if (sort == "comments") return static_cast<int64_t>(issue.comments.size());
  return issue.created_at;
}

// APPROVED, CHANGES_REQUESTED or COMMENTED for any spelling GitHub accepts; "" otherwise.
std::string NormalizeReviewState(const std::string& state) {
  std::string s = Lower(state);
  if (s == "approved" || s == "approve") return "APPROVED";
  if (s == "changes_requested" || s == "request_changes") return "CHANGES_REQUESTED";
  if (s == "commented" || s == "comment") return "COMMENTED";
  return "";
}

}  // namespace

std::vector<const Issue*> OpenPullsAt(const Repo& repo, const std::string& sha) {
  std::vector<const Issue*> out;
  for (const auto& [number, issue] : repo.issues) {
    if (issue.is_pull() && issue.state == "open" && issue.pull->head_sha == sha) {
      out.push_back(&issue);
    }
  }
  return out;
}

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() && Lower(a) == Lower(b);
}

int64_t State::Tick() {
  clock_ += 1;
  if (wall_) clock_ = std::max(clock_, wall_());
  return clock_;
}

Result<Repo*> State::AddRepo(const std::string& full_name, const std::string& default_branch) {
  size_t slash = full_name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == full_name.size() ||
      full_name.find('/', slash + 1) != std::string::npos) {
    return Status::InvalidArgument("Repository", "full_name must be owner/name: " + full_name);
  }
  if (repos_.count(Lower(full_name))) {
    return Status::InvalidArgument("Repository", "duplicate repository " + full_name);
  }
  Repo repo;
  repo.id = NextId();
  repo.owner = full_name.substr(0, slash);
  repo.name = full_name.substr(slash + 1);
  if (!default_branch.empty()) repo.default_branch = default_branch;
  return &(repos_[Lower(full_name)] = std::move(repo));
}

Repo* State::FindRepo(const std::string& owner, const std::string& name) {
  auto it = repos_.find(Lower(owner + "/" + name));
  return it == repos_.end() ? nullptr : &it->second;
}

Issue* State::FindIssue(Repo& repo, int number) {
  auto it = repo.issues.find(number);
  return it == repo.issues.end() ? nullptr : &it->second;
}

const Label* State::FindLabel(const Repo& repo, const std::string& name) const {
  for (const Label& l : repo.labels) {
    if (SameName(l.name, name)) return &l;
  }
  return nullptr;
}

Result<Label> State::CreateLabel(Repo& repo, const Label& label) {
  if (label.name.empty()) return Status::InvalidArgument("Label", "name is required");
  if (FindLabel(repo, label.name)) return Status::Conflict("Label", "already_exists");
  Label l = label;
  l.id = NextId();
  if (l.color.empty()) l.color = "ededed";
  if (!l.color.empty() && l.color[0] == '#') l.color.erase(0, 1);
  repo.labels.push_back(l);
  return l;
}

const Label& State::EnsureLabel(Repo& repo, const std::string& name) {
  if (const Label* l = FindLabel(repo, name)) return *l;
  Label l;
  l.id = NextId();
  l.name = name;
  repo.labels.push_back(l);
  return repo.labels.back();
}

void State::Record(Issue& issue, const std::string& event, const std::string& actor,
                   const std::optional<Label>& label, int64_t at) {
  issue.events.push_back({NextId(), event, actor, label, at});
}

Result<Issue*> State::CreateIssue(Repo& repo, const NewIssue& in) {
  if (in.title.empty()) return Status::InvalidArgument("Issue", "title is required");
  Issue issue;
  issue.id = NextId();
  issue.number = repo.next_number++;
  issue.title = in.title;
  issue.body = in.body;
  issue.user = in.user;
  issue.created_at = issue.updated_at = Tick();
  for (const std::string& name : in.labels) {
    const Label& label = EnsureLabel(repo, name);
    if (HasLabel(issue, label.name)) continue;
    issue.labels.push_back(label.name);
    Record(issue, "labeled", in.user, label, issue.created_at);
  }
  return &(repo.issues[issue.number] = std::move(issue));
}

std::vector<Label> State::AddLabels(Repo& repo, Issue& issue, const std::string& actor,
                                    const std::vector<std::string>& names) {
  std::vector<Label> added;
  for (const std::string& name : names) {
    if (name.empty() || HasLabel(issue, name)) continue;
    const Label& label = EnsureLabel(repo, name);
    issue.labels.push_back(label.name);
    issue.updated_at = Tick();
    Record(issue, "labeled", actor, label, issue.updated_at);
    added.push_back(label);
  }
  return added;
}

Result<Label> State::RemoveLabel(Repo& repo, Issue& issue, const std::string& actor,
                                 const std::string& name) {
  auto it = std::find_if(issue.labels.begin(), issue.labels.end(),
                         [&](const std::string& l) { return SameName(l, name); });
  const Label* label = FindLabel(repo, name);
  if (it == issue.labels.end() || label == nullptr) return Status::NotFound("Label does not exist");
  issue.labels.erase(it);
  issue.updated_at = Tick();
  Record(issue, "unlabeled", actor, *label, issue.updated_at);
  return *label;
}

bool State::SetOpen(Issue& issue, const std::string& actor, bool open) {
  if ((issue.state == "open") == open) return false;
  issue.updated_at = Tick();
  issue.state = open ? "open" : "closed";
  issue.state_reason = open ? "reopened" : "completed";
  issue.closed_at = open ? 0 : issue.updated_at;
  Record(issue, open ? "reopened" : "closed", actor, std::nullopt, issue.updated_at);
  return true;
}

bool State::Edit(Issue& issue, const std::optional<std::string>& title,
                 const std::optional<std::string>& body) {
  bool changed = (title && *title != issue.title) || (body && *body != issue.body);
  if (!changed) return false;
  if (title) issue.title = *title;
  if (body) issue.body = *body;
  issue.updated_at = Tick();
  return true;
}

const Comment& State::AddComment(Issue& issue, const std::string& user, const std::string& body) {
  issue.updated_at = Tick();
  Comment c;
  c.id = NextId();
  c.user = user;
  c.body = body;
  c.created_at = c.updated_at = issue.updated_at;
  issue.comments.push_back(std::move(c));
  return issue.comments.back();
}

Result<Issue*> State::CreatePull(Repo& repo, const NewPull& in) {
  if (in.title.empty()) return Status::InvalidArgument("PullRequest", "title is required");
  if (in.head.empty()) return Status::InvalidArgument("PullRequest", "head is required");
  PullPart part;
  size_t colon = in.head.find(':');
  part.head_owner = colon == std::string::npos ? repo.owner : in.head.substr(0, colon);
  part.head_ref = colon == std::string::npos ? in.head : in.head.substr(colon + 1);
  part.base_ref = in.base.empty() ? repo.default_branch : in.base;
  part.draft = in.draft;
  for (const auto& [number, other] : repo.issues) {
    if (other.is_pull() && other.state == "open" &&
        SameName(other.pull->head_label(), part.head_label())) {
      return Status::Conflict("PullRequest",
                              "A pull request already exists for " + part.head_label() + ".");
    }
  }
  Result<Issue*> issue = CreateIssue(repo, {in.user, in.title, in.body, {}});
  if (!issue.ok()) return issue.status();
  const std::string salt = repo.full_name() + "#" + std::to_string((*issue)->number);
  part.head_sha = FakeSha(salt + ":" + part.head_label());
  part.base_sha = FakeSha(salt + ":" + part.base_ref);
  (*issue)->pull = std::move(part);
  return issue;
}

Result<const Review*> State::AddReview(Issue& pull, const std::string& user,
                                       const std::string& state, const std::string& body,
                                       const std::vector<NewReviewComment>& comments) {
  if (!pull.is_pull()) return Status::NotFound("Not Found");
  Review review;
  review.state = NormalizeReviewState(state);
  if (review.state.empty()) {
    return Status::InvalidArgument("PullRequestReview", "unknown review state " + state);
  }
  review.id = NextId();
  review.user = user;
  review.body = body;
  review.commit_id = pull.pull->head_sha;
  pull.updated_at = review.submitted_at = Tick();
  for (const NewReviewComment& c : comments) {
    ReviewComment rc;
    rc.id = NextId();
    rc.review_id = review.id;
    rc.path = c.path;
    rc.line = c.line;
    rc.diff_hunk = c.diff_hunk;
    rc.body = c.body;
    rc.user = user;
    rc.created_at = rc.updated_at = review.submitted_at;
    rc.in_reply_to_id = c.in_reply_to_id;
    review.comments.push_back(std::move(rc));
  }
  pull.pull->reviews.push_back(std::move(review));
  return &pull.pull->reviews.back();
}

Result<const Review*> State::AddSingleReviewComment(Issue& pull, const std::string& user,
                                                    const NewReviewComment& comment) {
  if (!pull.is_pull()) return Status::NotFound("Not Found");
  NewReviewComment c = comment;
  if (c.in_reply_to_id != 0) {
    const ReviewComment* parent = nullptr;
    for (const Review& r : pull.pull->reviews) {
      for (const ReviewComment& rc : r.comments) {
        if (rc.id == c.in_reply_to_id) parent = &rc;
      }
    }
    if (parent == nullptr) {
      return Status::InvalidArgument(
          "PullRequestReviewComment",
          "in_reply_to " + std::to_string(c.in_reply_to_id) + " is not on this pull request");
    }
    // GitHub places a reply on the thread it answers.
    if (c.path.empty()) c.path = parent->path;
    if (c.line == 0) c.line = parent->line;
    if (c.diff_hunk.empty()) c.diff_hunk = parent->diff_hunk;
  }
  if (c.body.empty()) return Status::InvalidArgument("PullRequestReviewComment", "body is empty");
  if (c.path.empty()) return Status::InvalidArgument("PullRequestReviewComment", "path is empty");
  return AddReview(pull, user, "COMMENTED", "", {c});
}

Status State::Merge(Issue& pull, const std::string& actor) {
  if (!pull.is_pull() || pull.state != "open") {
    return Status::Conflict("PullRequest", "Pull Request is not mergeable");
  }
  pull.updated_at = Tick();
  pull.state = "closed";
  pull.closed_at = pull.updated_at;
  pull.pull->merged = true;
  pull.pull->merged_at = pull.updated_at;
  pull.pull->merged_by = actor;
  Record(pull, "merged", actor, std::nullopt, pull.updated_at);
  Record(pull, "closed", actor, std::nullopt, pull.updated_at);
  return Status::OK();
}

ResolvedRef State::Resolve(const Repo& repo, const std::string& ref) const {
  const Issue* best = nullptr;
  for (const auto& [number, issue] : repo.issues) {
    if (!issue.is_pull() || issue.pull->head_ref != ref) continue;
    if (best == nullptr || issue.state == "open" || best->state != "open") best = &issue;
  }
  if (best != nullptr) return {best->pull->head_sha, ref};
  if (repo.check_runs.count(ref) != 0 || IsHex(ref)) return {ref, ""};
  // A branch no pull request names still has a tip commit; make one up, stable per branch.
  return {FakeSha(repo.full_name() + ":branch:" + ref), ref};
}

const CheckRun& State::SetCheckRun(Repo& repo, const CheckRun& run) {
  std::vector<CheckRun>& runs = repo.check_runs[run.head_sha];
  auto it =
      std::find_if(runs.begin(), runs.end(), [&](const CheckRun& r) { return r.name == run.name; });
  if (it == runs.end()) {
    CheckRun fresh = run;
    fresh.id = NextId();
    runs.push_back(fresh);
    it = runs.end() - 1;
  } else {
    int64_t id = it->id;
    *it = run;
    it->id = id;
  }
  int64_t& suite = repo.check_suites[run.head_sha];
  if (suite == 0) suite = NextId();
  it->check_suite_id = suite;
  it->started_at = Tick();
  it->completed_at = it->status == "completed" ? it->started_at : 0;
  if (it->status != "completed") it->conclusion.clear();
  return *it;
}

const CheckRun& State::SetCheckRun(Repo& repo, const std::string& ref, const CheckRun& run) {
  ResolvedRef at = Resolve(repo, ref);
  CheckRun in = run;
  in.head_sha = at.sha;
  in.head_branch = at.branch;
  return SetCheckRun(repo, in);
}

std::vector<CheckRun> State::CheckRuns(const Repo& repo, const std::string& ref) const {
  auto it = repo.check_runs.find(Resolve(repo, ref).sha);
  return it == repo.check_runs.end() ? std::vector<CheckRun>{} : it->second;
}

const CheckRun* State::FindCheckRun(const Repo& repo, int64_t id) const {
  for (const auto& [sha, runs] : repo.check_runs) {
    for (const CheckRun& run : runs) {
      if (run.id == id) return &run;
    }
  }
  return nullptr;
}

Result<bool> State::SetHeadSha(Issue& pull, const std::string& sha) {
  if (!pull.is_pull()) return Status::NotFound("Not Found");
  if (sha.empty()) return Status::InvalidArgument("PullRequest", "sha is required");
  if (pull.pull->head_sha == sha) return false;
  pull.pull->head_sha = sha;
  pull.updated_at = Tick();
  return true;
}

std::vector<const Issue*> State::List(const Repo& repo, const IssueFilter& filter) const {
  std::vector<const Issue*> out;
  for (const auto& [number, issue] : repo.issues) {
    if (Matches(issue, filter)) out.push_back(&issue);
  }
  std::stable_sort(out.begin(), out.end(), [&](const Issue* a, const Issue* b) {
    int64_t ka = SortKey(*a, filter.sort), kb = SortKey(*b, filter.sort);
    if (ka == kb) return filter.ascending ? a->number < b->number : a->number > b->number;
    return filter.ascending ? ka < kb : ka > kb;
  });
  return out;
}

namespace {

// Sorts located comments as `filter` asks, ties by id in the same direction.
template <typename C>
void SortComments(std::vector<Located<C>>& out, const CommentFilter& filter) {
  auto key = [&](const Located<C>& l) {
    return std::make_pair(filter.by_updated ? l.comment->updated_at : l.comment->created_at,
                          l.comment->id);
  };
  std::sort(out.begin(), out.end(), [&](const Located<C>& a, const Located<C>& b) {
    return filter.ascending ? key(a) < key(b) : key(b) < key(a);
  });
}

template <typename C>
bool Since(const C& c, const CommentFilter& filter) {
  return !filter.since || c.updated_at >= *filter.since;
}

}  // namespace

std::vector<Located<Comment>> State::ListComments(const Repo& repo,
                                                  const CommentFilter& filter) const {
  std::vector<Located<Comment>> out;
  for (const auto& [number, issue] : repo.issues) {
    for (const Comment& c : issue.comments) {
      if (Since(c, filter)) out.push_back({&issue, &c});
    }
  }
  SortComments(out, filter);
  return out;
}

std::vector<Located<ReviewComment>> State::ListReviewComments(const Repo& repo,
                                                              const CommentFilter& filter) const {
  std::vector<Located<ReviewComment>> out;
  for (const auto& [number, issue] : repo.issues) {
    if (!issue.is_pull()) continue;
    for (const Review& r : issue.pull->reviews) {
      for (const ReviewComment& c : r.comments) {
        if (Since(c, filter)) out.push_back({&issue, &c});
      }
    }
  }
  SortComments(out, filter);
  return out;
}

std::pair<Issue*, Comment*> State::FindComment(Repo& repo, int64_t id) {
  for (auto& [number, issue] : repo.issues) {
    for (Comment& c : issue.comments) {
      if (c.id == id) return {&issue, &c};
    }
  }
  return {nullptr, nullptr};
}

std::pair<Issue*, ReviewComment*> State::FindReviewComment(Repo& repo, int64_t id) {
  for (auto& [number, issue] : repo.issues) {
    if (!issue.is_pull()) continue;
    for (Review& r : issue.pull->reviews) {
      for (ReviewComment& c : r.comments) {
        if (c.id == id) return {&issue, &c};
      }
    }
  }
  return {nullptr, nullptr};
}

Result<std::pair<const Reaction*, bool>> State::React(std::vector<Reaction>& reactions,
                                                      const std::string& user,
                                                      const std::string& content) {
  if (std::find(std::begin(kReactionContents), std::end(kReactionContents), content) ==
      std::end(kReactionContents)) {
    return Status::InvalidArgument("Reaction", "content is not included in the list");
  }
  for (const Reaction& r : reactions) {
    if (r.content == content && SameName(r.user, user)) return std::make_pair(&r, false);
  }
  reactions.push_back({NextId(), user, content, Tick()});
  return std::make_pair(static_cast<const Reaction*>(&reactions.back()), true);
}

std::string CollaboratorRole(const Repo& repo, const std::string& login) {
  for (const auto& [user, role] : repo.collaborators) {
    if (SameName(user, login)) return role;
  }
  return "none";
}

}  // namespace orch::sim
