// Benchmark population generator: fills the caller's network namespace with N established
// loopback TCP sockets spread over many processes, plus a steady TIME_WAIT churn, then holds
// them until SIGTERM/SIGINT. Run it inside a throwaway namespace (bench/run.sh makes one).
//
// Layout: "pairs" of one server process (listens on 127.10.X.Y ports 5000..) and one client
// process (connects from several 127.20.X.Y source addresses). Every connection is two
// ESTABLISHED sockets in the dump, one fd in each process, so a pair holds 2 x quota sockets
// with quota < the 20000 hard RLIMIT_NOFILE of this sandbox. Tuples (src, dst, dport) are
// many and small, so no tuple gets near its port pool.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

struct Options {
  uint64_t sockets = 200000;      // ESTABLISHED sockets wanted (two per connection)
  uint32_t fds_per_proc = 12000;  // held fds per process; hard limit here is 20000
  uint32_t listen_ports = 4;      // listening ports per server process
  uint32_t src_addrs = 4;         // source addresses per client process
  uint32_t parallel = 2;          // pairs being filled at the same time
  uint32_t churn_rate = 100;      // short connections per second (client closes first)
  std::string ready_file;         // written once the population is complete
  bool allow_any_netns = false;   // else only a namespace with nothing but lo
};

constexpr uint16_t kFirstListenPort = 5000;
constexpr uint16_t kChurnPort = 6000;
constexpr uint32_t kFdMargin = 64;  // stdio, pipes, listeners

uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return htonl(uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d);
}
// Spread index i over 127.<net>.<hi>.<lo> avoiding .0 and .255 in the last byte.
uint32_t loopback(uint8_t net, uint32_t i) {
  return ipv4(127, net, uint8_t(i / 250), uint8_t(1 + i % 250));
}

sockaddr_in sin(uint32_t addr, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = addr;
  a.sin_port = htons(port);
  return a;
}

void set_name(const char* name) {
  prctl(PR_SET_NAME, name, 0, 0, 0);
}

// Linger 0 makes the final close() an RST: tearing down a million connections then leaves no
// TIME_WAIT behind (tcp_close() with SOCK_LINGER and lingertime 0 sends a reset).
void abortive_close_on_exit(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

Result<int> listen_on(uint32_t addr, uint16_t port, bool nonblock) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return fail_errno("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = sin(addr, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    close(fd);
    return fail_errno("bind listener port " + std::to_string(port), e);
  }
  // The backlog is capped by net.core.somaxconn of the namespace; run.sh raises it there.
  if (listen(fd, 65535) != 0) {
    int e = errno;
    close(fd);
    return fail_errno("listen", e);
  }
  return fd;
}

// A client socket bound to `src` with IP_BIND_ADDRESS_NO_PORT (since 4.2): the port is then
// chosen by connect() per destination tuple instead of exclusively at bind() time.
Result<int> connect_from(uint32_t src, uint32_t dst, uint16_t dport) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in s = sin(src, 0);
  sockaddr_in d = sin(dst, dport);
  if (bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&d), sizeof d) != 0) {
    int e = errno;
    close(fd);
    return fail_errno("connect", e);
  }
  return fd;
}

void report(int pipe_fd, char c) {
  while (write(pipe_fd, &c, 1) < 0 && errno == EINTR) {
  }
}

// Server of pair `g`: listens, tells the parent ('L'), accepts `quota` connections and holds
// them ('D'), then sleeps until killed.
[[noreturn]] void run_server(const Options& opt, uint32_t g, uint32_t quota, int pipe_fd) {
  set_name("popgen-srv");
  std::vector<pollfd> lfds;
  for (uint32_t p = 0; p < opt.listen_ports; ++p) {
    auto fd = listen_on(loopback(10, g), uint16_t(kFirstListenPort + p), true);
    if (!fd) {
      std::fprintf(stderr, "popgen server %u: %s\n", g, fd.error().message.c_str());
      _exit(1);
    }
    lfds.push_back({*fd, POLLIN, 0});
  }
  report(pipe_fd, 'L');
  uint32_t accepted = 0;
  while (accepted < quota) {
    if (poll(lfds.data(), lfds.size(), 30000) <= 0) {
      std::fprintf(stderr, "popgen server %u: stalled at %u of %u\n", g, accepted, quota);
      _exit(1);
    }
    for (auto& l : lfds) {
      while (accepted < quota) {
        int c = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) break;  // EAGAIN: this listener is drained
        abortive_close_on_exit(c);
        ++accepted;
      }
    }
  }
  report(pipe_fd, 'D');
  for (;;) pause();
}

