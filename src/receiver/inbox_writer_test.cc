#include "receiver/inbox_writer.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "testing/test_util.h"

namespace orch {
namespace {

class InboxWriterTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open() {
    return std::move(SqliteStore::Open(dir_.Sub("orch.db"), clock_)).value();
  }
  static NewDelivery Delivery(int n) {
    std::string body =
        "{\"n\":" + std::to_string(n) + ",\"pad\":\"" + std::string(1000, 'x') + "\"}";
    return {"d-" + std::to_string(n), "issues", "labeled", "acme/widgets", body};
  }

  test::TempDir dir_;
  test::FakeClock clock_;
};

TEST_F(InboxWriterTest, ManyWritersEachGetTheirOwnOutcomeAndShareCommits) {
  // Sixteen threads submit at once, some of them the same delivery twice: every submission
  // gets its own answer, each delivery is stored once, and commits carry several deliveries.
  std::unique_ptr<SqliteStore> store = Open();
  InboxWriter inbox(*store, Open());
  constexpr int kThreads = 16, kEach = 200;
  std::atomic<int> stored{0}, duplicates{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Threads 0 and 1 submit the same deliveries: one of each pair is a duplicate.
        int n = (t <= 1 ? 0 : t) * kEach + i;
        Result<InboxOutcome> r = inbox.Submit(Delivery(n));
        if (!r.ok()) {
          ++errors;
        } else if (*r == InboxOutcome::kStored) {
          ++stored;
        } else if (*r == InboxOutcome::kDuplicate) {
          ++duplicates;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(stored, (kThreads - 1) * kEach);
  EXPECT_EQ(duplicates, kEach);
  EXPECT_EQ(inbox.submitted(), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_LT(inbox.commits(), inbox.submitted());  // group commit happened
  // Every stored delivery reads back whole through another connection.
  std::unique_ptr<SqliteStore> reader = Open();
  std::vector<orch::Delivery> due = *reader->DueDeliveries(10000);
  ASSERT_EQ(due.size(), static_cast<size_t>((kThreads - 1) * kEach));
  for (const orch::Delivery& d : due) {
    ASSERT_EQ(d.payload_error, "");
    ASSERT_EQ(d.payload, Delivery(std::stoi(d.delivery_id.substr(2))).payload);
  }
}

TEST_F(InboxWriterTest, ABusyDatabaseFailsTheSubmissionRetryablyAndTheNextOneWorks) {
  std::unique_ptr<SqliteStore> store = Open();
  InboxWriter inbox(*store);
  ASSERT_TRUE(inbox.Submit(Delivery(1)).ok());
  // Another connection holds the write lock longer than the 5 s busy timeout allows.
  {
    SQLite::Database raw(dir_.Sub("orch.db"), SQLite::OPEN_READWRITE);
    raw.exec("BEGIN IMMEDIATE");
    Result<InboxOutcome> r = inbox.Submit(Delivery(2));
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsRetryable()) << r.status().message();  // busy: the 503 path
    raw.exec("ROLLBACK");
  }
  Result<InboxOutcome> again = inbox.Submit(Delivery(2));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, InboxOutcome::kStored);
}

}  // namespace
}  // namespace orch
