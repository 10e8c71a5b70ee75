// The PostgreSQL driver of sql.h, on libpq's C API.
//
// Statements: the store writes SQLite's `?` and `?N`; Prepare() numbers them as PostgreSQL's
// `$N` once. Parameters travel as text; an integer or a double is declared int8 or float8, so
// the server never guesses int4 for `? + 1` or `COALESCE(?, 0)` (a text is left for the server
// to type from its context: a column, a comparison). A statement's first run is one
// PQexecParams (parse, plan and run in one round trip: most of the store's statements run once);
// when the same object runs again (reset() and new bindings, as the inbox's hot path does), it
// is prepared once under its own name and from then on run with PQexecPrepared, which skips the
// parse and the plan. Measured: 3,000 INSERTs of a webhook-sized row (2 KB payload, six
// parameters) over 127.0.0.1 to PostgreSQL 15 with fsync off took 41 us each by PQexecParams
// and 25 us by PQexecPrepared (three rounds, within 1 us); preparing every statement up front
// would add a round trip to each one-off statement instead. The prepared statement is dropped
// (DEALLOCATE) when its object dies. A Statement must not outlive its Connection.
//
// Rows: the whole result comes back at once (no cursor); Step() walks it.
//
// Transactions: Begin() takes one advisory lock for every writing transaction; see kWriteLock.
// Unlike SQLite, PostgreSQL ends a transaction in which a statement failed: every later
// statement fails and Commit() throws (the server rolled it back). A constraint failure the
// store expects inside a transaction must be written as INSERT ... ON CONFLICT instead.
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/sql.h"

namespace orch::sql {
namespace {

// The key of pg_advisory_xact_lock that Begin() takes: "orchwrit" in ASCII. SQLite's BEGIN
// IMMEDIATE lets one writing transaction run at a time, and the store relies on it: it reads
// and then writes what it read over inside one transaction (the next attempt's number, the
// schema version before a migration, a task's status before its compare-and-set). PostgreSQL
// gets the same semantics from one lock, held until COMMIT or ROLLBACK, rather than a
// rewrite of every such place for READ COMMITTED or SERIALIZABLE retries. What it costs is
// small: a fleet's writes are few (deliveries, transitions, heartbeats: tens a second, each a
// millisecond or two), so hosts rarely wait on each other. Readers never take it. The lease
// claims (SELECT ... FOR UPDATE SKIP LOCKED) run inside such a transaction anyway; they stay
// correct without it and keep working should the lock ever be narrowed. Statements outside a
// Transaction run on their own and are not serialized against it.
constexpr int64_t kWriteLock = 0x6f72636877726974;

constexpr Oid kInt8Oid = 20;     // pg_type's int8
constexpr Oid kFloat8Oid = 701;  // pg_type's float8
constexpr Oid kTextOid = 25;     // pg_type's text

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's messages end in a newline and may run over several lines ("ERROR:  ...\nDETAIL: ...").
std::string OneLine(const char* message) {
  std::string out;
  bool space = false;
  for (const char* p = message; p != nullptr && *p != '\0'; ++p) {
    if (*p == '\n' || *p == ' ' || *p == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += *p;
  }
  return out;
}

ErrorKind KindOf(PGconn* conn, const PGresult* res) {
  if (PQstatus(conn) == CONNECTION_BAD) return ErrorKind::kConnection;
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return ErrorKind::kConnection;  // no answer from the server at all
  std::string_view s(state);
  if (s.substr(0, 2) == "23") return ErrorKind::kConstraint;
  if (s == "40001" || s == "40P01" || s == "55P03") return ErrorKind::kBusy;
  if (s.substr(0, 2) == "08") return ErrorKind::kConnection;
  return ErrorKind::kOther;
}

// The result when the statement succeeded; throws Exception with libpq's message otherwise.
Result Checked(PGconn* conn, PGresult* raw) {
  Result res(raw);
  ExecStatusType status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return res;
  }
  const char* message = res ? PQresultErrorMessage(res.get()) : "";
  if (message == nullptr || *message == '\0') message = PQerrorMessage(conn);
  throw Exception(KindOf(conn, res.get()), "postgres: " + OneLine(message));
}

// True when `rest` starts (after blanks) with IS NULL or IS NOT NULL, in any case.
bool StartsWithIsNull(std::string_view rest) {
  size_t i = 0;
  auto word = [&](std::string_view w) {
    while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i]))) ++i;
    if (rest.size() - i < w.size()) return false;
    for (size_t k = 0; k < w.size(); ++k) {
      if (std::tolower(static_cast<unsigned char>(rest[i + k])) != w[k]) return false;
    }
    size_t after = i + w.size();
    if (after < rest.size() &&
        (std::isalnum(static_cast<unsigned char>(rest[after])) || rest[after] == '_')) {
      return false;
    }
    i = after;
    return true;
  };
  if (!word("is")) return false;
  size_t before_not = i;
  if (!word("not")) i = before_not;
  return word("null");
}

