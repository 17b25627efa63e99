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

bool BoundedTaskQueue::try_enqueue(std::function<void()> fn) {
  std::unique_lock lk(mu_);
  if (stopping_ || jobs_.size() >= max_queued_) return false;
  jobs_.push_back(std::move(fn));
  lk.unlock();
  has_job_.notify_one();
  return true;
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  has_job_.notify_all();
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
    // The server's jobs catch what they throw; if one ever did not, the pool must not lose a
    // worker (the server would slowly stop answering).
    try {
      fn();
    } catch (...) {
    }
  }
}

}  // namespace cd
