// Lab server process: listens on loopback and treats its connections as the scenario needs.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "lab/generators.h"
#include "lab/sock_util.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

using Mode = ServerConfig::Mode;

struct ServerState {
  const ServerConfig& cfg;
  WorkerLink& link;
  int listen_fd;
  int ep;
  double start;
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t peer_closed = 0;  // read() returned 0
  ErrnoTally accept_errors;
  std::string socket_after_emfile;  // what socket() said once accept() hit EMFILE
  double backoff_until = 0;         // listener paused until then (0: watched)
};

void on_accepted(ServerState& s, int fd) {
  ++s.accepted;
  switch (s.cfg.mode) {
    case Mode::kCloseFirst: {
      static const char kBye[] = "bye\n";
      (void)!::send(fd, kBye, sizeof kBye - 1, MSG_NOSIGNAL);
      ::close(fd);  // our FIN goes first: TIME_WAIT lands on the server side
      ++s.closed;
      return;
    }
    case Mode::kCloseAfterPeer:
    case Mode::kNeverClose: {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      ::epoll_ctl(s.ep, EPOLL_CTL_ADD, fd, &ev);
      return;
    }
    default:
      return;  // kAcceptUntilEmfile: held, never read
  }
}

// Stops watching the listener: epoll is level-triggered, so a listener we cannot accept from
// (EMFILE, or enough connections held) would wake the loop without end.
void pause_listener(ServerState& s, double seconds) {
  ::epoll_ctl(s.ep, EPOLL_CTL_DEL, s.listen_fd, nullptr);
  s.backoff_until = WorkerLink::now() + seconds;
}

void accept_all(ServerState& s) {
  for (uint32_t i = 0; i < 512; ++i) {
    if (s.cfg.mode != Mode::kCloseAfterPeer && s.cfg.mode != Mode::kCloseFirst &&
        s.accepted >= s.cfg.max_conns) {
      pause_listener(s, 1e9);
      return;
    }
    int fd = ::accept4(s.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accepted(s, fd);
      continue;
    }
    if (errno == EAGAIN || errno == EINTR) return;
    s.accept_errors.add(errno);
    if (errno == EMFILE && s.socket_after_emfile.empty()) {
      int probe = ::socket(AF_INET, SOCK_STREAM, 0);
      s.socket_after_emfile = probe < 0 ? errno_name(errno) : "success";
      if (probe >= 0) ::close(probe);
    }
    pause_listener(s, 0.2);
    return;
  }
}

void on_readable(ServerState& s, int fd) {
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EAGAIN) return;
    // EOF (or an error): the peer closed.
    ++s.peer_closed;
    if (s.cfg.mode == Mode::kNeverClose) {
      ::epoll_ctl(s.ep, EPOLL_CTL_DEL, fd, nullptr);  // leak it: CLOSE_WAIT stays
    } else {
      ::close(fd);
      ++s.closed;
    }
    return;
  }
}

std::string queue_text(int listen_fd) {
  auto q = accept_queue_of(listen_fd);
  if (!q) return "";
  return _f("accept queue {0} of {1}", q->len, q->limit);
}

std::string ready_text(const ServerState& s) {
  switch (s.cfg.mode) {
    case Mode::kNeverClose:
      return _f(
          "cdlab-server (pid {0}) accepted {1} connections; the peer closed {2} (read() "
          "returned 0), the server closed none",
          ::getpid(), with_commas(s.accepted), with_commas(s.peer_closed));
    case Mode::kAcceptUntilEmfile:
      return _f(
          "cdlab-fdhog (pid {0}) accepted {1} connections, then accept() failed with EMFILE "
          "(socket(): {2})",
          ::getpid(), with_commas(s.accepted), s.socket_after_emfile);
    default:
      return "";
  }
}

bool live(const ServerState& s) {
  switch (s.cfg.mode) {
    case Mode::kNeverClose:
      return s.peer_closed >= s.cfg.ready_after;
    case Mode::kAcceptUntilEmfile:
      return s.accept_errors.of(EMFILE) > 0;
    default:
      return true;  // listening is all the lab waits for
  }
}

std::string final_text(const ServerState& s) {
  const std::string where = s.cfg.listen.to_string();
  std::string q = queue_text(s.listen_fd);
  switch (s.cfg.mode) {
    case Mode::kNeverAccept:
      return _f("listener {0} (backlog {1}) never called accept(): {2}", where, s.cfg.backlog, q);
    case Mode::kAcceptUntilEmfile:
      return _f(
          "cdlab-fdhog at its soft RLIMIT_NOFILE: accept() on {0} failed {1} times with "
          "EMFILE; {2}",
          where, with_commas(s.accept_errors.of(EMFILE)), q);
    case Mode::kNeverClose:
      return _f("cdlab-server on {0} holds {1} accepted connections, {2} closed by the peer", where,
                with_commas(s.accepted), with_commas(s.peer_closed));
    case Mode::kCloseFirst:
      return _f("cdlab-server on {0} closed {1} connections first (before the client)", where,
                with_commas(s.closed));
    case Mode::kCloseAfterPeer:
      return _nf("cdlab-server on {0} accepted {1} connection, closed each after the client's FIN",
                 "cdlab-server on {0} accepted {1} connections, closed each after the client's FIN",
                 s.accepted, where, with_commas(s.accepted));
  }
  return "";
}

int serve(const ServerConfig& cfg, WorkerLink& link) {
  auto lfd = tcp_listen(cfg.listen, cfg.backlog);
  if (!lfd) {
    link.error(lfd.error().message);
    return 1;
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    link.error(std::string("epoll_create1: ") + std::strerror(errno));
    return 1;
  }
  ServerState s{cfg, link, lfd->get(), ep, WorkerLink::now()};
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = link.control_fd();
  ::epoll_ctl(ep, EPOLL_CTL_ADD, link.control_fd(), &ev);
  if (cfg.mode != Mode::kNeverAccept) {
    ev.data.fd = s.listen_fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, s.listen_fd, &ev);
  }

  bool ready = false;
  epoll_event events[128];
  while (!link.stop_requested()) {
    if (!ready && live(s)) {
      link.ready(ready_text(s));
      ready = true;
    }
    if (!ready && WorkerLink::now() - s.start > cfg.ready_timeout_s) {
      link.ready(_f("server: the failure did not happen within {0} s", int(cfg.ready_timeout_s)));
      ready = true;
    }
    int n = ::epoll_wait(ep, events, 128, 50);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == link.control_fd()) continue;  // stop_requested() sees it
      if (fd == s.listen_fd) {
        accept_all(s);
      } else {
        on_readable(s, fd);
      }
    }
    if (s.backoff_until > 0 && WorkerLink::now() >= s.backoff_until) {
      s.backoff_until = 0;  // retry after EMFILE: watch the listener again
      epoll_event lev{};
      lev.events = EPOLLIN;
      lev.data.fd = s.listen_fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, s.listen_fd, &lev);
      accept_all(s);
    }
  }
  link.observe(final_text(s));
  // Workers exit without closing each socket: the kernel closes them with the process.
  return 0;
}

}  // namespace

WorkerFn server_worker(ServerConfig cfg) {
  return [cfg](WorkerLink& link) { return serve(cfg, link); };
}

}  // namespace cd
