#include "agents/runner.h"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agents/prompt.h"
#include "agents/router.h"
#include "base/subprocess.h"

extern char** environ;

namespace orch {
namespace {

std::string Slug(const std::string& title) {
  std::string out;
  for (char c : title) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "task" : out;
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError(path, "cannot write");
  return Status::OK();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The names of this process's environment variables whose value is `value` (none for "").
std::vector<std::string> VariablesHolding(const std::string& value) {
  std::vector<std::string> names;
  if (value.empty()) return names;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos && kv.substr(eq + 1) == value) names.push_back(kv.substr(0, eq));
  }
  return names;
}

// Where the task's base branch is remembered between attempts.
std::string BasePath(const std::string& home, int64_t task_id) {
  return home + "/runs/" + std::to_string(task_id) + "/base";
}

}  // namespace

std::string BranchName(const Task& task) {
  if (!task.branch.empty()) return task.branch;
  std::optional<int64_t> issue = IssueNumber(task);
  std::string id = issue ? std::to_string(*issue) : "t" + std::to_string(task.id);
  return "orch/" + id + "-" + Slug(task.title);
}

std::string SessionName(const std::string& project, int64_t task_id) {
  std::string name = "orch-";
  for (char c : project) {
    // tmux treats '.' and ':' in targets as window and pane separators.
    name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  }
  return name + "-" + std::to_string(task_id);
}

std::string BuildAgentPrompt(const AttemptPlan& plan, const std::string& system_prompt,
                             const std::vector<std::string>& default_skills) {
  std::ostringstream p;
  if (!system_prompt.empty()) p << system_prompt << "\n---\n\n";
  const Task& t = plan.task;
  p << "Task " << t.id << " in " << plan.project.name;
  if (t.external_id) p << " (GitHub issue #" << *t.external_id << ")";
  p << ", attempt " << plan.attempt << ".\n\n";
  std::string untrusted = "Title: " + t.title + "\n";
  if (!t.labels.empty()) {
    untrusted += "Labels:";
    for (const auto& l : t.labels) untrusted += " " + l;
    untrusted += "\n";
  }
  untrusted += "\n" + t.body + "\n";
  // The router's profile is a model's reading of the text above, so it is fenced with it.
  Result<Route> route = RouteFromJson(t.route.value_or("{}"));
  if (route.ok() && (!route->profile.empty() || !route->selected_skills.empty())) {
    untrusted += "\nThe router's reading of this task:";
    if (!route->profile.empty()) untrusted += "\nProfile: " + route->profile.dump();
    if (!route->selected_skills.empty()) {
      untrusted += "\nSkills it selected:";
      for (const auto& skill : route->selected_skills) untrusted += " " + skill;
    }
    untrusted += "\n";
  }
  p << FenceUntrusted(untrusted);
  if (!default_skills.empty()) {
    p << "\nSkills to apply (router.default_skills):";
    for (const auto& skill : default_skills) p << " " << skill;
    p << "\n";
  }
  p << plan.answers;
  if (!plan.previous_failure.empty()) {
    p << "\nThe previous attempt did not finish: " << DefuseMarkers(plan.previous_failure)
      << "\nContinue from the work tree as it is.\n";
  }
  p << "\nEnd with the JSON object described in your instructions.\n";
  return p.str();
}

Runner::Runner(const Config& config, WorktreeGit& git, Tmux& tmux, RunnerOptions options)
    : config_(config), git_(git), tmux_(tmux), options_(std::move(options)) {
  if (options_.worktrees_base.empty()) options_.worktrees_base = options_.orch_home + "/worktrees";
  if (options_.orch_binary.empty()) options_.orch_binary = ExecutablePath();
}

std::string Runner::AttemptsDir() const { return options_.orch_home + "/runs"; }

std::string Runner::AttemptDir(int64_t task_id, int attempt) const {
  return AttemptsDir() + "/" + std::to_string(task_id) + "/" + std::to_string(attempt);
}

const Config& Runner::ConfigOf(const AttemptPlan& plan) const {
  return plan.config ? *plan.config : config_;
}

