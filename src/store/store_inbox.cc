// Store's webhook inbox: durable deliveries, dedup, and the retry queue.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "github/webhook_signature.h"
#include "store/payload_log.h"
#include "store/sql.h"
#include "store/store.h"

namespace orch {
namespace {

const char* kDeliveryColumns =
    "id, delivery_id, event_type, action, payload_hash, repo, payload, processed_at, "
    "COALESCE(error, ''), retry_count, next_attempt_at, created_at, result, payload_segment, "
    "payload_offset, payload_length";

// An empty payload (not NULL) for the payload column of a row whose payload is in the log.
constexpr char kNoInlinePayload[] = "";

// Reads the payload of the row at `q` from `log`; a failure is kept in `d.payload_error`.
void ReadLoggedPayload(sql::Statement& q, const PayloadLog* log, Delivery& d) {
  if (!log) {
    d.payload_error = "the payload is in a payload log, which a \":memory:\" store has not";
    return;
  }
  PayloadRef ref{q.getColumn(13).getInt64(), q.getColumn(14).getInt64(),
                 q.getColumn(15).getInt64()};
  Result<std::string> payload = log->Read(ref);
  if (payload.ok()) {
    d.payload = std::move(payload).value();
  } else {
    d.payload_error = payload.status().message();
  }
}

Delivery ReadDelivery(sql::Statement& q, const PayloadLog* log) {
  Delivery d;
  d.id = q.getColumn(0).getInt64();
  d.delivery_id = q.getColumn(1).getString();
  d.event_type = q.getColumn(2).getString();
  d.action = q.getColumn(3).getString();
  d.payload_hash = q.getColumn(4).getString();
  d.repo = q.getColumn(5).getString();
  d.payload = q.getColumn(6).getString();
  if (!q.getColumn(7).isNull()) d.processed_at = q.getColumn(7).getInt64();
  d.error = q.getColumn(8).getString();
  d.retry_count = q.getColumn(9).getInt();
  if (!q.getColumn(10).isNull()) d.next_attempt_at = q.getColumn(10).getInt64();
  d.created_at = q.getColumn(11).getInt64();
  d.result = q.getColumn(12).getString();
  if (!q.getColumn(13).isNull()) ReadLoggedPayload(q, log, d);
  return d;
}

// Binds parameters 6 (payload) and 9-11 (its place in the log) of InboxStatements::insert.
void BindPayload(sql::Statement& insert, const NewDelivery& d, const PayloadRef* ref) {
  if (!ref) {
    insert.bind(6, std::string_view(d.payload));
    for (int i = 9; i <= 11; ++i) insert.bind(i);
    return;
  }
  insert.bind(6, kNoInlinePayload);
  insert.bind(9, ref->segment);
  insert.bind(10, ref->offset);
  insert.bind(11, ref->length);
}

// The first 8 bytes of the SHA-256 whose hex is `hash`, as a signed 64-bit integer: the
// payload_hash_prefix column (migration 6 computes the same from payload_hash in SQL).
int64_t HashPrefix(std::string_view hash) {
  uint64_t v = 0;
  for (size_t i = 0; i < 16 && i < hash.size(); ++i) {
    char c = hash[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 0;
    v = v << 4 | static_cast<uint64_t>(digit);
  }
  return static_cast<int64_t>(v);
}

// Which rows of webhook_deliveries have a given delivery id or (for rows without one) body, kept
// in memory by the connection that stores deliveries. A delivery is recognised by its
// X-GitHub-Delivery id alone: GitHub reuses it on redelivery, and distinct events may have
// byte-identical bodies (block, unblock, block). Only a delivery without an id is recognised by
// its body, and then only among the rows without one, of the same event type. The table has no
// index on either: both keys are random, so each insert dirtied a leaf page of each index at a
// random place, which was most of the cost of a commit. The keys are derived from the table and
// never ahead of it: before each batch, under the write lock, Refresh reads the rows added since it
// last looked, and starts again from a full read after any deletion (webhook_inbox_state counts
// them; ids are only reused after the newest row was deleted). A key is a hash, so a hit is only a
// candidate; the row is read and compared whole.
class DeliveryKeys {
 public:
  explicit DeliveryKeys(sql::Connection& db)
      : deletions_query_(db, "SELECT deletions FROM webhook_inbox_state WHERE id = 1"),
        since_(db,
               "SELECT id, delivery_id, payload_hash_prefix FROM webhook_deliveries "
               "WHERE id > ? ORDER BY id") {}

  // Brings the keys up to date with the table. Run inside the write transaction.
  void Refresh() {
    deletions_query_.reset();
    int64_t deletions =
        deletions_query_.executeStep() ? deletions_query_.getColumn(0).getInt64() : 0;
    deletions_query_.reset();
    if (!valid_ || deletions != deletions_) {
      by_id_.clear();
      by_prefix_.clear();
      newest_ = 0;
      deletions_ = deletions;
      valid_ = true;
    }
    since_.reset();
    since_.bind(1, newest_);
    while (since_.executeStep()) {
      std::string id = since_.getColumn(1).getString();
      Add(since_.getColumn(0).getInt64(), id, since_.getColumn(2).getInt64());
    }
    since_.reset();
  }
  void Add(int64_t row, std::string_view delivery_id, int64_t hash_prefix) {
    if (delivery_id.empty()) {
      by_prefix_.emplace(static_cast<uint64_t>(hash_prefix), row);
    } else {
      by_id_.emplace(IdKey(delivery_id), row);
    }
    newest_ = std::max(newest_, row);
  }
  // Rows that may be the same delivery: those that may have `delivery_id`, or, for a delivery
  // without one, the id-less rows whose body's hash may start with `hash_prefix`.
  std::vector<int64_t> Candidates(std::string_view delivery_id, int64_t hash_prefix) const {
    std::vector<int64_t> rows;
    auto [a, b] = delivery_id.empty() ? by_prefix_.equal_range(static_cast<uint64_t>(hash_prefix))
                                      : by_id_.equal_range(IdKey(delivery_id));
    for (; a != b; ++a) rows.push_back(a->second);
    return rows;
  }

 private:
  static uint64_t IdKey(std::string_view delivery_id) {
    return std::hash<std::string_view>{}(delivery_id);
  }

  sql::Statement deletions_query_, since_;
  bool valid_ = false;
  int64_t deletions_ = 0;
  int64_t newest_ = 0;                                    // the highest row id read or added
  std::unordered_multimap<uint64_t, int64_t> by_id_;      // rows with a delivery id
  std::unordered_multimap<uint64_t, int64_t> by_prefix_;  // rows without one, by body
};

// Makes a SQLite connection's commits synchronous=FULL for as long as it lives (declare it before
// the transaction, so the transaction ends first), then NORMAL again, as Store::Open set.
// PostgreSQL's commits are durable already (synchronous_commit = on): nothing to do there.
// The engine's writes stay NORMAL: in WAL mode a power loss can roll back only their last few
// commits, never corrupt the database, and what they record is either rebuilt by the next sync
// from GitHub or checked against GitHub before it is acted on again; only an acknowledged
// delivery has no other copy.
class FullSyncCommit {
 public:
  explicit FullSyncCommit(sql::Connection& db) : db_(db) {
    if (db_.dialect() == sql::Dialect::kSqlite) db_.exec("PRAGMA synchronous = FULL");
  }
  ~FullSyncCommit() {
    if (db_.dialect() != sql::Dialect::kSqlite) return;
    try {
      db_.exec("PRAGMA synchronous = NORMAL");
    } catch (const std::exception&) {
      // Left FULL: slower, never less safe.
    }
  }
  FullSyncCommit(const FullSyncCommit&) = delete;
  FullSyncCommit& operator=(const FullSyncCommit&) = delete;

 private:
  sql::Connection& db_;
};

// An earlier row of the same delivery (its id, or its body and event for one without an id),
// and what became of it.
struct EarlierDelivery {
  int64_t row = 0;
  bool applied = false, waiting = false;
  int failures = 0;
  // The most telling row wins: an applied one first, then a waiting one, then the newest.
  auto rank() const { return std::make_tuple(applied, waiting, row); }
};

}  // namespace

const char* InboxOutcomeName(InboxOutcome o) {
  switch (o) {
    case InboxOutcome::kStored:
      return "stored";
    case InboxOutcome::kDuplicate:
      return "duplicate";
    case InboxOutcome::kRequeued:
      return "requeued";
  }
  return "?";
}

std::chrono::seconds DeliveryRetryDelay(int failures) {
  using std::chrono::seconds;
  int shift = std::clamp(failures - 1, 0, 10);
  return std::min(seconds(5) * (1 << shift), seconds(300));
}

Result<InboxOutcome> Store::StoreDelivery(const NewDelivery& d) {
  Result<std::vector<InboxOutcome>> r = StoreDeliveries({d});
  if (!r.ok()) return r.status();
  return r->front();
}

struct Store::InboxStatements {
  explicit InboxStatements(sql::Connection& db)
      : shared(db.dialect() == sql::Dialect::kPostgres),
        keys(db),
        // A candidate row from `keys`: is it the delivery (its id ?2; without one, its body's
        // hash ?3 and event ?4), and what became of it?
        candidate(db,
                  "SELECT processed_at IS NOT NULL, next_attempt_at IS NOT NULL, retry_count "
                  "FROM webhook_deliveries WHERE id = ?1 AND delivery_id = ?2 AND "
                  "(?2 <> '' OR (payload_hash = ?3 AND event_type = ?4))"),
        // Without keys in memory (PostgreSQL: other hosts add rows too), through the unique
        // indexes on the delivery id, and on the event and body of rows without one.
        by_id(db,
              "SELECT id, processed_at IS NOT NULL, next_attempt_at IS NOT NULL, retry_count "
              "FROM webhook_deliveries WHERE delivery_id = ?1 AND delivery_id <> ''"),
        by_body(db,
                "SELECT id, processed_at IS NOT NULL, next_attempt_at IS NOT NULL, retry_count "
                "FROM webhook_deliveries WHERE delivery_id = '' AND event_type = ?1 AND "
                "payload_hash = ?2"),
        requeue(db,
                "UPDATE webhook_deliveries SET next_attempt_at = ?, retry_count = "
                "CASE WHEN next_attempt_at IS NULL THEN 0 ELSE retry_count END WHERE id = ?"),
        insert(db,
               "INSERT INTO webhook_deliveries(delivery_id, event_type, action, payload_hash, "
               "repo, payload, next_attempt_at, created_at, payload_segment, payload_offset, "
               "payload_length, payload_hash_prefix) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT DO NOTHING RETURNING id"),
        receipt(db,
                "INSERT INTO webhook_receipts(delivery_row, outcome, received_at) "
                "VALUES (?, ?, ?)") {}

