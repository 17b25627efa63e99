// Lab client processes: connection churn, held connections, unanswered SYNs, a port stolen
// from a service.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "lab/generators.h"
#include "lab/sock_util.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kUntilStop = 1e9;  // wait_stop() is capped by the worker's deadline anyway

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

std::string destinations_text(const std::vector<Endpoint>& d) {
  if (d.size() == 1) return d[0].to_string();
  return _f("{0} destinations ({1} .. {2})", d.size(), d.front().to_string(), d.back().to_string());
}

// Blocking connect bounded by SO_SNDTIMEO (then connect() fails with EINPROGRESS).
int connect_once(const Endpoint& dst, int& err) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sin = to_sockaddr(dst);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the server's FIN (bounded), so that the server is the one that closed first.
void drain_until_eof(WorkerLink& link, int fd) {
  char buf[256];
  double end = WorkerLink::now() + 1.0;
  while (WorkerLink::now() < end) {
    if (link.wait_fd(fd, POLLIN, 0.2) == 0) {
      if (link.stop_requested()) return;
      continue;
    }
    if (::read(fd, buf, sizeof buf) <= 0) return;
  }
}

int churn(const ClientConfig& cfg, WorkerLink& link) {
  auto before = read_tcp_counters();
  const double start = WorkerLink::now();
  uint64_t attempts = 0, successes = 0, refused_at_start = 0;
  ErrnoTally errors;
  std::vector<UniqueFd> held;
  bool ready = false;
  double next = start;

  auto maybe_ready = [&] {
    if (ready) return;
    double t = WorkerLink::now() - start;
    if (cfg.ready_on_eaddrnotavail && errors.of(EADDRNOTAVAIL) > 0) {
      link.ready(
          _f("connect() to {0} failed with EADDRNOTAVAIL at attempt {1}, {2} in, after {3} "
             "successful connects",
             destinations_text(cfg.destinations), with_commas(attempts), seconds_text(t),
             with_commas(successes)));
    } else if (cfg.ready_after_successes > 0 && successes >= cfg.ready_after_successes) {
      link.ready("");
    } else if (t >= cfg.ready_timeout_s) {
      link.ready(cfg.ready_on_eaddrnotavail
                     ? _f("client: no EADDRNOTAVAIL within {0}", seconds_text(cfg.ready_timeout_s))
                     : _f("client: the load was not reached within {0}",
                          seconds_text(cfg.ready_timeout_s)));
    } else {
      return;
    }
    ready = true;
  };

  while (attempts < cfg.max_attempts && !link.stop_requested()) {
    if (attempts >= cfg.burst) {
      if (cfg.rate_per_s <= 0) break;
      double now = WorkerLink::now();
      // Pace without bursting to catch up after a slow stretch.
      next = std::max(next + 1.0 / cfg.rate_per_s, now - 0.05);
      if (next > now && link.wait_stop(next - now)) break;
    }
    const Endpoint& dst = cfg.destinations[attempts % cfg.destinations.size()];
    ++attempts;
    int err = 0;
    int fd = connect_once(dst, err);
    if (fd < 0) {
      // The server may still be starting: refusals before the first success are not load.
      if (err == ECONNREFUSED && successes == 0 && WorkerLink::now() - start < 2) {
        ++refused_at_start;
        --attempts;
        link.wait_stop(0.01);
      } else {
        errors.add(err);
      }
      maybe_ready();
      continue;
    }
    ++successes;
    switch (cfg.close) {
      case ClientConfig::Close::kClientFirst:
        ::close(fd);
        break;
      case ClientConfig::Close::kServerFirst:
        drain_until_eof(link, fd);
        ::close(fd);
        break;
      case ClientConfig::Close::kHold:
        held.emplace_back(fd);
        break;
    }
    maybe_ready();
  }
  const double elapsed = WorkerLink::now() - start;
  while (!ready && !link.stop_requested()) {
    maybe_ready();
    if (!ready) link.wait_stop(0.05);
  }
  link.wait_stop(kUntilStop);  // hold (connections, TIME_WAIT) until the lab is done

  std::string how = cfg.close == ClientConfig::Close::kClientFirst   ? _("client closes first")
                    : cfg.close == ClientConfig::Close::kServerFirst ? _("server closes first")
                                                                     : _("connections held open");
  std::string text =
      _f("{0} connects to {1} in {2} ({3}): {4} succeeded", with_commas(attempts),
         destinations_text(cfg.destinations), seconds_text(elapsed), how, with_commas(successes));
  if (errors.total() > 0) text += ", " + errors.describe();
  link.observe(text);
  if (!cfg.counters.empty()) {
    auto after = read_tcp_counters();
    for (const std::string& name : cfg.counters) {
      auto b = before.find(name), a = after.find(name);
      if (b == before.end() || a == after.end()) continue;
      link.observe(_f("{0} rose by {1} during the run (read by the generator)", name,
                      with_commas(uint64_t(std::max<int64_t>(0, a->second - b->second)))));
    }
  }
  return 0;
}

