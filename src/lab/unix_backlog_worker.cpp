// Lab workers of the unix-backlog scenario: a server that listens on an abstract unix stream
// socket with a small backlog and never accepts (a PHP-FPM pool whose workers are all busy),
// and a client that connects without blocking until connect() fails with EAGAIN, as nginx's
// fastcgi_pass to a full pool does.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "lab/generators.h"
#include "lab/sock_util.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

// An abstract address (sun_path[0] = NUL): nothing in the filesystem to clean up, and the name
// belongs to the network namespace, so it cannot clash with the host's sockets.
socklen_t abstract_addr(const std::string& name, sockaddr_un& sun) {
  std::memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  const std::size_t n = std::min(name.size(), sizeof sun.sun_path - 1);
  std::memcpy(sun.sun_path + 1, name.data(), n);
  return socklen_t(offsetof(sockaddr_un, sun_path) + 1 + n);
}

int unix_server(const UnixBacklogConfig& cfg, WorkerLink& link) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    link.error(std::string("socket(AF_UNIX): ") + std::strerror(errno));
    return 1;
  }
  sockaddr_un sun;
  const socklen_t len = abstract_addr(cfg.name, sun);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sun), len) != 0) {
    link.error("bind(@" + cfg.name + "): " + std::strerror(errno));
    return 1;
  }
  if (::listen(fd.get(), cfg.backlog) != 0) {
    link.error("listen(@" + cfg.name + "): " + std::strerror(errno));
    return 1;
  }
  link.ready(_f("cdlab-unixsrv (pid {0}) listens on @{1} (backlog {2}) and never calls accept()",
                ::getpid(), cfg.name, cfg.backlog));
  while (!link.wait_stop(1.0)) {
  }
  return 0;
}

int unix_client(const UnixBacklogConfig& cfg, WorkerLink& link) {
  sockaddr_un sun;
  const socklen_t len = abstract_addr(cfg.name, sun);
  std::vector<UniqueFd> held;  // connected, queued at the listener, never accepted
  ErrnoTally errors;
  uint32_t attempts = 0;
  bool ready = false;
  const double start = WorkerLink::now();
  auto summary = [&] {
    std::string text =
        _f("{0} non-blocking connects to @{1}: {2} connected (queued, never "
           "accepted)",
           attempts, cfg.name, held.size());
    if (errors.total() > 0) text += ", " + errors.describe();
    return text;
  };
  while (!link.stop_requested() && attempts < cfg.max_attempts) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
      link.error(std::string("socket(AF_UNIX): ") + std::strerror(errno));
      return 1;
    }
    ++attempts;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), len) == 0)
      held.push_back(std::move(fd));
    else
      errors.add(errno);
    if (!ready && errors.of(EAGAIN) > 0) {
      link.ready(_f("{0}: the listener's backlog is full", summary()));
      ready = true;
    } else if (!ready && WorkerLink::now() - start >= cfg.ready_timeout_s) {
      link.ready(_f("client: connect() never failed with EAGAIN ({0})", summary()));
      ready = true;
    }
    // Before EAGAIN as fast as it goes; after it, a slow retry keeps the failure live.
    if (ready && link.wait_stop(0.1)) break;
  }
  link.observe(_f("at the end: {0}", summary()));
  while (!link.wait_stop(1.0)) {  // hold the queued connections until the lab stops
  }
  return 0;
}

}  // namespace

WorkerFn unix_backlog_server_worker(UnixBacklogConfig cfg) {
  return [cfg](WorkerLink& link) { return unix_server(cfg, link); };
}

WorkerFn unix_backlog_client_worker(UnixBacklogConfig cfg) {
  return [cfg](WorkerLink& link) { return unix_client(cfg, link); };
}

}  // namespace cd