  // The most telling earlier row of the same delivery (EarlierDelivery::rank), if any. Nearly
  // every delivery is new and has no candidate.
  std::optional<EarlierDelivery> FindEarlier(const NewDelivery& d, const std::string& hash,
                                             int64_t prefix) {
    if (shared) return FindEarlierInTable(d, hash);
    std::optional<EarlierDelivery> earlier;
    for (int64_t row : keys.Candidates(d.delivery_id, prefix)) {
      candidate.reset();
      candidate.bind(1, row);
      candidate.bindNoCopy(2, d.delivery_id);
      candidate.bindNoCopy(3, hash);
      candidate.bindNoCopy(4, d.event_type);
      if (!candidate.executeStep()) continue;  // a hash collision, or a deleted row
      EarlierDelivery e{row, candidate.getColumn(0).getInt() != 0,
                        candidate.getColumn(1).getInt() != 0, candidate.getColumn(2).getInt()};
      if (!earlier || e.rank() > earlier->rank()) earlier = e;
    }
    candidate.reset();
    return earlier;
  }

  std::optional<EarlierDelivery> FindEarlierInTable(const NewDelivery& d, const std::string& hash) {
    sql::Statement& q = d.delivery_id.empty() ? by_body : by_id;
    q.reset();
    if (d.delivery_id.empty()) {
      q.bind(1, d.event_type);
      q.bind(2, hash);
    } else {
      q.bind(1, d.delivery_id);
    }
    std::optional<EarlierDelivery> earlier;
    while (q.executeStep()) {
      EarlierDelivery e{q.getColumn(0).getInt64(), q.getColumn(1).getInt() != 0,
                        q.getColumn(2).getInt() != 0, q.getColumn(3).getInt()};
      if (!earlier || e.rank() > earlier->rank()) earlier = e;
    }
    q.reset();
    return earlier;
  }

