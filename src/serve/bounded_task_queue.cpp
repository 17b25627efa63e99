// Bounded worker pool for the HTTP server (see bounded_task_queue.h).
#include "serve/bounded_task_queue.h"

namespace cd {

BoundedTaskQueue::BoundedTaskQueue(std::size_t threads, std::size_t max_queued)
    : max_queued_(max_queued == 0 ? 1 : max_queued) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

BoundedTaskQueue::~BoundedTaskQueue() {
  shutdown();
}

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock lk(mu_);
  // Backpressure: wait for room. Workers always make progress (each connection is bounded by
  // the server's read/write timeouts and keep-alive limits), so this wait ends.
  has_room_.wait(lk, [&] { return jobs_.size() < max_queued_ || stopping_; });
  jobs_.push_back(std::move(fn));
  lk.unlock();
  has_job_.notify_one();
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  has_job_.notify_all();
  has_room_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void BoundedTaskQueue::work() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock lk(mu_);
      has_job_.wait(lk, [&] { return !jobs_.empty() || stopping_; });
      if (jobs_.empty()) return;  // stopping and drained
      fn = std::move(jobs_.front());
      jobs_.pop_front();
    }
    has_room_.notify_one();
    // httplib's connection handler does not throw; if it ever did, the pool must not lose
    // a worker (the server would slowly stop answering).
    try {
      fn();
    } catch (...) {
    }
  }
}

}  // namespace cd
