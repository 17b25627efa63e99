// Signal handling for the lab: blocked signals read from a signalfd instead of async handlers.
#include "lab/signal_guard.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <time.h>

#include <cmath>
#include <utility>
#include "util/time.h"

namespace cd {

sigset_t lab_signal_set() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  return s;
}

Result<SignalGuard> SignalGuard::install() {
  SignalGuard g;
  sigset_t set = lab_signal_set();
  if (sigprocmask(SIG_BLOCK, &set, &g.old_) != 0) return fail_errno("sigprocmask");
  g.active_ = true;  // from here on the destructor restores the old mask
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return fail_errno("signalfd");
  g.fd_.reset(fd);
  return g;
}

SignalGuard::SignalGuard(SignalGuard&& o) noexcept
    : old_(o.old_),
      fd_(std::move(o.fd_)),
      received_(o.received_),
      active_(std::exchange(o.active_, false)) {}

int SignalGuard::check() {
  if (!fd_) return received_;
  signalfd_siginfo si{};
  while (::read(fd_.get(), &si, sizeof si) == ssize_t(sizeof si)) {
    if (received_ == 0) received_ = int(si.ssi_signo);
  }
  return received_;
}

SignalGuard::~SignalGuard() {
  if (!active_) return;
  // Consume what is still pending, or unblocking would deliver it with its default action
  // (termination) after the lab has already turned it into an error value.
  check();
  sigset_t set = lab_signal_set();
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) > 0) {
  }
  sigprocmask(SIG_SETMASK, &old_, nullptr);
}

double SignalAwareClock::now_s() {
  return mono_now_s();
}

void SignalAwareClock::sleep_s(double s) {
  double end = now_s() + s;
  for (;;) {
    double left = end - now_s();
    if (left <= 0) return;
    pollfd p{signal_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, int(std::ceil(left * 1000)));
    if (r > 0) return;  // a signal is pending: the caller checks the guard
  }
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

}  // namespace cd
