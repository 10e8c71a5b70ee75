// `orch doctor`: checks what orch needs on this machine and says how to fix each failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>

#include "base/platform.h"
#include "base/subprocess.h"
#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/engine.h"
#include "github/github_rest.h"
#include "store/migrations.h"
#include "store/sql.h"

namespace orch {
namespace {

constexpr uint64_t kMinFreeBytes = 1ull << 30;  // worktrees and logs want room

struct Check {
  std::string name;
  bool ok = false;
  bool warning = false;  // not fatal: orch runs, with less
  std::string detail = "";
  std::string fix = "";
};

// The first line `argv` prints, or why it could not run.
Result<std::string> FirstLine(ProcessRunner& runner, const std::vector<std::string>& argv) {
  Result<ProcessResult> r = runner.Run({.argv = argv, .timeout = std::chrono::seconds(10)});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::IOError(argv[0], r->err.substr(0, 200));
  return r->out.substr(0, r->out.find('\n'));
}

// True when nothing listens on `bind:port` (we could bind it).
bool PortFree(const std::string& bind, int port) {
  int fd = CloexecSocket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, bind == "localhost" ? "127.0.0.1" : bind.c_str(), &addr.sin_addr);
  bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return free;
}

// A classic token (or gh's OAuth token) says its scopes: orch pushes, opens pull requests and
// labels issues, which takes `repo` (`public_repo` covers public repositories only).
// Fine-grained tokens and Apps say nothing; their permissions show at the first refusal.
void ScopeCheck(const GitHubUser& me, Check& gh) {
  if (!me.scopes) {
    gh.detail +=
        "; scopes not reported (a fine-grained token or an App): it needs Issues, "
        "Pull requests and Contents read/write";
    return;
  }
  std::set<std::string> scopes;
  std::stringstream list(*me.scopes);
  for (std::string s; std::getline(list, s, ',');) {
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    if (!s.empty()) scopes.insert(s);
  }
  gh.detail += "; scopes: " + (me.scopes->empty() ? std::string("none") : *me.scopes);
  if (scopes.count("repo") > 0) return;
  if (scopes.count("public_repo") > 0) {
    gh.detail += " (public repositories only)";
    return;
  }
  gh.ok = false;
  gh.fix =
      "the token lacks the repo scope: make one with repo (gh auth refresh -s repo, or a "
      "new token at https://github.com/settings/tokens)";
}

// tmux and git: installed, and which versions.
void AddToolChecks(ProcessRunner& runner, std::vector<Check>& checks) {
  for (const char* tool : {"tmux", "git"}) {
    Check c{.name = tool};
    Result<std::string> v = FirstLine(runner, {tool, "-V"});
    if (std::string(tool) == "git") v = FirstLine(runner, {tool, "--version"});
    c.ok = v.ok();
    c.detail = v.ok() ? *v : v.status().message();
    c.fix = std::string("install it: apt-get install ") + tool + " (brew install " + tool + ")";
    checks.push_back(c);
  }
}

// One check per agent orch knows; an agent the router may not choose only warns. At least one
// the router may choose must run.
void AddAgentChecks(const Config& config, const EnvLookup& env, std::vector<Check>& checks) {
  int usable = 0;
  std::vector<AgentCheck> agents = CheckAgents(config, env);
  for (const AgentCheck& a : agents) {
    bool wanted = std::find(config.router.agents.begin(), config.router.agents.end(), a.name) !=
                  config.router.agents.end();
    usable += a.usable && wanted;
    checks.push_back({.name = "agent " + a.name,
                      .ok = a.usable,
                      .warning = !a.usable && !wanted,
                      .detail = a.usable ? a.version : a.problem,
                      .fix = a.name == "claude"     ? "npm install -g @anthropic-ai/claude-code"
                             : a.name == "codex"    ? "npm install -g @openai/codex"
                             : a.name == "opencode" ? "npm install -g opencode-ai"
                                                    : "set agents." + a.name + ".command"});
  }
  if (usable == 0) {
    checks.push_back({.name = "router.agents",
                      .detail = "none of the agents the router may choose can run",
                      .fix = "install one of them, or list installed ones in router.agents"});
  }
  // A debug run's orchestrator gives way to another of router.agents when it cannot run.
  for (const AgentCheck& a : agents) {
    if (a.name != config.runs.orchestrator_agent || a.usable) continue;
    checks.push_back({.name = "runs.orchestrator_agent",
                      .warning = true,
                      .detail = a.name + " cannot run (" + a.problem +
                                "); debug runs are orchestrated by another of router.agents",
                      .fix = "install " + a.name +
                             ", or set runs.orchestrator_agent to an agent that is installed"});
  }
}

// GitHub: credentials that work, and who orch is.
Check GitHubCheck(const Config& config, const EnvLookup& env, ProcessRunner& runner,
                  const Clock& clock) {
  Check gh{.name = "github"};
  Result<std::unique_ptr<RestGitHubClient>> client =
      RestGitHubClient::Make(config.github, env, runner, clock);
  if (!client.ok()) {
    gh.detail = client.status().message();
  } else {
    Result<GitHubUser> me = (*client)->AuthenticatedUser();
    gh.ok = me.ok();
    gh.detail = me.ok() ? "acting as " + me->login + " (" + (*client)->tokens().Describe() + ")"
                        : me.status().message();
    gh.fix = "set github.token (or GITHUB_TOKEN), a GitHub App, or run gh auth login";
    if (me.ok()) ScopeCheck(*me, gh);
  }
  if (gh.fix.empty()) {
    gh.fix = "set github.token (or GITHUB_TOKEN), a GitHub App, or run gh auth login";
  }
  return gh;
}

// With the receiver enabled: a secret, and a port that is free or held by orch's own daemon.
void AddWebhookChecks(const Config& config, const Home& home, std::vector<Check>& checks) {
  checks.push_back({.name = "webhook secret",
                    .ok = !config.webhook.secret.empty(),
                    .detail = config.webhook.secret.empty() ? "not set: the receiver "
                                                              "refuses to start"
                                                            : "set",
                    .fix = "set webhook.secret (openssl rand -hex 32), and the same in "
                           "GitHub's webhook settings"});
  bool running = PidLock::Acquire(home.pid_path()).status().IsConflict();
  bool free = PortFree(config.webhook.bind, config.webhook.port);
  std::string addr = config.webhook.bind + ":" + std::to_string(config.webhook.port);
  checks.push_back({.name = "webhook port",
                    .ok = free || running,
                    .detail = free      ? addr + " is free"
                              : running ? addr + " is in use by the running daemon"
                                        : addr + " is in use by another program",
                    .fix = "stop what listens there, or set webhook.port"});
}

// Whether there is a store to read yet: a PostgreSQL one, or the SQLite file once made.
bool HasStore(const Home& home, const Config& config) {
  return !home.store_url.empty() || !config.store.url.empty() ||
         std::filesystem::exists(home.db_path());
}

// A PostgreSQL store (store.url): reachable, its schema not newer than this orch's, and the
// database's clock near this machine's (leases are compared across hosts' clocks).
std::optional<Check> PostgresCheck(const Home& home, const Config& config, const Clock& clock) {
  std::string url = !home.store_url.empty() ? home.store_url : config.store.url;
  if (!sql::IsPostgresUrl(url)) return std::nullopt;
  Check c{.name = "store", .detail = "PostgreSQL " + sql::RedactedUrl(url)};
  try {
    std::unique_ptr<sql::Connection> db = sql::OpenPostgres(url);
    int64_t theirs =
        db->TableExists("schema_migrations")
            ? sql::QueryInt(*db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            : 0;
    int64_t ours = PostgresMigrations().back().version;
    int64_t skew =
        sql::QueryInt(*db, "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT)") -
        clock.NowUnix();
    c.detail += ", schema " + std::to_string(theirs) + " (this orch: " + std::to_string(ours) +
                "), clock skew " + std::to_string(skew) + "s";
    int64_t allowed = std::max<int64_t>(2, config.cluster.lease_ttl.count() / 4);
    if (theirs > ours) {
      c.fix = "the database was migrated by a newer orch: upgrade this host";
    } else if (skew > allowed || -skew > allowed) {
      c.fix = "sync this machine's clock (NTP): leases are compared across hosts' clocks";
    } else {
      c.ok = true;
    }
  } catch (const std::exception& e) {
    c.detail += ": " + std::string(e.what());
    c.fix = "check store.url, the server, and the password (${VAR} in the URL or ~/.pgpass)";
  }
  return c;
}

// Whether GitHub's deliveries reach orch, as the daemon last judged (engine.h's mode keys):
// a warning while it polls in fallback, with the reason. Nothing to say before a database.
std::optional<Check> WebhookModeCheck(Context& ctx, const Home& home, const Config& config) {
  if (!HasStore(home, config)) return std::nullopt;
  Result<Store*> store = ctx.store();
  if (!store.ok()) return std::nullopt;  // the database's own trouble is reported elsewhere
  Result<std::optional<std::string>> mode = (*store)->GetKv(Engine::kModeKey);
  Result<std::optional<std::string>> why = (*store)->GetKv(Engine::kModeReasonKey);
  if (!mode.ok() || !*mode) return std::nullopt;  // the daemon has not judged yet
  Check c{.name = "webhook deliveries", .ok = true, .detail = **mode};
  if (**mode == "polling fallback") {
    c.ok = false;
    c.warning = true;  // orch still works, polling
    c.detail = "polling fallback: " + (why.ok() && *why ? **why : std::string("reason unknown"));
    c.fix =
        "check the tunnel or proxy, and the webhook's Recent Deliveries on GitHub (URL, "
        "secret, events); orch leaves fallback by itself once deliveries arrive";
  }
  return c;
}

// The work trees each project keeps for reuse (agents/worktree_pool.h), from the store.
std::optional<Check> PoolCheck(Context& ctx, const Home& home, const Config& config) {
  if (!HasStore(home, config)) return std::nullopt;
  Result<Store*> store = ctx.store();
  if (!store.ok()) return std::nullopt;
  Result<std::vector<PooledWorktree>> rows = (*store)->ListPooledWorktrees();
  Result<std::vector<Project>> projects = (*store)->ListProjects();
  if (!rows.ok() || !projects.ok()) return std::nullopt;
  Check c{.name = "work tree pool", .ok = true};
  c.detail = "up to " + std::to_string(config.engine.worktree_pool) + " per project";
  for (const Project& p : *projects) {
    std::string trees;
    for (const PooledWorktree& r : *rows) {
      if (r.project_id != p.id) continue;
      std::string name = std::filesystem::path(r.slot).filename().string();
      trees += (trees.empty() ? "" : ", ") + name + " " +
               (r.state == PoolState::kReady ? r.head.substr(0, 12) : PoolStateName(r.state));
    }
    c.detail += "; " + p.name + ": " + (trees.empty() ? "empty" : trees);
  }
  return c;
}

// Free space under orch's home (or the current directory before it exists).
Check DiskCheck(const Home& home) {
  struct statvfs fs {};
  Check disk{.name = "disk"};
  std::string where = std::filesystem::exists(home.root) ? home.root : ".";
  if (statvfs(where.c_str(), &fs) == 0) {
    uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    disk.ok = free >= kMinFreeBytes;
    disk.detail = std::to_string(free / (1024 * 1024)) + " MB free under " + where;
  } else {
    disk.detail = "cannot stat " + where;
  }
  disk.fix = "free some space (old worktrees: orch logs them as orphans)";
  return disk;
}

// Prints each check with its fix when it failed, as text or JSON; true when one failed (a
// warning is not a failure).
bool PrintChecks(const std::vector<Check>& checks, bool json, std::ostream& os) {
  bool failed = false;
  nlohmann::json out = nlohmann::json::array();
  for (const Check& c : checks) {
    failed = failed || (!c.ok && !c.warning);
    out.push_back({{"check", c.name},
                   {"ok", c.ok},
                   {"warning", !c.ok && c.warning},
                   {"detail", c.detail},
                   {"fix", c.ok ? "" : c.fix}});
    if (json) continue;
    os << (c.ok ? "ok    " : c.warning ? "warn  " : "FAIL  ") << c.name << ": " << c.detail << "\n";
    if (!c.ok) os << "      fix: " << c.fix << "\n";
  }
  if (json) os << out.dump(2) << "\n";
  return failed;
}

class DoctorCommand : public Command {
 public:
  void Define(CLI::App& app) override { app.add_flag("--json", json_, "Print JSON"); }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    std::vector<Check> checks;
    PosixProcessRunner runner;
    AddToolChecks(runner, checks);
    Result<Config> config = ctx.config();
    if (!config.ok()) {
      checks.push_back({.name = "config",
                        .detail = config.status().message(),
                        .fix = "edit " + home->config_path() + " (orch config validate)"});
    } else {
      checks.push_back({.name = "config", .ok = true, .detail = home->config_path()});
      AddAgentChecks(*config, ctx.env, checks);
      checks.push_back(GitHubCheck(*config, ctx.env, runner, ctx.clock));
      if (config->webhook.enabled) {
        AddWebhookChecks(*config, *home, checks);
        if (std::optional<Check> mode = WebhookModeCheck(ctx, *home, *config)) {
          checks.push_back(*mode);
        }
      }
      if (std::optional<Check> pg = PostgresCheck(*home, *config, ctx.clock)) checks.push_back(*pg);
      if (std::optional<Check> pool = PoolCheck(ctx, *home, *config)) checks.push_back(*pool);
    }
    checks.push_back(DiskCheck(*home));
    if (PrintChecks(checks, json_, ctx.out)) {
      return Status::Unavailable("orch doctor", "some checks failed (see above)");
    }
    return Status::OK();
  }

 private:
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeDoctorCommand() { return std::make_unique<DoctorCommand>(); }

}  // namespace orch
