// The network-layer lab scenarios. conntrack-full fills the lab namespace's conntrack table up
// to the global nf_conntrack_max with ASSURED UDP flows, so early_drop() finds nothing to evict
// and new flows are dropped; snat-exhaustion builds client -> NAT router -> server namespaces
// and masquerades to 10 ports, so the 11th connection to the server finds no NAT port.
// Tools (ip, nft) run as subprocesses here: the no-subprocess rule is the collectors'.
#include "lab/scenario_netlayer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "lab/generators.h"
#include "lab/sock_util.h"
#include "lab/tools.h"
#include "snapshot/conntrack_table.h"
#include "util/file.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/unique_fd.h"

namespace cd {

Result<void> enter_own_netns(WorkerLink& link) {
  if (::unshare(CLONE_NEWNET) != 0) {
    link.error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
    return fail("unshare");
  }
  return {};
}

namespace {

bool has_default_route() {
  std::ifstream f("/proc/self/net/route");
  std::string iface, dest;
  std::string line;
  std::getline(f, line);  // header
  while (f >> iface >> dest) {
    if (dest == "00000000") return true;
    std::getline(f, line);
  }
  return false;
}

}  // namespace

bool wait_default_route(WorkerLink& link) {
  // The lab moves a veth in and configures it; the default route comes last.
  for (int i = 0; i < 200 && !has_default_route(); ++i)
    if (link.wait_stop(0.025)) return false;
  if (!has_default_route()) {
    link.error("the worker's namespace got no default route");
    return false;
  }
  return true;
}

namespace {

std::optional<int64_t> read_int(const std::string& path) {
  auto text = read_file(path, 4096);
  if (!text) return std::nullopt;
  std::string_view v = trim_right(*text);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

// --- conntrack-full -----------------------------------------------------------------------

// One UDP packet (IPv4 header + 8-byte UDP header + 4 bytes), as IPPROTO_RAW sends it: the
// kernel fills the IP checksum; a zero UDP checksum means "none" on IPv4.
struct Packet {
  std::array<uint8_t, 32> bytes{};
  sockaddr_in to{};
};

void make_packet(Packet& p, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
  iphdr ip{};
  ip.version = 4;
  ip.ihl = 5;
  ip.tot_len = htons(32);
  ip.ttl = 64;
  ip.protocol = IPPROTO_UDP;
  ip.saddr = htonl(src);
  ip.daddr = htonl(dst);
  udphdr u{};
  u.source = htons(sport);
  u.dest = htons(dport);
  u.len = htons(12);
  std::memcpy(p.bytes.data(), &ip, sizeof ip);
  std::memcpy(p.bytes.data() + sizeof ip, &u, sizeof u);
  std::memcpy(p.bytes.data() + 28, "cdlb", 4);
  p.to.sin_family = AF_INET;
  p.to.sin_addr.s_addr = htonl(dst);
}

// Flow i: 198.18.1.(1 + i/60000):(1024 + i%60000) -> 198.19.(i%256).(1 + i/256%254):53.
// Every flow is a distinct tuple; the destinations spread over ~65k addresses.
struct Flow {
  uint32_t a, b;
  uint16_t ap, bp;
};
Flow flow(uint64_t i) {
  return Flow{(198u << 24) | (18u << 16) | (1u << 8) | uint32_t(1 + i / 60000),
              (198u << 24) | (19u << 16) | (uint32_t(i % 256) << 8) | uint32_t(1 + (i / 256) % 254),
              uint16_t(1024 + i % 60000), 53};
}

// Sends packets with sendmmsg(); a packet the table refuses comes back as EPERM (NF_DROP at
// LOCAL_OUT) and is counted, not retried.
class Sender {
 public:
  explicit Sender(int fd) : fd_(fd) {}
  void add(const Flow& f, bool reply) {
    Packet& p = batch_[n_++];
    if (reply)
      make_packet(p, f.b, f.bp, f.a, f.ap);
    else
      make_packet(p, f.a, f.ap, f.b, f.bp);
  }
  bool full() const { return n_ == batch_.size(); }
  // Returns false on an error other than a refused packet.
  bool flush() {
    std::array<mmsghdr, kBatch> m{};
    std::array<iovec, kBatch> iov{};
    for (std::size_t i = 0; i < n_; ++i) {
      iov[i] = {batch_[i].bytes.data(), batch_[i].bytes.size()};
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_name = &batch_[i].to;
      m[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    std::size_t done = 0;
    int retries = 0;
    while (done < n_) {
      int r = ::sendmmsg(fd_, m.data() + done, unsigned(n_ - done), 0);
      if (r > 0) {
        done += std::size_t(r);
        sent_ += uint64_t(r);
        continue;
      }
      if (errno == EPERM) {  // dropped by conntrack: the table is full
        ++refused_;
        ++done;
        continue;
      }
      if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && retries++ < 100) {
        ::usleep(1000);
        continue;
      }
      n_ = 0;
      return false;
    }
    n_ = 0;
    return true;
  }
  uint64_t sent() const { return sent_; }
  uint64_t refused() const { return refused_; }

 private:
  static constexpr std::size_t kBatch = 512;
  int fd_;
  std::array<Packet, kBatch> batch_{};
  std::size_t n_ = 0;
  uint64_t sent_ = 0;
  uint64_t refused_ = 0;
};

int conntrack_fill(WorkerLink& link) {
  const auto max = read_int("/proc/sys/net/netfilter/nf_conntrack_max");
  const auto count = read_int("/proc/sys/net/netfilter/nf_conntrack_count");
  if (!max || !count) {
    link.error("nf_conntrack is not loaded (no /proc/sys/net/netfilter/nf_conntrack_max)");
    return 1;
  }
  if (*max <= 0 || *max > kConntrackFullMaxEntries) {
    link.error("nf_conntrack_max is " + with_commas(uint64_t(*max)) +
               ": filling the table would take ~" +
               std::to_string(uint64_t(*max) * kConntrackEntryBytes >> 20) +
               " MiB of kernel memory, beyond the lab's bound of " +
               with_commas(uint64_t(kConntrackFullMaxEntries)) + " entries");
    return 1;
  }
  UniqueFd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (!raw) {
    link.error(std::string("raw socket: ") + std::strerror(errno));
    return 1;
  }
  const uint64_t n = uint64_t(*max - *count);
  const double t0 = WorkerLink::now();
  Sender s(raw.get());
  // 1. Each flow once each way: the entry is created and has seen a reply.
  for (uint64_t i = 0; i < n; ++i) {
    const Flow f = flow(i);
    s.add(f, false);
    s.add(f, true);
    if (s.full()) {
      if (!s.flush()) {
        link.error(std::string("sendmmsg: ") + std::strerror(errno));
        return 1;
      }
      if ((i & 0xffff) == 0 && link.stop_requested()) return 0;
    }
  }
  s.flush();
  // 2. nf_conntrack_udp_packet() marks a replied flow ASSURED only once a packet comes more
  // than 2 s after the first one (ct->proto.udp.stream_ts).
  if (link.wait_stop(2.2)) return 0;
  for (uint64_t i = 0; i < n; ++i) {
    s.add(flow(i), false);
    if (s.full()) {
      s.flush();
      if ((i & 0xffff) == 0 && link.stop_requested()) return 0;
    }
  }
  s.flush();
  const auto filled = read_int("/proc/sys/net/netfilter/nf_conntrack_count").value_or(0);
  link.observe(
      _f("filled the namespace's conntrack table with {0} ASSURED UDP flows in {1} s, "
         "against the global nf_conntrack_max of {2} (~{3} MiB of kernel memory; the "
         "host's own table is untouched)",
         with_commas(uint64_t(filled)), int(WorkerLink::now() - t0), with_commas(uint64_t(*max)),
         uint64_t(filled) * kConntrackEntryBytes >> 20));
  // 3. New flows from now on find no slot: early_drop() cannot evict ASSURED entries.
  uint64_t next = n;
  const uint64_t refused_before = s.refused();
  bool ready = false;
  while (!link.stop_requested() && next < n + 200000) {
    for (int k = 0; k < 20; ++k) s.add(flow(next++), false);
    s.flush();
    const uint64_t dropped = s.refused() - refused_before;
    if (!ready && dropped >= 40) {
      ready = true;
      link.ready(
          _f("new flows are dropped: {0} packets refused with EPERM (nf_conntrack: table "
             "full)",
             with_commas(dropped)));
    }
    if (!ready && next - n >= 2000) {
      ready = true;
      link.ready(_f("the table did not refuse new flows ({0} of {1} dropped)", with_commas(dropped),
                    with_commas(next - n)));
    }
    link.wait_stop(0.05);  // ~400 new flows/s
  }
  link.observe(_f("{0} new flows tried while the table was full, {1} dropped",
                  with_commas(next - n), with_commas(s.refused() - refused_before)));
  return 0;
}

constexpr const char* kConntrackRuleset = R"(table ip cdlab_ct {
  chain out {
    type filter hook output priority 0; policy accept;
    ct state invalid counter
  }
}
)";

Result<void> conntrack_full(LoadSet& load) {
  // A veth whose peer stays down swallows the packets after POSTROUTING, where conntrack has
  // already confirmed their entries; a permanent neighbour keeps ARP out of the way. The
  // ruleset's ct expression makes conntrack hook this namespace (nf_ct_netns_get()).
  if (auto r =
          run_all({{"ip", "link", "add", "cdlab-ct0", "type", "veth", "peer", "name", "cdlab-ct1"},
                   {"ip", "addr", "add", "198.18.0.1/24", "dev", "cdlab-ct0"},
                   {"ip", "link", "set", "cdlab-ct0", "up"},
                   {"ip", "route", "add", "198.18.1.0/24", "via", "198.18.0.2", "dev", "cdlab-ct0",
                    "onlink"},
                   {"ip", "route", "add", "198.19.0.0/16", "via", "198.18.0.2", "dev", "cdlab-ct0",
                    "onlink"},
                   {"ip", "neigh", "replace", "198.18.0.2", "lladdr", "02:00:00:00:00:02", "dev",
                    "cdlab-ct0", "nud", "permanent"}});
      !r)
    return r;
  if (auto r = run_tool({"nft", "-f", "-"}, kConntrackRuleset); !r) return r;
  auto w = load.spawn({"cdlab-ctfill", conntrack_fill, std::nullopt});
  if (!w) return std::unexpected(w.error());
  return load.wait_ready(*w, 25);
}

// --- snat-exhaustion ----------------------------------------------------------------------

constexpr uint16_t kServerPort = 80;
constexpr int kConnects = 16;  // against a 10-port NAT range
constexpr const char* kNatRuleset = R"(table ip cdlab_nat {
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname "cdr-srv" meta l4proto tcp masquerade to :40000-40009
  }
}
)";

