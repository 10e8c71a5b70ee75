#include "store/payload_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/platform.h"

namespace orch {
namespace {

constexpr const char* kSuffix = ".seg";

std::string ErrnoText() { return std::strerror(errno); }

// Writes all of `iov` (which it consumes), resuming after short writes.
Status WriteAll(int fd, std::vector<iovec>& iov, const std::string& path) {
  size_t first = 0;
  while (first < iov.size()) {
    int n = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t w = ::writev(fd, &iov[first], n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(path, "appending payloads: " + ErrnoText());
    }
    size_t left = static_cast<size_t>(w);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::OK();
}

// The segment number in a file name like "000000000042.seg", or -1.
int64_t SegmentNumber(const std::string& name) {
  if (name.size() <= strlen(kSuffix) || !name.ends_with(kSuffix)) return -1;
  std::string digits = name.substr(0, name.size() - strlen(kSuffix));
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// fsync()s the directory `dir`, so the entries created in it survive a power loss.
Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(dir, "opening to sync: " + ErrnoText());
  int r;
  do {
    r = ::fsync(fd);
  } while (r != 0 && errno == EINTR);
  Status s = r == 0 ? Status::OK() : Status::IOError(dir, "syncing: " + ErrnoText());
  ::close(fd);
  return s;
}

}  // namespace

PayloadLog::PayloadLog(std::string dir) : dir_(std::move(dir)) {}

PayloadLog::~PayloadLog() { CloseSegment(); }

std::string PayloadLog::DirFor(const std::string& db_path) { return db_path + "-inbox"; }

std::string PayloadLog::SegmentPath(int64_t segment) const {
  char name[32];
  snprintf(name, sizeof(name), "/%012lld%s", static_cast<long long>(segment), kSuffix);
  return dir_ + name;
}

void PayloadLog::CloseSegment() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<std::vector<int64_t>> PayloadLog::ListSegments() const {
  std::vector<int64_t> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec) && !ec) return out;  // nothing appended yet
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    int64_t n = SegmentNumber(entry.path().filename().string());
    if (n >= 0) out.push_back(n);
  }
  if (ec) return Status::IOError(dir_, "listing payload segments: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Status PayloadLog::StartSegment() {
  CloseSegment();
  std::error_code ec;
  if (std::filesystem::create_directories(dir_, ec)) {
    // A new directory's own entry lives in its parent.
    std::string parent = std::filesystem::path(dir_).parent_path().string();
    ORCH_RETURN_IF_ERROR(SyncDirectory(parent.empty() ? "." : parent));
  }
  if (ec) return Status::IOError(dir_, "creating the payload log: " + ec.message());
  Result<std::vector<int64_t>> existing = ListSegments();
  if (!existing.ok()) return existing.status();
  int64_t next = std::max(segment_, existing->empty() ? int64_t{0} : existing->back()) + 1;
  // O_EXCL: a writer in another process may take the same number first; then try the next.
  for (int tries = 0; tries < 100; ++tries, ++next) {
    int fd = ::open(SegmentPath(next).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      fd_ = fd;
      segment_ = next;
      size_ = 0;
      opened_at_ = std::chrono::steady_clock::now();
      // fdatasync() of the segment makes its data durable, not its name.
      Status synced = SyncDirectory(dir_);
      if (!synced.ok()) CloseSegment();
      return synced;
    }
    if (errno != EEXIST) return Status::IOError(SegmentPath(next), "creating: " + ErrnoText());
  }
  return Status::IOError(dir_, "no free payload segment number");
}

Result<std::vector<PayloadRef>> PayloadLog::Append(const std::vector<std::string_view>& payloads) {
  if (fd_ < 0 || size_ >= kSegmentBytes ||
      std::chrono::steady_clock::now() - opened_at_ >= kSegmentAge) {
    ORCH_RETURN_IF_ERROR(StartSegment());
  }
  std::vector<PayloadRef> refs;
  refs.reserve(payloads.size());
  std::vector<iovec> iov;
  iov.reserve(payloads.size());
  int64_t offset = size_;
  for (std::string_view p : payloads) {
    refs.push_back({segment_, offset, static_cast<int64_t>(p.size())});
    offset += static_cast<int64_t>(p.size());
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  Status s = WriteAll(fd_, iov, SegmentPath(segment_));
  if (!s.ok()) {
    CloseSegment();  // where a partial write ended is unknown: continue in a fresh segment
    return s;
  }
  size_ = offset;
  return refs;
}

Status PayloadLog::Sync() {
  if (fd_ < 0) return Status::OK();  // nothing appended, or the segment was abandoned
  if (SyncFileData(fd_) != 0) {      // F_FULLFSYNC on macOS, whose fsync stops at the drive's cache
    // After a failed fdatasync the kernel may have dropped the dirty pages: never trust this
    // segment again.
    Status s = Status::IOError(SegmentPath(segment_), "syncing payloads: " + ErrnoText());
    CloseSegment();
    return s;
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
}

Result<std::string> PayloadLog::Read(const PayloadRef& ref) const {
  std::string path = SegmentPath(ref.segment);
  if (ref.offset < 0 || ref.length < 0 || ref.length > kSegmentBytes + (int64_t{1} << 30)) {
    return Status::Corruption(path, "impossible payload reference at " +
                                        std::to_string(ref.offset) + ", length " +
                                        std::to_string(ref.length));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound(path, "payload segment is missing (pruned after retention?)");
    }
    return Status::IOError(path, "opening payload segment: " + ErrnoText());
  }
  std::string out(static_cast<size_t>(ref.length), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t r = ::pread(fd, out.data() + done, out.size() - done,
                        static_cast<off_t>(ref.offset + static_cast<int64_t>(done)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string why = r < 0 ? ErrnoText() : "segment is shorter than the delivery says";
      ::close(fd);
      return r < 0 ? Status::IOError(path, "reading payload: " + why)
                   : Status::Corruption(
                         path, "reading payload at " + std::to_string(ref.offset) + ": " + why);
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  return out;
}

Result<int> PayloadLog::Prune(const std::set<int64_t>& keep, int64_t before) {
  Result<std::vector<int64_t>> segments = ListSegments();
  if (!segments.ok()) return segments.status();
  int deleted = 0;
  for (int64_t n : *segments) {
    if (keep.count(n) || (fd_ >= 0 && n == segment_)) continue;
    std::string path = SegmentPath(n);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || st.st_mtime >= before) continue;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::IOError(path, "deleting payload segment: " + ErrnoText());
    }
    ++deleted;
  }
  return deleted;
}

}  // namespace orch
