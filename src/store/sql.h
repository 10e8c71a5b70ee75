// sql: the store's one door to a database engine, with two drivers: SQLite (the embedded
// default, one file in WAL mode) and PostgreSQL (several hosts sharing one store, issue 18).
//
// The store writes its statements once, in the SQL both engines speak: `?` or `?N`
// placeholders (the PostgreSQL driver turns them into `$N`), `INSERT ... ON CONFLICT`,
// `RETURNING id`, COALESCE rather than IFNULL. Where they differ (schema, pragmas, locks) it
// asks dialect(). Drivers report failures as sql::Exception with a kind the store maps to a
// Status; the classes mirror the part of SQLiteCpp the store used, so its code reads the same.
//
// Thread safety: a Connection and its statements belong to one thread at a time.
#ifndef ORCH_STORE_SQL_H_
#define ORCH_STORE_SQL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace orch::sql {

enum class Dialect { kSqlite, kPostgres };

enum class ErrorKind {
  kOther,
  kConstraint,  // a UNIQUE, CHECK, FOREIGN KEY or NOT NULL constraint failed
  kBusy,        // locked by another writer past the busy timeout, or a serialization failure
  kCorrupt,     // not a database, or a damaged one
  kConnection,  // cannot reach or open the database
};

class Exception : public std::runtime_error {
 public:
  Exception(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// A driver's prepared statement. Parameters are numbered from 1, columns from 0.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void BindNull(int index) = 0;
  virtual void BindInt64(int index, int64_t value) = 0;
  virtual void BindDouble(int index, double value) = 0;
  virtual void BindText(int index, std::string_view value) = 0;
  // Runs the statement on its first call; each call moves to the next row. False past the last.
  virtual bool Step() = 0;
  // Runs it to the end; the rows it inserted, updated or deleted.
  virtual int64_t Run() = 0;
  // Ready to run again; bindings are kept.
  virtual void Reset() = 0;
  virtual bool IsNull(int column) = 0;
  virtual int64_t Int64(int column) = 0;
  virtual double Double(int column) = 0;
  virtual std::string Text(int column) = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // The file, or the server and database without the password: for messages.
  virtual const std::string& name() const = 0;
  virtual std::unique_ptr<StatementImpl> Prepare(const std::string& sql) = 0;
  // One or more statements without parameters.
  virtual void Exec(const std::string& sql) = 0;
  virtual bool TableExists(const std::string& table) = 0;
  // A transaction that writes: SQLite takes the write lock at once (BEGIN IMMEDIATE), so what it
  // reads inside is what it writes over.
  virtual void Begin() = 0;
  // A transaction that only reads: one snapshot for all its statements, no write lock.
  virtual void BeginRead() = 0;
  virtual void Commit() = 0;
  virtual void Rollback() = 0;

  void exec(const std::string& sql) { Exec(sql); }
  bool tableExists(const std::string& table) { return TableExists(table); }
};

// Opens (and creates) a SQLite database file; ":memory:" for tests.
std::unique_ptr<Connection> OpenSqlite(const std::string& path, int busy_timeout_ms);
// Opens a PostgreSQL connection from a URL or keyword string (libpq's; the password may come from
// ~/.pgpass). Throws Exception(kConnection) when the server cannot be reached.
std::unique_ptr<Connection> OpenPostgres(const std::string& url);
// True for "postgres://..." and "postgresql://..." (defined here, for both drivers).
inline bool IsPostgresUrl(std::string_view url) {
  return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
}

// `url` without the password of its user:password@ part, for messages, logs and `config show`.
inline std::string RedactedUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + url.substr(at);
}

class Column {
 public:
  Column(StatementImpl& s, int index) : s_(s), index_(index) {}
  bool isNull() const { return s_.IsNull(index_); }
  int64_t getInt64() const { return s_.Int64(index_); }
  int getInt() const { return static_cast<int>(s_.Int64(index_)); }
  double getDouble() const { return s_.Double(index_); }
  std::string getString() const { return s_.Text(index_); }

 private:
  StatementImpl& s_;
  int index_;
};

class Statement {
 public:
  Statement(Connection& db, const std::string& sql) : impl_(db.Prepare(sql)) {}

  void bind(int index) { impl_->BindNull(index); }
  void bind(int index, int value) { impl_->BindInt64(index, value); }
  void bind(int index, unsigned value) { impl_->BindInt64(index, value); }
  void bind(int index, long value) { impl_->BindInt64(index, value); }       // NOLINT
  void bind(int index, long long value) { impl_->BindInt64(index, value); }  // NOLINT
  void bind(int index, unsigned long value) {                                // NOLINT
    impl_->BindInt64(index, static_cast<int64_t>(value));
  }
  void bind(int index, unsigned long long value) {  // NOLINT
    impl_->BindInt64(index, static_cast<int64_t>(value));
  }
  void bind(int index, double value) { impl_->BindDouble(index, value); }
  void bind(int index, std::string_view value) { impl_->BindText(index, value); }
  void bind(int index, const std::string& value) { impl_->BindText(index, value); }
  void bind(int index, const char* value) { impl_->BindText(index, value); }
  // SQLite's driver copies every text; the name stays for the inbox's reading.
  void bindNoCopy(int index, const std::string& value) { impl_->BindText(index, value); }

  bool executeStep() { return impl_->Step(); }
  int64_t exec() { return impl_->Run(); }
  void reset() { impl_->Reset(); }
  Column getColumn(int index) { return Column(*impl_, index); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

// Begins a transaction, writing unless kRead; rolled back when it goes out of scope without
// commit().
class Transaction {
 public:
  enum Mode { kWrite, kRead };
  explicit Transaction(Connection& db, Mode mode = kWrite) : db_(db) {
    if (mode == kRead) {
      db_.BeginRead();
    } else {
      db_.Begin();
    }
  }
  ~Transaction() {
    if (open_) {
      try {
        db_.Rollback();
      } catch (const std::exception&) {
        // The connection is broken: the engine rolls back on its own.
      }
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.Commit();
    open_ = false;
  }

 private:
  Connection& db_;
  bool open_ = true;
};

// The first column of the first row of `query` (0 or "" without a row): for counts and checks.
inline int64_t QueryInt(Connection& db, const std::string& query) {
  Statement q(db, query);
  return q.executeStep() ? q.getColumn(0).getInt64() : 0;
}
inline std::string QueryText(Connection& db, const std::string& query) {
  Statement q(db, query);
  return q.executeStep() ? q.getColumn(0).getString() : "";
}

inline std::optional<std::string> OptText(const Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
}

inline std::optional<int64_t> OptInt(const Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

template <typename T>
void BindOpt(Statement& s, int index, const std::optional<T>& v) {
  if (v) {
    s.bind(index, *v);
  } else {
    s.bind(index);
  }
}

}  // namespace orch::sql

#endif  // ORCH_STORE_SQL_H_
