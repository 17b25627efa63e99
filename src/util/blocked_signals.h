// SIGINT and SIGTERM held back while an object of this type lives, and taken synchronously with
// sigtimedwait(): a wait ends early on either, the caller still writes its report, and the old
// mask comes back on every return path. For the main thread of a single-threaded process.
#pragma once

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>

namespace cd {

class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;

  // Waits up to `seconds` (returns at once when a signal is already pending); true when a
  // signal ended the wait. The signal is consumed.
  bool wait(double seconds) const {
    using clock = std::chrono::steady_clock;
    const auto end = clock::now() + std::chrono::duration<double>(std::max(seconds, 0.0));
    for (;;) {
      const double left = std::chrono::duration<double>(end - clock::now()).count();
      timespec ts{time_t(std::max(left, 0.0)),
                  long((std::max(left, 0.0) - std::floor(std::max(left, 0.0))) * 1e9)};
      if (sigtimedwait(&set_, nullptr, &ts) > 0) return true;
      if (errno != EAGAIN && errno != EINTR) return false;
      if (left <= 0) return false;
    }
  }

 private:
  sigset_t set_{}, old_{};
};

}  // namespace cd
