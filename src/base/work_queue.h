// WorkQueue: orch's one way to run slow work off the engine's thread.
//
// A job runs on a worker thread and returns a closure; ApplyDone() runs those closures on the
// engine's thread during its Tick, so every store write still happens on one thread (DESIGN: one
// writer). Slow work is anything that waits: LLM routing, git fetch and push, GitHub calls, a
// flow's test command, a scheduled job's command. The wake callback (may be empty) is called
// after each job, from its worker, so the daemon ticks at once instead of at its next interval.
//
// Stopping: the destructor (or Stop()) drops jobs not yet started, raises stopping() (a child
// process given it as ProcessOptions::cancel is killed), waits for running jobs, and drops
// their closures: what they did not apply, the store still says, and the next start resumes it.
//
// With zero workers the queue runs each job inside Submit(), on the caller's thread; its
// closure still waits for ApplyDone(). Tests use this to drive decisions one step at a time.
//
// Thread safety: Submit(), ApplyDone(), Drain() and in_flight() on the engine's thread;
// stopping() from any thread.
#ifndef ORCH_BASE_WORK_QUEUE_H_
#define ORCH_BASE_WORK_QUEUE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace orch {

class WorkQueue {
 public:
  using Apply = std::function<void()>;
  using Job = std::function<Apply()>;

  explicit WorkQueue(int workers, std::function<void()> wake = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job`. Its closure (may be empty) runs in a later ApplyDone().
  void Submit(Job job);
  // Runs the closures of the jobs that finished, in the order they finished. Returns how many.
  int ApplyDone();
  // Waits until no job is queued or running, then applies them all (tests and shutdown).
  void Drain();
  // Jobs queued or running, not yet applied.
  int in_flight() const;
  // Raised once the queue stops: a long job should give up (ProcessOptions::cancel).
  const std::atomic<bool>& stopping() const { return stopping_; }
  // Drops what is queued, raises stopping() and waits for the running jobs. Idempotent.
  void Stop();

 private:
  void Work();

  std::function<void()> wake_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queued_;   // under mu_
  std::vector<Apply> done_;  // under mu_
  int pending_ = 0;          // submitted, not yet in done_ (under mu_)
  std::vector<std::thread> threads_;
};

}  // namespace orch

#endif  // ORCH_BASE_WORK_QUEUE_H_
