#include "base/dir_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace orch {
namespace {

// What a Handle's generation counts: any change to what the directory holds.
constexpr uint32_t kChanges = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;
// What OnFile() reports: a file complete in the directory (written and closed, or renamed in).
constexpr uint32_t kArrivals = IN_CLOSE_WRITE | IN_MOVED_TO;

}  // namespace

DirWatcher::DirWatcher(std::string_view unavailable_warning) {
  fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd_ < 0 || pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    spdlog::warn("{}", unavailable_warning);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
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

// The entry for `dir`, made when there is none. Requires mu_.
DirWatcher::Entry& DirWatcher::EntryFor(const std::string& dir) {
  std::unique_ptr<Entry>& e = entries_[dir];
  if (!e) {
    e = std::make_unique<Entry>();
    e->dir = dir;
  }
  return *e;
}

// Asks inotify for `mask` on `dir` as well as what the entry had. Always asks: the directory
// may have been removed and made again, and then it is a new watch. Requires mu_.
bool DirWatcher::AddWatch(const std::string& dir, Entry& e, uint32_t mask) {
  if (fd_ < 0) return false;
  int wd = inotify_add_watch(fd_, dir.c_str(), e.mask | mask);
  if (wd < 0) return false;
  if (e.wd >= 0 && e.wd != wd) by_wd_.erase(e.wd);  // the old one's IN_IGNORED finds nothing
  e.wd = wd;
  e.mask |= mask;
  by_wd_[wd] = &e;
  return true;
}

std::unique_ptr<DirWatcher::Handle> DirWatcher::Watch(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryFor(dir);
  // The directory may not exist yet (a stream can start before its run): Wait() tries again.
  (void)AddWatch(dir, e, kChanges);
  ++e.refs;
  return std::unique_ptr<Handle>(new Handle(*this, dir));
}

bool DirWatcher::OnFile(const std::string& dir, const std::string& name,
                        std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryFor(dir);
  if (!AddWatch(dir, e, kArrivals)) {
    if (e.refs == 0 && e.on_file.empty()) entries_.erase(dir);
    return false;
  }
  e.on_file[name] = std::move(callback);
  return true;
}

void DirWatcher::Release(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(dir);
  if (it == entries_.end() || --it->second->refs > 0) return;
  if (!it->second->on_file.empty()) return;  // still watched for its files
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
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    std::vector<std::function<void()>> due;
    ReadEvents(due);
    for (const auto& callback : due) callback();  // unlocked: a callback may use the watcher
  }
}

// Reads every pending event, bumping generations and collecting the callbacks due.
void DirWatcher::ReadEvents(std::vector<std::function<void()>>& due) {
  alignas(inotify_event) char buf[8192];
  ssize_t n;
  while ((n = read(fd_, buf, sizeof buf)) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      Apply(*ev, due);
      p += sizeof(inotify_event) + ev->len;
    }
  }
}

// One event. Requires mu_.
void DirWatcher::Apply(const inotify_event& ev, std::vector<std::function<void()>>& due) {
  auto it = by_wd_.find(ev.wd);
  if (it == by_wd_.end()) return;
  Entry& e = *it->second;
  ++e.generation;
  e.cv.notify_all();
  if (ev.len > 0 && (ev.mask & kArrivals)) {
    auto f = e.on_file.find(ev.name);
    if (f != e.on_file.end()) due.push_back(f->second);
  }
  if (ev.mask & IN_IGNORED) {
    // The directory is gone and the kernel dropped its watch; a handle's Wait() watches it
    // again if it comes back.
    by_wd_.erase(it);
    e.wd = -1;
    e.mask = 0;
    e.on_file.clear();
    if (e.refs == 0) entries_.erase(entries_.find(e.dir));  // `e` is gone after this
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
  if (e.wd < 0) (void)watcher_.AddWatch(dir_, e, kChanges);
  // Without a watch nothing bumps the generation: look again soon.
  if (e.wd < 0) timeout = std::min(timeout, std::chrono::milliseconds(100));
  return e.cv.wait_for(lock, timeout, [&] { return e.generation != seen || watcher_.stopped_; }) &&
         !watcher_.stopped_;
}

}  // namespace orch
