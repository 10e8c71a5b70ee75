// `orch demo start | label | review`: the offline demo that `make run` starts when no GitHub
// credentials are configured. Everything is real except GitHub and the model: the GitHub
// simulator (orch-github-sim) with a sample repository whose remote is a local bare repo, the
// agent stand-in (orch-agent-standin) answering as claude and making a real change, and
// `orch serve` itself, with its own home (`$ORCH_HOME/demo`) and tmux socket so nothing of a
// real installation is touched. `label` and `review` act as a person on the simulated GitHub.
//
// The demo home is rebuilt on every start: the simulator keeps its state in memory, so an old
// store would name issues and pull requests that no longer exist.
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

#include "base/platform.h"
#include "base/subprocess.h"
#include "cli/cli.h"
#include "engine/daemon.h"
#include "github/github_rest.h"

namespace orch {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr char kRepo[] = "demo/widgets";
constexpr char kPerson[] = "alice";  // the maintainer the demo's commands act as
constexpr char kMarker[] = "demo.json";

// The issue the demo starts with. The stand-in agent does what its `standin:` lines say.
constexpr char kIssueTitle[] = "Make hello.py greet the world";
constexpr char kIssueBody[] =
    "`hello.py` prints a TODO. It should greet the world.\n"
    "\n"
    "(orch's demo runs a stand-in instead of a model: it carries out the `standin:` lines below, "
    "the way a real agent would read the text above.)\n"
    "standin: say Reading hello.py and the README\n"
    "standin: sleep 1500\n"
    "standin: write hello.py print(\"Hello, world!\")\n"
    "standin: say Changed hello.py to print a greeting\n"
    "standin: sleep 1000\n";

// The input the banner suggests for `orch flow run code-review-test`, quoted for the shell
// ($'...' keeps the newline the stand-in needs before its directive).
constexpr char kFlowInput[] = R"($'Add bye.py\nstandin: write bye.py print("Goodbye")')";

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char* kHex = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 0xf];
  }
  return out;
}

// A port on 127.0.0.1 that was free a moment ago.
Result<int> FreePort() {
  int fd = CloexecSocket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::IOError("socket", strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port == 0) return Status::IOError("finding a free port", strerror(errno));
  return port;
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError(path, "cannot write");
  return Status::OK();
}

// The demo home: $ORCH_HOME itself when it is one (the user exported it), else $ORCH_HOME/demo.
std::string DemoHome(const Home& home) {
  if (fs::exists(home.root + "/" + kMarker)) return home.root;
  return home.root + "/demo";
}

// Runs a command to completion; a failure names the command and its stderr.
Status RunStep(ProcessRunner& runner, const std::vector<std::string>& argv,
               const std::optional<std::string>& cwd = std::nullopt) {
  Result<ProcessResult> r =
      runner.Run({.argv = argv, .cwd = cwd, .timeout = std::chrono::seconds(30)});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::IOError(argv[0] + " " + argv[1], r->err.substr(0, 300));
  return Status::OK();
}

// The sample repository's tests: each script runs (with python3, else its print line is read)
// and must print something. Its .orch.yml makes them workflow.test_command, so the shipped
// flow code-review-test has tests to run.
constexpr char kSampleTests[] =
    "#!/bin/sh\n"
    "# The widgets' tests: every script prints something. orch runs them as the project's\n"
    "# workflow.test_command (.orch.yml), e.g. in the flow code-review-test.\n"
    "status=0\n"
    "for f in *.py; do\n"
    "  if command -v python3 >/dev/null 2>&1; then out=$(python3 \"$f\") || status=1\n"
    "  else out=$(sed -n 's/^print(\\(.*\\))$/\\1/p' \"$f\"); fi\n"
    "  if [ -n \"$out\" ]; then echo \"ok   $f: $out\"; else echo \"FAIL $f printed nothing\"; "
    "status=1; fi\n"
    "done\n"
    "exit $status\n";
constexpr char kSampleOrchYml[] =
    "# orch's settings for this repository (read from the default branch).\n"
    "workflow:\n"
    "  test_command: [sh, test.sh]\n";

