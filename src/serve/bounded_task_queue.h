// A fixed pool of worker threads with a bounded queue, for cpp-httplib's Server::new_task_queue.
// httplib's own ThreadPool queues accepted connections without limit; under a flood every
// queued connection holds an fd and memory. Here enqueue() blocks when the queue is full, so
// the accept loop stops accepting and the excess waits in the kernel's accept queue (bounded by
// the listen backlog) instead of in the exporter.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cd {

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(std::size_t threads, std::size_t max_queued);
  ~BoundedTaskQueue() override;

  void enqueue(std::function<void()> fn) override;
  // Runs every queued job before the workers exit: each job owns an accepted socket that only
  // the job closes, so dropping one would leak its fd.
  void shutdown() override;

 private:
  void work();

  std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable has_job_, has_room_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cd
