#include "base/dir_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace orch {
namespace {
constexpr uint32_t kEvents = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;
}  // namespace

DirWatcher::DirWatcher() {
  fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd_ < 0 || pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    spdlog::warn("api: inotify unavailable, streams look for new output every 100 ms");
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

DirWatcher::~DirWatcher() {
  Shutdown();
  if (thread_.joinable()) {
    char c = 0;
    (void)!write(stop_pipe_[1], &c, 1);
    thread_.join();
  }
  for (int fd : {fd_, stop_pipe_[0], stop_pipe_[1]}) {
    if (fd >= 0) close(fd);
  }
}

std::unique_ptr<DirWatcher::Handle> DirWatcher::Watch(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Entry>& e = entries_[dir];
  if (!e) {
    e = std::make_unique<Entry>();
    if (fd_ >= 0) {
      e->wd = inotify_add_watch(fd_, dir.c_str(), kEvents);
      if (e->wd >= 0) by_wd_[e->wd] = e.get();
    }
  }
  ++e->refs;
  return std::unique_ptr<Handle>(new Handle(*this, dir));
}

void DirWatcher::Release(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(dir);
  if (it == entries_.end() || --it->second->refs > 0) return;
  if (it->second->wd >= 0) {
    inotify_rm_watch(fd_, it->second->wd);
    by_wd_.erase(it->second->wd);
  }
  entries_.erase(it);
}

void DirWatcher::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  for (auto& [dir, e] : entries_) e->cv.notify_all();
}

bool DirWatcher::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

void DirWatcher::Loop() {
  alignas(inotify_event) char buf[8192];
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    ssize_t n;
    while ((n = read(fd_, buf, sizeof buf)) > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        auto it = by_wd_.find(ev->wd);
        if (it != by_wd_.end()) {
          ++it->second->generation;
          it->second->cv.notify_all();
        }
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }
}

DirWatcher::Handle::~Handle() { watcher_.Release(dir_); }

uint64_t DirWatcher::Handle::generation() const {
  std::lock_guard<std::mutex> lock(watcher_.mu_);
  return watcher_.entries_.at(dir_)->generation;
}

bool DirWatcher::Handle::Wait(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(watcher_.mu_);
  Entry& e = *watcher_.entries_.at(dir_);
  // The run directory may not exist yet when a stream starts: watch it once it does.
  if (e.wd < 0 && watcher_.fd_ >= 0) {
    e.wd = inotify_add_watch(watcher_.fd_, dir_.c_str(), kEvents);
    if (e.wd >= 0) watcher_.by_wd_[e.wd] = &e;
  }
  // Without a watch nothing bumps the generation: look again soon.
  if (e.wd < 0) timeout = std::min(timeout, std::chrono::milliseconds(100));
  return e.cv.wait_for(lock, timeout, [&] { return e.generation != seen || watcher_.stopped_; }) &&
         !watcher_.stopped_;
}

}  // namespace orch
