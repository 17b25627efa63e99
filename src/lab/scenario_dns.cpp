// The dns-conntrack lab scenario: DNS lookups through a router that tracks connections, the way
// pods reach their cluster DNS. client (198.18.1.2) -> router, the lab namespace, with conntrack
// on (an nft `ct state` rule) -> resolvers 198.19.0.2:53 and 198.19.0.3:53 in a third namespace.
// Each lookup does what glibc does: one UDP socket, the A and AAAA queries back to back over it
// (one 5-tuple, one conntrack entry). To give conntrack the insert race behind the "5 s DNS
// delay", the two queries leave from two threads pinned to two CPUs at the same instant, so the
// router processes them in parallel. 198.19.0.2 answers 3 lookups of 4, 198.19.0.3 none: their
// entries stay UNREPLIED. Both workers count what they sent, received and answered: the ground
// truth for the diagnosis.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "lab/scenario_netlayer.h"
#include "lab/sock_util.h"
#include "lab/tools.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

constexpr const char* kAnswering = "198.19.0.2";
constexpr const char* kSilent = "198.19.0.3";
constexpr uint16_t kResolverPort = 53;
// Phase 1, before the diagnosis: lookups 0..kPhase1Lookups-1, alternating between the two
// resolvers; 198.19.0.2 leaves every fourth of its lookups unanswered (answers()).
constexpr int kPhase1Lookups = 1200;
constexpr double kPhase1Rate = 400;
// Phase 2, while the diagnosis reads: lookups from id kPhase2FirstId on, to 198.19.0.2 only,
// always answered, so that a clash during the interval shows as a rate.
constexpr uint16_t kPhase2FirstId = 32768;
constexpr double kPhase2Rate = 200;
constexpr int kPhase2MaxLookups = 4000;
// Replies are read for this long after a lookup's queries; its socket stays open until the run
// ends, so that no later lookup reuses its source port: a reused 5-tuple would share the old
// lookup's conntrack entry (UDP timeout 30 s) and the entries would no longer equal the lookups.
constexpr double kReplyWait = 1.0;
constexpr uint64_t kClientNofile = 8192;  // phase 1 + phase 2 sockets, under the 20,000 hard limit
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAaaa = 28;
constexpr std::size_t kQuestionTail = 4;  // qtype + qclass after the name

// Lookup i of phase 1 goes to resolver i % 2: 198.19.0.2 gets the even ids and leaves every
// fourth of its lookups unanswered.
bool answers(bool silent, uint16_t id) {
  return !silent && (id >= kPhase2FirstId || (id / 2) % 4 != 3);
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

// A DNS query for cdlab.example. (RD set), as a stub resolver sends it.
std::vector<uint8_t> dns_query(uint16_t id, uint16_t qtype) {
  std::vector<uint8_t> b;
  put16(b, id);
  put16(b, 0x0100);  // RD
  put16(b, 1);       // QDCOUNT
  put16(b, 0);
  put16(b, 0);
  put16(b, 0);
  for (std::string_view label : {"cdlab", "example"}) {
    b.push_back(uint8_t(label.size()));
    b.insert(b.end(), label.begin(), label.end());
  }
  b.push_back(0);
  put16(b, qtype);
  put16(b, 1);  // IN
  return b;
}

uint16_t get16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}

double mono_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// --- the resolver ----------------------------------------------------------------------------

struct ResolverCounts {
  uint64_t queries = 0;
  uint64_t answered = 0;                                       // queries answered
  std::vector<uint8_t> seen = std::vector<uint8_t>(65536, 0);  // per id: 1 A, 2 AAAA
};

