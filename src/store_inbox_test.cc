#include <gtest/gtest.h>

#include <filesystem>

#include "payload_log.h"
#include "store.h"
#include "test_util.h"

namespace orch {
namespace {

class InboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::Open(dir_.Sub("orch.db"), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  static NewDelivery Labeled(const std::string& id, const std::string& body = "{\"n\":1}") {
    return {id, "issues", "labeled", "acme/widgets", body};
  }
  InboxOutcome Store(const NewDelivery& d) {
    Result<InboxOutcome> r = store_->StoreDelivery(d);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : InboxOutcome::kDuplicate;
  }
  std::vector<Delivery> Due() { return store_->DueDeliveries(100).value(); }

  test::TempDir dir_;
  test::FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
};

TEST(DeliveryRetryDelayTest, DoublesFromFiveSecondsUpToFiveMinutes) {
  EXPECT_EQ(DeliveryRetryDelay(1), std::chrono::seconds(5));
  EXPECT_EQ(DeliveryRetryDelay(2), std::chrono::seconds(10));
  EXPECT_EQ(DeliveryRetryDelay(3), std::chrono::seconds(20));
  EXPECT_EQ(DeliveryRetryDelay(4), std::chrono::seconds(40));
  EXPECT_EQ(DeliveryRetryDelay(5), std::chrono::seconds(80));
  EXPECT_EQ(DeliveryRetryDelay(7), std::chrono::seconds(300));
  EXPECT_EQ(DeliveryRetryDelay(40), std::chrono::seconds(300));
}

TEST_F(InboxTest, StoredDeliveryIsDueAndSurvivesReopening) {
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kStored);
  store_.reset();  // as after kill -9: only what was committed remains
  store_ = std::move(SqliteStore::Open(dir_.Sub("orch.db"), clock_)).value();
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].delivery_id, "d-1");
  EXPECT_EQ(due[0].event_type, "issues");
  EXPECT_EQ(due[0].payload, "{\"n\":1}");
  EXPECT_EQ(due[0].payload_hash.size(), 64u);
}

TEST_F(InboxTest, SameIdOrSameBodyIsADuplicate) {
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kStored);
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kDuplicate);  // waiting: applied once
  ASSERT_TRUE(store_->MarkDeliveryApplied(Due()[0].id).ok());
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kDuplicate);
  EXPECT_EQ(Store(Labeled("d-2")), InboxOutcome::kDuplicate);  // new id, same body
  EXPECT_EQ(Store(Labeled("d-3", "{\"n\":2}")), InboxOutcome::kStored);
  EXPECT_EQ(Due().size(), 1u);
}

TEST_F(InboxTest, FailuresBackOffThenStayFailed) {
  Store(Labeled("d-1"));
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

TEST_F(InboxTest, RedeliveryOfAFailedDeliveryIsAppliedAgainOnce) {
  Store(Labeled("d-1"));
  int64_t id = Due()[0].id;
  for (int i = 0; i < kMaxDeliveryAttempts; ++i)
    ASSERT_TRUE(store_->MarkDeliveryFailed(id, "x").ok());
  EXPECT_TRUE(Due().empty());
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kRequeued);
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].retry_count, 0);
  ASSERT_TRUE(store_->MarkDeliveryApplied(id).ok());
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kDuplicate);
  EXPECT_TRUE(store_->MarkDeliveryApplied(id).IsConflict());  // never applied twice
}

TEST_F(InboxTest, RedeliveryDuringBackoffMakesItDueNow) {
  Store(Labeled("d-1"));
  int64_t id = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryFailed(id, "x").ok());
  EXPECT_TRUE(Due().empty());
  EXPECT_EQ(Store(Labeled("d-1")), InboxOutcome::kRequeued);
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].retry_count, 1);  // the failure still counts
}

