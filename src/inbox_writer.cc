#include "inbox_writer.h"

#include <vector>

namespace orch {

struct InboxWriter::Writer {
  explicit Writer(NewDelivery d) : delivery(std::move(d)) {}
  NewDelivery delivery;
  Result<InboxOutcome> result = Status::Internal("delivery not written");
  bool done = false;
  std::condition_variable cv;
};

Result<InboxOutcome> InboxWriter::Submit(NewDelivery delivery) {
  Writer w(std::move(delivery));
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&w);
  ++submitted_;
  while (!w.done && &w != queue_.front()) w.cv.wait(lock);
  if (w.done) return std::move(w.result);  // a leader wrote it for us

  // We lead: write everything queued so far, ourselves first.
  size_t n = std::min(queue_.size(), max_batch_);
  std::vector<Writer*> batch(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
  std::vector<NewDelivery> deliveries;
  deliveries.reserve(n);
  for (Writer* b : batch) deliveries.push_back(std::move(b->delivery));
  lock.unlock();  // others may queue up behind the batch while it commits
  Result<std::vector<InboxOutcome>> stored = store_.StoreDeliveries(deliveries);
  lock.lock();
  ++commits_;
  for (size_t i = 0; i < n; ++i) {
    Writer* b = batch[i];
    b->result = stored.ok() ? Result<InboxOutcome>((*stored)[i]) : stored.status();
    b->done = true;
    queue_.pop_front();
    if (b != &w) b->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
  return std::move(w.result);
}

uint64_t InboxWriter::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

uint64_t InboxWriter::submitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return submitted_;
}

}  // namespace orch