  // A delivery seen before in `earlier`: a duplicate while that is applied or waiting its first
  // try, else requeued.
  InboxOutcome RecordRedelivery(const EarlierDelivery& earlier, int64_t now) {
    InboxOutcome outcome;
    if (earlier.applied || (earlier.waiting && earlier.failures == 0)) {
      outcome = InboxOutcome::kDuplicate;
    } else {
      // Failed for good, or backing off after failures: a redelivery means "try now".
      outcome = InboxOutcome::kRequeued;
      requeue.reset();
      requeue.bind(1, now);
      requeue.bind(2, earlier.row);
      requeue.exec();
    }
    // A new delivery counts as received through its own row; others get a receipt.
    receipt.reset();
    receipt.bind(1, earlier.row);
    receipt.bind(2, InboxOutcomeName(outcome));
    receipt.bind(3, now);
    receipt.exec();
    return outcome;
  }

  // Inserts a new delivery's row and returns its id; `ref` is where its payload is in the log,
  // null to keep it in the row. nullopt when the row exists already (another host's, stored
  // since FindEarlier looked: PostgreSQL only).
  std::optional<int64_t> Insert(const NewDelivery& d, const std::string& hash, int64_t prefix,
                                const PayloadRef* ref, int64_t now) {
    insert.reset();
    insert.bindNoCopy(1, d.delivery_id);
    insert.bindNoCopy(2, d.event_type);
    insert.bindNoCopy(3, d.action);
    insert.bindNoCopy(4, hash);
    insert.bindNoCopy(5, d.repo);
    BindPayload(insert, d, ref);
    insert.bind(7, now);
    insert.bind(8, now);
    insert.bind(12, prefix);
    std::optional<int64_t> row;
    if (insert.executeStep()) row = insert.getColumn(0).getInt64();
    insert.reset();
    return row;
  }

