#include "base/work_queue.h"

#include <utility>

namespace orch {

WorkQueue::WorkQueue(int workers, std::function<void()> wake) : wake_(std::move(wake)) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

WorkQueue::~WorkQueue() { Stop(); }

void WorkQueue::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_ -= static_cast<int>(queued_.size());
    queued_.clear();
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WorkQueue::Work() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return stopping_ || !queued_.empty(); });
      if (stopping_) return;
      job = std::move(queued_.front());
      queued_.pop_front();
    }
    Apply apply = job();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!stopping_) done_.push_back(std::move(apply));
      --pending_;
    }
    cv_.notify_all();
    if (wake_ && !stopping_) wake_();
  }
}

void WorkQueue::Submit(Job job) {
  if (threads_.empty()) {
    Apply apply = job();
    std::lock_guard<std::mutex> l(mu_);
    if (!stopping_) done_.push_back(std::move(apply));
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    queued_.push_back(std::move(job));
    ++pending_;
  }
  cv_.notify_all();
}

int WorkQueue::ApplyDone() {
  std::vector<Apply> done;
  {
    std::lock_guard<std::mutex> l(mu_);
    done.swap(done_);
  }
  for (auto& apply : done) {
    if (apply) apply();
  }
  return static_cast<int>(done.size());
}

void WorkQueue::Drain() {
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return pending_ == 0; });
  }
  ApplyDone();
}

int WorkQueue::in_flight() const {
  std::lock_guard<std::mutex> l(mu_);
  return pending_ + static_cast<int>(done_.size());
}

}  // namespace orch