// The sample repository: a bare repo as the remote and a checkout of it, one commit on main.
Status MakeSampleRepo(ProcessRunner& runner, const std::string& bare, const std::string& work) {
  ORCH_RETURN_IF_ERROR(RunStep(runner, {"git", "init", "-q", "--bare", "-b", "main", bare}));
  ORCH_RETURN_IF_ERROR(RunStep(runner, {"git", "init", "-q", "-b", "main", work}));
  ORCH_RETURN_IF_ERROR(WriteText(work + "/README.md", "# widgets\n\norch's demo repository.\n"));
  ORCH_RETURN_IF_ERROR(WriteText(work + "/hello.py", "print(\"TODO\")\n"));
  ORCH_RETURN_IF_ERROR(WriteText(work + "/test.sh", kSampleTests));
  ORCH_RETURN_IF_ERROR(WriteText(work + "/.orch.yml", kSampleOrchYml));
  ORCH_RETURN_IF_ERROR(RunStep(runner, {"git", "add", "-A"}, work));
  ORCH_RETURN_IF_ERROR(
      RunStep(runner,
              {"git", "-c", "user.name=orch demo", "-c", "user.email=demo@orch.invalid", "commit",
               "-q", "-m", "widgets: a start"},
              work));
  ORCH_RETURN_IF_ERROR(RunStep(runner, {"git", "remote", "add", "origin", bare}, work));
  return RunStep(runner, {"git", "push", "-q", "-u", "origin", "main"}, work);
}

Json Seed(const std::string& token) {
  return {
      {"authenticated_user", "orch-bot"},
      {"tokens", {token}},
      {"repos",
       {{{"full_name", kRepo},
         {"default_branch", "main"},
         {"collaborators", {{kPerson, "admin"}, {"orch-bot", "write"}}},
         {"labels", {{{"name", "orch"}, {"color", "5319e7"}}}},
         {"issues",
          {{{"number", 1}, {"title", kIssueTitle}, {"body", kIssueBody}, {"user", kPerson}}}}}}}};
}