  bool shared;  // the table is shared with other hosts: no keys in memory
  DeliveryKeys keys;
  sql::Statement candidate, by_id, by_body, requeue, insert, receipt;
};

// Here rather than in store.cc: both need InboxStatements complete to destroy inbox_.
Store::Store(std::string path, const Clock& clock, std::unique_ptr<sql::Connection> db)
    : path_(std::move(path)), clock_(clock), db_(std::move(db)) {}
Store::~Store() = default;

Result<std::vector<InboxOutcome>> Store::StoreDeliveries(
    const std::vector<NewDelivery>& deliveries) {
  // The payloads go to the log first, so no committed row can point past written data.
  std::vector<PayloadRef> refs;
  if (payloads_) {
    std::vector<std::string_view> bodies;
    bodies.reserve(deliveries.size());
    for (const NewDelivery& d : deliveries) bodies.push_back(d.payload);
    Result<std::vector<PayloadRef>> appended = payloads_->Append(bodies);
    if (!appended.ok()) return appended.status().Prefixed("storing webhook delivery");
    refs = std::move(appended).value();
    // On stable storage before any row refers to them.
    if (Status synced = payloads_->Sync(); !synced.ok()) {
      return synced.Prefixed("storing webhook delivery");
    }
  }
  std::vector<InboxOutcome> out;
  out.reserve(deliveries.size());
  try {
    if (!inbox_) inbox_ = std::make_unique<InboxStatements>(*db_);
    InboxStatements& st = *inbox_;
    // This commit, unlike the engine's, must survive a power loss: the 2xx that follows it
    // tells GitHub never to send the delivery again. In WAL mode FULL syncs the WAL at commit
    // (NORMAL only at checkpoints). Set per transaction (a PRAGMA cannot change inside one),
    // and back to NORMAL by FullSyncCommit whatever happens.
    FullSyncCommit full(*db_);
    sql::Transaction txn(*db_);
    if (!st.shared) st.keys.Refresh();
    int64_t now = clock_.NowUnix();
    for (size_t i = 0; i < deliveries.size(); ++i) {
      const NewDelivery& d = deliveries[i];
      std::string computed = d.payload_hash.empty() ? Sha256Hex(d.payload) : std::string();
      const std::string& hash = d.payload_hash.empty() ? computed : d.payload_hash;
      int64_t prefix = HashPrefix(hash);
      if (std::optional<EarlierDelivery> earlier = st.FindEarlier(d, hash, prefix)) {
        out.push_back(st.RecordRedelivery(*earlier, now));
        continue;
      }
      std::optional<int64_t> row =
          st.Insert(d, hash, prefix, refs.empty() ? nullptr : &refs[i], now);
      if (!row) {
        out.push_back(InboxOutcome::kDuplicate);
        continue;
      }
      // Later deliveries of this batch must find it too.
      if (!st.shared) st.keys.Add(*row, d.delivery_id, prefix);
      out.push_back(InboxOutcome::kStored);
    }
    txn.commit();
    ++durable_commits_;
    return out;
  } catch (const std::exception& e) {
    // A failed statement may be left mid-step, and the keys may name rows rolled back:
    // prepare and read afresh next time.
    inbox_.reset();
    return Error(e, "storing webhook delivery");
  }
}

Status Store::LoadInboxKeys() {
  try {
    if (!inbox_) inbox_ = std::make_unique<InboxStatements>(*db_);
    if (inbox_->shared) return Status::OK();
    sql::Transaction txn(*db_, sql::Transaction::kRead);  // one snapshot: the count and the rows
    inbox_->keys.Refresh();
    txn.commit();
    return Status::OK();
  } catch (const std::exception& e) {
    inbox_.reset();
    return Error(e, "reading the inbox's dedup keys");
  }
}

Result<std::vector<Delivery>> Store::DueDeliveries(int limit) {
  try {
    sql::Statement q(*db_, std::string("SELECT ") + kDeliveryColumns +
                               " FROM webhook_deliveries WHERE processed_at IS NULL AND "
                               "next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?");
    q.bind(1, static_cast<int64_t>(clock_.NowUnix()));
    q.bind(2, limit);
    std::vector<Delivery> out;
    while (q.executeStep()) out.push_back(ReadDelivery(q, payloads_.get()));
    return out;
  } catch (const std::exception& e) {
    return Error(e, "reading due deliveries");
  }
}

Result<Delivery> Store::GetDelivery(int64_t id) {
  try {
    sql::Statement q(
        *db_, std::string("SELECT ") + kDeliveryColumns + " FROM webhook_deliveries WHERE id = ?");
    q.bind(1, static_cast<int64_t>(id));
    if (q.executeStep()) return ReadDelivery(q, payloads_.get());
  } catch (const std::exception& e) {
    return Error(e, "reading delivery");
  }
  return Status::NotFound("delivery " + std::to_string(id), "no such delivery");
}

Status Store::MarkDeliveryApplied(int64_t id, const std::string& result) {
  try {
    sql::Statement upd(*db_,
                       "UPDATE webhook_deliveries SET processed_at = ?, next_attempt_at = NULL, "
                       "result = ? WHERE id = ? AND processed_at IS NULL");
    upd.bind(1, static_cast<int64_t>(clock_.NowUnix()));
    upd.bind(2, result);
    upd.bind(3, static_cast<int64_t>(id));
    if (upd.exec() == 0) {
      return Status::Conflict("delivery " + std::to_string(id), "missing or already applied");
    }
  } catch (const std::exception& e) {
    return Error(e, "marking delivery applied");
  }
  return Status::OK();
}

Status Store::MarkDeliveryFailed(int64_t id, const std::string& error) {
  try {
    sql::Transaction txn(*db_);
    sql::Statement q(*db_,
                     "SELECT retry_count FROM webhook_deliveries "
                     "WHERE id = ? AND processed_at IS NULL");
    q.bind(1, static_cast<int64_t>(id));
    if (!q.executeStep()) {
      return Status::Conflict("delivery " + std::to_string(id), "missing or already applied");
    }
    int failures = q.getColumn(0).getInt() + 1;
    sql::Statement upd(*db_,
                       "UPDATE webhook_deliveries SET retry_count = ?, error = ?, "
                       "next_attempt_at = ? WHERE id = ?");
    upd.bind(1, failures);
    upd.bind(2, error);
    if (failures < kMaxDeliveryAttempts) {
      upd.bind(3, static_cast<int64_t>(clock_.NowUnix() + DeliveryRetryDelay(failures).count()));
    } else {
      upd.bind(3);  // failed for good; stays visible with its error
    }
    upd.bind(4, static_cast<int64_t>(id));
    upd.exec();
    txn.commit();
  } catch (const std::exception& e) {
    return Error(e, "marking delivery failed");
  }
  return Status::OK();
}

Result<std::vector<Delivery>> Store::ListDeliveries(const DeliveryFilter& filter) {
  try {
    std::string sql = std::string("SELECT ") + kDeliveryColumns + " FROM webhook_deliveries";
    if (filter.failed_only) sql += " WHERE processed_at IS NULL AND next_attempt_at IS NULL";
    sql += " ORDER BY id DESC LIMIT ?";
    sql::Statement q(*db_, sql);
    q.bind(1, filter.limit);
    std::vector<Delivery> out;
    while (q.executeStep()) out.push_back(ReadDelivery(q, payloads_.get()));
    return out;
  } catch (const std::exception& e) {
    return Error(e, "listing deliveries");
  }
}

Status Store::RequeueDelivery(int64_t id) {
  Result<Delivery> d = GetDelivery(id);
  if (!d.ok()) return d.status();
  if (!d->payload_error.empty()) {
    return Status::NotFound("delivery " + std::to_string(id),
                            "cannot replay it: " + d->payload_error);
  }
  try {
    sql::Statement upd(*db_,
                       "UPDATE webhook_deliveries SET processed_at = NULL, next_attempt_at = ?, "
                       "retry_count = 0, error = NULL, result = '' WHERE id = ?");
    upd.bind(1, static_cast<int64_t>(clock_.NowUnix()));
    upd.bind(2, static_cast<int64_t>(id));
    if (upd.exec() == 0) {
      return Status::NotFound("delivery " + std::to_string(id), "no such delivery");
    }
  } catch (const std::exception& e) {
    return Error(e, "requeueing delivery");
  }
  return Status::OK();
}

Result<WebhookStats> Store::GetWebhookStats(int64_t since) {
  WebhookStats st;
  try {
    // Received: each delivery's first arrival (its row) plus every later one (a receipt).
    sql::Statement r(*db_,
                     "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE created_at >= ?1) "
                     "+ COUNT(*), "
                     "COALESCE(SUM(CASE WHEN outcome = 'duplicate' THEN 1 ELSE 0 END), 0) "
                     "FROM webhook_receipts WHERE received_at >= ?1");
    r.bind(1, since);
    r.executeStep();
    st.received = r.getColumn(0).getInt64();
    st.duplicates = r.getColumn(1).getInt64();
    sql::Statement d(*db_,
                     "SELECT COUNT(processed_at), "
                     "COALESCE(SUM(CASE WHEN processed_at IS NULL AND next_attempt_at IS NULL "
                     "THEN 1 ELSE 0 END), 0), "
                     "COUNT(CASE WHEN processed_at IS NULL THEN next_attempt_at END) "
                     "FROM webhook_deliveries WHERE created_at >= ?");
    d.bind(1, since);
    d.executeStep();
    st.applied = d.getColumn(0).getInt64();
    st.failed = d.getColumn(1).getInt64();
    st.pending = d.getColumn(2).getInt64();
    sql::Statement e(*db_,
                     "SELECT d.event_type || CASE WHEN d.action = '' THEN '' "
                     "ELSE '.' || d.action END AS ev, COUNT(*) FROM ("
                     "  SELECT id AS row FROM webhook_deliveries WHERE created_at >= ?1"
                     "  UNION ALL SELECT delivery_row FROM webhook_receipts "
                     "  WHERE received_at >= ?1) a "
                     "JOIN webhook_deliveries d ON d.id = a.row "
                     "GROUP BY ev ORDER BY COUNT(*) DESC, ev");
    e.bind(1, since);
    while (e.executeStep()) {
      st.received_by_event.emplace_back(e.getColumn(0).getString(), e.getColumn(1).getInt64());
    }
  } catch (const std::exception& e) {
    return Error(e, "reading webhook stats");
  }
  return st;
}

Result<std::optional<int64_t>> Store::LastWebhookAt() {
  try {
    // The newest rows by id rather than MAX over the times: no index on the times, and the
    // engine asks every tick while it waits for deliveries to come back. Rows are inserted in
    // time order.
    sql::Statement q(*db_,
                     "SELECT MAX(t) FROM (SELECT (SELECT received_at FROM webhook_receipts "
                     "ORDER BY id DESC LIMIT 1) AS t UNION ALL SELECT (SELECT created_at "
                     "FROM webhook_deliveries ORDER BY id DESC LIMIT 1)) AS newest");
    q.executeStep();
    if (q.getColumn(0).isNull()) return std::optional<int64_t>();
    return std::optional<int64_t>(q.getColumn(0).getInt64());
  } catch (const std::exception& e) {
    return Error(e, "reading last webhook time");
  }
}

Result<std::optional<int64_t>> Store::LastDeliveryFor(const std::string& repo) {
  try {
    // A scan (no index on repo): the engine asks once per change a sync found, judged.
    sql::Statement q(*db_,
                     "SELECT MAX(t) FROM ("
                     "SELECT MAX(created_at) AS t FROM webhook_deliveries "
                     "WHERE lower(repo) = lower(CAST(?1 AS TEXT)) UNION ALL "
                     "SELECT MAX(r.received_at) FROM webhook_receipts r "
                     "JOIN webhook_deliveries d ON d.id = r.delivery_row "
                     "WHERE lower(d.repo) = lower(CAST(?1 AS TEXT))) AS newest");
    q.bind(1, repo);
    q.executeStep();
    if (q.getColumn(0).isNull()) return std::optional<int64_t>();
    return std::optional<int64_t>(q.getColumn(0).getInt64());
  } catch (const std::exception& e) {
    return Error(e, "reading the last delivery for a repository");
  }
}

Status Store::PruneWebhookReceipts(int64_t before) {
  try {
    sql::Statement del(*db_, "DELETE FROM webhook_receipts WHERE received_at < ?");
    del.bind(1, before);
    del.exec();
  } catch (const std::exception& e) {
    return Error(e, "pruning webhook receipts");
  }
  return PrunePayloads(before);
}

Status Store::PruneAppliedDeliveries(int64_t before) {
  try {
    sql::Statement del(*db_, "DELETE FROM webhook_deliveries WHERE processed_at < ?");
    del.bind(1, before);
    del.exec();
  } catch (const std::exception& e) {
    return Error(e, "pruning applied deliveries");
  }
  return Status::OK();
}

Status Store::PrunePayloads(int64_t before) {
  if (!payloads_) return Status::OK();
  std::set<int64_t> keep;
  try {
    // A full scan, once an hour: cheaper than an index every delivery would have to update.
    sql::Statement q(*db_,
                     "SELECT DISTINCT payload_segment FROM webhook_deliveries "
                     "WHERE payload_segment IS NOT NULL AND "
                     "(processed_at IS NULL OR processed_at >= ?1 OR created_at >= ?1)");
    q.bind(1, before);
    while (q.executeStep()) keep.insert(q.getColumn(0).getInt64());
  } catch (const std::exception& e) {
    return Error(e, "finding payload segments still needed");
  }
  return payloads_->Prune(keep, before).status();
}

}  // namespace orch
