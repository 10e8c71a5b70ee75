#include "receiver/inbox_writer.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "github/webhook_signature.h"
#include "receiver/webhook_server.h"
#include "store/payload_log.h"
#include "store/sql.h"
#include "testing/test_util.h"

namespace orch {
namespace {

constexpr const char* kSecret = "It's a Secret to Everybody";

// A SQLite file layer for tests: the default VFS with every file's xSync passed through, after
// `on_wal_sync` (when set) has seen each sync of a WAL file. Installed as the default VFS for its
// lifetime, so connections opened meanwhile use it.
class SyncWatchingVfs {
 public:
  SyncWatchingVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.zName = "orch-sync-watching";
    vfs_.pNext = nullptr;
    vfs_.xOpen = &Open;
    instance_ = this;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  ~SyncWatchingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, /*makeDflt=*/1);
    instance_ = nullptr;
  }
  SyncWatchingVfs(const SyncWatchingVfs&) = delete;
  SyncWatchingVfs& operator=(const SyncWatchingVfs&) = delete;

  std::function<void()> on_wal_sync;  // set before any connection is opened
  std::atomic<int> wal_syncs{0};

 private:
  // Our file, with the real VFS's file right behind it.
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
    bool wal;
  };
  static sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    File* file = reinterpret_cast<File*>(f);
    file->real = reinterpret_cast<sqlite3_file*>(file + 1);
    file->wal = (flags & SQLITE_OPEN_WAL) != 0;
    sqlite3_vfs* real = instance_->real_;
    int rc = real->xOpen(real, name, file->real, flags, out_flags);
    file->base.pMethods = file->real->pMethods ? &kMethods : nullptr;
    return rc;
  }
  static int Sync(sqlite3_file* f, int flags) {
    if (reinterpret_cast<File*>(f)->wal) {
      if (instance_->on_wal_sync) instance_->on_wal_sync();
      ++instance_->wal_syncs;
    }
    return Real(f)->pMethods->xSync(Real(f), flags);
  }
  static constexpr sqlite3_io_methods kMethods = {
      3,
      [](sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); },
      [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
        return Real(f)->pMethods->xRead(Real(f), b, n, o);
      },
      [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
        return Real(f)->pMethods->xWrite(Real(f), b, n, o);
      },
      [](sqlite3_file* f, sqlite3_int64 n) { return Real(f)->pMethods->xTruncate(Real(f), n); },
      &Sync,
      [](sqlite3_file* f, sqlite3_int64* n) { return Real(f)->pMethods->xFileSize(Real(f), n); },
      [](sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); },
      [](sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); },
      [](sqlite3_file* f, int* r) { return Real(f)->pMethods->xCheckReservedLock(Real(f), r); },
      [](sqlite3_file* f, int op, void* a) {
        return Real(f)->pMethods->xFileControl(Real(f), op, a);
      },
      [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); },
      [](sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); },
      [](sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
        return Real(f)->pMethods->xShmMap(Real(f), pg, sz, ext, p);
      },
      [](sqlite3_file* f, int off, int n, int fl) {
        return Real(f)->pMethods->xShmLock(Real(f), off, n, fl);
      },
      [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); },
      [](sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); },
      [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
        return Real(f)->pMethods->xFetch(Real(f), o, n, p);
      },
      [](sqlite3_file* f, sqlite3_int64 o, void* p) {
        return Real(f)->pMethods->xUnfetch(Real(f), o, p);
      },
  };

  static inline SyncWatchingVfs* instance_ = nullptr;
  sqlite3_vfs* real_;
  sqlite3_vfs vfs_;
};

class InboxWriterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open() {
    return std::move(Store::Open(dir_.Sub("orch.db"), clock_)).value();
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
  std::unique_ptr<Store> store = Open();
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
  std::unique_ptr<Store> reader = Open();
  std::vector<orch::Delivery> due = *reader->DueDeliveries(10000);
  ASSERT_EQ(due.size(), static_cast<size_t>((kThreads - 1) * kEach));
  for (const orch::Delivery& d : due) {
    ASSERT_EQ(d.payload_error, "");
    ASSERT_EQ(d.payload, Delivery(std::stoi(d.delivery_id.substr(2))).payload);
  }
}

