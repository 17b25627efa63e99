// Makes the real recorded sock_diag dumps under tests/fixtures/dumps/: each scenario runs in a
// forked child that owns a fresh network namespace (so nothing on the host changes), builds the
// socket state for real on loopback with addresses from 198.18.0.0/15, and records a dump_all()
// through the recording source. Build and run with tests/tools/make-dump-fixtures.sh.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "collect/sock_source.h"
#include "collect/socket_aggregator.h"

namespace {

const char* kClient = "198.18.0.1";
const char* kServer = "198.18.0.2";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "make_dump_fixtures: %s: %s\n", what.c_str(), std::strerror(errno));
  ::_exit(1);
}

void set_flags_up(int fd, const char* ifname) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) die("SIOCSIFFLAGS");
}

void add_alias(int fd, const char* label, const char* addr) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, label, IFNAMSIZ - 1);
  auto* a = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
  a->sin_family = AF_INET;
  ::inet_pton(AF_INET, addr, &a->sin_addr);
  if (::ioctl(fd, SIOCSIFADDR, &ifr) != 0) die(std::string("SIOCSIFADDR ") + label);
}

// A fresh namespace with lo up and the two lab addresses on it. Not 127/8: tcp_tw_reuse=2
// (the default) would let connect() reuse loopback TIME_WAIT and hide the exhaustion.
void enter_lab() {
  if (::unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET)");
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  set_flags_up(fd, "lo");
  add_alias(fd, "lo:1", kClient);
  add_alias(fd, "lo:2", kServer);
  ::close(fd);
}

void write_sysctl(const char* path, const std::string& value) {
  std::ofstream f(path);  // /proc/sys/net of the lab namespace only
  f << value << "\n";
  if (!f) die(std::string("write ") + path);
}

sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

