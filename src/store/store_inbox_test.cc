#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <limits>

#include "github/webhook_signature.h"
#include "store/migrations.h"
#include "store/payload_log.h"
#include "store/sql.h"
#include "store/store.h"
#include "testing/store_backends.h"
#include "testing/test_util.h"

namespace orch {
namespace {

class InboxTest : public ::testing::TestWithParam<test::Backend> {
 protected:
  void SetUp() override {
    location_ = test::StoreLocation(GetParam(), dir_);
    auto s = Store::Open(location_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  static NewDelivery Labeled(const std::string& id, const std::string& body = "{\"n\":1}") {
    return {id, "issues", "labeled", "acme/widgets", body};
  }
  InboxOutcome Put(const NewDelivery& d) {
    Result<InboxOutcome> r = store_->StoreDelivery(d);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : InboxOutcome::kDuplicate;
  }
  std::vector<Delivery> Due() { return store_->DueDeliveries(100).value(); }

  test::TempDir dir_;
  std::string location_;  // the SQLite file, or the PostgreSQL URL
  test::FakeClock clock_;
  std::unique_ptr<Store> store_;
};

// Every test of InboxTest runs on SQLite and on PostgreSQL; InboxFileTest's are about SQLite's
// file (its pragmas, its payload log beside it, its corruption) and run there only.
class InboxFileTest : public InboxTest {};
INSTANTIATE_TEST_SUITE_P(Engines, InboxTest, test::StoreBackends(), test::BackendName);
INSTANTIATE_TEST_SUITE_P(Engines, InboxFileTest, ::testing::Values(test::Backend::kSqlite),
                         test::BackendName);

TEST(DeliveryRetryDelayTest, DoublesFromFiveSecondsUpToFiveMinutes) {
  EXPECT_EQ(DeliveryRetryDelay(1), std::chrono::seconds(5));
  EXPECT_EQ(DeliveryRetryDelay(2), std::chrono::seconds(10));
  EXPECT_EQ(DeliveryRetryDelay(3), std::chrono::seconds(20));
  EXPECT_EQ(DeliveryRetryDelay(4), std::chrono::seconds(40));
  EXPECT_EQ(DeliveryRetryDelay(5), std::chrono::seconds(80));
  EXPECT_EQ(DeliveryRetryDelay(7), std::chrono::seconds(300));
  EXPECT_EQ(DeliveryRetryDelay(40), std::chrono::seconds(300));
}

TEST_P(InboxTest, StoredDeliveryIsDueAndSurvivesReopening) {
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kStored);
  store_.reset();  // as after kill -9: only what was committed remains
  store_ = std::move(Store::Open(location_, clock_)).value();
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].delivery_id, "d-1");
  EXPECT_EQ(due[0].event_type, "issues");
  EXPECT_EQ(due[0].payload, "{\"n\":1}");
  EXPECT_EQ(due[0].payload_hash.size(), 64u);
}

TEST_P(InboxTest, SameIdIsADuplicate) {
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kStored);
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kDuplicate);  // waiting: applied once
  ASSERT_TRUE(store_->MarkDeliveryApplied(Due()[0].id).ok());
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kDuplicate);
  // GitHub's redelivery reuses the id, whatever the body says now.
  EXPECT_EQ(Put(Labeled("d-1", "{\"n\":2}")), InboxOutcome::kDuplicate);
  EXPECT_TRUE(Due().empty());
}

TEST_P(InboxTest, IdenticalBodiesWithDistinctDeliveryIdsAreBothStored) {
  // Regression (issue 22): a repeated event whose payload has no timestamp (block, unblock,
  // block) has byte-identical bodies under distinct delivery ids; the second was answered
  // "duplicate" and lost.
  NewDelivery first{"d-1", "org_block", "blocked", "", "{\"action\":\"blocked\"}"};
  NewDelivery second = first;
  second.delivery_id = "d-2";
  EXPECT_EQ(Put(first), InboxOutcome::kStored);
  EXPECT_EQ(Put(second), InboxOutcome::kStored);
  EXPECT_EQ(Put(second), InboxOutcome::kDuplicate);  // the same id twice: stored once
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].delivery_id, "d-1");
  EXPECT_EQ(due[1].delivery_id, "d-2");
  EXPECT_EQ(due[0].payload, due[1].payload);
}