int dns_resolver(WorkerLink& link) {
  if (!enter_own_netns(link)) return 1;
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  if (!fd || ::setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) {
    link.error(std::string("resolver socket: ") + std::strerror(errno));
    return 1;
  }
  // 0.0.0.0:53 before the lab adds the addresses; IP_PKTINFO tells which one was asked, and
  // the answer leaves from it.
  const sockaddr_in any = to_sockaddr(v4_endpoint("0.0.0.0", kResolverPort));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
    link.error(std::string("resolver bind 0.0.0.0:53: ") + std::strerror(errno));
    return 1;
  }
  link.ready("");
  in_addr answering{}, silent{};
  ::inet_pton(AF_INET, kAnswering, &answering);
  ::inet_pton(AF_INET, kSilent, &silent);
  std::array<ResolverCounts, 2> per;  // [0] answering, [1] silent
  std::array<uint8_t, 512> buf{};
  while (!link.stop_requested()) {
    if (!(link.wait_fd(fd.get(), POLLIN, 0.5) & POLLIN)) continue;
    while (true) {
      sockaddr_in from{};
      iovec iov{buf.data(), buf.size()};
      alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> ctl{};
      msghdr m{};
      m.msg_name = &from;
      m.msg_namelen = sizeof from;
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctl.data();
      m.msg_controllen = ctl.size();
      const ssize_t n = ::recvmsg(fd.get(), &m, 0);
      if (n < 0) break;
      if (n < 12 + 1 + ssize_t(kQuestionTail)) continue;
      in_pktinfo info{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
      const bool is_silent = info.ipi_addr.s_addr == silent.s_addr;
      if (!is_silent && info.ipi_addr.s_addr != answering.s_addr) continue;
      ResolverCounts& c = per[is_silent];
      const uint16_t id = get16(buf.data());
      const uint16_t qtype = get16(buf.data() + n - kQuestionTail);
      ++c.queries;
      c.seen[id] |= qtype == kTypeA ? 1 : 2;
      if (!answers(is_silent, id)) continue;
      buf[2] = 0x81;  // QR RD
      buf[3] = 0x80;  // RA, NOERROR, no records: NODATA is an answer all the same
      iovec out_iov{buf.data(), size_t(n)};
      alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> out_ctl{};
      msghdr o{};
      o.msg_name = &from;
      o.msg_namelen = sizeof from;
      o.msg_iov = &out_iov;
      o.msg_iovlen = 1;
      o.msg_control = out_ctl.data();
      o.msg_controllen = out_ctl.size();
      cmsghdr* oc = CMSG_FIRSTHDR(&o);
      oc->cmsg_level = IPPROTO_IP;
      oc->cmsg_type = IP_PKTINFO;
      oc->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo src{};
      src.ipi_spec_dst = info.ipi_addr;
      std::memcpy(CMSG_DATA(oc), &src, sizeof src);
      if (::sendmsg(fd.get(), &o, 0) > 0) ++c.answered;
    }
  }
  for (int i = 0; i < 2; ++i) {
    uint64_t lookups = 0, one_query = 0;
    for (uint8_t s : per[i].seen) {
      lookups += s != 0;
      one_query += s == 1 || s == 2;
    }
    link.observe(
        _f("resolver {0}:53 received {1} queries of {2} lookups ({3} lookups with only "
           "one of their two queries), answered {4} queries",
           i ? kSilent : kAnswering, per[i].queries, lookups, one_query, per[i].answered));
  }
  return 0;
}

// --- the client ------------------------------------------------------------------------------

// Two sender threads, one per CPU: for each lookup the main thread hands them the socket, both
// wake at the first barrier and spin to the same instant, then send the A and the AAAA query.
struct Race {
  std::barrier<> start{3};
  std::barrier<> done{3};
  int fd = -1;
  uint16_t id = 0;
  double at = 0;
  bool quit = false;
  std::array<std::atomic<uint64_t>, 2> send_errors{};
};

void sender(Race& r, int which, int cpu) {
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);  // this thread only
  }
  while (true) {
    r.start.arrive_and_wait();
    if (r.quit) return;
    const std::vector<uint8_t> q = dns_query(r.id, which ? kTypeAaaa : kTypeA);
    while (mono_now() < r.at) {
    }
    if (::send(r.fd, q.data(), q.size(), 0) < 0) ++r.send_errors[which];
    r.done.arrive_and_wait();
  }
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