int listen_on(const char* ip, uint16_t port, int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = addr(ip, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind listener");
  if (::listen(fd, backlog) != 0) die("listen");
  return fd;
}

// Connects from kClient with the port chosen by connect() (IP_BIND_ADDRESS_NO_PORT keeps the
// per-destination sharing a plain connect() has). Returns -errno on failure.
int connect_from_client(uint16_t port, bool nonblock = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in src = addr(kClient, 0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) die("bind client");
  sockaddr_in dst = addr(kServer, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 &&
      !(nonblock && errno == EINPROGRESS)) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

void settle() {
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

void record(const std::string& path, cd::PortRange range) {
  auto live = cd::open_netlink_sock_source();
  if (!live) die(live.error().message);
  auto rec = cd::open_recording_sock_source(std::move(*live), path);
  if (!rec) die(rec.error().message);
  cd::AggregatorConfig cfg;
  cfg.ephemeral = range;
  cd::SocketAggregator agg(cfg);
  if (auto r = cd::dump_all(**rec, agg); !r) die(r.error().message);
  auto s = agg.finish();
  std::printf(
      "%s: %llu TCP sockets (TIME_WAIT client %llu, server %llu), %zu listeners, %zu tuples",
      path.c_str(), (unsigned long long)s.total, (unsigned long long)s.time_wait_client,
      (unsigned long long)s.time_wait_server, s.listeners.size(), s.tuples.size());
  if (!s.tuples.empty())
    std::printf(", hottest %s in use %u", s.tuples[0].key.destination().to_string().c_str(),
                s.tuples[0].in_use());
  std::printf("\n");
}

// 100-port range; 10 long-lived connections to 198.18.0.2:8080, then short ones the client
// closes first until connect() fails with EADDRNOTAVAIL; then 5 connections to :9090 still
// succeed (exhaustion is per destination tuple).
void ports_exhausted(const std::string& path) {
  enter_lab();
  write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "40000 40099");
  int l = listen_on(kServer, 8080, 128);
  int l2 = listen_on(kServer, 9090, 128);
  std::vector<int> keep;
  for (int i = 0; i < 10; ++i) {
    int c = connect_from_client(8080);
    if (c < 0) die("connect");
    keep.push_back(c);
    keep.push_back(::accept(l, nullptr, nullptr));
  }
  int churned = 0, err = 0;
  for (; churned < 1000; ++churned) {
    int c = connect_from_client(8080);
    if (c < 0) {
      err = -c;
      break;
    }
    int s = ::accept(l, nullptr, nullptr);
    ::close(c);  // the client closes first: TIME_WAIT lands on the client
    ::close(s);
  }
  if (err != EADDRNOTAVAIL) {
    errno = err;
    die("expected EADDRNOTAVAIL after " + std::to_string(churned) + " connections");
  }
  std::printf("ports_exhausted: EADDRNOTAVAIL after %d short connections\n", churned);
  for (int i = 0; i < 5; ++i) {
    int c = connect_from_client(9090);
    if (c < 0) die("connect to 9090 after exhaustion");
    keep.push_back(c);
    keep.push_back(::accept(l2, nullptr, nullptr));
  }
  settle();
  record(path, {40000, 40099});
}

// Default range. The server closes first (no keep-alive): 300 server-side TIME_WAIT on
// 198.18.0.2:8080, plus 20 open connections.
void server_time_wait(const std::string& path) {
  enter_lab();
  int l = listen_on(kServer, 8080, 128);
  std::vector<int> keep;
  for (int i = 0; i < 20; ++i) {
    keep.push_back(connect_from_client(8080));
    keep.push_back(::accept(l, nullptr, nullptr));
  }
  for (int i = 0; i < 300; ++i) {
    int c = connect_from_client(8080);
    if (c < 0) die("connect");
    int s = ::accept(l, nullptr, nullptr);
    ::close(s);  // the server closes first: TIME_WAIT lands on the server
    char b;
    (void)::read(c, &b, 1);  // see the FIN, then close
    ::close(c);
  }
  settle();
  record(path, {32768, 60999});
}

// Default range. A service that never closes what its clients closed: 50 server-side
// CLOSE_WAIT on 198.18.0.2:8080 (the clients' ends sit in orphaned FIN_WAIT2), 10 healthy.
void close_wait_leak(const std::string& path) {
  enter_lab();
  int l = listen_on(kServer, 8080, 128);
  std::vector<int> keep;
  for (int i = 0; i < 60; ++i) {
    int c = connect_from_client(8080);
    if (c < 0) die("connect");
    keep.push_back(::accept(l, nullptr, nullptr));
    if (i < 50)
      ::close(c);
    else
      keep.push_back(c);
  }
  settle();
  record(path, {32768, 60999});
}

// Default range. A listener with backlog 8 that never accepts: its accept queue holds 9
// (limit + 1) and further handshakes stay in SYN_SENT on the client side.
void accept_queue_full(const std::string& path) {
  enter_lab();
  int l = listen_on(kServer, 8080, 8);
  (void)l;
  std::vector<int> keep;
  for (int i = 0; i < 20; ++i) {
    int c = connect_from_client(8080, /*nonblock=*/true);
    if (c < 0) die("connect");
    keep.push_back(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  settle();
  record(path, {32768, 60999});
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "tests/fixtures/dumps";
  const std::pair<const char*, void (*)(const std::string&)> scenarios[] = {
      {"ports_exhausted.nldump", ports_exhausted},
      {"server_time_wait.nldump", server_time_wait},
      {"close_wait_leak.nldump", close_wait_leak},
      {"accept_queue_full.nldump", accept_queue_full},
  };
  int failures = 0;
  for (const auto& [name, run] : scenarios) {
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      ::alarm(60);
      run(dir + "/" + name);
      std::fflush(stdout);
      ::_exit(0);  // the namespace and its sockets die with the child
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "make_dump_fixtures: %s failed\n", name);
      ++failures;
    }
  }
  return failures ? 1 : 0;
}