TEST_P(InboxTest, WithoutAnIdTheBodyIsTheKeyWithinItsEventType) {
  NewDelivery labeled{"", "issues", "labeled", "acme/widgets", "{\"n\":1}"};
  NewDelivery comment{"", "issue_comment", "created", "acme/widgets", "{\"n\":1}"};
  EXPECT_EQ(Put(labeled), InboxOutcome::kStored);
  EXPECT_EQ(Put(labeled), InboxOutcome::kDuplicate);
  EXPECT_EQ(Put(comment), InboxOutcome::kStored);  // same bytes, another event
  // A delivery with an id is never matched by body, nor an id-less one by a row with an id.
  EXPECT_EQ(Put(Labeled("d-1", "{\"n\":1}")), InboxOutcome::kStored);
  EXPECT_EQ(Put({"", "issues", "labeled", "acme/widgets", "{\"n\":2}"}), InboxOutcome::kStored);
  EXPECT_EQ(Put(Labeled("d-2", "{\"n\":2}")), InboxOutcome::kStored);
  EXPECT_EQ(Due().size(), 5u);
}

TEST_P(InboxTest, FailuresBackOffThenStayFailed) {
  Put(Labeled("d-1"));
  int64_t id = Due()[0].id;
  for (int failure = 1; failure <= kMaxDeliveryAttempts; ++failure) {
    ASSERT_TRUE(store_->MarkDeliveryFailed(id, "boom " + std::to_string(failure)).ok());
    if (failure == kMaxDeliveryAttempts) break;
    EXPECT_TRUE(Due().empty()) << "failure " << failure;
    clock_.Advance(DeliveryRetryDelay(failure).count());
    ASSERT_EQ(Due().size(), 1u) << "failure " << failure;
  }
  clock_.Advance(3600);
  EXPECT_TRUE(Due().empty());
  Delivery d = store_->GetDelivery(id).value();
  EXPECT_EQ(d.retry_count, kMaxDeliveryAttempts);
  EXPECT_EQ(d.error, "boom 5");
  EXPECT_FALSE(d.next_attempt_at.has_value());
  EXPECT_FALSE(d.processed_at.has_value());
}

TEST_P(InboxTest, RedeliveryOfAFailedDeliveryIsAppliedAgainOnce) {
  Put(Labeled("d-1"));
  int64_t id = Due()[0].id;
  for (int i = 0; i < kMaxDeliveryAttempts; ++i)
    ASSERT_TRUE(store_->MarkDeliveryFailed(id, "x").ok());
  EXPECT_TRUE(Due().empty());
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kRequeued);
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].retry_count, 0);
  ASSERT_TRUE(store_->MarkDeliveryApplied(id).ok());
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kDuplicate);
  EXPECT_TRUE(store_->MarkDeliveryApplied(id).IsConflict());  // never applied twice
}

TEST_P(InboxTest, RedeliveryDuringBackoffMakesItDueNow) {
  Put(Labeled("d-1"));
  int64_t id = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryFailed(id, "x").ok());
  EXPECT_TRUE(Due().empty());
  EXPECT_EQ(Put(Labeled("d-1")), InboxOutcome::kRequeued);
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].retry_count, 1);  // the failure still counts
}

TEST_P(InboxTest, BatchStoresInOrderAndDeduplicatesWithinItself) {
  // The receiver's group commit: one transaction, outcomes in the order submitted.
  std::vector<NewDelivery> batch = {Labeled("d-1"), Labeled("d-2", "{\"n\":2}"), Labeled("d-1")};
  Result<std::vector<InboxOutcome>> r = store_->StoreDeliveries(batch);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (std::vector<InboxOutcome>{InboxOutcome::kStored, InboxOutcome::kStored,
                                           InboxOutcome::kDuplicate}));
  EXPECT_EQ(Due().size(), 2u);
}

