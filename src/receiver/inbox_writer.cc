#include "receiver/inbox_writer.h"

#include <sched.h>
#include <uv.h>

#include <chrono>
#include <utility>
#include <vector>

#include "base/platform.h"

namespace orch {

// A waiting request. It sleeps on its own semaphore, which is posted once: when a leader has
// written its delivery (`done`), or when it has become the leader. A semaphore rather than a
// condition variable so the leader can post after releasing mu_ (woken threads then do not
// block again on mu_ the leader still holds). libuv's, since macOS has no unnamed POSIX
// semaphores: on Linux it is glibc's sem_t, whose post touches nothing after waking the waiter
// (which may return and destroy it at once); on macOS a Mach semaphore, a kernel object the
// signalling call holds a reference to.
struct InboxWriter::Writer {
  explicit Writer(std::vector<NewDelivery> d) : deliveries(std::move(d)) { uv_sem_init(&wake, 0); }
  ~Writer() { uv_sem_destroy(&wake); }
  void Wait() { uv_sem_wait(&wake); }
  std::vector<NewDelivery> deliveries;
  Result<std::vector<InboxOutcome>> result = Status::Internal("delivery not written");
  bool done = false;  // written under mu_ before `wake` is posted
  uv_sem_t wake;
};

InboxWriter::InboxWriter(Store& store, std::unique_ptr<Store> checkpointer, size_t max_batch)
    : store_(store), checkpointer_(std::move(checkpointer)), max_batch_(max_batch) {
  if (!checkpointer_) return;
  if (!store_.SetWalAutoCheckpoint(0).ok()) {
    checkpointer_.reset();  // keep SQLite's own checkpoints rather than none
    return;
  }
  checkpoint_thread_ = std::thread([this] {
    SetThreadName("orch-checkpoint");
    CheckpointLoop();
  });
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
    checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(1000), [this] {
      return stopping_ || submitted_ - checkpointed_at_ >= kCheckpointEvery;
    });
    if (submitted_ != checkpointed_at_) {
      checkpointed_at_ = submitted_;
      lock.unlock();
      (void)checkpointer_->Checkpoint();  // busy or failed: the next round tries again
      lock.lock();
      tail_checkpoint_due_ = true;
    }
    if (stopping_) return;
  }
}

Result<InboxOutcome> InboxWriter::Submit(NewDelivery delivery) {
  std::vector<NewDelivery> one;
  one.push_back(std::move(delivery));
  Result<std::vector<InboxOutcome>> r = Write(std::move(one), /*gather=*/true);
  if (!r.ok()) return r.status();
  return r->front();
}

Result<std::vector<InboxOutcome>> InboxWriter::SubmitAll(std::vector<NewDelivery> deliveries) {
  if (deliveries.empty()) return std::vector<InboxOutcome>();
  return Write(std::move(deliveries), /*gather=*/false);
}

Result<std::vector<InboxOutcome>> InboxWriter::Write(std::vector<NewDelivery> deliveries,
                                                     bool gather) {
  Writer w(std::move(deliveries));
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&w);
  submitted_ += w.deliveries.size();
  if (&w != queue_.front()) {
    lock.unlock();
    w.Wait();
    if (w.done) return std::move(w.result);  // a leader wrote it for us
    lock.lock();                             // we lead now
  }
  if (gather && queue_.size() < kGatherBelow) {
    // A short batch: let the request threads that are runnable (parsing, verifying) queue up
    // first. One commit costs ~60 us plus ~20 us per delivery, so on a busy machine a bigger
    // batch saves CPU; alone, the yield returns at once and costs a syscall.
    lock.unlock();
    sched_yield();
    lock.lock();
  }
  std::vector<Writer*> batch = TakeBatch();
  lock.unlock();  // others may queue up behind the batch while it commits
  auto t0 = std::chrono::steady_clock::now();
  Result<std::vector<InboxOutcome>> stored = store_.StoreDeliveries(Deliveries(batch));
  auto spent = std::chrono::steady_clock::now() - t0;
  lock.lock();
  ++commits_;
  commit_micros_ += std::chrono::duration_cast<std::chrono::microseconds>(spent).count();
  size_t next = 0;  // each writer's outcomes are the next n of the batch's
  for (Writer* b : batch) {
    size_t n = b->deliveries.size();
    if (stored.ok()) {
      b->result = std::vector<InboxOutcome>(stored->begin() + static_cast<ptrdiff_t>(next),
                                            stored->begin() + static_cast<ptrdiff_t>(next + n));
    } else {
      b->result = stored.status();
    }
    next += n;
    b->done = true;
    queue_.pop_front();
  }
  Writer* next_leader = queue_.empty() ? nullptr : queue_.front();
  if (checkpointer_ && submitted_ - checkpointed_at_ >= kCheckpointEvery) {
    checkpoint_cv_.notify_one();
  }
  if (std::exchange(tail_checkpoint_due_, false)) {
    // The checkpoint thread has copied what was in the WAL when it began, but commits went on
    // meanwhile. Copying that short tail while no commit can run lets the next commit restart
    // the WAL from its start, overwriting blocks the file already has; otherwise, under
    // steady load, the WAL never restarts and every commit extends the file (new blocks cost
    // the filesystem far more than rewriting old ones). The batch is answered first; mu_ stays
    // held so that no one can lead, and use this connection, until the checkpoint is done.
    for (size_t i = 1; i < batch.size(); ++i) uv_sem_post(&batch[i]->wake);
    (void)store_.Checkpoint();  // busy or failed: the WAL just grows until the next one
    lock.unlock();
    if (next_leader) uv_sem_post(&next_leader->wake);
    return std::move(w.result);
  }
  lock.unlock();
  // The next commit first, then the answers; `w` (batch[0]) needs no wake-up.
  if (next_leader) uv_sem_post(&next_leader->wake);
  for (size_t i = 1; i < batch.size(); ++i) uv_sem_post(&batch[i]->wake);
  return std::move(w.result);
}

std::vector<InboxWriter::Writer*> InboxWriter::TakeBatch() {
  size_t n = std::min(queue_.size(), max_batch_);
  return std::vector<Writer*>(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
}

std::vector<NewDelivery> InboxWriter::Deliveries(const std::vector<Writer*>& batch) {
  std::vector<NewDelivery> deliveries;
  size_t n = 0;
  for (Writer* b : batch) n += b->deliveries.size();
  deliveries.reserve(n);
  for (Writer* b : batch) {
    for (NewDelivery& d : b->deliveries) deliveries.push_back(std::move(d));
  }
  return deliveries;
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
