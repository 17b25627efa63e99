// The one-pass socket scan: which requests the split source still sends to sock_diag and what
// it streams from the scan (fakes), which namespaces a scan covers, and the live BPF walks
// (established and bind hash) against the kernel's own sock_diag answer in a network namespace
// the test creates.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>
#include <tuple>

#include "collect/ehash_scan.h"
#include "fake_sock_source.h"
#include "no_skip.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

constexpr uint32_t kListenBit = 1u << int(TcpState::kListen);
constexpr uint32_t kBoundInactiveBit = 1u << 13;

SockRecord rec(uint8_t family, uint8_t protocol, TcpState state, uint16_t lport) {
  SockRecord r;
  r.family = family;
  r.protocol = protocol;
  r.state = uint8_t(state);
  r.local.addr = family == AF_INET6 ? *IpAddr::parse("::1") : *IpAddr::parse("127.0.0.1");
  r.remote.addr = r.local.addr;
  r.local.port = lport;
  return r;
}

struct Collect : SockSink {
  std::vector<SockRecord> seen;
  void on_socket(const SockRecord& s) override { seen.push_back(s); }
};

std::vector<uint16_t> ports(const std::vector<SockRecord>& v) {
  std::vector<uint16_t> out;
  for (const SockRecord& r : v) out.push_back(r.local.port);
  return out;
}

TEST(EhashSplitSource, AsksSockDiagOnlyForWhatDoesNotWalkTheEstablishedHash) {
  test::FakeSockSource kernel({
      rec(AF_INET, IPPROTO_TCP, TcpState::kListen, 80),
      rec(AF_INET, IPPROTO_TCP, TcpState::kClose, 81),        // bound-inactive
      rec(AF_INET, IPPROTO_TCP, TcpState::kEstablished, 82),  // stale: the scan has the truth
      rec(AF_INET, IPPROTO_UDP, TcpState::kClose, 53),
  });
  // A kernel before 6.1 (no bind hash to walk): bound-inactive sockets are asked of sock_diag.
  auto split = ehash_split_source(kernel,
                                  {
                                      rec(AF_INET, IPPROTO_TCP, TcpState::kTimeWait, 1000),
                                      rec(AF_INET6, IPPROTO_TCP, TcpState::kEstablished, 1001),
                                      rec(AF_INET, IPPROTO_TCP, TcpState::kEstablished, 1002),
                                      rec(AF_INET, IPPROTO_TCP, TcpState::kSynSent, 1003),
                                  },
                                  /*bound_inactive=*/false);
  Collect listen, rest, udp, v6;
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_TCP, kListenBit}, listen));
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_TCP, ~kListenBit}, rest));
  ASSERT_TRUE(split->dump({AF_INET6, IPPROTO_TCP, ~kListenBit}, v6));
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_UDP, ~0u}, udp));

  EXPECT_EQ(ports(listen.seen), (std::vector<uint16_t>{80}));
  // sock_diag's bound-inactive socket first, then the scan's, in its order, IPv4 only
  EXPECT_EQ(ports(rest.seen), (std::vector<uint16_t>{81, 1000, 1002, 1003}));
  EXPECT_EQ(ports(v6.seen), (std::vector<uint16_t>{1001}));
  EXPECT_EQ(ports(udp.seen), (std::vector<uint16_t>{53}));

  ASSERT_EQ(kernel.requests.size(), 4u);
  EXPECT_EQ(kernel.requests[0].states, kListenBit);
  EXPECT_EQ(kernel.requests[1].states, kBoundInactiveBit);  // no established-hash state asked
  EXPECT_EQ(kernel.requests[2].states, kBoundInactiveBit);
  EXPECT_EQ(kernel.requests[3].protocol, IPPROTO_UDP);
  EXPECT_EQ(kernel.requests[3].states, ~0u);
}