TEST_P(InboxTest, StatsCountReceiptsDuplicatesAndOutcomesInTheWindow) {
  Put(Labeled("old"));
  Put(Labeled("old"));  // a duplicate, long ago
  clock_.Advance(2 * 86400);
  int64_t since = clock_.NowUnix() - 86400;
  Put(Labeled("d-1", "{\"a\":1}"));
  Put(Labeled("d-1", "{\"a\":1}"));  // duplicate
  Put({"d-2", "issue_comment", "created", "acme/widgets", "{\"b\":1}"});
  Put({"d-3", "ping", "", "acme/widgets", "{\"c\":1}"});
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 4u);  // "old" is still pending, but outside the window
  ASSERT_TRUE(store_->MarkDeliveryApplied(due[1].id, "created task 1").ok());
  for (int i = 0; i < kMaxDeliveryAttempts; ++i)
    ASSERT_TRUE(store_->MarkDeliveryFailed(due[2].id, "boom").ok());
  WebhookStats st = store_->GetWebhookStats(since).value();
  EXPECT_EQ(st.received, 4);
  EXPECT_EQ(st.duplicates, 1);
  EXPECT_EQ(st.applied, 1);
  EXPECT_EQ(st.failed, 1);
  EXPECT_EQ(st.pending, 1);
  ASSERT_EQ(st.received_by_event.size(), 3u);
  EXPECT_EQ(st.received_by_event[0], (std::pair<std::string, int64_t>{"issues.labeled", 2}));
  EXPECT_EQ(store_->LastWebhookAt().value(), clock_.NowUnix());

  std::vector<Delivery> failed = store_->ListDeliveries({.failed_only = true}).value();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].delivery_id, "d-2");
  EXPECT_TRUE(failed[0].failed());
  EXPECT_EQ(store_->GetDelivery(due[1].id)->result, "created task 1");

  EXPECT_EQ(store_->GetWebhookStats(0)->duplicates, 2);
  ASSERT_TRUE(store_->PruneWebhookReceipts(since).ok());
  EXPECT_EQ(store_->GetWebhookStats(0)->duplicates, 1);  // the old receipt is gone
}

TEST_P(InboxTest, RequeueReplaysAnyDeliveryAsAFirstAttempt) {
  Put(Labeled("d-1"));
  int64_t id = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryApplied(id, "created task 1").ok());
  ASSERT_TRUE(store_->RequeueDelivery(id).ok());
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].retry_count, 0);
  EXPECT_EQ(Due()[0].result, "");
  EXPECT_TRUE(store_->RequeueDelivery(999).IsNotFound());
}

TEST_P(InboxFileTest, PayloadsLiveInTheLogBesideTheDatabase) {
  Put(Labeled("d-1", "{\"big\":\"" + std::string(9000, 'x') + "\"}"));
  std::string log_dir = PayloadLog::DirFor(dir_.Sub("orch.db"));
  ASSERT_TRUE(std::filesystem::is_directory(log_dir));
  EXPECT_FALSE(std::filesystem::is_empty(log_dir));
  EXPECT_EQ(Due()[0].payload.size(), 9010u);
  EXPECT_EQ(Due()[0].payload_error, "");
}

TEST_P(InboxFileTest, MemoryStoreKeepsPayloadsInline) {
  auto mem = std::move(Store::Open(":memory:", clock_)).value();
  ASSERT_TRUE(mem->StoreDelivery(Labeled("d-1")).ok());
  std::vector<Delivery> due = mem->DueDeliveries(10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "{\"n\":1}");
}

