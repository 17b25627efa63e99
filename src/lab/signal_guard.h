// Blocks SIGINT, SIGTERM and SIGHUP for the length of a lab run and delivers them through a
// signalfd, so that every wait in the lab wakes on them and cleans up before it returns.
#pragma once

#include <signal.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {

class SignalGuard {
 public:
  // Blocks the signals (the calling process must be single-threaded: the mask is per thread)
  // and opens the signalfd that reports them.
  static Result<SignalGuard> install();

  SignalGuard(SignalGuard&& o) noexcept;
  SignalGuard& operator=(SignalGuard&&) = delete;
  SignalGuard(const SignalGuard&) = delete;
  ~SignalGuard();  // consumes what is still pending, restores the previous mask

  int fd() const { return fd_.get(); }
  // Reads the signalfd without blocking; returns the first signal received so far, 0 if none.
  int check();
  int received() const { return received_; }

 private:
  SignalGuard() = default;
  sigset_t old_{};
  UniqueFd fd_;
  int received_ = 0;
  bool active_ = false;
};

// The signal set the guard handles, for child processes that must undo it.
sigset_t lab_signal_set();

// A monotonic clock whose sleep returns early when a guarded signal is pending, so that the
// diagnosis' interval between two readings does not delay a Ctrl-C (Clock allows this).
class SignalAwareClock : public Clock {
 public:
  explicit SignalAwareClock(int signal_fd) : signal_fd_(signal_fd) {}
  double now_s() override;
  void sleep_s(double s) override;

 private:
  int signal_fd_;
};

// "SIGINT", "SIGTERM", "SIGHUP", or "signal N".
const char* signal_name(int sig);

}  // namespace cd