TEST(EhashSplitSource, HonoursTheRequestedStates) {
  test::FakeSockSource kernel;
  auto split = ehash_split_source(kernel,
                                  {rec(AF_INET, IPPROTO_TCP, TcpState::kTimeWait, 1),
                                   rec(AF_INET, IPPROTO_TCP, TcpState::kEstablished, 2),
                                   rec(AF_INET, IPPROTO_TCP, TcpState::kClose, 3)},
                                  /*bound_inactive=*/true);
  Collect tw;
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_TCP, 1u << int(TcpState::kTimeWait)}, tw));
  EXPECT_EQ(ports(tw.seen), (std::vector<uint16_t>{1}));
  EXPECT_TRUE(kernel.requests.empty());  // nothing sock_diag must answer
}

TEST(EhashSplitSource, WithTheBindHashWalkedSockDiagIsAskedForListenersOnly) {
  test::FakeSockSource kernel({rec(AF_INET, IPPROTO_TCP, TcpState::kListen, 80),
                               rec(AF_INET, IPPROTO_TCP, TcpState::kClose, 81)});  // stale
  auto split = ehash_split_source(kernel,
                                  {rec(AF_INET, IPPROTO_TCP, TcpState::kClose, 90),  // bound
                                   rec(AF_INET, IPPROTO_TCP, TcpState::kTimeWait, 1000)},
                                  /*bound_inactive=*/true);
  Collect listen, rest, close_only;
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_TCP, kListenBit}, listen));
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_TCP, ~kListenBit}, rest));
  // CLOSE without TCP_BOUND_INACTIVE: sock_diag would walk the established hash, which holds no
  // CLOSE socket
  ASSERT_TRUE(split->dump({AF_INET, IPPROTO_TCP, 1u << int(TcpState::kClose)}, close_only));
  EXPECT_EQ(ports(listen.seen), (std::vector<uint16_t>{80}));
  EXPECT_EQ(ports(rest.seen), (std::vector<uint16_t>{90, 1000}));
  EXPECT_TRUE(close_only.seen.empty());
  ASSERT_EQ(kernel.requests.size(), 1u);
  EXPECT_EQ(kernel.requests[0].states, kListenBit);
}

TEST(EhashSplitSource, ASockDiagErrorIsTheDumpsError) {
  test::FakeSockSource kernel;
  kernel.fail_on_request = 0;
  auto split =
      ehash_split_source(kernel, {rec(AF_INET, IPPROTO_TCP, TcpState::kTimeWait, 1)}, false);
  Collect out;
  auto r = split->dump({AF_INET, IPPROTO_TCP, ~kListenBit}, out);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos);
}

TEST(EhashScanCovers, NamespacesSharingTheHostTableAndTheWalkersOwn) {
  EhashScan scan;
  scan.walker_netns = 100;
  scan.shared_table = true;
  EXPECT_TRUE(ehash_scan_covers(scan, 7, -262144));       // a namespace sharing the host's table
  EXPECT_TRUE(ehash_scan_covers(scan, 7, std::nullopt));  // before 6.1: every one shares it
  EXPECT_TRUE(ehash_scan_covers(scan, 100, 262144));      // the host's own
  EXPECT_FALSE(ehash_scan_covers(scan, 7, 1024));         // a namespace with its own table
  scan.shared_table = false;                              // we run in such a namespace
  EXPECT_FALSE(ehash_scan_covers(scan, 100, 1024));
  EXPECT_FALSE(ehash_scan_covers(scan, 7, -262144));
}

// --- the live walk -------------------------------------------------------------------------

using Key = std::tuple<int, std::string, std::string, uint32_t>;  // state, local, remote, inode

std::set<Key> keys(const std::vector<SockRecord>& v) {
  std::set<Key> out;
  for (const SockRecord& r : v)
    out.emplace(r.state, r.local.to_string(), r.remote.to_string(), r.inode);
  return out;
}

uint64_t own_netns() {
  struct stat st {};
  return ::stat("/proc/thread-self/ns/net", &st) == 0 ? uint64_t(st.st_ino) : 0;
}

// A new namespace's lo is down; loopback connects need it up (SIOCSIFFLAGS, in this thread's
// namespace only).
bool lo_up() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return false;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

