#include "inbox_writer.h"

#include <chrono>
#include <vector>

namespace orch {

struct InboxWriter::Writer {
  explicit Writer(NewDelivery d) : delivery(std::move(d)) {}
  NewDelivery delivery;
  Result<InboxOutcome> result = Status::Internal("delivery not written");
  bool done = false;
  std::condition_variable cv;
};

InboxWriter::InboxWriter(SqliteStore& store, std::unique_ptr<SqliteStore> checkpointer,
                         size_t max_batch)
    : store_(store), checkpointer_(std::move(checkpointer)), max_batch_(max_batch) {
  if (!checkpointer_) return;
  if (!store_.SetWalAutoCheckpoint(0).ok()) {
    checkpointer_.reset();  // keep SQLite's own checkpoints rather than none
    return;
  }
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
}

InboxWriter::~InboxWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

void InboxWriter::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] {
      return stopping_ || submitted_ - checkpointed_at_ >= kCheckpointEvery;
    });
    if (submitted_ != checkpointed_at_) {
      checkpointed_at_ = submitted_;
      lock.unlock();
      (void)checkpointer_->Checkpoint();  // busy or failed: the next round tries again
      lock.lock();
    }
    if (stopping_) return;
  }
}

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
  auto t0 = std::chrono::steady_clock::now();
  Result<std::vector<InboxOutcome>> stored = store_.StoreDeliveries(deliveries);
  auto spent = std::chrono::steady_clock::now() - t0;
  lock.lock();
  ++commits_;
  commit_micros_ += std::chrono::duration_cast<std::chrono::microseconds>(spent).count();
  for (size_t i = 0; i < n; ++i) {
    Writer* b = batch[i];
    b->result = stored.ok() ? Result<InboxOutcome>((*stored)[i]) : stored.status();
    b->done = true;
    queue_.pop_front();
    if (b != &w) b->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
  if (checkpointer_ && submitted_ - checkpointed_at_ >= kCheckpointEvery) {
    checkpoint_cv_.notify_one();
  }
  return std::move(w.result);
}

uint64_t InboxWriter::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

uint64_t InboxWriter::commit_micros() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commit_micros_;
}

uint64_t InboxWriter::submitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return submitted_;
}

}  // namespace orch
