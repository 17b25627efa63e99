// cgroup-tcp-memory: a container's own TCP memory limit (cgroup v1 memory.kmem.tcp.*) runs out
// while the host's tcp_mem is nowhere near pressure. The lab makes a child of its own v1 memory
// cgroup (cdlab-<pid>-tcpmem), writes a 4 MiB memory.kmem.tcp.limit_in_bytes into it (which
// also switches TCP accounting on for it: tcpmem_active), and starts a receiver that moves
// itself into it, accepts and never reads; a sender outside it floods 100 connections. Each
// accepted socket is charged to the receiver's cgroup (__inet_accept() -> mem_cgroup_sk_alloc()),
// the queues fill to ~128 KiB each and the charges start failing (failcnt). The cgroup is
// removed once the workers are gone (LoadSet::at_stop), on every path.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "collect/cgroup_memory.h"
#include "collect/proc_fs.h"
#include "lab/generators.h"
#include "lab/scenario_cgroup.h"
#include "lab/sock_util.h"
#include "util/file.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr int64_t kTcpLimitBytes = 4 << 20;  // 4 MiB: ~32 receive queues of 128 KiB
constexpr uint32_t kConnections = 100;       // ~12.5 MiB of queues wanted: 3x the limit
constexpr int kSenderSndbuf = 256 << 10;     // bounds the sender's own buffers (~50 MiB)
constexpr double kListenWait = 3;
constexpr double kLiveWait = 20;

const Endpoint kService = v4_endpoint("127.0.0.1", 8080);

Result<void> write_text(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno(path);
  ssize_t n = ::write(fd, text.data(), text.size());
  int e = errno;
  ::close(fd);
  if (n < 0) return fail_errno("write " + path, e);
  return {};
}

std::optional<int64_t> read_number(const std::string& path) {
  auto t = read_file(path, 4096);
  if (!t) return std::nullopt;
  try {
    return std::stoll(std::string(trim_right(*t)));
  } catch (...) {
    return std::nullopt;
  }
}

// The v1 memory cgroup directory the lab itself runs in, or why there is none.
Result<std::string> own_v1_memory_cgroup() {
  ProcFs proc("/proc");
  auto mountinfo = proc.read("self/mountinfo");
  if (!mountinfo) return std::unexpected(mountinfo.error());
  auto own = proc.read("self/cgroup");
  if (!own) return std::unexpected(own.error());
  ProcCgroups pc = parse_proc_cgroups(*own);
  for (const CgroupMount& m : parse_cgroup_mounts(*mountinfo)) {
    if (m.version != 1 || !pc.v1_memory) continue;
    if (auto dir = cgroup_dir(m, *pc.v1_memory)) return *dir;
  }
  return fail(
      "the cgroup v1 memory controller is not mounted here (cgroup v2 has no separate TCP "
      "limit): scenario not available here");
}

void remove_cgroup(const std::string& dir) {
  // The workers were reaped; the kernel may still be tearing their tasks down for a moment.
  for (int i = 0; i < 100; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    ::usleep(20000);
  }
}

// The receiver: moves itself into the cgroup, listens, accepts every connection and never
// reads from any.
WorkerFn receiver_worker(std::string cgroup) {
  return [cgroup](WorkerLink& link) -> int {
    if (auto r = write_text(cgroup + "/cgroup.procs", std::to_string(::getpid())); !r) {
      link.error(r.error().message);
      return 1;
    }
    auto lfd = tcp_listen(kService, 1024);
    if (!lfd) {
      link.error(lfd.error().message);
      return 1;
    }
    link.ready(_f("cdlab-receiver (pid {0}) in memory cgroup {1} accepts and never reads",
                  ::getpid(), cgroup));
    std::vector<UniqueFd> held;
    while (!link.stop_requested()) {
      if (!link.wait_fd(lfd->get(), POLLIN, 0.2)) continue;
      for (;;) {
        int c = ::accept4(lfd->get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) break;
        held.emplace_back(c);
      }
    }
    link.observe(_f("cdlab-receiver accepted {0} connections and read nothing", held.size()));
    return 0;
  };
}

