// Lab clients whose connects fail on purpose (connect-timeout, connect-refused): a fixed number
// of connects, each outcome counted here, so that the lab can compare `trace` with an exact
// ground truth.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

#include "lab/generators.h"
#include "lab/sock_util.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

// True once the socket reached CLOSE (TCP_INFO reads the state without the socket lock).
bool closed(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || ti.tcpi_state == TCP_CLOSE;
}

// One connect: the socket when it is in flight (non-blocking), nothing when its outcome is
// known already (`err`: 0 connected, else the errno).
UniqueFd start_connect(const ConnectFailConfig& cfg, const sockaddr_in& sin, int& err) {
  const int type = SOCK_STREAM | SOCK_CLOEXEC | (cfg.blocking ? 0 : SOCK_NONBLOCK);
  UniqueFd fd(::socket(AF_INET, type, 0));
  if (!fd) {
    err = errno;
    return {};
  }
  if (cfg.syn_count > 0)
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_SYNCNT, &cfg.syn_count, sizeof cfg.syn_count);
  if (cfg.blocking) {
    timeval tv{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0) {
    err = 0;
    return {};
  }
  if (!cfg.blocking && errno == EINPROGRESS) return fd;
  err = errno;
  return {};
}

int connect_fail(const ConnectFailConfig& cfg, WorkerLink& link) {
  const auto before = read_tcp_counters();
  const sockaddr_in sin = to_sockaddr(cfg.destination);
  const double start = WorkerLink::now();
  std::vector<UniqueFd> pending;
  uint32_t started = 0;
  uint64_t connected = 0;
  ErrnoTally errors;
  double next = start;
  bool ready = false;

  auto outcome = [&](int err) {
    if (err == 0)
      ++connected;
    else
      errors.add(err);
  };
  auto summary = [&] {
    std::string text = cfg.blocking ? _f("{0} blocking connects to {1}", with_commas(started),
                                         cfg.destination.to_string())
                                    : _f("{0} non-blocking connects to {1}", with_commas(started),
                                         cfg.destination.to_string());
    if (cfg.syn_count > 0) text += " (TCP_SYNCNT " + std::to_string(cfg.syn_count) + ")";
    text += _f(": {0} connected", with_commas(connected));
    if (errors.total() > 0) text += ", " + errors.describe();
    if (!pending.empty()) text += _f(", {0} still in flight", with_commas(pending.size()));
    return text;
  };

  while (!link.stop_requested()) {
    const double now = WorkerLink::now();
    if (started < cfg.count && now >= next) {
      next += 1.0 / cfg.rate_per_s;
      ++started;
      int err = 0;
      UniqueFd fd = start_connect(cfg, sin, err);
      if (fd)
        pending.push_back(std::move(fd));
      else
        outcome(err);
    }
    std::vector<pollfd> fds;
    for (const UniqueFd& p : pending) fds.push_back({p.get(), POLLOUT, 0});
    fds.push_back({link.control_fd(), POLLIN, 0});
    const double wait = started < cfg.count ? std::max(0.0, next - WorkerLink::now()) : 0.05;
    ::poll(fds.data(), fds.size(), int(wait * 1000) + 1);
    for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      // The kernel sets the error before it moves the socket to CLOSE (tcp_done_with_error()),
      // and SO_ERROR takes the error away: read it only once the socket is closed, so that
      // `trace` has seen the error on the socket first (docs/trace.md, "a race").
      if ((fds[i].revents & POLLERR) && !closed(pending[i].get())) continue;
      int so_error = 0;
      socklen_t len = sizeof so_error;
      ::getsockopt(pending[i].get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
      outcome(so_error);
      pending[i].reset();
    }
    std::erase_if(pending, [](const UniqueFd& p) { return !p; });
    if (ready) continue;
    if (started == cfg.count && pending.empty()) {
      link.ready(summary() + ": " + _(cfg.why.c_str()));
      ready = true;
    } else if (WorkerLink::now() - start >= cfg.ready_timeout_s) {
      link.ready(_f("client: the connects did not all end within {0} s ({1})",
                    int(cfg.ready_timeout_s), summary()));
      ready = true;
    }
  }
  if (!pending.empty() || started < cfg.count) link.observe(_f("at the end: {0}", summary()));
  const auto after = read_tcp_counters();
  for (const char* name : {"TcpExt.TCPSynRetrans", "TcpExt.TCPRetransFail",
                           "TcpExt.TCPAbortOnTimeout", "Tcp.AttemptFails"}) {
    auto b = before.find(name), a = after.find(name);
    if (b == before.end() || a == after.end()) continue;
    link.observe(_f("{0} rose by {1} during the run (read by the generator)", name,
                    with_commas(uint64_t(std::max<int64_t>(0, a->second - b->second)))));
  }
  return 0;
}

}  // namespace

WorkerFn connect_fail_worker(ConnectFailConfig cfg) {
  return [cfg](WorkerLink& link) { return connect_fail(cfg, link); };
}

}  // namespace cd