struct Lookup {
  UniqueFd fd;
  double sent = 0;
  int dest = 0;  // 0 answering, 1 silent
  bool phase2 = false;
  bool answered = false;
};

struct Tally {
  uint64_t sent = 0;
  uint64_t answered = 0;
};

class DnsClient {
 public:
  explicit DnsClient(WorkerLink& link) : link_(link) {}

  int run() {
    if (!enter_own_netns(link_)) return 1;
    if (!wait_default_route(link_)) return link_.stop_requested() ? 0 : 1;
    const std::vector<int> cpus = allowed_cpus();
    const bool two = cpus.size() >= 2;
    std::thread a(sender, std::ref(race_), 0, two ? cpus[0] : -1);
    std::thread b(sender, std::ref(race_), 1, two ? cpus[1] : -1);
    const int rc = lookups(two);
    race_.quit = true;
    race_.start.arrive_and_wait();
    a.join();
    b.join();
    return rc;
  }

 private:
  int lookups(bool two_cpus) {
    const double t0 = WorkerLink::now();
    for (int i = 0; i < kPhase1Lookups; ++i) {
      if (!lookup(uint16_t(i), i % 2, false)) return 1;
      collect();
      if (link_.wait_stop(std::max(0.0, t0 + (i + 1) / kPhase1Rate - WorkerLink::now()))) return 0;
    }
    while (!pending_.empty() && !link_.stop_requested()) {
      collect();
      link_.wait_stop(0.05);
    }
    link_.ready(
        _f("{0} lookups, A and AAAA from one socket sent at the same instant from {1}: {2}:53 "
           "answered {3} of {4}, {5}:53 answered {6} of {7}; now {8} lookups/s to {2}:53, all "
           "answered",
           kPhase1Lookups, two_cpus ? _("two CPUs") : _("one CPU (no parallel race possible)"),
           kAnswering, phase1_[0].answered, phase1_[0].sent, kSilent, phase1_[1].answered,
           phase1_[1].sent, int(kPhase2Rate)));
    const double t1 = WorkerLink::now();
    uint32_t id = kPhase2FirstId;
    while (!link_.stop_requested() && id < uint32_t(kPhase2FirstId) + kPhase2MaxLookups) {
      if (!lookup(uint16_t(id), 0, true)) return 1;
      ++id;
      collect();
      link_.wait_stop(std::max(0.0, t1 + (id - kPhase2FirstId) / kPhase2Rate - WorkerLink::now()));
    }
    while (!link_.stop_requested()) {
      collect();
      link_.wait_stop(0.05);
    }
    const double end = WorkerLink::now() + 0.2;  // replies still in flight
    while (!pending_.empty() && WorkerLink::now() < end) {
      collect();
      ::usleep(20000);
    }
    for (Lookup& l : pending_) finish(l);
    pending_.clear();
    held_.clear();
    link_.observe(_f(
        "client lookups to {0}:53: {1} before the diagnosis ({2} answered), {3} during "
        "it ({4} answered); to {5}:53: {6} ({7} answered); {8} queries failed to send",
        kAnswering, phase1_[0].sent, phase1_[0].answered, phase2_.sent, phase2_.answered, kSilent,
        phase1_[1].sent, phase1_[1].answered, race_.send_errors[0] + race_.send_errors[1]));
    return 0;
  }