// The sender: 100 connections that send as fast as the receiver's queues take it; ready once
// the receiver's cgroup has refused charges (failcnt > 0), then keeps sending (the refused
// segments are retransmitted and refused again) until the lab stops it.
WorkerFn sender_worker(std::string cgroup) {
  return [cgroup](WorkerLink& link) -> int {
    const std::string failcnt_path = cgroup + "/memory.kmem.tcp.failcnt";
    const std::string usage_path = cgroup + "/memory.kmem.tcp.usage_in_bytes";
    std::vector<UniqueFd> socks;
    for (uint32_t i = 0; i < kConnections; ++i) {
      UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!s) {
        link.error(std::string("socket: ") + std::strerror(errno));
        return 1;
      }
      int sz = kSenderSndbuf;
      ::setsockopt(s.get(), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
      sockaddr_in sa = to_sockaddr(kService);
      if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        link.error(std::string("connect: ") + std::strerror(errno));
        return 1;
      }
      int fl = ::fcntl(s.get(), F_GETFL);
      ::fcntl(s.get(), F_SETFL, fl | O_NONBLOCK);
      socks.push_back(std::move(s));
    }
    const int64_t failcnt0 = read_number(failcnt_path).value_or(0);
    auto drops = [] {
      auto c = read_tcp_counters();
      auto it = c.find("TcpExt.TCPRcvQDrop");
      return it == c.end() ? int64_t(0) : it->second;
    };
    const int64_t drops0 = drops();
    std::vector<char> buf(64 << 10, 'x');
    std::vector<pollfd> pfds(socks.size());
    uint64_t sent = 0;
    bool ready = false;
    const double start = WorkerLink::now();
    while (!link.stop_requested()) {
      for (std::size_t i = 0; i < socks.size(); ++i) pfds[i] = {socks[i].get(), POLLOUT, 0};
      ::poll(pfds.data(), pfds.size(), 50);
      for (std::size_t i = 0; i < socks.size(); ++i) {
        if (!(pfds[i].revents & POLLOUT)) continue;
        for (;;) {
          ssize_t n = ::send(socks[i].get(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += uint64_t(n);
        }
      }
      if (ready) continue;
      // Recent kernels leave memory.kmem.tcp.failcnt at 0 (the tcpmem page counter does not
      // track failures): usage at the limit is the sign that charges are being refused.
      const int64_t failcnt = read_number(failcnt_path).value_or(failcnt0);
      const int64_t usage = read_number(usage_path).value_or(0);
      const double waited = WorkerLink::now() - start;
      if (failcnt > failcnt0 || usage + (64 << 10) >= kTcpLimitBytes) {
        ready = true;
        link.ready(
            _f("cdlab-sender (pid {0}): {1} connections, {2} MiB sent; the receiver's "
               "cgroup holds {3} KiB of TCP memory against its {4} KiB limit "
               "(memory.kmem.tcp.failcnt {5})",
               ::getpid(), socks.size(), sent >> 20, usage >> 10, kTcpLimitBytes >> 10, failcnt));
      } else if (waited > 15) {
        ready = true;
        link.ready(
            _f("cdlab-sender (pid {0}): {1} MiB sent, but the receiver's cgroup stayed "
               "below its limit for {2} s",
               ::getpid(), sent >> 20, int(waited)));
      }
    }
    const int64_t failcnt = read_number(failcnt_path).value_or(failcnt0);
    link.observe(
        _f("cdlab-sender sent {0} MiB in all; memory.kmem.tcp.failcnt {1} -> {2}; "
           "TcpExt.TCPRcvQDrop +{3} in the namespace",
           sent >> 20, failcnt0, failcnt, drops() - drops0));
    return 0;
  };
}

Result<void> cgroup_tcp_memory(LoadSet& load) {
  auto parent = own_v1_memory_cgroup();
  if (!parent) return std::unexpected(parent.error());
  const std::string dir = *parent + "/cdlab-" + std::to_string(::getpid()) + "-tcpmem";
  if (::mkdir(dir.c_str(), 0755) != 0) {
    const int e = errno;
    if (e == EACCES || e == EROFS || e == EPERM)
      return fail("cannot create " + dir + ": " + std::strerror(e) +
                  " (the v1 memory hierarchy is not writable: scenario not available here)");
    return fail_errno("mkdir " + dir, e);
  }
  load.at_stop([dir] { remove_cgroup(dir); });
  const std::string limit = dir + "/memory.kmem.tcp.limit_in_bytes";
  struct stat st {};
  if (::stat(limit.c_str(), &st) != 0)
    return fail(limit +
                " does not exist (a kernel without v1 TCP memory accounting): scenario not "
                "available here");
  if (auto r = write_text(limit, std::to_string(kTcpLimitBytes)); !r) return r;

  auto rcv = load.spawn({"cdlab-receiver", receiver_worker(dir), std::nullopt});
  if (!rcv) return std::unexpected(rcv.error());
  if (auto r = load.wait_ready(*rcv, kListenWait); !r) return r;
  auto snd = load.spawn({"cdlab-sender", sender_worker(dir), std::nullopt});
  if (!snd) return std::unexpected(snd.error());
  return load.wait_ready(*snd, kLiveWait);
}

}  // namespace

ScenarioInfo cgroup_tcp_memory_scenario() {
  return {
      "cgroup-tcp-memory",
      N_("a receiver that never reads, in a v1 memory cgroup with a 4 MiB "
         "memory.kmem.tcp.limit_in_bytes; a sender floods 100 connections to it"),
      N_("tcp_memory.cgroup critical (failcnt rising), names cdlab-receiver; no tcp_mem "
         "finding"),
      {{"net.ipv4.tcp_rmem", "4096 131072 6291456"}, {"net.ipv4.tcp_wmem", "4096 16384 4194304"}},
      cgroup_tcp_memory};
}

}  // namespace cd
