// InboxWriter: the receiver's group commit into the webhook inbox.
//
// Every request thread calls Submit() and blocks until its delivery is committed. The first
// waiting thread becomes the leader: it takes every delivery queued behind it (up to a batch
// limit), stores them all in one transaction through its Store, hands each writer its
// outcome, and passes leadership on (after leveldb's DBImpl::Write). Under load one commit
// carries many deliveries; alone, a delivery is committed at once. A 2xx is only ever sent after
// Submit() returned, and the store returns only once the batch's payloads (one fdatasync) and
// rows (one synchronous=FULL commit) are on stable storage, so no acknowledged delivery can be
// lost to a crash or a power loss. The group commit is what makes that affordable: one batch,
// two syncs, however many deliveries.
//
// Checkpoints: the leader's connection does not copy the bulk of the WAL (that would make
// requests wait for fsyncs). A background thread checkpoints through its own connection every
// kCheckpointEvery deliveries or 1 s of activity, passively, so writers are not blocked. (Less
// often is cheaper: a page changed by many commits is copied once per checkpoint.) When one has
// finished, the next leader checkpoints the short tail written meanwhile before passing
// leadership on (answering its batch first), so the WAL restarts from its start instead of
// growing for as long as load lasts.
//
// Thread safety: Submit() may be called from any number of threads. The store passed in is used
// only by the current leader, so it must not be used elsewhere meanwhile.
#ifndef ORCH_RECEIVER_INBOX_WRITER_H_
#define ORCH_RECEIVER_INBOX_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace orch {

class InboxWriter {
 public:
  // `checkpointer`: a second connection to the same database for the checkpoint thread; null
  // leaves checkpoints to SQLite's default (on commit).
  InboxWriter(Store& store, std::unique_ptr<Store> checkpointer = nullptr, size_t max_batch = 512);
  ~InboxWriter();
  InboxWriter(const InboxWriter&) = delete;
  InboxWriter& operator=(const InboxWriter&) = delete;

  // Stores `delivery` durably (see Store::StoreDeliveries) and returns its outcome; the
  // store's error when the batch it rode in could not be committed.
  Result<InboxOutcome> Submit(NewDelivery delivery);
  // Stores several deliveries as one writer (they ride in the same commit) and returns their
  // outcomes in order; the store's error when the batch could not be committed. An event-loop
  // receiver hands over everything it has read at once this way.
  Result<std::vector<InboxOutcome>> SubmitAll(std::vector<NewDelivery> deliveries);

  // How many transactions and deliveries so far (the benchmark prints their ratio).
  uint64_t commits() const;
  uint64_t submitted() const;
  // Time spent inside commits, in microseconds (how busy the one writer is).
  uint64_t commit_micros() const;

 private:
  struct Writer;

  void CheckpointLoop();
  // Submit and SubmitAll. `gather`: a leader with a short queue first lets other request
  // threads join its batch (right for one thread per request; a SubmitAll caller has gathered).
  Result<std::vector<InboxOutcome>> Write(std::vector<NewDelivery> deliveries, bool gather);
  // The front of the queue, up to max_batch_ writers, the leader first. Requires mu_.
  std::vector<Writer*> TakeBatch();
  // Moves the batch's deliveries out, in order (each writer's in turn).
  static std::vector<NewDelivery> Deliveries(const std::vector<Writer*>& batch);

  static constexpr uint64_t kCheckpointEvery = 8192;
  // A leader with fewer writers queued than this yields the CPU once before taking its batch.
  static constexpr size_t kGatherBelow = 8;

  Store& store_;
  std::unique_ptr<Store> checkpointer_;
  const size_t max_batch_;
  std::condition_variable checkpoint_cv_;
  uint64_t checkpointed_at_ = 0;  // submitted_ when the last checkpoint began
  bool stopping_ = false;
  bool tail_checkpoint_due_ = false;  // the checkpoint thread finished one; the leader ends it
  std::thread checkpoint_thread_;
  mutable std::mutex mu_;
  std::deque<Writer*> queue_;  // front: the leader, writing or about to
  uint64_t commits_ = 0;
  uint64_t submitted_ = 0;
  uint64_t commit_micros_ = 0;
};

}  // namespace orch

#endif  // ORCH_RECEIVER_INBOX_WRITER_H_