std::string Runner::WorktreePath(const std::string& project, const std::string& branch) const {
  return options_.worktrees_base + "/" + project + "/" + branch;
}

std::string Runner::PoolDir(const std::string& project) const {
  return options_.worktrees_base + "/" + project + "/.pool";
}

AgentRequest Runner::Request(const AttemptPlan& plan, const std::string& system_prompt_file) const {
  return {
      .model = plan.model,
      .workdir = WorktreePath(plan.project.name, BranchName(plan.task)),
      .main_checkout = plan.project.kind == ProjectKind::kLocal ? plan.project.path : "",
      .system_prompt_file = system_prompt_file,
      .resume_id = plan.resume_id,
      .sandbox = plan.task.read_only ? std::optional<Sandbox>(Sandbox::kReadOnly) : std::nullopt,
      .allowed_tools = ConfigOf(plan).router.allowed_tools};
}

Result<std::vector<std::string>> Runner::Argv(const AttemptPlan& plan) const {
  Result<std::unique_ptr<AgentAdapter>> adapter = MakeAgentAdapter(plan.agent, ConfigOf(plan));
  if (!adapter.ok()) return adapter.status();
  Result<PromptFile> system = LoadPrompt(options_.orch_home, "agent_system.md");
  return (*adapter)->Build(Request(plan, system.ok() ? system->path : "")).argv;
}

Result<AttemptHandle> Runner::Start(const AttemptPlan& plan) {
  Result<std::unique_ptr<AgentAdapter>> adapter = MakeAgentAdapter(plan.agent, ConfigOf(plan));
  if (!adapter.ok()) return adapter.status();
  AttemptHandle h;
  h.branch = BranchName(plan.task);
  h.session = SessionName(plan.project.name, plan.task.id);
  h.run_dir = AttemptDir(plan.task.id, plan.attempt);
  h.worktree = WorktreePath(plan.project.name, h.branch);
  std::error_code ec;
  std::filesystem::create_directories(h.run_dir, ec);
  if (ec) return Status::IOError(h.run_dir, ec.message());

  std::string token = Token(plan.project);
  Result<MadeWorktree> made = AddWorktreeIfMissing(plan, token, h);
  if (!made.ok()) return made.status();  // AddWorktree leaves nothing behind on failure
  AttemptPlan updated = plan;            // told what the base update did, if there was one
  Result<std::string> update = UpdateFromBase(plan, token, h);
  if (update.ok()) updated.answers += *update;
  Status started = update.ok() ? StartSession(updated, **adapter, token, h) : update.status();
  if (!started.ok() && made->tree) {
    // Remove the work tree made above, and its branch if this attempt made it (an earlier
    // attempt's branch may hold its work).
    (void)git_.RemoveWorktree(plan.project.path, h.worktree, made->branch ? h.branch : "");
  }
  if (!started.ok()) return started;
  return h;
}

// The work tree: reused when a previous attempt left it, else a pooled one moved to the task's
// branch, else made now. Sets h.base when made.
Result<Runner::MadeWorktree> Runner::AddWorktreeIfMissing(const AttemptPlan& plan,
                                                          const std::string& token,
                                                          AttemptHandle& h) {
  WorktreeRequest request{
      .repo = plan.project.path, .branch = h.branch, .path = h.worktree, .token = token};
  if (std::filesystem::exists(h.worktree + "/.git")) {
    // The dispatcher lends a pooled tree only to a task without one; should both exist, the
    // pooled one goes rather than be lost to the pool's records.
    if (!plan.pooled_worktree.empty()) {
      (void)git_.RemoveWorktree(plan.project.path, plan.pooled_worktree, "");
    }
    return MadeWorktree{};
  }
  Result<Worktree> wt = plan.pooled_worktree.empty()
                            ? git_.AddWorktree(request)
                            : git_.ReuseWorktree(request, plan.pooled_worktree);
  if (!wt.ok()) return wt.status();
  h.base = wt->base;
  return MadeWorktree{.tree = true, .branch = wt->created_branch};
}

