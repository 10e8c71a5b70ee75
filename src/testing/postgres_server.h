// PostgresServer: a real PostgreSQL for the tests, started by the test process itself on first
// use and stopped (and its files removed) when the process exits.
//
// Shared() copies a database cluster into a fresh directory under /tmp (from a template that
// initdb made once per machine and PostgreSQL version: trust authentication, no fsync) and
// starts the server with pg_ctl on a free port of 127.0.0.1, its socket in the same directory.
// PostgreSQL refuses to run as root, so as root both run as user `nobody` (through runuser)
// and the directory is nobody's. The binaries are found through `pg_config --bindir`, then
// /usr/lib/postgresql/<newest>/bin or Homebrew's postgresql@<newest>, then PATH. When they are
// missing or the server does not start, every call throws std::runtime_error saying why (naming
// scripts/install-deps); a test fails, it is never skipped. A server a killed test process left
// behind is stopped by the next one to start (its directory names the process that made it).
//
// FreshDatabaseUrl() gives each test an empty schema of its own, as a URL whose search_path is
// that schema: as isolated as a database for orch's unqualified names, and far cheaper (see
// postgres_server.cc for the figures).
//
// Thread-safe: every method may be called from any thread.
#ifndef ORCH_TESTING_POSTGRES_SERVER_H_
#define ORCH_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orch::sql {
class Connection;
}

namespace orch::test {

class PostgresServer {
 public:
  // The process's server, started on the first call. Throws std::runtime_error when it cannot
  // start (and again on every later call, without trying again).
  static PostgresServer& Shared();
  // Another server, the caller's own, with PostgreSQL's durable defaults (fsync, full_page_writes
  // and synchronous_commit on): for benchmarks that compare durable commits. Stopped and removed
  // when destroyed. Throws std::runtime_error when it cannot start.
  static std::unique_ptr<PostgresServer> StartDurable();

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // "postgresql://postgres@127.0.0.1:PORT/postgres?options=-csearch_path%3Dtest_N": a new empty
  // schema every call. Throws std::runtime_error when it cannot be made.
  std::string FreshDatabaseUrl();
  // The server's `postgres` database (superuser postgres), for what a test sets up itself.
  const std::string& admin_url() const { return admin_url_; }
  int port() const { return port_; }

 private:
  PostgresServer() = default;
  void Start();
  void MakeDirectory();
  std::string Template();
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;
  // Runs argv as the server's user in dir_; its output, or throws with what it said.
  std::string RunOrThrow(const std::vector<std::string>& argv);

  std::mutex mu_;
  bool tried_ = false;
  std::string error_;    // why it could not start
  pid_t owner_ = 0;      // the process that started it
  std::string parent_;   // where dir_ and the template are: /tmp or $TMPDIR
  std::string dir_;      // holds data/, the socket, the log, and `owner`
  std::string bin_dir_;  // initdb, pg_ctl
  std::string run_as_;   // "nobody" as root, else empty
  std::string runuser_;  // runuser's path, as root
  std::string admin_url_;
  int port_ = 0;
  int next_ = 0;
  bool durable_ = false;  // StartDurable's: fsync and synchronous commits on
  std::unique_ptr<sql::Connection> admin_;
};

}  // namespace orch::test

#endif  // ORCH_TESTING_POSTGRES_SERVER_H_