struct PendingConnect {
  UniqueFd fd;
  double started = 0;
};

int syn_flood(const SynConfig& cfg, WorkerLink& link) {
  const double start = WorkerLink::now();
  std::vector<PendingConnect> pending;
  std::vector<UniqueFd> done;
  uint64_t started = 0, completed = 0;
  ErrnoTally errors;
  bool ready = false;
  double next = start;
  const sockaddr_in sin = to_sockaddr(cfg.destination);

  while (!link.stop_requested()) {
    double now = WorkerLink::now();
    if (started < cfg.max_sockets && now >= next) {
      next += 1.0 / cfg.rate_per_s;
      ++started;
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) {
        errors.add(errno);
      } else if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0) {
        ++completed;
        done.push_back(std::move(fd));
      } else if (errno == EINPROGRESS) {
        pending.push_back({std::move(fd), now});
      } else {
        errors.add(errno);
      }
    }
    std::vector<pollfd> fds;
    for (auto& p : pending) fds.push_back({p.fd.get(), POLLOUT, 0});
    fds.push_back({link.control_fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 20);
    for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      int so_error = 0;
      socklen_t len = sizeof so_error;
      ::getsockopt(pending[i].fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error == 0) {
        ++completed;
        done.push_back(std::move(pending[i].fd));
      } else {
        errors.add(so_error);
        pending[i].fd.reset();
      }
    }
    std::erase_if(pending, [](const PendingConnect& p) { return !p.fd; });
    now = WorkerLink::now();
    auto stuck = std::count_if(pending.begin(), pending.end(), [&](const PendingConnect& p) {
      return now - p.started >= cfg.stuck_after_s;
    });
    if (!ready && uint32_t(stuck) >= cfg.ready_stuck) {
      link.ready(_f("{0} connects to {1} unanswered for over {2} after {3} completed: {4}",
                    with_commas(uint64_t(stuck)), cfg.destination.to_string(),
                    seconds_text(cfg.stuck_after_s), with_commas(completed), _(cfg.why.c_str())));
      ready = true;
    } else if (!ready && now - start >= cfg.ready_timeout_s) {
      link.ready(
          _f("client: no connect stayed unanswered within {0}", seconds_text(cfg.ready_timeout_s)));
      ready = true;
    }
  }
  std::string text =
      _f("{0} non-blocking connects to {1} at {2}/s: {3} completed the handshake, {4} still "
         "waiting for a SYN-ACK",
         with_commas(started), cfg.destination.to_string(), int(cfg.rate_per_s),
         with_commas(completed), with_commas(pending.size()));
  if (errors.total() > 0) text += ", " + errors.describe();
  link.observe(text);
  return 0;
}

int steal_port(const Endpoint& service, WorkerLink& link) {
  auto range = read_proc_text("/proc/sys/net/ipv4/ip_local_port_range");
  auto reserved = read_proc_text("/proc/sys/net/ipv4/ip_local_reserved_ports");
  std::string where = range ? *range : "?";
  std::replace(where.begin(), where.end(), '\t', '-');
  link.observe(
      _f("the service port {0} is inside ip_local_port_range {1}; "
         "ip_local_reserved_ports: {2}",
         service.port, where, reserved && !reserved->empty() ? *reserved : std::string(_("none"))));

  int fd = -1, err = 0;
  for (double end = WorkerLink::now() + 3; fd < 0 && WorkerLink::now() < end;) {
    fd = connect_once(service, err);
    if (fd < 0 && (err != ECONNREFUSED || link.wait_stop(0.02))) break;
  }
  if (fd < 0) {
    link.error("connect " + service.to_string() + ": " + std::strerror(err));
    return 1;
  }
  UniqueFd conn(fd);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  uint16_t port = ntohs(local.sin_port);

  // A second service starting now on the port an outbound connect() took: bind() conflicts
  // with the connected socket (inet_csk_bind_conflict(): neither may share the port).
  UniqueFd svc(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(svc.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in want{};
  want.sin_family = AF_INET;
  want.sin_port = htons(port);
  int rc = ::bind(svc.get(), reinterpret_cast<sockaddr*>(&want), sizeof want);
  int bind_err = errno;
  link.ready(rc == 0 ? _f("an outbound connect() got local port {0}; a service starting "
                          "afterwards on 0.0.0.0:{0} could bind it",
                          port)
                     : _f("an outbound connect() got local port {0}; a service starting "
                          "afterwards on 0.0.0.0:{0} failed: bind() {1}",
                          port, errno_name(bind_err)));
  link.wait_stop(kUntilStop);
  return 0;
}

// bind(addr, 0) `count` sockets and hold them, never connecting: each takes a port of the range
// in a bind bucket of its own (inet_csk_get_port()), which connect() then skips for every
// destination.
int hold_bound(const Endpoint& addr, uint32_t count, WorkerLink& link) {
  std::vector<UniqueFd> held;
  held.reserve(count);
  int err = 0;
  uint16_t lo = UINT16_MAX, hi = 0;
  while (held.size() < count) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = to_sockaddr(Endpoint{addr.addr, 0});
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      err = errno;
      break;
    }
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len);
    lo = std::min(lo, ntohs(got.sin_port));
    hi = std::max(hi, ntohs(got.sin_port));
    held.push_back(std::move(fd));
  }
  if (held.empty()) {
    link.error("bind(" + addr.addr.to_string() + ":0): " + std::strerror(err));
    return 1;
  }
  std::string text =
      _f("{0} sockets bound to {1} port 0 and never connected: they hold ports {2}-{3}",
         with_commas(held.size()), addr.addr.to_string(), lo, hi);
  if (err != 0) text += _f(" (bind() then failed with {0})", errno_name(err));
  link.ready(text);
  link.wait_stop(kUntilStop);
  return 0;
}

