// Measures the socket dump on a big socket table: a bare netlink receive loop (the floor),
// conndoctor's netlink source + aggregator, and `ss -tan | wc -l`, all in one throwaway network
// namespace filled with loopback connections held by several processes (RLIMIT_NOFILE caps
// each one). Usage: sockdiag_bench [HOLDERS] [CONNS_PER_HOLDER]; how to build it is in
// tests/tools/README.md.
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "collect/sock_diag_decode.h"
#include "collect/socket_aggregator.h"

namespace {

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void lo_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) die("SIOCSIFFLAGS");
  ::close(fd);
}

// A child that opens `n` loopback connections to its own listener and holds them.
pid_t start_holder(int index, int n, int ready_fd) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(300);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(10000 + index));
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 4096) != 0)
    die("listen");
  for (int i = 0; i < n; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    if (::accept(l, nullptr, nullptr) < 0) die("accept");
  }
  char one = 1;
  if (::write(ready_fd, &one, 1) != 1) die("write");
  for (;;) ::pause();
}

// The floor: send the request, receive, walk the headers to NLMSG_DONE, decode nothing.
uint64_t raw_dump(uint8_t family, uint32_t states, std::vector<uint8_t>& buf) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) die("netlink socket");
  auto req = cd::encode_dump_request(cd::DumpRequest{family, IPPROTO_TCP, states}, 1);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
      0)
    die("sendto");
  uint64_t n = 0;
  for (;;) {
    ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
    if (got < 0) die("recv");
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, got);
         h = NLMSG_NEXT(h, got)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        ::close(fd);
        return n;
      }
      ++n;
    }
  }
}

// CPU seconds (user, system) of this process and its waited-for children so far.
std::pair<double, double> cpu() {
  double u = 0, s = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage r{};
    ::getrusage(who, &r);
    u += double(r.ru_utime.tv_sec) + double(r.ru_utime.tv_usec) / 1e6;
    s += double(r.ru_stime.tv_sec) + double(r.ru_stime.tv_usec) / 1e6;
  }
  return {u, s};
}

// Wall seconds of one run; adds its user and system CPU to `user`/`sys`. The machine may be
// shared: CPU time says what the run cost even when the wall clock waited for a core.
double seconds(const std::function<void()>& f, double* user = nullptr, double* sys = nullptr) {
  auto c0 = cpu();
  auto t0 = std::chrono::steady_clock::now();
  f();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto c1 = cpu();
  if (user) *user += c1.first - c0.first;
  if (sys) *sys += c1.second - c0.second;
  return wall;
}

void report(const char* what, std::vector<double> t, double user, double sys, uint64_t sockets) {
  std::sort(t.begin(), t.end());
  const double n = double(t.size());
  std::printf("%-46s wall best %.3f median %.3f | cpu/run user %.3f sys %.3f  (%llu sockets)\n",
              what, t.front(), t[t.size() / 2], user / n, sys / n, (unsigned long long)sockets);
}

}  // namespace

int main(int argc, char** argv) {
  const int holders = argc > 1 ? std::atoi(argv[1]) : 6;
  const int per = argc > 2 ? std::atoi(argv[2]) : 9000;
  const int runs = 5;
  if (::unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET)");
  lo_up();
  int pipefd[2];
  if (::pipe(pipefd) != 0) die("pipe");
  std::vector<pid_t> kids;
  auto t_setup = seconds([&] {
    for (int i = 0; i < holders; ++i) kids.push_back(start_holder(i, per, pipefd[1]));
    for (int i = 0; i < holders; ++i) {
      char b;
      if (::read(pipefd[0], &b, 1) != 1) die("holder failed");
    }
  });
  std::printf("setup: %d processes x %d connections in %.1f s\n", holders, per, t_setup);

  const uint32_t all = ~0u, listen = 1u << 10;
  for (std::size_t bufsize : {std::size_t(32 * 1024), std::size_t(256 * 1024)}) {
    std::vector<uint8_t> buf(bufsize);
    std::vector<double> t;
    double user = 0, sys = 0;
    uint64_t n = 0;
    for (int r = 0; r < runs; ++r)
      t.push_back(seconds(
          [&] {
            n = raw_dump(AF_INET, listen, buf) + raw_dump(AF_INET6, listen, buf) +
                raw_dump(AF_INET, all & ~listen, buf) + raw_dump(AF_INET6, all & ~listen, buf);
          },
          &user, &sys));
    report(bufsize == 32 * 1024 ? "raw netlink loop, 32 KiB buffer (floor)"
                                : "raw netlink loop, 256 KiB buffer (floor)",
           t, user, sys, n);
  }

  {
    auto src = cd::open_netlink_sock_source();
    if (!src) die(src.error().message.c_str());
    std::vector<double> t;
    double user = 0, sys = 0;
    uint64_t n = 0;
    for (int r = 0; r < runs; ++r)
      t.push_back(seconds(
          [&] {
            cd::AggregatorConfig cfg;
            cfg.index_inodes = true;
            cd::SocketAggregator agg(cfg);
            if (!cd::dump_all(**src, agg)) die("dump_all");
            cd::InodeIndex idx = agg.take_inode_index();
            n = agg.finish().total;
          },
          &user, &sys));
    report("conndoctor dump_all + aggregate + inode index", t, user, sys, n);
  }
  {
    std::vector<double> t;
    double user = 0, sys = 0;
    for (int r = 0; r < runs; ++r)
      t.push_back(seconds(
          [] {
            if (std::system("ss -tan | wc -l > /dev/null") != 0) die("ss");
          },
          &user, &sys));
    report("ss -tan | wc -l", t, user, sys, 0);
  }
  for (pid_t p : kids) ::kill(p, SIGKILL);
  for (pid_t p : kids) ::waitpid(p, nullptr, 0);
  return 0;
}