// A statement in PostgreSQL's placeholders: `?N` is `$N`; a bare `?` is one more than the
// highest number so far (SQLite's rule). An `?N IS NULL` (or IS NOT NULL) test becomes a
// parameter of its own, declared text, that carries ?N's value: PostgreSQL types a parameter
// from its uses and cannot type one whose first use is IS NULL, which leaves the store's
// `(?1 IS NULL OR project_id = ?1)` filters failing ("could not determine data type of
// parameter $1"); its own copy needs no type from the other use. Quoted strings, quoted identifiers
// and comments are copied as they are. Not handled: E'...' strings with \' inside, and dollar
// quoting, which the store's statements do not use (migrations run through Exec(), untouched).
struct Numbered {
  std::string sql;
  int params = 0;            // $1 .. $params: the store's ?1 .. ?params
  std::vector<int> copies;   // $(params + 1 + k) carries the value of ?copies[k]
  std::vector<bool> in_sql;  // in_sql[i]: $(i + 1) is in the text (not only in IS NULL tests)
};

// One pass; `first_copy` is the number the first IS NULL copy gets (0 in the counting pass).
Numbered Number(std::string_view sql, int first_copy) {
  Numbered n;
  n.sql.reserve(sql.size() + 8);
  size_t i = 0;
  auto copy_until = [&](std::string_view end) {
    size_t stop = sql.find(end, i);
    stop = stop == std::string_view::npos ? sql.size() : stop + end.size();
    n.sql.append(sql.substr(i, stop - i));
    i = stop;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      n.sql += c;
      ++i;
      copy_until(std::string_view(&sql[i - 1], 1));  // '' inside is two strings back to back
    } else if (sql.substr(i, 2) == "--") {
      copy_until("\n");
    } else if (sql.substr(i, 2) == "/*") {
      copy_until("*/");
    } else if (c == '?') {
      size_t digits = i + 1;
      while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') ++digits;
      int param = n.params + 1;
      if (digits > i + 1) std::from_chars(sql.data() + i + 1, sql.data() + digits, param);
      if (param < 1 || param > 32767) {
        throw Exception(ErrorKind::kOther, "postgres: bad placeholder in: " + std::string(sql));
      }
      n.params = std::max(n.params, param);
      int number = param;
      if (StartsWithIsNull(sql.substr(digits))) {
        number = first_copy + static_cast<int>(n.copies.size());
        n.copies.push_back(param);
      } else {
        if (n.in_sql.size() < static_cast<size_t>(param)) n.in_sql.resize(param, false);
        n.in_sql[param - 1] = true;
      }
      n.sql += '$';
      n.sql += std::to_string(number);
      i = digits;
    } else {
      n.sql += c;
      ++i;
    }
  }
  return n;
}

Numbered NumberPlaceholders(std::string_view sql) {
  Numbered n = Number(sql, Number(sql, 0).params + 1);
  n.in_sql.resize(n.params, false);
  return n;
}

class PgConnection;

class PgStatement : public StatementImpl {
 public:
  PgStatement(PgConnection& db, Numbered numbered)
      : db_(db),
        sql_(std::move(numbered.sql)),
        copies_(std::move(numbered.copies)),
        values_(numbered.params),
        is_null_(numbered.params, true),
        types_(numbered.params, 0),
        in_sql_(std::move(numbered.in_sql)) {
    // The IS NULL copies are text: their type does not matter, only whether they are NULL. So
    // is a parameter that only they use: the server cannot type a parameter it never sees.
    for (size_t i = 0; i < types_.size(); ++i) {
      if (!in_sql_[i]) types_[i] = kTextOid;
    }
    types_.resize(values_.size() + copies_.size(), kTextOid);
  }
  ~PgStatement() override;
  PgStatement(const PgStatement&) = delete;
  PgStatement& operator=(const PgStatement&) = delete;