// Client of pair `g`: `quota` connections spread over src_addrs x listen_ports tuples.
[[noreturn]] void run_client(const Options& opt, uint32_t g, uint32_t quota, int pipe_fd) {
  set_name("popgen-cli");
  const uint32_t dst = loopback(10, g);
  for (uint32_t i = 0; i < quota; ++i) {
    uint32_t src = loopback(20, g * opt.src_addrs + i % opt.src_addrs);
    uint16_t port = uint16_t(kFirstListenPort + (i / opt.src_addrs) % opt.listen_ports);
    auto fd = connect_from(src, dst, port);
    if (!fd) {
      std::fprintf(stderr, "popgen client %u: connection %u: %s\n", g, i,
                   fd.error().message.c_str());
      _exit(1);
    }
    abortive_close_on_exit(*fd);
  }
  report(pipe_fd, 'D');
  for (;;) pause();
}

// TIME_WAIT churn: a server that closes after the client's FIN, and a client that connects
// and closes first at `rate`/s, so each short connection leaves a client-side TIME_WAIT for
// 60 s (TCP_TIMEWAIT_LEN): steady state ~ 60 x rate TIME_WAIT sockets.
[[noreturn]] void run_churn_server(int pipe_fd) {
  set_name("popgen-sink");
  auto lfd = listen_on(ipv4(127, 30, 0, 1), kChurnPort, true);
  if (!lfd) {
    std::fprintf(stderr, "popgen churn server: %s\n", lfd.error().message.c_str());
    _exit(1);
  }
  report(pipe_fd, 'L');
  std::vector<pollfd> fds{{*lfd, POLLIN, 0}};
  char buf[256];
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    for (size_t i = fds.size(); i-- > 1;) {
      if (fds[i].revents == 0) continue;
      if (read(fds[i].fd, buf, sizeof buf) > 0) continue;
      close(fds[i].fd);  // EOF: the client closed first, now we close (LAST_ACK)
      fds[i] = fds.back();
      fds.pop_back();
    }
    if (fds[0].revents & POLLIN) {
      int c;
      while ((c = accept4(*lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
        fds.push_back({c, POLLIN, 0});
    }
  }
}

[[noreturn]] void run_churn_client(uint32_t rate) {
  set_name("popgen-churn");
  constexpr long kTickNs = 10'000'000;  // 100 ticks a second
  timespec next{};
  clock_gettime(CLOCK_MONOTONIC, &next);
  double owed = 0;
  for (;;) {
    owed += double(rate) / 100.0;
    for (; owed >= 1; owed -= 1) {
      auto fd = connect_from(ipv4(127, 30, 0, 2), ipv4(127, 30, 0, 1), kChurnPort);
      if (fd) close(*fd);
    }
    next.tv_nsec += kTickNs;
    if (next.tv_nsec >= 1'000'000'000) {
      next.tv_nsec -= 1'000'000'000;
      ++next.tv_sec;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
}

struct Child {
  pid_t pid = -1;
  UniqueFd pipe;  // read end: 'L' listening, 'D' done; EOF without 'D' = failed
};

std::vector<pid_t> g_children;

void kill_children() {
  for (pid_t p : g_children) kill(p, SIGKILL);
  for (pid_t p : g_children) waitpid(p, nullptr, 0);
  g_children.clear();
}

template <typename F>
Result<Child> spawn(F&& body) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return fail_errno("pipe2");
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    // Children must not outlive popgen, whatever kills it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, nullptr);
    close(p[0]);
    body(p[1]);
  }
  close(p[1]);
  g_children.push_back(pid);
  return Child{pid, UniqueFd(p[0])};
}

// Waits for the byte `want` from a child; false if it died first.
bool await(Child& c, char want) {
  char got = 0;
  for (;;) {
    ssize_t n = read(c.pipe.get(), &got, 1);
    if (n < 0 && errno == EINTR) continue;
    return n == 1 && got == want;
  }
}

// A throwaway namespace has nothing but "lo". /proc/1/ns/net cannot be compared here (not
// readable in this sandbox), and a host always has some other interface, so refuse if any.
bool only_loopback_here() {
  struct if_nameindex* ifs = if_nameindex();
  if (ifs == nullptr) return false;
  bool only_lo = true;
  for (struct if_nameindex* i = ifs; i->if_index != 0; ++i)
    if (std::strcmp(i->if_name, "lo") != 0) only_lo = false;
  if_freenameindex(ifs);
  return only_lo;
}

Result<uint64_t> parse_u64(std::string_view s, std::string_view what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return fail(std::string(what) + ": not a number: '" + std::string(s) + "'");
  return v;
}

Result<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> Result<std::string_view> {
      if (i + 1 >= argc) return fail(std::string(a) + ": needs a value");
      return std::string_view(argv[++i]);
    };
    auto number = [&](auto& out) -> Result<void> {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      auto n = parse_u64(*v, a);
      if (!n) return std::unexpected(n.error());
      out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
      return {};
    };
    Result<void> r;
    if (a == "--sockets")
      r = number(o.sockets);
    else if (a == "--fds-per-proc")
      r = number(o.fds_per_proc);
    else if (a == "--listen-ports")
      r = number(o.listen_ports);
    else if (a == "--src-addrs")
      r = number(o.src_addrs);
    else if (a == "--parallel")
      r = number(o.parallel);
    else if (a == "--churn-rate")
      r = number(o.churn_rate);
    else if (a == "--ready-file") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      o.ready_file = std::string(*v);
    } else if (a == "--allow-any-netns")
      o.allow_any_netns = true;
    else
      return fail("unknown argument '" + std::string(a) + "'");
    if (!r) return std::unexpected(r.error());
  }
  if (o.fds_per_proc <= kFdMargin * 2) return fail("--fds-per-proc: too small");
  if (o.listen_ports == 0 || o.listen_ports > 100) return fail("--listen-ports: 1..100");
  if (o.src_addrs == 0 || o.src_addrs > 250) return fail("--src-addrs: 1..250");
  if (o.parallel == 0) return fail("--parallel: at least 1");
  return o;
}

