// Helpers shared by orch's tests: temporary directories, files, a fake clock, git fixtures and
// a runner for the built `orch` binary. Each helper cleans up what it makes.
#ifndef ORCH_TESTING_TEST_UTIL_H_
#define ORCH_TESTING_TEST_UTIL_H_

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/subprocess.h"

namespace orch::test {

// A directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

class FakeClock : public Clock {
 public:
  int64_t NowUnix() const override { return now_.load(); }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(now_.load()));
  }
  void Advance(int64_t seconds) { now_ += seconds; }
  void Set(int64_t unix_seconds) { now_ = unix_seconds; }

 private:
  std::atomic<int64_t> now_{1'790'000'000};
};

// Sets TZ (and tzset()) for the life of the object, then restores the previous value.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    const char* old = std::getenv("TZ");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (had_) {
      setenv("TZ", old_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  bool had_ = false;
  std::string old_;
};

void WriteFile(const std::string& path, const std::string& text);
std::string ReadFile(const std::string& path);

// Runs argv (no shell) and fails the test if it cannot start.
ProcessResult Run(const std::vector<std::string>& argv, const std::string& cwd = "",
                  const std::map<std::string, std::string>& env = {});

// A process running in the background (no shell), its stdout and stderr going to `log_path`.
// Killed with SIGKILL if still running when the object dies.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
             const std::string& log_path);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  int pid() const { return pid_; }
  void Signal(int sig);
  // The exit code (128 + signal when killed by one), or -1 if still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout);

 private:
  int pid_ = -1;
  bool reaped_ = false;
  int code_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int FreePort();

// A fresh 2048-bit RSA private key in PEM (for GitHub App tests).
std::string RsaPrivateKeyPem();

// Unix seconds of a UTC date and time, and of an ISO time as orch prints it
// (2026-11-21T06:02:00Z).
int64_t Utc(int year, int month, int day, int hour, int minute);
int64_t UtcFromIso(const std::string& iso);

// Polls `pred` every 10 ms for up to `timeout`; true as soon as it holds.
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A bare repository at `bare` plus a clone of it at `work` with one commit (README.md), so
// `work`'s origin is a local bare repo. `files` are added to that commit.
void MakeRepoWithOrigin(const std::string& bare, const std::string& work,
                        const std::map<std::string, std::string>& files = {});

}  // namespace orch::test

#endif  // ORCH_TESTING_TEST_UTIL_H_
