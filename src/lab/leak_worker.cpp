// The fd-leak worker: opens a file per tick and never closes it, so its fd count climbs at a
// steady rate towards its own soft RLIMIT_NOFILE, the way a missing close() in a request path
// does. Bounded by a count and by the worker's deadline; its fds go when it exits.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "lab/generators.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

std::string seconds_text(double s) {
  return fmt::format("{:.1f} s", s);
}

int leak_fds(const FdLeakConfig& cfg, WorkerLink& link) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  std::vector<UniqueFd> leaked;
  leaked.reserve(cfg.stop_at);
  const double start = WorkerLink::now();
  double next = start;
  bool ready = false;
  int failed_errno = 0;
  while (!link.stop_requested()) {
    double now = WorkerLink::now();
    if (leaked.size() < cfg.stop_at && failed_errno == 0 && now >= next) {
      next += 1.0 / cfg.rate_per_s;
      UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!fd)
        failed_errno = errno;
      else
        leaked.push_back(std::move(fd));
    }
    if (!ready && (leaked.size() >= cfg.ready_at || now - start >= cfg.ready_timeout_s)) {
      link.ready(
          _f("cdlab-leaker (pid {0}) holds {1} of its {2} file descriptors after {3}, {4} "
             "more every second, none closed",
             ::getpid(), with_commas(leaked.size()), with_commas(uint64_t(lim.rlim_cur)),
             seconds_text(now - start), with_commas(uint64_t(cfg.rate_per_s))));
      ready = true;
    }
    link.wait_stop(std::max(0.0, std::min(next - WorkerLink::now(), 0.05)));
  }
  std::string text = _f("cdlab-leaker leaked {0} fds in {1}", with_commas(leaked.size()),
                        seconds_text(WorkerLink::now() - start));
  if (failed_errno != 0) text += _f(", then open() failed: {0}", errno_name(failed_errno));
  link.observe(text);
  return 0;
}

}  // namespace

WorkerFn fd_leak_worker(FdLeakConfig cfg) {
  return [cfg](WorkerLink& link) { return leak_fds(cfg, link); };
}

}  // namespace cd