TEST_P(InboxFileTest, PruningKeepsPendingPayloadsAndAPrunedOneCannotBeReplayed) {
  // Given an applied delivery and, written by a later process, a pending one, both old:
  // pruning deletes only the applied one's segment; replaying it is then a clear NotFound.
  Put(Labeled("d-1"));
  int64_t applied = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryApplied(applied).ok());
  store_ = std::move(Store::Open(location_, clock_)).value();
  Put(Labeled("d-2", "{\"n\":2}"));
  int64_t pending = Due()[0].id;
  clock_.Advance(400 * 86400);  // past the files' real modification times
  ASSERT_TRUE(store_->PruneWebhookReceipts(clock_.NowUnix() - 7 * 86400).ok());
  Delivery gone = store_->GetDelivery(applied).value();
  EXPECT_NE(gone.payload_error.find("missing"), std::string::npos) << gone.payload_error;
  Status replay = store_->RequeueDelivery(applied);
  EXPECT_TRUE(replay.IsNotFound());
  EXPECT_NE(replay.message().find("cannot replay"), std::string::npos) << replay.message();
  EXPECT_EQ(store_->GetDelivery(pending)->payload, "{\"n\":2}");
}

TEST_P(InboxFileTest, DeliveryWhosePayloadSegmentIsLostIsStillListedWithTheError) {
  Put(Labeled("d-1"));
  std::filesystem::remove_all(PayloadLog::DirFor(dir_.Sub("orch.db")));
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "");
  EXPECT_NE(due[0].payload_error, "");
}

TEST_P(InboxTest, PruningDropsOldAppliedDeliveriesButKeepsFailedAndWaitingOnes) {
  Put(Labeled("applied"));
  Put(Labeled("failed", "{\"n\":2}"));
  Put(Labeled("waiting", "{\"n\":3}"));
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 3u);
  ASSERT_TRUE(store_->MarkDeliveryApplied(due[0].id).ok());
  for (int i = 0; i < kMaxDeliveryAttempts; ++i)
    ASSERT_TRUE(store_->MarkDeliveryFailed(due[1].id, "boom").ok());
  clock_.Advance(31 * 86400);
  ASSERT_TRUE(store_->PruneAppliedDeliveries(clock_.NowUnix() - 30 * 86400).ok());
  std::vector<Delivery> left = *store_->ListDeliveries({});
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].delivery_id, "waiting");
  EXPECT_EQ(left[1].delivery_id, "failed");
  // The pruned one, redelivered, is new again: applied once more, harmlessly.
  EXPECT_EQ(Put(Labeled("applied")), InboxOutcome::kStored);
}

TEST_P(InboxFileTest, BodiesWhoseHashesShareTheirFirst8BytesAreNotDuplicates) {
  // Bodies are looked up by the first 8 bytes of their SHA-256; two hashes alike there must
  // still be told apart by the rest.
  // Deliveries without an id, which are the ones recognised by their body.
  std::string prefix = "0123456789abcdef";
  NewDelivery a = Labeled("", "{\"n\":1}");
  a.payload_hash = prefix + std::string(48, '0');
  NewDelivery b = Labeled("", "{\"n\":2}");
  b.payload_hash = prefix + std::string(48, '1');
  EXPECT_EQ(Put(a), InboxOutcome::kStored);
  ASSERT_TRUE(store_->MarkDeliveryApplied(Due()[0].id).ok());
  EXPECT_EQ(Put(b), InboxOutcome::kStored);
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].payload, "{\"n\":2}");
  // The whole hash again: a duplicate of the applied one.
  NewDelivery again = Labeled("", "{\"n\":1}");
  again.payload_hash = a.payload_hash;
  EXPECT_EQ(Put(again), InboxOutcome::kDuplicate);
  std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(dir_.Sub("orch.db"), 5000);
  sql::Connection& db = *db_conn;
  EXPECT_EQ(sql::QueryInt(db, "SELECT COUNT(DISTINCT payload_hash_prefix) FROM webhook_deliveries"),
            1);
  EXPECT_EQ(sql::QueryInt(db, "SELECT payload_hash_prefix FROM webhook_deliveries LIMIT 1"),
            0x0123456789abcdefLL);
}