  void BindNull(int index) override { Set(index, "", 0, true); }
  void BindInt64(int index, int64_t value) override {
    Set(index, std::to_string(value), kInt8Oid, false);
  }
  void BindDouble(int index, double value) override {
    char buf[32];
    // 17 digits read back as the same double (libc++ 14 has no to_chars for floating point).
    int len = std::snprintf(buf, sizeof buf, "%.17g", value);
    Set(index, std::string(buf, len > 0 ? len : 0), kFloat8Oid, false);
  }
  void BindText(int index, std::string_view value) override {
    Set(index, std::string(value), 0, false);
  }

  bool Step() override {
    if (!result_) {
      Execute();
    } else if (row_ < rows_) {
      ++row_;
    }
    return row_ < rows_;
  }
  int64_t Run() override {
    if (!result_) Execute();
    const char* n = PQcmdTuples(result_.get());
    return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
  }
  void Reset() override {
    result_.reset();
    row_ = 0;
    rows_ = 0;
  }

  bool IsNull(int column) override { return PQgetisnull(result_.get(), row_, ValidColumn(column)); }
  int64_t Int64(int column) override;
  double Double(int column) override;
  std::string Text(int column) override {
    int c = ValidColumn(column);
    return std::string(PQgetvalue(result_.get(), row_, c), PQgetlength(result_.get(), row_, c));
  }

 private:
  void Set(int index, std::string value, Oid type, bool is_null) {
    if (index < 1 || index > static_cast<int>(values_.size())) {
      throw Exception(ErrorKind::kOther, "postgres: parameter " + std::to_string(index) +
                                             " out of range (the statement has " +
                                             std::to_string(values_.size()) + ")");
    }
    values_[index - 1] = std::move(value);
    is_null_[index - 1] = is_null;
    // Once prepared, the declared types are fixed; a NULL fits any of them.
    if (!is_null && in_sql_[index - 1]) types_[index - 1] = type;
  }
  int ValidColumn(int column) const {
    if (!result_ || row_ >= rows_) throw Exception(ErrorKind::kOther, "postgres: no row to read");
    if (column < 0 || column >= PQnfields(result_.get())) {
      throw Exception(ErrorKind::kOther,
                      "postgres: column " + std::to_string(column) + " out of range");
    }
    return column;
  }
  void Execute();

  PgConnection& db_;
  std::string sql_;
  std::vector<int> copies_;  // see Numbered
  std::vector<std::string> values_;
  std::vector<bool> is_null_;
  std::vector<Oid> types_;  // declared: int8, float8, or 0 (the server's choice)
  std::vector<bool> in_sql_;
  std::string prepared_name_;  // empty until prepared
  int runs_ = 0;
  Result result_;
  int row_ = 0;
  int rows_ = 0;
};

class PgConnection : public Connection {
 public:
  PgConnection(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}
  ~PgConnection() override { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Dialect dialect() const override { return Dialect::kPostgres; }
  const std::string& name() const override { return name_; }
  std::unique_ptr<StatementImpl> Prepare(const std::string& sql) override {
    return std::make_unique<PgStatement>(*this, NumberPlaceholders(sql));
  }
  void Exec(const std::string& sql) override { Checked(conn_, PQexec(conn_, sql.c_str())); }
  bool TableExists(const std::string& table) override {
    const char* values[] = {table.c_str()};
    Result r = Checked(conn_, PQexecParams(conn_, "SELECT to_regclass($1) IS NOT NULL", 1, nullptr,
                                           values, nullptr, nullptr, 0));
    return PQntuples(r.get()) == 1 && std::string_view(PQgetvalue(r.get(), 0, 0)) == "t";
  }
  void Begin() override {
    Exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kWriteLock) + ")");
  }
  // REPEATABLE READ: every statement of it sees one snapshot, as SQLite's read transaction does.
  void BeginRead() override { Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }
  void Commit() override {
    Result r = Checked(conn_, PQexec(conn_, "COMMIT"));
    // A transaction in which a statement failed ends in a rollback, even when asked to commit.
    if (std::string_view(PQcmdStatus(r.get())) == "ROLLBACK") {
      throw Exception(ErrorKind::kOther,
                      "postgres: the transaction was rolled back, not committed: a statement in "
                      "it had failed");
    }
    DropDeadStatements();
  }
  void Rollback() override {
    Exec("ROLLBACK");
    DropDeadStatements();
  }

  PGconn* conn() { return conn_; }
  std::string NextStatementName() { return "orch_" + std::to_string(++statements_); }
  // Drops a prepared statement of a dying PgStatement. Not in a failed transaction, where the
  // server refuses every command: then after it ends.
  void Deallocate(const std::string& name) {
    if (PQstatus(conn_) != CONNECTION_OK) return;
    if (PQtransactionStatus(conn_) == PQTRANS_INERROR) {
      dead_statements_.push_back(name);
      return;
    }
    PQclear(PQexec(conn_, ("DEALLOCATE " + name).c_str()));  // a failure leaves a name unused
  }

 private:
  void DropDeadStatements() {
    for (const std::string& name : dead_statements_) {
      PQclear(PQexec(conn_, ("DEALLOCATE " + name).c_str()));
    }
    dead_statements_.clear();
  }

  PGconn* conn_;
  std::string name_;
  int64_t statements_ = 0;
  std::vector<std::string> dead_statements_;
};