// bind(source, 0) then connect(): inet_csk_find_open_port() takes the port, exclusively on that
// address, at bind() time; the bind bucket's fastreuse >= 0 keeps connect() of every other
// socket off the port afterwards.
int bind_then_connect(const BindConnectConfig& cfg, WorkerLink& link) {
  const double start = WorkerLink::now();
  std::vector<UniqueFd> held;
  ErrnoTally bind_errors, connect_errors;
  uint64_t binds = 0, first_failure_at = 0;
  uint32_t odd = 0;
  auto range = local_port_range();
  while (binds < cfg.max_binds && !link.stop_requested()) {
    if (WorkerLink::now() - start > cfg.ready_timeout_s) break;
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
      link.error(std::string("socket: ") + std::strerror(errno));
      return 1;
    }
    sockaddr_in src = to_sockaddr(Endpoint{cfg.source.addr, 0});
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      bind_errors.add(errno);
      if (errno != EADDRINUSE) break;
      if (first_failure_at == 0) first_failure_at = binds + 1;
      if (bind_errors.of(EADDRINUSE) > cfg.extra_failures) break;
      link.wait_stop(0.01);
      continue;
    }
    ++binds;
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len);
    if (range && ((ntohs(got.sin_port) - range->lo) & 1)) ++odd;
    timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in dst = to_sockaddr(cfg.destinations[binds % cfg.destinations.size()]);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      connect_errors.add(errno);
      continue;
    }
    held.push_back(std::move(fd));
  }
  // connect() without bind() shares ports across destinations: it still finds one.
  int plain_err = 0;
  UniqueFd plain(connect_once(cfg.plain_destination, plain_err));
  const uint64_t failed = bind_errors.of(EADDRINUSE);
  std::string text =
      failed > 0 ? _f("bind({0}, 0) failed {1} times with EADDRINUSE, after {2} successful binds "
                      "({3} on bind()'s parity), {4} connections held to {5}",
                      cfg.source.addr.to_string(), with_commas(failed), with_commas(binds),
                      with_commas(uint64_t(odd)), with_commas(held.size()),
                      destinations_text(cfg.destinations))
                 : _f("bind({0}, 0) never failed: {1} successful binds, {2} connections held",
                      cfg.source.addr.to_string(), with_commas(binds), with_commas(held.size()));
  if (connect_errors.total() > 0) text += "; connect() " + connect_errors.describe();
  text += plain ? _f("; a plain connect() to {0} (no bind) still succeeded",
                     cfg.plain_destination.to_string())
                : _f("; a plain connect() to {0} (no bind) failed with {1}",
                     cfg.plain_destination.to_string(), errno_name(plain_err));
  link.ready(text);
  link.wait_stop(kUntilStop);
  return 0;
}

}  // namespace

WorkerFn bind_connect_worker(BindConnectConfig cfg) {
  return [cfg](WorkerLink& link) { return bind_then_connect(cfg, link); };
}

WorkerFn client_worker(ClientConfig cfg) {
  return [cfg](WorkerLink& link) { return churn(cfg, link); };
}

WorkerFn syn_worker(SynConfig cfg) {
  return [cfg](WorkerLink& link) { return syn_flood(cfg, link); };
}

WorkerFn bind_hold_worker(Endpoint addr, uint32_t count) {
  return [addr, count](WorkerLink& link) { return hold_bound(addr, count, link); };
}

WorkerFn port_steal_worker(Endpoint service) {
  return [service](WorkerLink& link) { return steal_port(service, link); };
}

}  // namespace cd
