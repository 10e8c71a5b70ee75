// PayloadLog: the webhook inbox's payloads, kept out of SQLite in append-only segment files.
//
// A delivery's 8 KB body written into its webhook_deliveries row costs overflow pages in the
// WAL, index maintenance and a second copy at checkpoint time; appending it to a plain file is
// one write(). The log lives in a directory beside the database (`<db path>-inbox/`) as segment
// files `<number>.seg`. The inbox's group commit appends a whole batch's payloads with one
// writev(), makes them durable with one fdatasync() (Sync), and only then commits the rows that
// point at them (segment, offset, length): a row is never committed before its payload is on
// stable storage, so neither a kill -9 nor a power loss can leave a committed row without its
// payload; a torn tail left by a crash mid-write is referenced by no row and is never read. A new
// segment's directory entry is synced when the segment is created (and the directory's, when
// the directory is).
//
// Each writer (one PayloadLog that calls Append) creates its own new segment, exclusively, the
// first time it appends and whenever the current one reaches kSegmentBytes or kSegmentAge, so
// writers in several processes never share a segment and a segment older than kSegmentAge is
// never written again. Prune deletes old segments that no retained row needs.
//
// Failure contract: Append fails with IOError (nothing is referenced, the next Append starts a
// new segment); Read fails with NotFound when the segment is gone (pruned or lost) and
// Corruption when it is shorter than the reference says.
//
// Thread safety: Append must not be called concurrently with itself (the inbox's leader is the
// only appender); Read, Prune and SegmentPath may be called from any thread.
#ifndef ORCH_STORE_PAYLOAD_LOG_H_
#define ORCH_STORE_PAYLOAD_LOG_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace orch {

// Where one payload lives in the log.
struct PayloadRef {
  int64_t segment = 0;
  int64_t offset = 0;
  int64_t length = 0;
};

class PayloadLog {
 public:
  static constexpr int64_t kSegmentBytes = int64_t{64} << 20;
  static constexpr std::chrono::seconds kSegmentAge{3600};

  // `dir` is created on the first Append if missing.
  explicit PayloadLog(std::string dir);
  ~PayloadLog();
  PayloadLog(const PayloadLog&) = delete;
  PayloadLog& operator=(const PayloadLog&) = delete;

  // The log directory for the database at `db_path`.
  static std::string DirFor(const std::string& db_path);

  const std::string& dir() const { return dir_; }
  std::string SegmentPath(int64_t segment) const;

  // Appends `payloads` in one write and returns where each one landed, in order. They are in
  // the page cache, not yet on stable storage: call Sync before anything refers to them.
  Result<std::vector<PayloadRef>> Append(const std::vector<std::string_view>& payloads);
  // fdatasync()s the current segment, so everything Append returned is on stable storage.
  // IOError when the sync fails; the segment is then abandoned (the next Append starts a new
  // one), as after a failed write, since what reached the disk is unknown.
  Status Sync();
  // How many times Sync reached stable storage (tests and the benchmark read it).
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

  // The payload at `ref`.
  Result<std::string> Read(const PayloadRef& ref) const;

  // Deletes every segment not in `keep` whose last write is older than `before` (unix
  // seconds), never this writer's own current segment. Returns how many were deleted.
  Result<int> Prune(const std::set<int64_t>& keep, int64_t before);

 private:
  // Closes the current segment and creates the next one exclusively.
  Status StartSegment();
  void CloseSegment();
  Result<std::vector<int64_t>> ListSegments() const;

  const std::string dir_;
  int fd_ = -1;  // the current segment, opened for appending; -1 before the first Append
  int64_t segment_ = 0;
  int64_t size_ = 0;
  std::chrono::steady_clock::time_point opened_at_;
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace orch

#endif  // ORCH_STORE_PAYLOAD_LOG_H_