PgStatement::~PgStatement() {
  if (!prepared_name_.empty()) db_.Deallocate(prepared_name_);
}

void PgStatement::Execute() {
  std::vector<const char*> values;
  values.reserve(types_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    values.push_back(is_null_[i] ? nullptr : values_[i].c_str());
  }
  for (int param : copies_) values.push_back(values[param - 1]);
  int n = static_cast<int>(values.size());
  PGconn* conn = db_.conn();
  PGresult* raw = nullptr;
  if (runs_ == 0) {
    raw = PQexecParams(conn, sql_.c_str(), n, types_.data(), values.data(), nullptr, nullptr, 0);
  } else {
    if (prepared_name_.empty()) {
      std::string name = db_.NextStatementName();
      Checked(conn, PQprepare(conn, name.c_str(), sql_.c_str(), n, types_.data()));
      prepared_name_ = name;
    }
    raw = PQexecPrepared(conn, prepared_name_.c_str(), n, values.data(), nullptr, nullptr, 0);
  }
  ++runs_;
  result_ = Checked(conn, raw);
  row_ = 0;
  rows_ = PQntuples(result_.get());
}

int64_t PgStatement::Int64(int column) {
  int c = ValidColumn(column);
  if (PQgetisnull(result_.get(), row_, c)) return 0;  // as SQLite reads a NULL
  std::string_view v(PQgetvalue(result_.get(), row_, c), PQgetlength(result_.get(), row_, c));
  if (v == "t") return 1;  // a boolean
  if (v == "f") return 0;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec == std::errc() && end == v.data() + v.size()) return out;
  // A numeric or a double ("2.5"): truncated, as SQLite reads a REAL as an integer.
  std::string text(v);
  char* stop = nullptr;
  double d = std::strtod(text.c_str(), &stop);
  if (stop == text.c_str() || *stop != '\0') {
    throw Exception(ErrorKind::kOther, "postgres: column " + std::to_string(column) +
                                           " is not a number: " + text.substr(0, 40));
  }
  return static_cast<int64_t>(d);
}

double PgStatement::Double(int column) {
  int c = ValidColumn(column);
  if (PQgetisnull(result_.get(), row_, c)) return 0;
  const char* v = PQgetvalue(result_.get(), row_, c);
  char* stop = nullptr;
  double d = std::strtod(v, &stop);
  if (stop == v || *stop != '\0') {
    throw Exception(ErrorKind::kOther, "postgres: column " + std::to_string(column) +
                                           " is not a number: " + std::string(v).substr(0, 40));
  }
  return d;
}

// "postgresql://user@host:port/dbname" from a URL or keyword string, never its password.
std::string DisplayName(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(a connection string libpq cannot parse)";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view k(o->keyword);
    if (k == "user") user = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  std::string name = "postgresql://";
  if (!user.empty()) name += user + "@";
  name += host.empty() ? "localhost" : host;
  if (!port.empty()) name += ":" + port;
  if (!dbname.empty()) name += "/" + dbname;
  return name;
}

}  // namespace

std::unique_ptr<Connection> OpenPostgres(const std::string& url) {
  std::string name = DisplayName(url);
  // Defaults first: the URL's own values (expanded from dbname) override them.
  const char* keywords[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {"10", "orch", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) throw Exception(ErrorKind::kConnection, "postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    throw Exception(ErrorKind::kConnection, "cannot connect to PostgreSQL at " + name + ": " + why);
  }
  auto db = std::make_unique<PgConnection>(conn, name);
  // NOTICEs (CREATE ... IF NOT EXISTS that exists, an implicit index) would go to stderr.
  db->Exec("SET client_min_messages = warning");
  return db;
}

}  // namespace orch::sql
