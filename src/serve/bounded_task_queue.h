// A fixed pool of worker threads with a bounded queue, for the requests of `conndoctor serve`
// that need a collection (/metrics, /report). The HTTP event loop hands them over and never
// waits: try_enqueue() refuses a job when the queue is full, and the server answers 503.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cd {

class BoundedTaskQueue {
 public:
  BoundedTaskQueue(std::size_t threads, std::size_t max_queued);
  ~BoundedTaskQueue();
  BoundedTaskQueue(const BoundedTaskQueue&) = delete;
  BoundedTaskQueue& operator=(const BoundedTaskQueue&) = delete;

  // False, without blocking, when max_queued jobs already wait for a worker (or after
  // shutdown()).
  bool try_enqueue(std::function<void()> fn);
  // Runs every queued job before the workers exit: each job owns a suspended request that
  // only the job resumes, so dropping one would leave its connection open forever.
  void shutdown();

 private:
  void work();

  std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable has_job_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cd