TEST_F(InboxTest, BatchStoresInOrderAndDeduplicatesWithinItself) {
  // The receiver's group commit: one transaction, outcomes in the order submitted.
  std::vector<NewDelivery> batch = {Labeled("d-1"), Labeled("d-2", "{\"n\":2}"), Labeled("d-1")};
  Result<std::vector<InboxOutcome>> r = store_->StoreDeliveries(batch);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (std::vector<InboxOutcome>{InboxOutcome::kStored, InboxOutcome::kStored,
                                          InboxOutcome::kDuplicate}));
  EXPECT_EQ(Due().size(), 2u);
}

TEST_F(InboxTest, StatsCountReceiptsDuplicatesAndOutcomesInTheWindow) {
  Store(Labeled("old"));
  Store(Labeled("old"));  // a duplicate, long ago
  clock_.Advance(2 * 86400);
  int64_t since = clock_.NowUnix() - 86400;
  Store(Labeled("d-1", "{\"a\":1}"));
  Store(Labeled("d-1", "{\"a\":1}"));  // duplicate
  Store({"d-2", "issue_comment", "created", "acme/widgets", "{\"b\":1}"});
  Store({"d-3", "ping", "", "acme/widgets", "{\"c\":1}"});
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

TEST_F(InboxTest, RequeueReplaysAnyDeliveryAsAFirstAttempt) {
  Store(Labeled("d-1"));
  int64_t id = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryApplied(id, "created task 1").ok());
  ASSERT_TRUE(store_->RequeueDelivery(id).ok());
  ASSERT_EQ(Due().size(), 1u);
  EXPECT_EQ(Due()[0].retry_count, 0);
  EXPECT_EQ(Due()[0].result, "");
  EXPECT_TRUE(store_->RequeueDelivery(999).IsNotFound());
}

TEST_F(InboxTest, PayloadsLiveInTheLogBesideTheDatabase) {
  Store(Labeled("d-1", "{\"big\":\"" + std::string(9000, 'x') + "\"}"));
  std::string log_dir = PayloadLog::DirFor(dir_.Sub("orch.db"));
  ASSERT_TRUE(std::filesystem::is_directory(log_dir));
  EXPECT_FALSE(std::filesystem::is_empty(log_dir));
  EXPECT_EQ(Due()[0].payload.size(), 9010u);
  EXPECT_EQ(Due()[0].payload_error, "");
}

TEST_F(InboxTest, MemoryStoreKeepsPayloadsInline) {
  auto mem = std::move(SqliteStore::Open(":memory:", clock_)).value();
  ASSERT_TRUE(mem->StoreDelivery(Labeled("d-1")).ok());
  std::vector<Delivery> due = mem->DueDeliveries(10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "{\"n\":1}");
}

TEST_F(InboxTest, PruningKeepsPendingPayloadsAndAPrunedOneCannotBeReplayed) {
  // Given an applied delivery and, written by a later process, a pending one, both old:
  // pruning deletes only the applied one's segment; replaying it is then a clear NotFound.
  Store(Labeled("d-1"));
  int64_t applied = Due()[0].id;
  ASSERT_TRUE(store_->MarkDeliveryApplied(applied).ok());
  store_ = std::move(SqliteStore::Open(dir_.Sub("orch.db"), clock_)).value();
  Store(Labeled("d-2", "{\"n\":2}"));
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

TEST_F(InboxTest, DeliveryWhosePayloadSegmentIsLostIsStillListedWithTheError) {
  Store(Labeled("d-1"));
  std::filesystem::remove_all(PayloadLog::DirFor(dir_.Sub("orch.db")));
  std::vector<Delivery> due = Due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "");
  EXPECT_NE(due[0].payload_error, "");
}

TEST_F(InboxTest, PruningDropsOldAppliedDeliveriesButKeepsFailedAndWaitingOnes) {
  Store(Labeled("applied"));
  Store(Labeled("failed", "{\"n\":2}"));
  Store(Labeled("waiting", "{\"n\":3}"));
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
  EXPECT_EQ(Store(Labeled("applied")), InboxOutcome::kStored);
}

}  // namespace
}  // namespace orch