TEST_F(InboxWriterTest, ABusyDatabaseFailsTheSubmissionRetryablyAndTheNextOneWorks) {
  std::unique_ptr<Store> store = Open();
  InboxWriter inbox(*store);
  ASSERT_TRUE(inbox.Submit(Delivery(1)).ok());
  // Another connection holds the write lock longer than the 5 s busy timeout allows.
  {
    std::unique_ptr<sql::Connection> raw = sql::OpenSqlite(dir_.Sub("orch.db"), 5000);
    raw->exec("BEGIN IMMEDIATE");
    Result<InboxOutcome> r = inbox.Submit(Delivery(2));
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsRetryable()) << r.status().message();  // busy: the 503 path
    raw->exec("ROLLBACK");
  }
  Result<InboxOutcome> again = inbox.Submit(Delivery(2));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, InboxOutcome::kStored);
}

TEST_F(InboxWriterTest, PayloadAndRowAreOnStableStorageBeforeTheAnswerIsSent) {
  // Issue 22: a 2xx meant "in the page cache". Through the real receiver: while SQLite syncs
  // the WAL for the delivery's commit (held here), the payload log has already been synced and
  // no answer has been sent; the 202 comes only once the sync is let go.
  SyncWatchingVfs vfs;
  std::mutex mu;
  std::condition_variable cv;
  bool in_sync = false, release = false;
  uint64_t payload_syncs_at_wal_sync = 0;
  std::unique_ptr<Store> store = Open();  // through `vfs`
  ASSERT_NE(store->payload_log(), nullptr);
  vfs.on_wal_sync = [&] {
    std::unique_lock<std::mutex> lock(mu);
    if (in_sync || release) return;  // only the first sync is held
    in_sync = true;
    payload_syncs_at_wal_sync = store->payload_log()->syncs();
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return release; });
  };
  InboxWriter inbox(*store);
  WebhookServer server(WebhookServerOptions{.port = 0, .secret = kSecret}, inbox, clock_, [] {});
  ASSERT_TRUE(server.Start().ok());
  std::string body = R"({"action":"labeled","repository":{"full_name":"acme/widgets"}})";
  std::atomic<bool> answered{false};
  std::future<int> status = std::async(std::launch::async, [&] {
    httplib::Client client("127.0.0.1", server.port());
    httplib::Result r = client.Post("/webhook",
                                    {{"X-GitHub-Event", "issues"},
                                     {"X-GitHub-Delivery", "d-1"},
                                     {"X-Hub-Signature-256", SignBody(kSecret, body)}},
                                    body, "application/json");
    answered = true;
    return r ? r->status : -1;
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return in_sync; }))
        << "the delivery's commit never synced the WAL";
    EXPECT_EQ(payload_syncs_at_wal_sync, 1u);  // the payload first, then the row
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // time to answer, if it would
  EXPECT_FALSE(answered);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(status.get(), 202);
  EXPECT_GE(vfs.wal_syncs, 1);
  EXPECT_EQ(store->durable_commits(), 1u);
  server.Stop();
}

TEST_F(InboxWriterTest, ReceiverStoresIdenticalBodiesUnderDistinctIdsAndOneIdOnce) {
  // Issue 22: dedup matched the body whatever the delivery id, and dropped distinct events
  // with byte-identical bodies (org_block.blocked twice) as duplicates.
  std::unique_ptr<Store> store = Open();
  InboxWriter inbox(*store);
  WebhookServer server(WebhookServerOptions{.port = 0, .secret = kSecret}, inbox, clock_, [] {});
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());
  std::string body = R"({"action":"blocked","blocked_user":{"login":"spammer"}})";
  auto post = [&](const std::string& id) {
    httplib::Result r = client.Post("/webhook",
                                    {{"X-GitHub-Event", "org_block"},
                                     {"X-GitHub-Delivery", id},
                                     {"X-Hub-Signature-256", SignBody(kSecret, body)}},
                                    body, "application/json");
    return r ? r->status : -1;
  };
  EXPECT_EQ(post("a1b2c3d4-0000-4000-8000-000000000001"), 202);
  EXPECT_EQ(post("a1b2c3d4-0000-4000-8000-000000000002"), 202);
  EXPECT_EQ(post("a1b2c3d4-0000-4000-8000-000000000002"), 200);  // GitHub's redelivery
  server.Stop();
  std::vector<orch::Delivery> due = *Open()->DueDeliveries(10);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].delivery_id, "a1b2c3d4-0000-4000-8000-000000000001");
  EXPECT_EQ(due[1].delivery_id, "a1b2c3d4-0000-4000-8000-000000000002");
  EXPECT_EQ(due[1].payload, body);
}

}  // namespace
}  // namespace orch