TEST(EhashScanLive, TheWalkSeesWhatSockDiagSeesInANewNamespace) {
  if (::geteuid() != 0) CD_SKIP() << "needs root (CAP_SYS_ADMIN for a namespace, CAP_BPF)";
  std::string skip, failure;
  std::set<Key> walked, dumped;
  uint64_t netns = 0, walker = 0;
  bool shared = false, bound = false;
  std::size_t connections = 0;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      skip = "unshare(CLONE_NEWNET) failed";
      return;
    }
    if (!lo_up()) {
      failure = "cannot bring lo up in the new namespace";
      return;
    }
    netns = own_netns();
    // 20 established pairs, 5 closed client first (TIME_WAIT), on 127.0.0.1 and ::1.
    std::vector<UniqueFd> keep;
    for (int family : {AF_INET, AF_INET6}) {
      UniqueFd srv(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
      } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
      }
      if (::bind(srv.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
          ::listen(srv.get(), 64) != 0 ||
          ::getsockname(srv.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        failure = "listener";
        return;
      }
      for (int i = 0; i < 20; ++i) {
        UniqueFd c(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (::connect(c.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
          failure = "connect";
          return;
        }
        UniqueFd s(::accept4(srv.get(), nullptr, nullptr, SOCK_CLOEXEC));
        ++connections;
        if (i < 5) continue;  // both closed here: the client closed first, TIME_WAIT
        keep.push_back(std::move(c));
        keep.push_back(std::move(s));
      }
      keep.push_back(std::move(srv));
      // bound, neither connected nor listening: bound-inactive (the bind hash)
      UniqueFd b(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (family == AF_INET)
        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = 0;
      else
        reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = 0;
      if (::bind(b.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        failure = "bind";
        return;
      }
      keep.push_back(std::move(b));
    }
    auto scanner = open_bpf_ehash_scanner();
    auto scan = scanner->scan();
    if (!scan) {
      const std::string why = scan.error().message;
      if (why.find("without BPF") != std::string::npos ||
          why.find("CONFIG_HZ") != std::string::npos)
        skip = why;
      else
        failure = why;
      return;
    }
    walker = scan->walker_netns;
    shared = scan->shared_table;
    bound = scan->bound_inactive;
    if (auto it = scan->by_netns.find(netns); it != scan->by_netns.end()) walked = keys(it->second);
    auto kernel = open_netlink_sock_source();
    if (!kernel) {
      failure = kernel.error().message;
      return;
    }
    Collect all;
    for (uint8_t family : {AF_INET, AF_INET6}) {
      // every state but LISTEN: the established hash's, and the bind hash's bound-inactive
      const uint32_t states = ~kListenBit;
      if (auto ok = (*kernel)->dump({family, IPPROTO_TCP, states}, all); !ok) {
        failure = ok.error().message;
        return;
      }
    }
    dumped = keys(all.seen);
  });
  t.join();
  if (!skip.empty()) CD_SKIP() << skip;
  ASSERT_TRUE(failure.empty()) << failure;
  EXPECT_EQ(walker, netns);
  EXPECT_TRUE(shared) << "a new namespace shares the host's table unless "
                         "tcp_child_ehash_entries was set";
  EXPECT_TRUE(bound) << "bhash2 exists since 6.1";
  EXPECT_EQ(connections, 40u);
  // 2 families x (15 pairs open = 30 sockets + 5 TIME_WAIT + 1 bound-inactive)
  EXPECT_GE(walked.size(), 72u);
  EXPECT_EQ(std::count_if(walked.begin(), walked.end(),
                          [](const Key& k) { return std::get<0>(k) == int(TcpState::kClose); }),
            2);
  EXPECT_EQ(walked, dumped);
  for (const Key& k : walked)
    if (!dumped.count(k))
      ADD_FAILURE() << "walked only: " << std::get<0>(k) << " " << std::get<1>(k) << " "
                    << std::get<2>(k);
  for (const Key& k : dumped)
    if (!walked.count(k))
      ADD_FAILURE() << "dumped only: " << std::get<0>(k) << " " << std::get<1>(k) << " "
                    << std::get<2>(k);
}

}  // namespace
}  // namespace cd