TEST_P(InboxTest, RowsAnotherConnectionStoredAreDuplicatesHere) {
  // The dedup keys are this connection's memory; the table is the truth.
  EXPECT_EQ(Put(Labeled("mine", "{\"n\":1}")), InboxOutcome::kStored);
  auto other = std::move(Store::Open(location_, clock_)).value();
  ASSERT_EQ(*other->StoreDelivery(Labeled("theirs", "{\"n\":2}")), InboxOutcome::kStored);
  for (const Delivery& d : Due()) ASSERT_TRUE(store_->MarkDeliveryApplied(d.id).ok());
  ASSERT_EQ(*other->StoreDelivery(Labeled("", "{\"n\":5}")), InboxOutcome::kStored);
  EXPECT_EQ(Put(Labeled("theirs", "{\"n\":3}")), InboxOutcome::kDuplicate);
  EXPECT_EQ(Put(Labeled("mine", "{\"n\":4}")), InboxOutcome::kDuplicate);
  EXPECT_EQ(Put(Labeled("", "{\"n\":5}")), InboxOutcome::kDuplicate);
  ASSERT_EQ(Due().size(), 1u);  // only the id-less one, not applied
  EXPECT_EQ(Due()[0].delivery_id, "");
}

TEST_P(InboxTest, KeysReadAtStartFindEveryEarlierRow) {
  EXPECT_EQ(Put(Labeled("a", "{\"a\":1}")), InboxOutcome::kStored);
  EXPECT_EQ(Put(Labeled("", "{\"b\":1}")), InboxOutcome::kStored);
  auto daemon = std::move(Store::Open(location_, clock_)).value();
  ASSERT_TRUE(daemon->LoadInboxKeys().ok());
  EXPECT_EQ(*daemon->StoreDelivery(Labeled("a", "{\"other\":1}")), InboxOutcome::kDuplicate);
  EXPECT_EQ(*daemon->StoreDelivery(Labeled("", "{\"b\":1}")), InboxOutcome::kDuplicate);
  EXPECT_EQ(*daemon->StoreDelivery(Labeled("new-id", "{\"b\":1}")), InboxOutcome::kStored);
  EXPECT_EQ(*daemon->StoreDelivery(Labeled("c", "{\"c\":1}")), InboxOutcome::kStored);
}

TEST_P(InboxFileTest, ARowIdReusedAfterPruningIsFoundByItsNewDelivery) {
  // Without AUTOINCREMENT, SQLite gives the next row the id after the newest remaining one: once
  // every row is pruned, a new row takes an id this connection already knew for another
  // delivery. The deletion count makes it read the keys again.
  EXPECT_EQ(Put(Labeled("old", "{\"old\":1}")), InboxOutcome::kStored);
  int64_t old_row = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryApplied(old_row).ok());
  auto other = std::move(Store::Open(location_, clock_)).value();
  clock_.Advance(31 * 24 * 3600);
  ASSERT_TRUE(other->PruneAppliedDeliveries(clock_.NowUnix()).ok());
  ASSERT_EQ(*other->StoreDelivery(Labeled("new", "{\"new\":1}")), InboxOutcome::kStored);
  ASSERT_EQ(Due().size(), 1u);
  ASSERT_EQ(Due()[0].id, old_row);  // the id was reused
  ASSERT_TRUE(other->MarkDeliveryApplied(old_row).ok());
  EXPECT_EQ(Put(Labeled("new", "{\"again\":1}")), InboxOutcome::kDuplicate);
  // The pruned one is new again, as before.
  EXPECT_EQ(Put(Labeled("old", "{\"old\":1}")), InboxOutcome::kStored);
}