int snat_server(WorkerLink& link) {
  if (!enter_own_netns(link)) return 1;
  auto l = tcp_listen(v4_endpoint("0.0.0.0", kServerPort), 128);
  if (!l) {
    link.error(l.error().message);
    return 1;
  }
  link.ready("");
  std::vector<UniqueFd> held;
  uint16_t lo = UINT16_MAX, hi = 0;
  std::string peer;
  while (!link.stop_requested()) {
    if (!(link.wait_fd(l->get(), POLLIN, 1.0) & POLLIN)) continue;
    while (true) {
      sockaddr_in a{};
      socklen_t len = sizeof a;
      int fd = ::accept4(l->get(), reinterpret_cast<sockaddr*>(&a), &len, SOCK_CLOEXEC);
      if (fd < 0) break;
      held.emplace_back(fd);
      lo = std::min(lo, ntohs(a.sin_port));
      hi = std::max(hi, ntohs(a.sin_port));
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
      peer = ip;
    }
  }
  if (!held.empty())
    link.observe(
        _f("server 198.19.0.2:80 accepted {0} connections, all from {1} (the router's "
           "NAT IP), source ports {2}-{3}",
           held.size(), peer, lo, hi));
  return 0;
}

int snat_client(WorkerLink& link) {
  if (!enter_own_netns(link)) return 1;
  if (!wait_default_route(link)) return link.stop_requested() ? 0 : 1;
  const sockaddr_in to = to_sockaddr(v4_endpoint("198.19.0.2", kServerPort));
  struct Conn {
    UniqueFd fd;
    double started = 0;
    bool established = false;
  };
  std::vector<Conn> conns;
  auto update = [&] {
    for (Conn& c : conns) {
      if (c.established) continue;
      pollfd p{c.fd.get(), POLLOUT, 0};
      if (::poll(&p, 1, 0) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        c.established = err == 0;
      }
    }
  };
  const double start = WorkerLink::now();
  bool ready = false;
  while (!link.stop_requested()) {
    if (conns.size() < kConnects) {
      Conn c;
      c.fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      c.started = WorkerLink::now();
      ::connect(c.fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
      conns.push_back(std::move(c));
    }
    update();
    int est = 0, stuck = 0;
    for (const Conn& c : conns) {
      est += c.established;
      stuck += !c.established && WorkerLink::now() - c.started > 1.5;
    }
    const std::string state =
        _f("{0} connects through the NAT router to 198.19.0.2:80: {1} established, {2} "
           "unanswered after 1.5 s",
           conns.size(), est, stuck);
    if (!ready && conns.size() == kConnects && est > 0 && stuck >= 3) {
      ready = true;
      link.ready(state + _(" (their SYNs die at the router: no NAT port left)"));
    } else if (!ready && WorkerLink::now() - start > 10) {
      ready = true;
      link.ready(state + _(" (the NAT pool did not run out)"));
    }
    link.wait_stop(0.05);
  }
  return 0;
}

Result<void> snat_exhaustion(LoadSet& load) {
  // The lab namespace is the router: it masquerades towards the server side to 10 ports.
  if (auto r = run_tool({"nft", "-f", "-"}, kNatRuleset); !r) return r;

  auto srv = load.spawn({"cdlab-server", snat_server, std::nullopt});
  if (!srv) return std::unexpected(srv.error());
  if (auto r = load.wait_ready(*srv, 5); !r) return r;
  if (auto r = wire_veth(load.pid(*srv), {"cdr-srv", "198.19.0.1/24", "198.19.0.2/24", ""}); !r)
    return r;

  auto cli = load.spawn({"cdlab-client", snat_client, std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  if (auto r = wait_own_netns(load.pid(*cli)); !r) return r;
  if (auto r =
          wire_veth(load.pid(*cli), {"cdr-cli", "198.18.1.1/24", "198.18.1.2/24", "198.18.1.1"});
      !r)
    return r;
  return load.wait_ready(*cli, 15);
}

// --- no-timestamps-peer -------------------------------------------------------------------

// A server in a namespace of its own whose tcp_timestamps is 0: its SYN-ACKs carry no
// timestamp option, so no connection to it negotiates timestamps, whatever the client's sysctls.
int no_ts_server(WorkerLink& link) {
  if (!enter_own_netns(link)) return 1;
  // /proc/sys/net is the opening process's namespace: this changes the server's own only
  // (enter_own_netns() succeeded, so it is not the lab's, let alone the host's).
  UniqueFd f(::open("/proc/sys/net/ipv4/tcp_timestamps", O_WRONLY | O_CLOEXEC));
  if (!f || ::write(f.get(), "0\n", 2) != 2) {
    link.error(std::string("tcp_timestamps=0 in the server's namespace: ") + std::strerror(errno));
    return 1;
  }
  return server_worker(
      {.mode = ServerConfig::Mode::kCloseAfterPeer, .listen = v4_endpoint("0.0.0.0", 8080)})(link);
}

Result<void> no_timestamps_peer(LoadSet& load) {
  auto srv = load.spawn({"cdlab-server", no_ts_server, std::nullopt});
  if (!srv) return std::unexpected(srv.error());
  if (auto r = wait_own_netns(load.pid(*srv)); !r) return r;
  if (auto r = wire_veth(load.pid(*srv), {"cdp-srv", "198.18.2.1/24", "198.18.2.2/24", ""}); !r)
    return r;
  if (auto r = load.wait_ready(*srv, 5); !r) return r;
  // The port-exhaustion churn (400/s into a 1,000-port range), towards the server: with reuse
  // working it would keep succeeding; without the peer's timestamps it runs out in ~2.5 s.
  ClientConfig c;
  c.destinations = {v4_endpoint("198.18.2.2", 8080)};
  c.close = ClientConfig::Close::kClientFirst;
  c.rate_per_s = 400;
  c.max_attempts = 20000;
  c.ready_on_eaddrnotavail = true;
  c.ready_after_successes = 3000;
  c.ready_timeout_s = 15;
  c.counters = {"TcpExt.TWRecycled"};
  auto cli = load.spawn({"cdlab-client", client_worker(std::move(c)), std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, 20);
}

}  // namespace

ScenarioInfo no_timestamps_peer_scenario() {
  return {"no-timestamps-peer",
          N_("tcp_tw_reuse=1 and timestamps on here, a peer (198.18.2.2:8080, its own namespace) "
             "with tcp_timestamps=0; client closes first at 400/s into 1,000 ports: reuse is "
             "refused"),
          N_("ephemeral_ports critical for 198.18.2.2:8080, tw_reuse_basis refused (TWRecycled "
             "flat), no TIME_WAIT credited"),
          {{"net.ipv4.ip_local_port_range", "40000 40999"},
           {"net.ipv4.tcp_tw_reuse", "1"},
           {"net.ipv4.tcp_timestamps", "1"}},
          no_timestamps_peer};
}

ScenarioInfo conntrack_full_scenario() {
  return {"conntrack-full",
          N_("the namespace's conntrack table filled to the global nf_conntrack_max with "
             "ASSURED UDP flows: early_drop() cannot evict them, new flows are dropped"),
          N_("conntrack critical, network layer, drop rate > 0; the host's table is not "
             "affected"),
          {},
          conntrack_full};
}

ScenarioInfo snat_exhaustion_scenario() {
  return {"snat-exhaustion",
          N_("client -> NAT router -> server namespaces; the router masquerades to ports "
             "40000-40009 and the client opens 16 connections to 198.19.0.2:80"),
          N_("snat_ports critical in the router's namespace, names 198.19.0.2:80 and NAT IP "
             "198.19.0.1"),
          {{"net.ipv4.ip_forward", "1"}},
          snat_exhaustion};
}

}  // namespace cd
