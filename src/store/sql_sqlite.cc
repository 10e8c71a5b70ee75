// The SQLite driver of sql.h, on SQLite's C API.
#include <sqlite3.h>

#include <string>

#include "store/sql.h"

namespace orch::sql {
namespace {

ErrorKind KindOf(int code) {
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return ErrorKind::kConstraint;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorKind::kBusy;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return ErrorKind::kCorrupt;
    case SQLITE_CANTOPEN:
      return ErrorKind::kConnection;
    default:
      return ErrorKind::kOther;
  }
}

[[noreturn]] void Throw(sqlite3* db, int code) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw Exception(KindOf(code), message);
}

class SqliteStatement : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void BindNull(int index) override { Check(sqlite3_bind_null(stmt_, index)); }
  void BindInt64(int index, int64_t value) override {
    Check(sqlite3_bind_int64(stmt_, index, value));
  }
  void BindDouble(int index, double value) override {
    Check(sqlite3_bind_double(stmt_, index, value));
  }
  void BindText(int index, std::string_view value) override {
    Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                              SQLITE_UTF8));
  }

  bool Step() override {
    if (done_) return false;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    done_ = true;
    if (rc == SQLITE_DONE) return false;
    Fail(rc);
  }

  int64_t Run() override {
    while (Step()) {
    }
    return sqlite3_changes64(db_);
  }

  void Reset() override {
    sqlite3_reset(stmt_);
    done_ = false;
  }

  bool IsNull(int column) override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  int64_t Int64(int column) override { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) override { return sqlite3_column_double(stmt_, column); }
  std::string Text(int column) override {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (text == nullptr) return "";
    return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) Throw(db_, rc);
  }
  // sqlite3_reset returns the step's error too; the message is the connection's.
  [[noreturn]] void Fail(int rc) {
    std::string message = sqlite3_errmsg(db_);
    sqlite3_reset(stmt_);
    throw Exception(KindOf(rc), message);
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool done_ = false;
};

class SqliteConnection : public Connection {
 public:
  SqliteConnection(std::string name, sqlite3* db) : name_(std::move(name)), db_(db) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Dialect dialect() const override { return Dialect::kSqlite; }
  const std::string& name() const override { return name_; }

  std::unique_ptr<StatementImpl> Prepare(const std::string& sql) override {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) Throw(db_, rc);
    return std::make_unique<SqliteStatement>(db_, stmt);
  }

  void Exec(const std::string& sql) override {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc == SQLITE_OK) return;
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw Exception(KindOf(rc), message);
  }

  bool TableExists(const std::string& table) override {
    std::unique_ptr<StatementImpl> s =
        Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    s->BindText(1, table);
    return s->Step();
  }

  void Begin() override { Exec("BEGIN IMMEDIATE"); }
  void BeginRead() override { Exec("BEGIN DEFERRED"); }
  void Commit() override { Exec("COMMIT"); }
  void Rollback() override { Exec("ROLLBACK"); }

 private:
  std::string name_;
  sqlite3* db_;
};

}  // namespace

std::unique_ptr<Connection> OpenSqlite(const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    throw Exception(ErrorKind::kConnection, message);
  }
  sqlite3_extended_result_codes(db, 0);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::make_unique<SqliteConnection>(path, db);
}

}  // namespace orch::sql
