#include "testing/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "base/platform.h"
#include "base/subprocess.h"
#include "store/sql.h"
#include "testing/test_util.h"

// A fresh schema or a fresh database per test, each followed by a new connection to it and
// PostgresMigrations() applied; means of 3 runs of 20 to 50, PostgreSQL 15 with fsync off, on a
// 2-core machine that two builds shared at the time:
//   CREATE SCHEMA:    0.3-0.5 ms, connecting 3.3-4.3 ms, the migration 27-39 ms
//   CREATE DATABASE: 19-81 ms (a copy of template1), connecting 6.5-8.2 ms, migration 20-37 ms
// A schema it is: orch's statements name no schema, so with search_path set to it a test sees
// only its own tables. (What a schema does not separate: advisory locks, which belong to the
// database; the tests of one process run one after another, and each process has its own
// server.) Starting the server, once per test process (and CTest runs every test in a process
// of its own): 0.25 s from the template (cp -a 0.1 s, pg_ctl start 0.12 s); 0.6-0.9 s when initdb
// has to make the template first.

namespace orch::test {
namespace {

constexpr const char* kInstallHint =
    "run scripts/install-deps (Debian: postgresql; macOS: brew install postgresql@16)";

bool IsExecutable(const std::filesystem::path& p) { return access(p.c_str(), X_OK) == 0; }

bool HasServerBinaries(const std::filesystem::path& dir) {
  return IsExecutable(dir / "initdb") && IsExecutable(dir / "pg_ctl");
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The newest <root>/<version><bin>: /usr/lib/postgresql/15/bin,
// /opt/homebrew/opt/postgresql@16/bin.
std::string NewestVersionDir(const std::string& root, const std::string& prefix) {
  std::error_code ec;
  int newest = -1;
  std::string found;
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    int version = std::atoi(name.c_str() + prefix.size());
    if (version > newest && HasServerBinaries(e.path() / "bin")) {
      newest = version;
      found = (e.path() / "bin").string();
    }
  }
  return found;
}

// pg_config --bindir (Debian's names the server's version directory; Homebrew's libpq has no
// server there), then the newest of Debian's versions or Homebrew's (keg-only) postgresql@N,
// then PATH.
std::string FindBinDir() {
  PosixProcessRunner runner;
  ProcessOptions o;
  o.argv = {"pg_config", "--bindir"};
  o.timeout = std::chrono::seconds(10);
  auto r = runner.Run(o);
  if (r.ok() && r->exit_code == 0 && HasServerBinaries(Trimmed(r->out))) return Trimmed(r->out);
  for (const auto& [root, prefix] :
       {std::pair{"/usr/lib/postgresql", ""}, std::pair{"/opt/homebrew/opt", "postgresql@"},
        std::pair{"/usr/local/opt", "postgresql@"}}) {
    std::string found = NewestVersionDir(root, prefix);
    if (!found.empty()) return found;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && HasServerBinaries(dir)) return dir;
  }
  return "";
}

std::string FindRunuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"}) {
    if (IsExecutable(p)) return p;
  }
  return "";
}

// The postmaster's pid, port and socket directory from data/postmaster.pid (its lines 1, 4, 5).
struct Postmaster {
  pid_t pid = 0;
  std::string port;
  std::string socket_dir;
};

Postmaster ReadPostmaster(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line) && lines.size() < 5;) lines.push_back(line);
  Postmaster p;
  if (lines.size() < 5) return p;
  p.pid = static_cast<pid_t>(std::atol(lines[0].c_str()));
  p.port = lines[3];
  p.socket_dir = lines[4];
  return p;
}

// What `pg_ctl stop -m immediate` does (SIGQUIT to the postmaster, which ends its children), done
// here so it also works while the process exits, when running children is no longer safe. Only
// a postmaster that answers on its socket is signalled, so a recycled pid is left alone.
void StopImmediately(const std::string& data_dir) {
  Postmaster p = ReadPostmaster(data_dir);
  if (p.pid <= 0) return;
  std::string conninfo = "host=" + p.socket_dir + " port=" + p.port + " connect_timeout=2";
  if (PQping(conninfo.c_str()) == PQPING_NO_RESPONSE) return;
  if (kill(p.pid, SIGQUIT) != 0) return;
  for (int i = 0; i < 500 && ProcessRunning(p.pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Servers of test processes that were killed before they could stop theirs: each directory has
// an `owner` file with its process's pid.
void ReapLeftovers(const std::string& parent) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
    if (e.path().filename().string().rfind("orch-pg-", 0) != 0) continue;
    std::ifstream owner(e.path() / "owner");
    long pid = 0;
    if (!(owner >> pid) || pid <= 0 || pid == getpid() || ProcessRunning(static_cast<pid_t>(pid))) {
      continue;
    }
    StopImmediately((e.path() / "data").string());
    std::filesystem::remove_all(e.path(), ec);
  }
}

}  // namespace

PostgresServer& PostgresServer::Shared() {
  static PostgresServer server;
  std::lock_guard<std::mutex> lock(server.mu_);
  if (!server.tried_) {
    server.tried_ = true;
    try {
      server.Start();
    } catch (const std::exception& e) {
      server.error_ = std::string("cannot start a PostgreSQL for the tests: ") + e.what();
    }
  }
  if (!server.error_.empty()) throw std::runtime_error(server.error_);
  return server;
}