TEST(InboxMigrationTest, Migration6KeepsDeduplicatingDeliveriesStoredAtVersion5) {
  test::TempDir dir;
  test::FakeClock clock;
  std::string path = dir.Sub("orch.db");
  std::string applied_body = "{\"applied\":1}", failed_body = "{\"failed\":1}";
  {
    // A database as orch left it at version 5, with deliveries: one applied, one failed for
    // good, and rows whose hashes test the signed conversion of the prefix.
    std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(path, 5000);
    sql::Connection& db = *db_conn;
    std::vector<Migration> v5;
    for (const Migration& m : Migrations()) {
      if (m.version <= 5) v5.push_back(m);
    }
    ASSERT_EQ(v5.size(), 5u);
    ASSERT_TRUE(ApplyMigrations(db, v5, 1).ok());
    sql::Statement ins(db,
                       "INSERT INTO webhook_deliveries(delivery_id, event_type, payload_hash, "
                       "payload, processed_at, next_attempt_at, created_at) "
                       "VALUES (?, 'issues', ?, '{}', ?, NULL, 1)");
    auto add = [&](const std::string& id, const std::string& hash, bool applied) {
      ins.reset();
      ins.bind(1, id);
      ins.bind(2, hash);
      if (applied) {
        ins.bind(3, static_cast<int64_t>(2));
      } else {
        ins.bind(3);
      }
      ins.exec();
    };
    add("old-applied", Sha256Hex(applied_body), true);
    add("old-failed", Sha256Hex(failed_body), false);
    add("all-f", std::string(64, 'f'), true);
    add("min", "8" + std::string(63, '0'), true);
    add("max", "7" + std::string(15, 'f') + std::string(48, '0'), true);
    add("upper", "ABCDEF0123456789" + std::string(48, '0'), true);
  }
  Result<std::unique_ptr<Store>> s = Store::Open(path, clock);
  ASSERT_TRUE(s.ok()) << s.status().message();
  Store& store = **s;
  EXPECT_EQ(*store.SchemaVersion(), Migrations().back().version);
  {
    std::unique_ptr<sql::Connection> db_conn = sql::OpenSqlite(path, 5000);
    sql::Connection& db = *db_conn;
    auto prefix = [&](const char* id) {
      sql::Statement q(db,
                       "SELECT payload_hash_prefix FROM webhook_deliveries "
                       "WHERE delivery_id = ?");
      q.bind(1, id);
      EXPECT_TRUE(q.executeStep()) << id;
      return q.getColumn(0).getInt64();
    };
    EXPECT_EQ(prefix("all-f"), -1);
    EXPECT_EQ(prefix("min"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(prefix("max"), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(prefix("upper"), static_cast<int64_t>(0xabcdef0123456789ULL));
    EXPECT_EQ(static_cast<uint64_t>(prefix("old-applied")),
              std::stoull(Sha256Hex(applied_body).substr(0, 16), nullptr, 16));
    // No index on a random key is left (migration 8 keeps dedup's keys in memory); the
    // pending queue keeps its own.
    sql::Statement indexes(db,
                           "SELECT name FROM sqlite_schema WHERE type = 'index' AND "
                           "tbl_name = 'webhook_deliveries' AND sql IS NOT NULL");
    std::vector<std::string> names;
    while (indexes.executeStep()) names.push_back(indexes.getColumn(0).getString());
    EXPECT_EQ(names, std::vector<std::string>{"webhook_deliveries_pending"});
  }
  auto store_one = [&](const std::string& id, const std::string& body) {
    Result<InboxOutcome> r = store.StoreDelivery({id, "issues", "labeled", "acme/w", body});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : InboxOutcome::kStored;
  };
  // The old rows are still found by id, and a failed one is applied again; a body under a new
  // id is a new delivery.
  EXPECT_EQ(store_one("old-applied", "{\"other\":1}"), InboxOutcome::kDuplicate);
  EXPECT_EQ(store_one("old-failed", failed_body), InboxOutcome::kRequeued);
  EXPECT_EQ(store_one("new-id", applied_body), InboxOutcome::kStored);
  EXPECT_EQ(store_one("fresh", "{\"fresh\":1}"), InboxOutcome::kStored);
  EXPECT_EQ(store_one("fresh", "{\"fresh\":1}"), InboxOutcome::kDuplicate);
}

}  // namespace
}  // namespace orch