Result<std::string> Runner::UpdateFromBase(const AttemptPlan& plan, const std::string& token,
                                           const AttemptHandle& h) {
  std::string listing = h.run_dir + "/conflicts.txt";
  std::error_code ec;
  std::filesystem::remove(listing, ec);
  if (plan.update_base.empty()) return std::string();
  Result<BaseUpdate> done = git_.UpdateFromBase({.worktree = h.worktree,
                                                 .branch = h.branch,
                                                 .base = plan.update_base,
                                                 .token = token,
                                                 .rebase = plan.rebase,
                                                 .name = kBotName,
                                                 .email = kBotEmail});
  if (!done.ok()) return done.status().Prefixed("bringing in " + plan.update_base);
  std::string note = "\norch brought `" + plan.update_base + "` into this branch: " + done->how +
                     (done->note.empty() ? "" : " (" + done->note + ")") + ".\n";
  if (done->conflicts.empty()) {
    return note + "It applied cleanly; check that the result still builds and its tests pass.\n";
  }
  std::string files;
  for (const std::string& f : done->conflicts) files += "- " + f + "\n";
  ORCH_RETURN_IF_ERROR(WriteText(listing, files));
  return note +
         "It is in progress. Conflicting files (resolve each: keep both sides' intent, remove "
         "every conflict marker, do not commit; orch finishes the " +
         (done->how == "rebase conflicts" ? std::string("rebase") : std::string("merge")) + "):\n" +
         files;
}

// Everything after the work tree: the base remembered, the prompt and spec written, the tmux
// session running the shim. Sets h.base (when still empty) and h.argv.
Status Runner::StartSession(const AttemptPlan& plan, AgentAdapter& adapter,
                            const std::string& token, AttemptHandle& h) {
  if (h.base.empty()) {
    h.base = Base(plan.task.id);
  } else {
    ORCH_RETURN_IF_ERROR(WriteText(BasePath(options_.orch_home, plan.task.id), h.base));
  }
  Result<PromptFile> system = LoadPrompt(options_.orch_home, "agent_system.md");
  if (!system.ok()) return system.status();
  AgentCommand cmd = adapter.Build(Request(plan, system->path));
  h.argv = cmd.argv;
  std::string prompt_path = h.run_dir + "/prompt.md";
  ORCH_RETURN_IF_ERROR(
      WriteText(prompt_path, BuildAgentPrompt(plan, cmd.system_prompt_in_prompt ? system->text : "",
                                              ConfigOf(plan).router.default_skills)));
  // A previous attempt's files must not be read as this one's.
  std::error_code ec;
  for (const char* f : {"exit.json", "stdout", "output.log"}) {
    std::filesystem::remove(h.run_dir + "/" + f, ec);
  }
  ORCH_RETURN_IF_ERROR(WriteShimSpec(h.run_dir, Spec(plan, cmd, h, token, prompt_path)));
  return tmux_.NewSession(h.session, h.worktree, {options_.orch_binary, "shim", h.run_dir}, {});
}

ShimSpec Runner::Spec(const AttemptPlan& plan, const AgentCommand& cmd, const AttemptHandle& h,
                      const std::string& token, const std::string& prompt_path) const {
  ShimSpec spec;
  spec.argv = cmd.argv;
  spec.env_set = cmd.env_set;
  spec.env_set["ORCH_AGENT"] = plan.agent;
  spec.env_set["ORCH_MODEL"] = plan.model;
  spec.env_set["ORCH_TASK_ID"] = std::to_string(plan.task.id);
  // An allowlist: the basics every CLI needs, its own keys, and what is set above. Never the
  // GitHub token (orch pushes itself), the webhook secret, or whatever config.yml references.
  spec.env_keep = AgentEnvironment(cmd);
  spec.env_unset = {"GH_TOKEN", "GITHUB_TOKEN", "TMUX", "TMUX_PANE"};
  // Whatever variable the configured token came from goes too, even when a pattern above
  // would keep it.
  for (const std::string& name : VariablesHolding(token)) spec.env_unset.push_back(name);
  spec.cwd = h.worktree;
  spec.stdin_path = prompt_path;
  spec.timeout_seconds = ConfigOf(plan).workflow.timeout.count();
  spec.stuck_seconds = config_.engine.stuck_timeout.count();
  spec.tmux_socket = tmux_.socket();
  spec.channel = h.session;
  spec.banner = "orch: task " + std::to_string(plan.task.id) + " attempt " +
                std::to_string(plan.attempt) + ": " + plan.agent +
                (plan.model.empty() ? "" : " (" + plan.model + ")") + " in " + h.worktree;
  return spec;
}