  bool lookup(uint16_t id, int dest, bool phase2) {
    Lookup l;
    l.fd = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const sockaddr_in to = to_sockaddr(v4_endpoint(dest ? kSilent : kAnswering, kResolverPort));
    if (!l.fd || ::connect(l.fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      link_.error(std::string("lookup socket: ") + std::strerror(errno));
      return false;
    }
    race_.fd = l.fd.get();
    race_.id = id;
    race_.at = mono_now() + 100e-6;
    race_.start.arrive_and_wait();
    race_.done.arrive_and_wait();
    l.sent = WorkerLink::now();
    l.dest = dest;
    l.phase2 = phase2;
    ++(phase2 ? phase2_ : phase1_[dest]).sent;
    pending_.push_back(std::move(l));
    return true;
  }

  void finish(Lookup& l) {
    if (l.answered) ++(l.phase2 ? phase2_ : phase1_[l.dest]).answered;
  }

  // Reads the replies that came; closes the sockets older than kReplyWait.
  void collect() {
    std::vector<pollfd> p(pending_.size());
    for (std::size_t i = 0; i < pending_.size(); ++i) p[i] = {pending_[i].fd.get(), POLLIN, 0};
    if (!p.empty() && ::poll(p.data(), p.size(), 0) > 0) {
      std::array<uint8_t, 512> buf{};
      for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i].revents & POLLIN)
          while (::recv(pending_[i].fd.get(), buf.data(), buf.size(), 0) > 0)
            pending_[i].answered = true;
    }
    const double now = WorkerLink::now();
    std::size_t keep = 0;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (now - pending_[i].sent >= kReplyWait) {
        finish(pending_[i]);
        held_.push_back(std::move(pending_[i].fd));
        continue;
      }
      if (keep != i) pending_[keep] = std::move(pending_[i]);
      ++keep;
    }
    pending_.resize(keep);
  }

  WorkerLink& link_;
  Race race_;
  std::vector<Lookup> pending_;
  std::vector<UniqueFd> held_;  // done with, kept open: their source ports stay taken
  std::array<Tally, 2> phase1_{};
  Tally phase2_;
};

int dns_client(WorkerLink& link) {
  DnsClient c(link);
  return c.run();
}

// A `ct state` expression makes conntrack hook this namespace (nf_ct_netns_get()); the router
// forwards between the client's and the resolvers' veths.
constexpr const char* kDnsRuleset = R"(table ip cdlab_dns {
  chain cdlab_fwd {
    type filter hook forward priority 0; policy accept;
    ct state new counter
  }
}
)";

Result<void> dns_conntrack(LoadSet& load) {
  if (auto r = run_tool({"nft", "-f", "-"}, kDnsRuleset); !r) return r;
  auto srv = load.spawn({"cdlab-resolver", dns_resolver, std::nullopt});
  if (!srv) return std::unexpected(srv.error());
  if (auto r = load.wait_ready(*srv, 5); !r) return r;
  if (auto r = wire_veth(load.pid(*srv), {"cdd-srv", "198.19.0.1/24",
                                          std::string(kAnswering) + "/24", "198.19.0.1"});
      !r)
    return r;
  if (auto r = run_in(load.pid(*srv),
                      {{"ip", "addr", "add", std::string(kSilent) + "/24", "dev", "eth0"}});
      !r)
    return r;

  auto cli = load.spawn({"cdlab-dnsclient", dns_client, kClientNofile});
  if (!cli) return std::unexpected(cli.error());
  if (auto r = wait_own_netns(load.pid(*cli)); !r) return r;
  if (auto r =
          wire_veth(load.pid(*cli), {"cdd-cli", "198.18.1.1/24", "198.18.1.2/24", "198.18.1.1"});
      !r)
    return r;
  return load.wait_ready(*cli, 20);
}

}  // namespace

ScenarioInfo dns_conntrack_scenario() {
  return {"dns-conntrack",
          N_("client -> router with conntrack -> resolvers 198.19.0.2:53 (answers 3 lookups of "
             "4) and 198.19.0.3:53 (none); each lookup sends A and AAAA from one UDP socket at "
             "the same instant from two CPUs"),
          N_("conntrack dns finding in the router's namespace: UDP/53 entries never answered, "
             "per resolver, as the workers counted; insert_failed or clash_resolve as the "
             "kernel handled the races"),
          {{"net.ipv4.ip_forward", "1"}},
          dns_conntrack};
}

}  // namespace cd
