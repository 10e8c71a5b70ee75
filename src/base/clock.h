// Clock: where orch gets time. Wall time (unix seconds) is for records people read;
// monotonic time is for timeouts, so a laptop's sleep is not taken for an agent hang.
// SystemClock is the real one; tests use FakeClock (testing/test_util.h).
// Implementations must be thread-safe.
#ifndef ORCH_BASE_CLOCK_H_
#define ORCH_BASE_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace orch {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnix() const = 0;
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowUnix() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace orch

#endif  // ORCH_BASE_CLOCK_H_