AttemptCheck Runner::Check(const std::string& session, const std::string& run_dir) {
  AttemptCheck c;
  Result<ShimExit> exit = ReadShimExit(run_dir);
  if (exit.ok()) {
    c.state = AttemptState::kExited;
    c.exit = *exit;
    return c;
  }
  Result<bool> dead = tmux_.PaneDead(session);
  if (dead.ok() && !*dead) return c;  // running
  // Re-read: the shim may have finished between the two looks.
  exit = ReadShimExit(run_dir);
  if (exit.ok()) {
    c.state = AttemptState::kExited;
    c.exit = *exit;
    return c;
  }
  if (!dead.ok() && !dead.status().IsNotFound()) return c;  // tmux trouble: ask again later
  c.state = AttemptState::kVanished;
  return c;
}

Result<AgentOutput> Runner::ReadOutput(const std::string& run_dir, const ShimExit& exit) {
  AgentOutput out;
  out.exit_code = exit.exit_code;
  out.timed_out = exit.timed_out;
  out.stuck_after = exit.stuck_after;
  out.stdout_text = ReadText(run_dir + "/stdout");
  return out;
}

std::string Runner::Base(int64_t task_id) const {
  std::string base = ReadText(BasePath(options_.orch_home, task_id));
  return base.empty() ? "main" : base;
}

std::vector<std::string> Runner::Conflicts(const std::string& run_dir) {
  std::vector<std::string> out;
  std::istringstream in(ReadText(run_dir + "/conflicts.txt"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("- ", 0) == 0) out.push_back(line.substr(2));
  }
  return out;
}

Result<std::vector<std::string>> Runner::FinishMerge(const Project& project,
                                                     const std::string& worktree,
                                                     const std::string& branch,
                                                     const std::vector<std::string>& conflicted) {
  return git_.FinishMerge({.worktree = worktree,
                           .branch = branch,
                           .token = Token(project),
                           .name = kBotName,
                           .email = kBotEmail},
                          conflicted);
}

Result<bool> Runner::Commit(const std::string& worktree, const std::string& message,
                            const std::string& name, const std::string& email) {
  return git_.CommitAll(worktree, message, name, email);
}

Result<int> Runner::Ahead(const std::string& worktree, int64_t task_id) {
  return git_.CommitsAhead(worktree, "origin", Base(task_id));
}

Status Runner::Push(const Project& project, const std::string& worktree,
                    const std::string& branch) {
  return git_.Push(worktree, "origin", branch, Token(project));
}

std::string Runner::Token(const Project& project) const {
  if (!options_.token_for || !project.repo) return "";
  return options_.token_for(*project.repo);
}

Status Runner::Stop(const std::string& session) { return tmux_.KillSession(session); }

Status Runner::RemoveWorktree(const Project& project, const std::string& path,
                              const std::string& branch) {
  return git_.RemoveWorktree(project.path, path, branch);
}

Result<std::string> Runner::ParkWorktree(const Project& project, const std::string& path,
                                         const std::string& branch, const std::string& dest,
                                         bool keep_ignored) {
  return git_.ParkWorktree(project.path, path, branch, dest, keep_ignored);
}

RunWatcher::RunWatcher(std::function<void()> on_exit)
    : on_exit_(std::move(on_exit)),
      watcher_("runner: inotify unavailable, agent exits are noticed on the next tick") {}

void RunWatcher::Watch(const std::string& run_dir) {
  (void)watcher_.OnFile(run_dir, "exit.json", on_exit_);
}

}  // namespace orch
