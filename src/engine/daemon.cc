#include "engine/daemon.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace orch {

Result<PidLock> PidLock::Acquire(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path, std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::Conflict("orch is already running (pid " + pid + ")", "lock " + path);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    close(fd);
    return Status::IOError(path, std::strerror(errno));
  }
  return PidLock(fd, path);
}

PidLock::~PidLock() {
  if (fd_ < 0) return;
  // Empty the file before letting go, so a stale pid is never read as a live one.
  if (ftruncate(fd_, 0) != 0) {
    spdlog::warn("could not clear {}", path_);
  }
  close(fd_);
}

int Daemon::Run() {
  int ticks = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Result<TickReport> r = engine_.Tick();
    ++ticks;
    if (!r.ok()) spdlog::error("tick failed: {}", r.status().message());
    lock.lock();
    cv_.wait_for(lock, tick_interval_, [this] { return stop_ || wake_; });
    wake_ = false;
  }
  return ticks;
}

void Daemon::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

void Daemon::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
}

}  // namespace orch