std::unique_ptr<PostgresServer> PostgresServer::StartDurable() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->durable_ = true;
  server->tried_ = true;
  try {
    server->Start();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot start a durable PostgreSQL: ") + e.what());
  }
  return server;
}

PostgresServer::~PostgresServer() {
  // A child forked by a test (without exec) exits through here too: the server is not its own.
  if (owner_ != getpid() || dir_.empty()) return;
  admin_.reset();
  StopImmediately(dir_ + "/data");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> PostgresServer::AsServerUser(std::vector<std::string> argv) const {
  if (run_as_.empty()) return argv;
  std::vector<std::string> out = {runuser_, "-u", run_as_, "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string PostgresServer::RunOrThrow(const std::vector<std::string>& argv) {
  PosixProcessRunner runner;
  ProcessOptions o;
  o.argv = AsServerUser(argv);
  o.cwd = dir_;  // readable by the server's user, unlike root's home
  o.timeout = std::chrono::seconds(60);
  auto r = runner.Run(o);
  if (!r.ok()) throw std::runtime_error(argv[0] + ": " + r.status().ToString());
  if (r->exit_code != 0) {
    throw std::runtime_error(argv[0] + " exited " + std::to_string(r->exit_code) + ": " +
                             Trimmed(r->out + r->err));
  }
  return r->out;
}

void PostgresServer::MakeDirectory() {
  // As root the server's user must reach the directory: /tmp, not a TMPDIR under /root.
  const char* tmp = std::getenv("TMPDIR");
  parent_ = run_as_.empty() && tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  ReapLeftovers(parent_);
  std::string tmpl = parent_ + "/orch-pg-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp in " + parent_ + " failed");
  dir_ = tmpl;
  owner_ = getpid();
  WriteFile(dir_ + "/owner", std::to_string(owner_) + "\n");
  if (!run_as_.empty()) {
    passwd* pw = getpwnam(run_as_.c_str());
    if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot give " + dir_ + " to user " + run_as_);
    }
  }
}

// initdb once per machine, user and PostgreSQL version, into a template each test process copies
// (cp -a: 0.1 s, against initdb's 0.6 s). Made under another name and renamed into place, so a
// process finds a whole template or none; of two made at once, the first renamed is kept.
std::string PostgresServer::Template() {
  std::string version = Trimmed(RunOrThrow({bin_dir_ + "/pg_ctl", "--version"}));
  std::string path = parent_ + "/orch-pgtemplate-" + std::to_string(geteuid()) + "-" +
                     std::to_string(std::hash<std::string>{}(bin_dir_ + " " + version) % 1'000'000);
  if (std::filesystem::exists(path + "/PG_VERSION")) return path;
  std::string fresh = dir_ + "/template";
  RunOrThrow({bin_dir_ + "/initdb", "-D", fresh, "-A", "trust", "-U", "postgres", "-E", "UTF8",
              "--locale=C", "--no-sync"});
  std::error_code ec;
  std::filesystem::rename(fresh, path, ec);
  if (ec) std::filesystem::remove_all(fresh, ec);  // another process's came first
  if (!std::filesystem::exists(path + "/PG_VERSION")) {
    throw std::runtime_error("no database template at " + path);
  }
  return path;
}

void PostgresServer::Start() {
  bin_dir_ = FindBinDir();
  if (bin_dir_.empty()) {
    throw std::runtime_error(
        "initdb and pg_ctl not found (pg_config --bindir, /usr/lib/postgresql/*/bin,"
        " Homebrew's postgresql@N, PATH); " +
        std::string(kInstallHint));
  }
  if (geteuid() == 0) {
    // PostgreSQL refuses to run as root.
    run_as_ = "nobody";
    runuser_ = FindRunuser();
    if (runuser_.empty()) throw std::runtime_error("running as root, and runuser not found");
  }
  MakeDirectory();
  RunOrThrow({"cp", "-a", Template(), dir_ + "/data"});
  // A port found free may be taken before the server binds it: then another.
  for (int attempt = 0;; ++attempt) {
    port_ = FreePort();
    std::string options = "-p " + std::to_string(port_) + " -k " + dir_ +
                          " -c listen_addresses=127.0.0.1 -c shared_buffers=32MB";
    options += durable_ ? " -c fsync=on -c full_page_writes=on -c synchronous_commit=on"
                        : " -c fsync=off -c full_page_writes=off -c synchronous_commit=off";
    try {
      RunOrThrow({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/log", "-w", "-t", "60",
                  "-o", options, "start"});
      break;
    } catch (const std::runtime_error& e) {
      std::string log = ReadFile(dir_ + "/log");
      if (attempt < 4 && log.find("could not bind") != std::string::npos) continue;
      throw std::runtime_error(std::string(e.what()) + "\n" + log);
    }
  }
  admin_url_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  admin_ = sql::OpenPostgres(admin_url_);
}

std::string PostgresServer::FreshDatabaseUrl() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string schema = "test_" + std::to_string(++next_);
  try {
    admin_->Exec("CREATE SCHEMA " + schema);
  } catch (const std::exception& e) {
    throw std::runtime_error("CREATE SCHEMA " + schema + ": " + e.what());
  }
  return admin_url_ + "?options=-csearch_path%3D" + schema;
}

}  // namespace orch::test
