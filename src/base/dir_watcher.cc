#include "base/dir_watcher.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <uv.h>

#include <thread>

namespace orch {

// One uv_fs_event on a directory, owned by the loop; freed by its close callback.
struct DirWatcher::DirWatch {
  uv_fs_event_t handle{};
  DirWatcher* watcher = nullptr;
  Entry* entry = nullptr;  // under mu_; null once the entry let go of it
  dev_t dev = 0;           // the directory it watches, to tell it from one made again
  ino_t ino = 0;
};

struct DirWatcher::Loop {
  uv_loop_t loop{};
  uv_async_t wake{};  // jobs are waiting, or the watcher is going
  std::thread thread;
  std::thread::id id;
  std::mutex mu;
  std::vector<std::function<void()>> jobs;  // under mu
  bool quit = false;                        // under mu
};

DirWatcher::DirWatcher(std::string_view unavailable_warning)
    : unavailable_warning_(unavailable_warning) {
  loop_ = std::make_unique<Loop>();
  if (uv_loop_init(&loop_->loop) != 0) {
    spdlog::warn("{}", unavailable_warning_);
    loop_.reset();
    return;
  }
  loop_->wake.data = this;
  uv_async_init(&loop_->loop, &loop_->wake, [](uv_async_t* a) {
    auto* self = static_cast<DirWatcher*>(a->data);
    Loop& l = *self->loop_;
    std::vector<std::function<void()>> jobs;
    bool quit;
    {
      std::lock_guard<std::mutex> lock(l.mu);
      jobs.swap(l.jobs);
      quit = l.quit;
    }
    for (const auto& job : jobs) job();
    if (!quit) return;
    std::lock_guard<std::mutex> lock(self->mu_);
    for (auto& [dir, e] : self->entries_) self->Disarm(*e);
    uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);  // then uv_run returns
  });
  loop_->thread = std::thread([l = loop_.get()] { uv_run(&l->loop, UV_RUN_DEFAULT); });
  loop_->id = loop_->thread.get_id();  // read by callbacks, which come after this
}

DirWatcher::~DirWatcher() {
  Shutdown();
  if (!loop_) return;
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    loop_->quit = true;
  }
  uv_async_send(&loop_->wake);
  loop_->thread.join();
  uv_loop_close(&loop_->loop);
}

bool DirWatcher::OnLoop(const std::function<void()>& job) {
  if (!loop_) return false;
  if (std::this_thread::get_id() == loop_->id) {
    job();
    return true;
  }
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    loop_->jobs.push_back([&] {
      job();
      std::lock_guard<std::mutex> l(m);  // notified under the lock: the waiter's cv lives on
      done = true;
      cv.notify_one();
    });
  }
  uv_async_send(&loop_->wake);
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return done; });
  return true;
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

void DirWatcher::Free(uv_handle_t* h) { delete static_cast<DirWatch*>(h->data); }

bool DirWatcher::Arm(Entry& e) {
  auto* w = new DirWatch;
  w->watcher = this;
  w->entry = &e;
  w->handle.data = w;
  uv_fs_event_init(&loop_->loop, &w->handle);
  int rc = uv_fs_event_start(
      &w->handle,
      [](uv_fs_event_t* h, const char* file, int events, int status) {
        auto* w = static_cast<DirWatch*>(h->data);
        if (status == 0) w->watcher->Changed(*w, file, (events & UV_RENAME) != 0);
      },
      e.dir.c_str(), 0);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), Free);
    // A missing directory is the caller's to wait for; anything else is the system's limit.
    if (rc != UV_ENOENT && rc != UV_ENOTDIR && !warned_) {
      warned_ = true;
      spdlog::warn("{} ({}: {})", unavailable_warning_, e.dir, uv_strerror(rc));
    }
    return false;
  }
  struct stat st {};
  if (stat(e.dir.c_str(), &st) == 0) {
    w->dev = st.st_dev;
    w->ino = st.st_ino;
  }
  Disarm(e);  // after the new one started: the same directory is never unwatched
  e.watch = w;
  return true;
}

void DirWatcher::Disarm(Entry& e) {
  if (!e.watch) return;
  e.watch->entry = nullptr;
  uv_fs_event_stop(&e.watch->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&e.watch->handle), Free);
  e.watch = nullptr;
}

std::unique_ptr<DirWatcher::Handle> DirWatcher::Watch(const std::string& dir) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++EntryFor(dir).refs;
  }
  // The directory may not exist yet (a stream can start before its run): Wait() tries again.
  OnLoop([&] {
    std::lock_guard<std::mutex> lock(mu_);
    (void)Arm(*entries_.at(dir));
  });
  return std::unique_ptr<Handle>(new Handle(*this, dir));
}

bool DirWatcher::OnFile(const std::string& dir, const std::string& name,
                        std::function<void()> callback) {
  bool watched = false;
  OnLoop([&] {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = EntryFor(dir);
    if (!Arm(e)) {
      if (!e.watch && e.refs == 0 && e.on_file.empty()) entries_.erase(dir);
      return;
    }
    e.on_file[name] = std::move(callback);
    watched = true;
  });
  return watched;
}

void DirWatcher::Release(const std::string& dir) {
  auto drop = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(dir);
    if (it == entries_.end() || --it->second->refs > 0) return;
    if (!it->second->on_file.empty()) return;  // still watched for its files
    if (loop_) Disarm(*it->second);
    entries_.erase(it);
  };
  if (!OnLoop(drop)) drop();
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

void DirWatcher::Changed(DirWatch& w, const char* file, bool renamed) {
  std::function<void()> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry* e = w.entry;
    if (!e) return;
    ++e->generation;
    e->cv.notify_all();
    if (file) {
      auto f = e->on_file.find(file);
      if (f != e->on_file.end()) due = f->second;
    }
    struct stat st {};
    bool gone =
        renamed && (stat(e->dir.c_str(), &st) != 0 || st.st_dev != w.dev || st.st_ino != w.ino);
    if (gone) {
      // The directory was removed (or replaced) and its watch went with it; a handle's Wait()
      // watches it again if it comes back.
      e->on_file.clear();
      Disarm(*e);
      if (e->refs == 0) entries_.erase(std::string(e->dir));  // `e` is gone after this
    }
  }
  if (due) due();  // unlocked: a callback may use the watcher
}

DirWatcher::Handle::~Handle() { watcher_.Release(dir_); }

uint64_t DirWatcher::Handle::generation() const {
  std::lock_guard<std::mutex> lock(watcher_.mu_);
  return watcher_.entries_.at(dir_)->generation;
}

bool DirWatcher::Handle::Wait(uint64_t seen, std::chrono::milliseconds timeout) const {
  bool watched;
  {
    std::lock_guard<std::mutex> lock(watcher_.mu_);
    watched = watcher_.entries_.at(dir_)->watch != nullptr;
  }
  // The run directory may not exist yet when a stream starts: watch it once it does.
  if (!watched) {
    watcher_.OnLoop([&] {
      std::lock_guard<std::mutex> lock(watcher_.mu_);
      Entry& e = *watcher_.entries_.at(dir_);
      if (!e.watch) (void)watcher_.Arm(e);
    });
  }
  std::unique_lock<std::mutex> lock(watcher_.mu_);
  Entry& e = *watcher_.entries_.at(dir_);
  // Without a watch nothing bumps the generation: look again soon.
  if (!e.watch) timeout = std::min(timeout, std::chrono::milliseconds(100));
  return e.cv.wait_for(lock, timeout, [&] { return e.generation != seen || watcher_.stopped_; }) &&
         !watcher_.stopped_;
}

}  // namespace orch
