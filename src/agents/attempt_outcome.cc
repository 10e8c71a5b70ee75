#include "agents/attempt_outcome.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/secret_scan.h"

namespace orch {
namespace {

// `text` as a Markdown quote, line by line.
std::string Quoted(const std::string& text) {
  std::string out = "> ";
  for (char c : text) out += c == '\n' ? std::string("\n> ") : std::string(1, c);
  return out;
}

std::string Bullets(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "- " + i + "\n";
  return out;
}

std::string PullRequestBody(const Task& task, const AgentContract& c, const std::string& agent,
                            const std::string& model) {
  std::ostringstream b;
  b << ContractText(c);
  b << "Written by " << agent << (model.empty() ? "" : " (" + model + ")") << " through orch.";
  if (std::optional<int64_t> n = IssueNumber(task)) b << "\n\nCloses #" << *n;
  b << "\n";
  return RedactSecrets(b.str());
}

// One comment per attempt on the issue: who, how it ended, how long, what it cost.
std::string AttemptComment(const AttemptOutcome& out) {
  const Attempt& run = out.run;
  std::ostringstream c;
  int64_t secs = run.finished_at.value_or(0) - run.started_at;
  c << "**orch** attempt " << run.attempt << " by `" << run.agent << "`"
    << (run.model.empty() ? "" : " (`" + run.model + "`)") << ": **"
    << (out.failure.empty() ? ContractStatusName(out.result.contract->status) : "failed")
    << "** in " << std::max<int64_t>(secs, 0) << "s, tokens " << out.result.input_tokens << " in / "
    << out.result.output_tokens << " out, cost $" << out.result.cost_usd << "\n\n";
  if (!out.failure.empty()) {
    c << out.failure << "\n";
  } else {
    c << out.result.contract->summary << "\n";
    if (out.pr) c << "\nPull request: #" << out.pr->number << "\n";
  }
  return c.str();
}

// orch, not the agent, commits what is left; then counts what the branch has beyond its base.
void CommitWork(const Task& task, Publisher& publisher, AttemptOutcome& out) {
  std::string message = task.title + (IssueNumber(task) ? " (#" + *task.external_id + ")" : "") +
                        "\n\n" + out.result.contract->summary + "\n";
  Result<bool> committed = publisher.Commit(out.run.worktree, message);
  Result<int> ahead =
      committed.ok() ? publisher.Ahead(out.run.worktree, task.id) : Result<int>(committed.status());
  if (!ahead.ok()) {
    out.failure = "committing the agent's work: " + ahead.status().message();
  } else {
    out.commits = *ahead;
  }
}

}  // namespace

std::string ContractText(const AgentContract& c) {
  std::ostringstream b;
  b << c.summary << "\n\n";
  if (!c.accomplished.empty()) b << "### Done\n" << Bullets(c.accomplished) << "\n";
  if (!c.remaining.empty()) b << "### Remaining\n" << Bullets(c.remaining) << "\n";
  if (!c.files_changed.empty()) {
    std::vector<std::string> files;
    for (const auto& f : c.files_changed) files.push_back("`" + f + "`");
    b << "### Files changed\n" << Bullets(files) << "\n";
  }
  return b.str();
}

AttemptOutcome ReadOutcome(const Attempt& run, const AttemptCheck& check, int64_t now,
                           const Config& config, Runner& runner, const FileSystem& files) {
  AttemptOutcome out;
  out.run = run;
  out.run.finished_at = now;
  out.killed = files.Exists(run.run_dir + "/" + kKilledMarker);
  if (check.state == AttemptState::kVanished) {
    // Without spec.json the shim never started: orch stopped before the agent ran.
    out.never_started = !files.Exists(run.run_dir + "/spec.json");
    out.failure = "the agent's tmux session vanished without an exit status";
    out.result.error = AgentError::kFailed;
    out.result.error_message = out.failure;
    return out;
  }
  out.run.exit_code = check.exit.exit_code;
  Result<std::unique_ptr<AgentAdapter>> adapter = MakeAgentAdapter(run.agent, config);
  Result<AgentOutput> output = runner.ReadOutput(run.run_dir, check.exit);
  if (!adapter.ok() || !output.ok()) {
    out.failure = !adapter.ok() ? adapter.status().message() : output.status().message();
    return out;
  }
  out.result = (*adapter)->Parse(*output);
  if (!out.result.ok()) {
    out.failure = std::string(AgentErrorName(out.result.error)) + ": " + out.result.error_message;
  }
  return out;
}

void PublishOutcome(const Task& task, const Project& project, Publisher& publisher,
                    AttemptOutcome& out) {
  if (out.failure.empty() && task.run_id) {
    // A run's step publishes nothing; what it changed is committed on its branch for the
    // steps after it, and its output goes to the run (runs/run_engine.h).
    if (task.read_only) return;
    Result<bool> committed = publisher.Commit(
        out.run.worktree, task.title + "\n\n" + out.result.contract->summary + "\n");
    if (!committed.ok()) {
      out.failure = "committing the agent's work: " + committed.status().message();
    }
    return;
  }
  if (task.run_id) return;
  if (out.failure.empty() && out.result.contract->status == ContractStatus::kNeedsInput) return;
  std::vector<std::string> conflicted = Runner::Conflicts(out.run.run_dir);
  if (out.failure.empty() && !conflicted.empty()) {
    Result<std::vector<std::string>> left =
        publisher.FinishMerge(project, out.run.worktree, BranchName(task), conflicted);
    if (!left.ok()) out.failure = "ending the merge: " + left.status().message();
    if (left.ok() && !left->empty()) {
      out.unresolved = *left;
      return;
    }
  }
  if (out.failure.empty()) CommitWork(task, publisher, out);
  if (out.failure.empty() && out.commits > 0) {
    NewPullRequest pr{
        .title = task.title,
        .body = PullRequestBody(task, *out.result.contract, out.run.agent, out.run.model),
        .head = BranchName(task),
        .base = publisher.Base(task.id)};
    Result<std::optional<PullRequest>> published = publisher.Publish(project, out.run.worktree, pr);
    if (!published.ok()) {
      out.failure = published.status().message();
    } else {
      out.pr = *published;
    }
  }
  if (std::optional<int64_t> n = IssueNumber(task)) {
    publisher.Comment(project, *n, AttemptComment(out), "attempt " + std::to_string(out.run.id));
  }
}

void AskQuestion(const Task& task, const Project& project, const AskTarget& target,
                 Publisher& publisher, AttemptOutcome& out) {
  if (!out.failure.empty() || task.run_id || !out.result.contract ||
      out.result.contract->status != ContractStatus::kNeedsInput) {
    return;
  }
  Question q{.question = out.result.contract->question, .attempt = out.run.attempt};
  if (target.thread != 0 && publisher.OnGitHub(project)) {
    std::string text =
        "**orch** needs an answer to go on with task " + std::to_string(task.id) + " (attempt " +
        std::to_string(out.run.attempt) + " by `" + out.run.agent + "`):\n\n" + Quoted(q.question) +
        "\n\nReply on this thread: the agent resumes " + "its session with your answer.\n";
    Result<orch::Comment> asked = publisher.Ask(project, target.thread, target.author, text);
    if (asked.ok()) {
      q.thread = target.thread;
      q.comment_id = asked->id;
    } else {
      spdlog::warn("questions: asking on #{}: {}", target.thread, asked.status().message());
    }
  }
  out.asked = q;
}

void ReportConflicts(const Project& project, const AskTarget& target, Publisher& publisher,
                     const AttemptOutcome& out) {
  if (out.unresolved.empty() || target.thread == 0) return;
  std::string text = "**orch**: the agent (`" + out.run.agent +
                     "`) could not resolve the conflicts with the base branch; a person should. "
                     "Conflicting files:\n";
  for (const std::string& f : out.unresolved) text += "- `" + f + "`\n";
  publisher.Comment(project, target.thread, text,
                    "conflicts of attempt " + std::to_string(out.run.id));
}

namespace {

std::string MentionReplyKey(int64_t project_id, const std::string& source_id) {
  return "mention.reply." + std::to_string(project_id) + "." + source_id;
}

}  // namespace

Status SaveMentionReply(Store& store, int64_t project_id, const std::string& source_id,
                        const MentionReply& reply) {
  nlohmann::json j = {{"thread", reply.thread}, {"author", reply.author}, {"url", reply.url}};
  return store.SetKv(MentionReplyKey(project_id, source_id), j.dump());
}

Result<std::optional<MentionReply>> LoadMentionReply(Store& store, const Task& task) {
  if (task.source != TaskSource::kMention || !task.source_id) return std::optional<MentionReply>();
  Result<std::optional<std::string>> saved =
      store.GetKv(MentionReplyKey(task.project_id, *task.source_id));
  if (!saved.ok()) return saved.status();
  if (!*saved) return std::optional<MentionReply>();
  nlohmann::json j = nlohmann::json::parse(**saved, nullptr, false);
  if (!j.is_object()) return std::optional<MentionReply>();
  MentionReply r;
  r.thread = j.value("thread", int64_t{0});
  r.author = j.value("author", "");
  r.url = j.value("url", "");
  if (r.thread == 0) return std::optional<MentionReply>();
  return std::optional<MentionReply>(r);
}

void ReplyToMention(const MentionReply& reply, const Project& project, Publisher& publisher,
                    const AttemptOutcome& out) {
  if (!out.failure.empty() || !out.result.contract) return;
  const AgentContract& c = *out.result.contract;
  std::ostringstream text;
  text << "@" << reply.author << " ";
  if (c.status == ContractStatus::kDone && out.pr) {
    text << "done: pushed to #" << out.pr->number
         << (out.pr->html_url.empty() ? "" : " (" + out.pr->html_url + ")") << ".\n\n"
         << c.summary;
  } else if (c.status == ContractStatus::kDone) {
    text << "done, with nothing to change: " << c.summary;
  } else if (c.status == ContractStatus::kInProgress || c.status == ContractStatus::kNeedsInput) {
    return;  // another attempt follows (after the answer to the question AskQuestion asked)
  } else {
    text << "I stopped before finishing this (" << ContractStatusName(c.status)
         << "): " << (c.reason.empty() ? c.summary : c.reason);
  }
  if (!reply.url.empty()) text << "\n\n(In answer to " << reply.url << ")";
  publisher.Comment(project, reply.thread, text.str() + "\n",
                    "reply of attempt " + std::to_string(out.run.id));
}

Attempt FinishedRow(const Task& task, const AttemptOutcome& out) {
  Attempt run = out.run;
  run.input_tokens = out.result.input_tokens;
  run.output_tokens = out.result.output_tokens;
  run.cost_usd = out.result.cost_usd;
  run.agent_session = out.result.session_id;
  if (!out.failure.empty()) {
    run.outcome = "failed";
    run.error_class = out.result.ok() ? "publish" : AgentErrorName(out.result.error);
    run.summary = out.failure;
    if (out.result.error == AgentError::kUnparseable) {
      run.summary += "\n--- final text ---\n" + out.result.final_text.substr(0, 4000);
    }
  } else {
    run.outcome = ContractStatusName(out.result.contract->status);
    // A run's step keeps the whole answer: it is the step's output.
    run.summary = task.run_id ? ContractText(*out.result.contract) : out.result.contract->summary;
  }
  return run;
}

}  // namespace orch
