// Status and Result<T>: orch's only error channel.
//
// A Status is either OK or a code plus a message that reads "<what>: <why>", built by the
// factories below (after leveldb's Status). Result<T> carries a value or a non-OK Status.
// Libraries that throw (yaml-cpp, nlohmann/json, SQLiteCpp, CLI11) are caught at their adapter
// and turned into one of these; exceptions never cross a module boundary.
//
// Codes that a caller acts on differently get their own value: kUnavailable is retryable
// (network, 5xx, 429) so a scheduler can back off without reading the text; kConflict is a lost
// compare-and-set; kInvalidArgument and kConfig are the user's to fix (exit code 2).
//
// Thread safety: values; safe to copy between threads.
#ifndef ORCH_BASE_STATUS_H_
#define ORCH_BASE_STATUS_H_

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace orch {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kInvalidArgument,  // bad command line or value from the user
  kConfig,           // bad configuration file
  kCorruption,       // a file is not what it should be (e.g. not a database)
  kIOError,
  kConflict,     // a compare-and-set lost, or a unique name is taken
  kUnavailable,  // retryable: network, 5xx, 429, busy
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kNotFound, msg, msg2);
  }
  static Status InvalidArgument(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kInvalidArgument, msg, msg2);
  }
  static Status Config(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kConfig, msg, msg2);
  }
  static Status Corruption(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kCorruption, msg, msg2);
  }
  static Status IOError(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kIOError, msg, msg2);
  }
  static Status Conflict(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kConflict, msg, msg2);
  }
  static Status Unavailable(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kUnavailable, msg, msg2);
  }
  static Status Internal(std::string_view msg, std::string_view msg2 = {}) {
    return Status(StatusCode::kInternal, msg, msg2);
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsConflict() const { return code_ == StatusCode::kConflict; }
  bool IsRetryable() const { return code_ == StatusCode::kUnavailable; }
  // True for errors the user fixes by changing input: exit code 2.
  bool IsUsageError() const {
    return code_ == StatusCode::kInvalidArgument || code_ == StatusCode::kConfig;
  }
  const std::string& message() const { return message_; }
  // For a retryable status: how long the other side asked us to wait (0: no advice).
  int64_t retry_after_seconds() const { return retry_after_; }
  Status WithRetryAfter(int64_t seconds) const {
    Status s = *this;
    s.retry_after_ = seconds;
    return s;
  }

  // "OK", or the message (the code is implied by it and not repeated to users).
  std::string ToString() const { return ok() ? "OK" : message_; }

  // Returns a copy with "<context>: " put in front of the message.
  Status Prefixed(std::string_view context) const {
    if (ok()) return *this;
    Status s = *this;
    s.message_ = std::string(context) + ": " + message_;
    return s;
  }

 private:
  Status(StatusCode code, std::string_view msg, std::string_view msg2) : code_(code) {
    message_ = std::string(msg);
    if (!msg2.empty()) {
      message_ += ": ";
      message_ += msg2;
    }
  }

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int64_t retry_after_ = 0;
};

// A value or the Status that explains its absence. Never holds an OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace orch

#define ORCH_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::orch::Status _orch_status = (expr);        \
    if (!_orch_status.ok()) return _orch_status; \
  } while (0)

#endif  // ORCH_BASE_STATUS_H_
