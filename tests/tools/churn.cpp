// Load for the attribution end-to-end test, one role per process, each with its own comm so
// the report can be checked by name: "cd-sink" accepts and closes after the peer,
// "cd-churner" holds a few live connections to a destination while storming it with short
// ones that it closes first (client-side TIME_WAIT), "cd-idle" just holds one connection.
// Every role stops by itself after --max-seconds, so a forgotten process cannot linger.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/net_types.h"
#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

struct Options {
  std::string role;
  std::vector<Endpoint> listen;  // sink
  Endpoint to;                   // churn, idle
  uint32_t hold = 3;             // churn: live connections kept open
  uint32_t rate = 200;           // churn: short connections per second
  std::string status_file;       // churn: "ok N fail N einval N held N" rewritten each tick
  double max_seconds = 300;
};

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("'" + std::string(text) + "': want IP:PORT");
  auto addr = IpAddr::parse(text.substr(0, colon));
  uint16_t port = 0;
  auto ps = text.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (!addr || addr->family != AF_INET || ec != std::errc() || p != ps.data() + ps.size())
    return fail("'" + std::string(text) + "': want an IPv4 IP:PORT");
  return Endpoint{*addr, port};
}

sockaddr_in to_sockaddr(const Endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  std::memcpy(&a.sin_addr, e.addr.bytes.data(), 4);
  a.sin_port = htons(e.port);
  return a;
}

// Plain connect() without bind(): the kernel picks the local port per destination tuple in
// __inet_hash_connect(), and fails with EADDRNOTAVAIL once the tuple's pool is used up.
Result<UniqueFd> dial(const Endpoint& to) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  sockaddr_in a = to_sockaddr(to);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return fail_errno("connect " + to.to_string());
  return fd;
}

int run_sink(const Options& opt) {
  prctl(PR_SET_NAME, "cd-sink", 0, 0, 0);
  std::vector<UniqueFd> owned;
  std::vector<pollfd> fds;
  size_t listeners = 0;
  for (const auto& e : opt.listen) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = to_sockaddr(e);
    if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(fd.get(), 1024) != 0) {
      std::fprintf(stderr, "churn sink: listen %s: %s\n", e.to_string().c_str(),
                   std::strerror(errno));
      return 1;
    }
    fds.push_back({fd.get(), POLLIN, 0});
    owned.push_back(std::move(fd));
    ++listeners;
  }
  const double end = now_s() + opt.max_seconds;
  char buf[512];
  while (now_s() < end) {
    if (poll(fds.data(), fds.size(), 200) <= 0) continue;
    // Peers that closed: close our side too (after their FIN, so TIME_WAIT lands on them).
    for (size_t i = fds.size(); i-- > listeners;) {
      if (fds[i].revents == 0 || read(fds[i].fd, buf, sizeof buf) > 0) continue;
      close(fds[i].fd);
      fds[i] = fds.back();
      fds.pop_back();
    }
    for (size_t l = 0; l < listeners; ++l) {
      if (!(fds[l].revents & POLLIN)) continue;
      int c;
      while ((c = accept4(fds[l].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
        fds.push_back({c, POLLIN, 0});
    }
  }
  return 0;
}

void write_status(const std::string& path, uint64_t ok, uint64_t fail_addr, uint64_t fail_other,
                  uint32_t held) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "ok %llu eaddrnotavail %llu other_errors %llu held %u\n",
                 (unsigned long long)ok, (unsigned long long)fail_addr,
                 (unsigned long long)fail_other, held);
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());
  }
}

int run_churn(const Options& opt) {
  prctl(PR_SET_NAME, "cd-churner", 0, 0, 0);
  std::vector<UniqueFd> held;
  for (uint32_t i = 0; i < opt.hold; ++i) {
    auto fd = dial(opt.to);
    if (!fd) {
      std::fprintf(stderr, "churn: live connection %u: %s\n", i, fd.error().message.c_str());
      return 1;
    }
    held.push_back(std::move(*fd));
  }
  uint64_t ok = 0, eaddrnotavail = 0, other = 0;
  const double start = now_s();
  double owed = 0;
  for (double t = start; t - start < opt.max_seconds; t = now_s()) {
    owed += double(opt.rate) / 100.0;
    for (; owed >= 1; owed -= 1) {
      auto fd = dial(opt.to);  // closed first by us when it goes out of scope
      if (fd)
        ++ok;
      else if (fd.error().err == EADDRNOTAVAIL)
        ++eaddrnotavail;
      else
        ++other;
    }
    write_status(opt.status_file, ok, eaddrnotavail, other, uint32_t(held.size()));
    timespec tick{0, 10'000'000};
    nanosleep(&tick, nullptr);
  }
  return 0;
}

int run_idle(const Options& opt) {
  prctl(PR_SET_NAME, "cd-idle", 0, 0, 0);
  auto fd = dial(opt.to);
  if (!fd) {
    std::fprintf(stderr, "churn idle: %s\n", fd.error().message.c_str());
    return 1;
  }
  const double end = now_s() + opt.max_seconds;
  while (now_s() < end) {
    timespec tick{0, 200'000'000};
    nanosleep(&tick, nullptr);
  }
  return 0;
}

Result<Options> parse_args(int argc, char** argv) {
  if (argc < 2) return fail("missing role");
  Options o;
  o.role = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) return fail(std::string(a) + ": needs a value");
    std::string_view v = argv[++i];
    auto number = [&](auto& out) -> Result<void> {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
      if (ec != std::errc() || p != v.data() + v.size())
        return fail(std::string(a) + ": not a number: '" + std::string(v) + "'");
      return {};
    };
    Result<void> r;
    if (a == "--listen" || a == "--to") {
      auto e = parse_endpoint(v);
      if (!e) return std::unexpected(e.error());
      if (a == "--to")
        o.to = *e;
      else
        o.listen.push_back(*e);
    } else if (a == "--hold")
      r = number(o.hold);
    else if (a == "--rate")
      r = number(o.rate);
    else if (a == "--max-seconds")
      r = number(o.max_seconds);
    else if (a == "--status")
      o.status_file = std::string(v);
    else
      return fail("unknown argument '" + std::string(a) + "'");
    if (!r) return std::unexpected(r.error());
  }
  if (o.role == "sink" && o.listen.empty()) return fail("sink: needs --listen IP:PORT");
  if ((o.role == "churn" || o.role == "idle") && o.to.port == 0)
    return fail(o.role + ": needs --to IP:PORT");
  if (o.role != "sink" && o.role != "churn" && o.role != "idle")
    return fail("unknown role '" + o.role + "'");
  return o;
}

int run(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  if (!opt) {
    std::fprintf(stderr,
                 "churn: %s\nusage: cdtool-churn sink --listen IP:PORT [--listen ...]\n"
                 "       cdtool-churn churn --to IP:PORT [--hold 3] [--rate 200] "
                 "[--status FILE]\n"
                 "       cdtool-churn idle --to IP:PORT\n"
                 "       (all: [--max-seconds 300])\n",
                 opt.error().message.c_str());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (opt->role == "sink") return run_sink(*opt);
  if (opt->role == "churn") return run_churn(*opt);
  return run_idle(*opt);
}

}  // namespace
}  // namespace cd

int main(int argc, char** argv) {
  return cd::run(argc, argv);
}