// Fills the namespace pair by pair, `parallel` pairs at a time.
Result<uint32_t> build_population(const Options& opt) {
  const uint64_t connections = opt.sockets / 2;
  const uint32_t quota = opt.fds_per_proc - kFdMargin;
  const uint32_t pairs = uint32_t((connections + quota - 1) / quota);
  if (pairs > 250 * 250 / opt.src_addrs) return fail("too many processes for the address plan");
  struct Pending {
    uint32_t g;
    Child server, client;
  };
  std::vector<Pending> wave;
  auto finish_wave = [&]() -> Result<void> {
    for (auto& p : wave)
      // The client first: if it fails, the server would wait for it until its poll timeout.
      if (!await(p.client, 'D') || !await(p.server, 'D'))
        return fail("pair " + std::to_string(p.g) + " failed (see its message above)");
    wave.clear();
    return {};
  };
  for (uint32_t g = 0; g < pairs; ++g) {
    uint32_t q = uint32_t(std::min<uint64_t>(quota, connections - uint64_t(g) * quota));
    auto server = spawn([&](int fd) { run_server(opt, g, q, fd); });
    if (!server) return std::unexpected(server.error());
    if (!await(*server, 'L')) return fail("server " + std::to_string(g) + " did not listen");
    auto client = spawn([&](int fd) { run_client(opt, g, q, fd); });
    if (!client) return std::unexpected(client.error());
    wave.push_back({g, std::move(*server), std::move(*client)});
    if (wave.size() >= opt.parallel) {
      if (auto r = finish_wave(); !r) return std::unexpected(r.error());
      std::fprintf(stderr, "popgen: %llu of %llu connections\n",
                   (unsigned long long)std::min<uint64_t>(connections, uint64_t(g + 1) * quota),
                   (unsigned long long)connections);
    }
  }
  if (auto r = finish_wave(); !r) return std::unexpected(r.error());
  return pairs * 2;
}

Result<void> start_churn(const Options& opt) {
  if (opt.churn_rate == 0) return {};
  auto server = spawn([](int fd) { run_churn_server(fd); });
  if (!server) return std::unexpected(server.error());
  if (!await(*server, 'L')) return fail("churn server did not listen");
  auto client = spawn([&](int) { run_churn_client(opt.churn_rate); });
  if (!client) return std::unexpected(client.error());
  return {};
}

int run(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  if (!opt) {
    std::fprintf(stderr,
                 "popgen: %s\nusage: cdtool-popgen --sockets N [--fds-per-proc 12000] "
                 "[--listen-ports 4] [--src-addrs 4] [--parallel 2] [--churn-rate 100] "
                 "[--ready-file PATH]\n",
                 opt.error().message.c_str());
    return 2;
  }
  if (!only_loopback_here() && !opt->allow_any_netns) {
    std::fprintf(stderr,
                 "popgen: this namespace has interfaces besides lo: refusing to fill it; run "
                 "inside a throwaway one (ip netns exec / unshare -n) with lo up\n");
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < opt->fds_per_proc) {
    std::fprintf(stderr, "popgen: --fds-per-proc %u is above the hard fd limit %llu\n",
                 opt->fds_per_proc, (unsigned long long)rl.rlim_max);
    return 2;
  }
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  // Block the stop signals before forking: children reset them, the parent sigwait()s.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto procs = build_population(*opt);
  if (!procs) {
    std::fprintf(stderr, "popgen: %s\n", procs.error().message.c_str());
    kill_children();
    return 1;
  }
  if (auto r = start_churn(*opt); !r) {
    std::fprintf(stderr, "popgen: %s\n", r.error().message.c_str());
    kill_children();
    return 1;
  }
  std::printf("popgen: ready: %llu established sockets in %u processes, churn %u/s\n",
              (unsigned long long)(opt->sockets / 2 * 2), *procs, opt->churn_rate);
  std::fflush(stdout);
  if (!opt->ready_file.empty()) {
    if (FILE* f = std::fopen(opt->ready_file.c_str(), "w")) {
      std::fprintf(f, "%u\n", *procs + (opt->churn_rate ? 2 : 0));
      std::fclose(f);
    }
  }
  int sig = 0;
  sigwait(&stop, &sig);
  kill_children();
  return 0;
}

}  // namespace
}  // namespace cd

int main(int argc, char** argv) {
  return cd::run(argc, argv);
}