// The simulator as a child process in its own process group (so Ctrl-C reaches orch, which
// stops it after the daemon has drained), its output in `log`.
class Child {
 public:
  ~Child() { Stop(); }
  // Forked before any thread exists. On Linux the child also gets SIGTERM when orch dies, so
  // a second Ctrl-C (orch exits at once) leaves no simulator behind.
  Status Spawn(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return Status::IOError("fork", strerror(errno));
    if (pid_ == 0) {
      if (!SignalWhenParentDies(SIGTERM, parent)) _exit(1);
      setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      int in = open("/dev/null", O_RDONLY);
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0) _exit(127);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      execv(args[0], args.data());
      _exit(127);
    }
    return Status::OK();
  }
  bool Running() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (kill(pid_, 0) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// What the demo's commands need to know, from the demo home's marker file.
struct DemoInfo {
  std::string home;
  std::string sim_url;
  std::string token;
};

Result<DemoInfo> FindDemo(Context& ctx) {
  Result<Home> home = ctx.home();
  if (!home.ok()) return home.status();
  for (const std::string& dir : {home->root, home->root + "/demo"}) {
    Json marker = Json::parse(Slurp(dir + "/" + kMarker), nullptr, false);
    if (marker.is_object() && marker.contains("sim_url")) {
      return DemoInfo{dir, marker.value("sim_url", ""), marker.value("token", "")};
    }
  }
  return Status::InvalidArgument(
      "no demo is running under " + home->root,
      "start one with `make run` (without GitHub credentials) or `orch demo start`");
}

// A call on the simulator; the control API (/_sim) answers 200 with JSON.
Result<Json> SimCall(const DemoInfo& demo, const std::string& method, const std::string& path,
                     const Json& body = Json()) {
  httplib::Client client(demo.sim_url);
  client.set_connection_timeout(2);
  client.set_read_timeout(30);
  httplib::Headers headers;
  if (path.rfind("/_sim", 0) != 0) headers = {{"Authorization", "token " + demo.token}};
  httplib::Result r = method == "GET" ? client.Get(path, headers)
                                      : client.Post(path, headers, body.dump(), "application/json");
  if (!r) {
    return Status::Unavailable("the demo's GitHub simulator at " + demo.sim_url,
                               httplib::to_string(r.error()) + " (is `orch demo start` running?)");
  }
  if (r->status != 200 && r->status != 201) {
    return Status::IOError(method + " " + path,
                           "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300));
  }
  return Json::parse(r->body, nullptr, false);
}

std::string DeliveryNote(const Json& answer) {
  const Json& d = answer.is_object() ? answer.value("delivery", Json()) : Json();
  if (!d.is_object()) return "no webhook (nothing changed)";
  int status = d.value("status", 0);
  return "webhook " + d.value("event", std::string()) + " delivered, orch answered " +
         (status == 0 ? std::string("nothing: is the demo's orch running?")
                      : std::to_string(status));
}

// What `orch demo start` chooses for one demo: written into its config.yml and marker file.
struct DemoSetup {
  std::string home;
  std::string socket;  // the demo's own tmux server (tmux -L)
  std::string token;   // orch-bot's token on the simulator
  std::string secret;  // the webhook secret
  int webhook_port = 0;
  int api_port = 0;
  std::string sim_url;  // known once the simulator is up
};

// The demo's tmux socket: ORCH_TMUX_SOCKET (or "orch") with "-demo" appended, unless the
// banner's export is in effect and it already ends so.
std::string DemoTmuxSocket(const EnvLookup& env) {
  std::string socket = env("ORCH_TMUX_SOCKET").value_or("orch");
  if (socket.size() < 5 || socket.compare(socket.size() - 5, 5, "-demo") != 0) socket += "-demo";
  return socket;
}

// Empties the demo home for a new demo, refusing a directory that is not the demo's or a demo
// that is still running.
Status ResetDemoHome(ProcessRunner& runner, const std::string& home, const std::string& socket) {
  std::error_code ec;
  if (fs::exists(home) && !fs::exists(home + "/" + kMarker)) {
    return Status::InvalidArgument(home, "exists and is not orch's demo; move it away");
  }
  {
    fs::create_directories(home + "/state", ec);
    Result<PidLock> lock = PidLock::Acquire(home + "/state/orch.pid");
    if (lock.status().IsConflict()) {
      return Status::InvalidArgument("a demo is already running", lock.status().message());
    }
  }
  // A crashed earlier demo may have left agents in tmux: end them with its files.
  (void)runner.Run(
      {.argv = {"tmux", "-L", socket, "kill-server"}, .timeout = std::chrono::seconds(5)});
  fs::remove_all(home, ec);
  if (ec) return Status::IOError(home, ec.message());
  fs::create_directories(home + "/state", ec);
  if (ec) return Status::IOError(home, ec.message());
  return WriteText(home + "/" + kMarker, "{}\n");
}

// Spawns the GitHub simulator on a port of its choosing, sending webhooks to the demo's orch;
// returns its URL once it has written its port.
Result<std::string> StartSimulator(Child& sim, const std::string& sim_bin, const DemoSetup& demo) {
  const std::string& home = demo.home;
  std::string port_file = home + "/state/sim.port";
  ORCH_RETURN_IF_ERROR(sim.Spawn(
      {sim_bin, "--port", "0", "--port-file", port_file, "--seed", home + "/seed.json",
       "--webhook-url", "http://127.0.0.1:" + std::to_string(demo.webhook_port) + "/webhook",
       "--webhook-secret", demo.secret},
      home + "/state/github-sim.log"));
  std::string sim_port;
  for (int i = 0; i < 100 && sim_port.empty() && sim.Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sim_port = Slurp(port_file);
    while (!sim_port.empty() && isspace(static_cast<unsigned char>(sim_port.back()))) {
      sim_port.pop_back();
    }
  }
  if (sim_port.empty()) {
    return Status::IOError("the GitHub simulator did not start",
                           Slurp(home + "/state/github-sim.log").substr(0, 300));
  }
  return "http://127.0.0.1:" + sim_port;
}

// The demo's config.yml (the simulator as GitHub, the stand-in as claude) and its marker file,
// which `orch demo label` and `review` read.
Status WriteDemoConfig(const DemoSetup& demo, const std::string& standin_bin) {
  std::ostringstream config;
  config << "# orch's demo: written by `orch demo start`, replaced on every start.\n"
         << "webhook:\n  secret: \"" << demo.secret << "\"\n  port: " << demo.webhook_port << "\n"
         << "api:\n  port: " << demo.api_port << "\n"
         << "github:\n  api_url: " << demo.sim_url << "\n  token: \"" << demo.token << "\"\n"
         << "router:\n  mode: round_robin\n  agents: [claude]\n"
         << "agents:\n  claude:\n    command: " << standin_bin
         << "\n    env:\n      ORCH_STANDIN_AS: claude\n"
         << "engine:\n  tick_interval: 1\n  sync_interval: 60\n"
         // The demo shows an approval finishing the task; the default waits for the merge.
         << "workflow:\n  timeout_seconds: 120\n  auto_close_task_on_approval: true\n";
  ORCH_RETURN_IF_ERROR(WriteText(demo.home + "/config.yml", config.str()));
  return WriteText(
      demo.home + "/" + kMarker,
      Json({{"repo", kRepo}, {"sim_url", demo.sim_url}, {"token", demo.token}}).dump(2) + "\n");
}

// Runs `orch serve` on `demo`, printing `banner` to `out` once the receiver answers, so it
// follows the daemon's start-up lines.
Status ServeWithBanner(Context& demo, std::ostream& out, const std::string& banner,
                       int webhook_port) {
  std::atomic<bool> serving_ended{false};
  std::thread announcer([&, port = webhook_port] {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(1);
    for (int i = 0; i < 200 && !serving_ended; ++i) {
      if (httplib::Result r = client.Get("/health"); r && r->status == 200) {
        out << banner << std::flush;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Status served = MakeServeCommand()->Run(demo);
  serving_ended = true;
  announcer.join();
  return served;
}

class DemoStartCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_flag("--or-serve", or_serve_,
                 "When GitHub credentials are configured, run `orch serve` instead (make run)");
  }
  Status Run(Context& ctx) override {
    Result<Home> base = ctx.home();
    if (!base.ok()) return base.status();
    if (or_serve_) {
      Result<Config> config = ctx.config();
      if (!config.ok()) return config.status();
      PosixProcessRunner runner;
      Result<std::unique_ptr<RestGitHubClient>> github =
          RestGitHubClient::Make(config->github, ctx.env, runner, ctx.clock);
      if (github.ok()) {
        ctx.err << "orch: GitHub credentials are configured: running the service (orch serve)\n";
        return MakeServeCommand()->Run(ctx);
      }
      // Credentials that are set but broken (an unreadable App key) are the user's to fix.
      if (github.status().message().rfind("no GitHub", 0) != 0) return github.status();
    }
    std::string exe = ExecutablePath();
    std::string bin_dir = fs::path(exe).parent_path().string();
    std::string sim_bin = bin_dir + "/orch-github-sim";
    std::string standin_bin = bin_dir + "/orch-agent-standin";
    for (const std::string& b : {sim_bin, standin_bin}) {
      if (access(b.c_str(), X_OK) != 0) {
        return Status::NotFound(b, "the demo needs it beside orch (cmake --build build)");
      }
    }

    DemoSetup setup;
    setup.home = DemoHome(*base);
    setup.socket = DemoTmuxSocket(ctx.env);
    const std::string& home = setup.home;
    PosixProcessRunner runner;
    ORCH_RETURN_IF_ERROR(ResetDemoHome(runner, home, setup.socket));
    ORCH_RETURN_IF_ERROR(MakeSampleRepo(runner, home + "/origin.git", home + "/widgets"));
    setup.token = "ghp_demo" + RandomHex(16);
    setup.secret = RandomHex(32);
    ORCH_RETURN_IF_ERROR(WriteText(home + "/seed.json", Seed(setup.token).dump(2)));
    Result<int> webhook_port = FreePort();
    if (!webhook_port.ok()) return webhook_port.status();
    setup.webhook_port = *webhook_port;
    Result<int> api_port = FreePort();
    if (!api_port.ok()) return api_port.status();
    setup.api_port = *api_port;

    BlockStopSignals();
    Child sim;
    Result<std::string> sim_url = StartSimulator(sim, sim_bin, setup);
    if (!sim_url.ok()) return sim_url.status();
    setup.sim_url = *sim_url;
    ORCH_RETURN_IF_ERROR(WriteDemoConfig(setup, standin_bin));

    // orch itself, on the demo home: the same `orch serve` as the real service.
    setenv("ORCH_HOME", home.c_str(), 1);
    setenv("ORCH_TMUX_SOCKET", setup.socket.c_str(), 1);
    Context demo(ctx.out, ctx.err, ProcessEnv(), ctx.clock, ctx.git);
    Result<Store*> store = demo.store();
    if (!store.ok()) return store.status();
    Result<Project> project = (*store)->AddProject(
        {.name = kRepo, .repo = std::string(kRepo), .path = home + "/widgets"});
    if (!project.ok()) return project.status();

    Status served = ServeWithBanner(
        demo, ctx.out, Banner(exe, home, setup.socket, setup.sim_url, setup.webhook_port),
        setup.webhook_port);
    sim.Stop();
    (void)runner.Run(
        {.argv = {"tmux", "-L", setup.socket, "kill-server"}, .timeout = std::chrono::seconds(5)});
    ctx.err << "orch: demo stopped; its files stay in " << home << " until the next start\n";
    return served;
  }

 private:
  static std::string Banner(const std::string& exe, const std::string& home,
                            const std::string& socket, const std::string& sim_url,
                            int webhook_port) {
    std::string orch = exe;
    if (const char* path = getenv("PATH")) {
      std::stringstream dirs(path);
      std::string dir;
      std::error_code ec;
      while (std::getline(dirs, dir, ':')) {
        if (!dir.empty() && fs::equivalent(dir + "/orch", exe, ec)) orch = "orch";
      }
    }
    std::ostringstream b;
    b << "\n"
      << "==================================== orch DEMO ====================================\n"
      << " No GitHub credentials are configured, so this is the offline demo. Nothing leaves\n"
      << " this machine:\n"
      << "   GitHub   a local simulator at " << sim_url << " with " << kRepo << ",\n"
      << "            issue #1 \"" << kIssueTitle << "\"; you act as " << kPerson << ", its admin\n"
      << "   git      the repository's remote is " << home << "/origin.git\n"
      << "   agent    a stand-in answering as claude; it carries out the issue's `standin:`\n"
      << "            lines and makes a real commit\n"
      << "   orch     webhooks on 127.0.0.1:" << webhook_port << ", agents in `tmux -L " << socket
      << "`\n"
      << "\n"
      << " In another terminal:\n"
      << "   export ORCH_HOME=" << home << " ORCH_TMUX_SOCKET=" << socket << "\n"
      << Steps(orch) << "\n"
      << " Orchestrated runs, with the same stand-in in place of every agent:\n"
      << RunSteps(orch) << "\n"
      << " Ctrl-C stops the demo. For real GitHub set GITHUB_TOKEN (or see the README's\n"
      << " \"Connecting GitHub\") and run `make run` again.\n"
      << "===================================================================================\n";
    return b.str();
  }

  // The commands to try, each with what it shows, comments aligned.
  static std::string Steps(const std::string& orch) {
    const std::pair<std::string, std::vector<const char*>> steps[] = {
        {"demo label 1",
         {"label issue #1 `orch`: it is routed, the agent", "starts in tmux, a PR opens"}},
        {"stream 1", {"watch the agent's output live"}},
        {"demo review 1 --request-changes", {"two review comments: two follow-up tasks"}},
        {"task list", {"the follow-ups run on the PR's branch"}},
        {"demo review 1 --approve", {"approved: the task is done"}},
    };
    size_t width = 0;
    for (const auto& [cmd, _] : steps) width = std::max(width, orch.size() + 1 + cmd.size());
    std::string out;
    for (const auto& [cmd, notes] : steps) {
      std::string line = orch + " " + cmd;
      for (const char* note : notes) {
        out += "   " + line + std::string(width - line.size(), ' ') + "  # " + note + "\n";
        line.clear();
      }
    }
    return out;
  }

  // A debug run and the shipped flow, which runs the sample repository's tests (test.sh).
  static std::string RunSteps(const std::string& orch) {
    std::string debug = orch + " run debug '#1'";
    std::string list = orch + " run list";
    size_t width = std::max(debug.size(), list.size());
    auto pad = [width](const std::string& s) { return s + std::string(width - s.size(), ' '); };
    return "   " + pad(debug) + "  # a session on issue #1, then the orchestrator's report\n" +
           "   " + pad(list) + "  # the runs; orch run show <id>: steps and report\n" + "   " +
           orch + " flow run code-review-test --input " + kFlowInput + "\n" + "   " +
           std::string(width, ' ') + "  # coder, reviewer, then test.sh; a PR opens\n";
  }

  bool or_serve_ = false;
};

class DemoLabelCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("issue", issue_, "Issue number")->required();
    app.add_option("--label", label_, "The label (default orch)");
  }
  Status Run(Context& ctx) override {
    Result<DemoInfo> demo = FindDemo(ctx);
    if (!demo.ok()) return demo.status();
    Result<Json> answer = SimCall(
        *demo, "POST",
        std::string("/_sim/repos/") + kRepo + "/issues/" + std::to_string(issue_) + "/labels",
        {{"user", kPerson}, {"label", label_}});
    if (!answer.ok()) return answer.status();
    ctx.out << kPerson << " labelled " << kRepo << "#" << issue_ << " `" << label_
            << "`: " << DeliveryNote(*answer) << "\n";
    return Status::OK();
  }

 private:
  int issue_ = 0;
  std::string label_ = "orch";
};

class DemoReviewCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("issue", issue_, "Issue number whose pull request to review")->required();
    auto* changes = app.add_flag("--request-changes", request_changes_,
                                 "Request changes, with two review comments");
    auto* approve = app.add_flag("--approve", approve_, "Approve the pull request");
    changes->excludes(approve);
  }
  Status Run(Context& ctx) override {
    if (request_changes_ == approve_) {
      return Status::InvalidArgument("orch demo review", "give --request-changes or --approve");
    }
    Result<DemoInfo> demo = FindDemo(ctx);
    if (!demo.ok()) return demo.status();
    // The issue's pull request is the one on orch's branch for it (orch/<issue>-<slug>).
    Result<Json> pulls =
        SimCall(*demo, "GET", std::string("/repos/") + kRepo + "/pulls?state=open");
    if (!pulls.ok()) return pulls.status();
    std::string prefix = "orch/" + std::to_string(issue_) + "-";
    int pr = 0;
    for (const Json& p : *pulls) {
      if (p["head"].value("ref", std::string()).rfind(prefix, 0) == 0) pr = p.value("number", 0);
    }
    if (pr == 0) {
      return Status::NotFound("issue #" + std::to_string(issue_) + " has no open pull request yet",
                              "label it first (orch demo label " + std::to_string(issue_) +
                                  ") and wait for the task to reach in_review (orch task list)");
    }
    Json review = {{"user", kPerson}};
    if (approve_) {
      review["state"] = "APPROVED";
      review["body"] = "Looks good, thank you!";
    } else {
      review["state"] = "CHANGES_REQUESTED";
      review["body"] = "Two small things before this goes in.";
      review["comments"] = Json::array(
          {{{"path", "hello.py"},
            {"line", 1},
            {"diff_hunk", "@@ -1 +1 @@\n-print(\"TODO\")\n+print(\"Hello, world!\")"},
            {"body",
             "Greet in French too, in a file of its own.\n"
             "standin: write bonjour.py print(\"Bonjour, le monde !\")\n"}},
           {{"path", "README.md"},
            {"line", 3},
            {"diff_hunk", "@@ -1,3 +1,3 @@\n # widgets\n \n orch's demo repository."},
            {"body",
             "Say in the README how to run it.\n"
             "standin: write README.md Run `python3 hello.py` or `python3 bonjour.py`.\n"}}});
    }
    Result<Json> answer = SimCall(
        *demo, "POST",
        std::string("/_sim/repos/") + kRepo + "/pulls/" + std::to_string(pr) + "/reviews", review);
    if (!answer.ok()) return answer.status();
    ctx.out << kPerson << (approve_ ? " approved" : " requested changes on") << " pull request #"
            << pr << (approve_ ? "" : " with 2 comments") << ": " << DeliveryNote(*answer) << "\n";
    return Status::OK();
  }

 private:
  int issue_ = 0;
  bool request_changes_ = false;
  bool approve_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeDemoStartCommand() { return std::make_unique<DemoStartCommand>(); }
std::unique_ptr<Command> MakeDemoLabelCommand() { return std::make_unique<DemoLabelCommand>(); }
std::unique_ptr<Command> MakeDemoReviewCommand() { return std::make_unique<DemoReviewCommand>(); }

}  // namespace orch
