// A second thread for one piece of work that runs beside the caller (the fd scan beside the
// socket dump), always joined: on scope exit it asks the work to stop and waits. After
// join() the process is single-threaded again as the kernel counts threads, which entering a
// network namespace checks (util/thread.h).
#pragma once

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <stop_token>
#include <system_error>
#include <thread>
#include <utility>

namespace cd {

class SideThread {
 public:
  SideThread() = default;
  SideThread(const SideThread&) = delete;
  SideThread& operator=(const SideThread&) = delete;
  ~SideThread() { stop_and_join(); }

  // Runs `work(stop_token)` on a new thread. Only one piece of work per SideThread. False
  // when no thread can be started (EAGAIN: RLIMIT_NPROC, threads-max, a cgroup's pids.max):
  // the caller then does the work itself.
  bool start(std::function<void(std::stop_token)> work) {
    try {
      thread_ = std::jthread([this, w = std::move(work)](std::stop_token stop) {
        tid_.store(pid_t(::syscall(SYS_gettid)));
        w(stop);
      });
    } catch (const std::system_error&) {
      return false;
    }
    return true;
  }

  bool running() const { return thread_.joinable(); }

  // Asks the work to stop (it may ignore it) and waits for it; see join().
  void stop_and_join() {
    if (thread_.joinable()) thread_.request_stop();
    join();
  }

  // Waits for the work to finish, then for the kernel to release the thread.
  void join() {
    if (!thread_.joinable()) return;
    thread_.join();
    wait_released();
  }

 private:
  // pthread_join() returns once the thread cleared its tid (mm_release(), early in do_exit());
  // /proc/self/task and the "Threads:" count drop it only in release_task(), a moment later.
  // tgkill(.., 0) fails with ESRCH exactly from then on. Bounded: 1 s, 20 µs steps.
  void wait_released() {
    const pid_t tid = tid_.exchange(0);
    if (tid <= 0) return;
    const pid_t self = ::getpid();
    for (int i = 0; i < 50'000; ++i) {
      if (::syscall(SYS_tgkill, self, tid, 0) != 0) return;
      timespec pause{0, 20'000};
      ::nanosleep(&pause, nullptr);
    }
  }

  std::atomic<pid_t> tid_{0};
  std::jthread thread_;  // last: destroyed (joined) before the members it uses
};

}  // namespace cd
