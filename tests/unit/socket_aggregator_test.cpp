// Tests of the streaming socket aggregation: state counts, client/server/other TIME_WAIT,
// per-tuple usage and TIME_WAIT ages, CLOSE_WAIT groups, host-wide port pool, inode index and
// dump_all's request order and completeness.
#include "collect/socket_aggregator.h"

#include <gtest/gtest.h>

#include <set>

#include "collect/recorded_sock_source.h"
#include "dump_builder.h"

namespace cd {
namespace {

using test::DumpBuilder;
using test::listener;
using test::tcp;
using test::time_wait;
using test::udp;
constexpr auto kEst = TcpState::kEstablished;

SocketSummary aggregate(const std::vector<SockRecord>& socks, AggregatorConfig cfg = {}) {
  SocketAggregator agg(cfg);
  for (const auto& s : socks) agg.on_socket(s);
  return agg.finish();
}

const TupleUsage* find_tuple(const SocketSummary& s, std::string_view src, std::string_view dst) {
  auto d = test::ep(dst);
  for (const auto& t : s.tuples)
    if (t.key.src == *IpAddr::parse(src) && t.key.destination() == d) return &t;
  return nullptr;
}

int state(TcpState s) {
  return int(s);
}

TEST(SocketAggregator, CountsSynSentWhoseSynWasRetransmitted) {
  SockRecord answered_late = tcp(TcpState::kSynSent, "10.0.0.1:40000", "10.0.0.2:80", 1);
  SockRecord unanswered = tcp(TcpState::kSynSent, "10.0.0.1:40001", "10.0.0.2:80", 2);
  unanswered.timer = 1;
  unanswered.retrans = 2;
  SockRecord est_retrans = tcp(kEst, "10.0.0.1:40002", "10.0.0.2:80", 3);
  est_retrans.timer = 1;
  est_retrans.retrans = 1;  // data retransmits: not a connect
  auto sum = aggregate({answered_late, unanswered, est_retrans});
  const TupleUsage* t = find_tuple(sum, "10.0.0.1", "10.0.0.2:80");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->by_state[state(TcpState::kSynSent)], 2u);
  EXPECT_EQ(t->syn_unanswered, 1u);
}

TEST(SocketAggregator, CountsSynRecvOnEachListeningPort) {
  auto sum = aggregate({
      listener("0.0.0.0:8080", 0, 128, 10), listener("0.0.0.0:9090", 0, 128, 11),
      tcp(TcpState::kSynRecv, "10.0.0.1:8080", "10.0.0.8:50001"),
      tcp(TcpState::kSynRecv, "10.0.0.1:8080", "10.0.0.8:50002"),
      tcp(TcpState::kSynRecv, "10.0.0.1:40000", "10.0.0.8:50003"),  // not a listening port
  });
  ASSERT_EQ(sum.listeners.size(), 2u);
  EXPECT_EQ(sum.listeners[0].syn_recv, 2u);
  EXPECT_EQ(sum.listeners[1].syn_recv, 0u);
}

TEST(SocketAggregator, CountsStatesAndListeners) {
  auto sum = aggregate({
      listener("0.0.0.0:8080", 3, 128, 10),
      listener("[::]:22", 0, 4096, 11),
      tcp(kEst, "10.0.0.1:8080", "10.0.0.9:50000", 12),
      tcp(kEst, "10.0.0.1:40000", "10.0.0.2:5432", 13),
      tcp(TcpState::kSynRecv, "10.0.0.1:8080", "10.0.0.8:50001"),
      time_wait("10.0.0.1:40001", "10.0.0.2:5432"),
  });
  EXPECT_EQ(sum.total, 6u);
  EXPECT_EQ(sum.by_state[state(TcpState::kListen)], 2u);
  EXPECT_EQ(sum.by_state[state(kEst)], 2u);
  EXPECT_EQ(sum.by_state[state(TcpState::kSynRecv)], 1u);
  EXPECT_EQ(sum.by_state[state(TcpState::kTimeWait)], 1u);
  ASSERT_EQ(sum.listeners.size(), 2u);
  // Sorted by local endpoint: IPv4 before IPv6.
  EXPECT_EQ(sum.listeners[0].local.to_string(), "0.0.0.0:8080");
  EXPECT_EQ(sum.listeners[0].queue_len, 3u);
  EXPECT_EQ(sum.listeners[0].queue_limit, 128u);
  EXPECT_EQ(sum.listeners[0].inode, 10u);
  EXPECT_EQ(sum.listeners[1].local.to_string(), "[::]:22");
  EXPECT_EQ(sum.listeners[1].queue_limit, 4096u);
  EXPECT_FALSE(sum.complete);  // only dump_all can say the dump was whole
}

TEST(SocketAggregator, TimeWaitIsClientServerOrOther) {
  auto sum = aggregate({
      listener("0.0.0.0:80", 0, 128),
      listener("0.0.0.0:45000", 0, 128),              // a service port inside the ephemeral range
      time_wait("10.0.0.1:40000", "10.0.0.2:443"),    // client: ephemeral local port
      time_wait("10.0.0.1:40001", "10.0.0.2:443"),    // client
      time_wait("10.0.0.1:80", "10.0.0.7:51000"),     // server closed first
      time_wait("10.0.0.1:45000", "10.0.0.7:51001"),  // server, listening port in range
      time_wait("10.0.0.1:1000", "10.0.0.3:22"),      // fixed port, not a listener
  });
  EXPECT_EQ(sum.time_wait_client, 2u);
  EXPECT_EQ(sum.time_wait_server, 2u);
  EXPECT_EQ(sum.time_wait_other, 1u);
  ASSERT_EQ(sum.tuples.size(), 1u);  // server-side sockets on 45000 make no tuple
  EXPECT_EQ(sum.tuples[0].time_wait, 2u);
}

// Kernels >= 6.6 dump bound-but-inactive sockets (TCP_BOUND_INACTIVE requested) in state CLOSE
// with no peer: bind() holds their port for every destination, and they are nobody's tuple.
TEST(SocketAggregator, BoundInactiveSocketsHoldPortsAndMakeNoTuple) {
  AggregatorConfig cfg;
  cfg.ephemeral = PortRange{40000, 40999};
  auto sum = aggregate(
      {
          tcp(TcpState::kClose, "127.0.0.1:40010", "0.0.0.0:0", 11),
          tcp(TcpState::kClose, "127.0.0.1:40011", "0.0.0.0:0", 12),
          tcp(TcpState::kClose, "0.0.0.0:40011", "0.0.0.0:0", 13),   // same port, counted once
          tcp(TcpState::kClose, "127.0.0.1:1234", "0.0.0.0:0", 14),  // outside the range
          tcp(kEst, "127.0.0.1:40020", "127.0.0.1:8080", 15),
      },
      cfg);
  EXPECT_EQ(sum.bound_inactive, 4u);
  EXPECT_EQ(sum.bound_inactive_ports, (std::vector<uint16_t>{40010, 40011}));
  ASSERT_EQ(sum.tuples.size(), 1u);
  EXPECT_EQ(sum.tuples[0].key.dport, 8080);
  EXPECT_EQ(sum.tcp_ports_in_range, 3u);  // host-wide: bound ports are in use
}

TEST(SocketAggregator, TuplesArePerSourceDestinationAndPort) {
  std::vector<SockRecord> socks;
  for (int i = 0; i < 5; ++i)
    socks.push_back(tcp(kEst, "10.0.0.1:" + std::to_string(40000 + i), "10.0.0.2:5432", 100 + i));
  for (int i = 0; i < 3; ++i)  // same ports, another destination port: another tuple
    socks.push_back(tcp(kEst, "10.0.0.1:" + std::to_string(40000 + i), "10.0.0.2:6379", 200 + i));
  socks.push_back(tcp(kEst, "10.0.0.5:40000", "10.0.0.2:5432", 300));  // another source IP
  socks.push_back(tcp(kEst, "[2001:db8::1]:40000", "[2001:db8::2]:5432", 301));
  auto sum = aggregate(socks);
  ASSERT_EQ(sum.tuples.size(), 4u);
  EXPECT_EQ(sum.tuples[0].key.destination().to_string(), "10.0.0.2:5432");  // busiest first
  EXPECT_EQ(sum.tuples[0].in_use(), 5u);
  EXPECT_EQ(sum.tuples[1].in_use(), 3u);
  EXPECT_EQ(sum.tuples[1].key.dport, 6379);
  ASSERT_NE(find_tuple(sum, "10.0.0.5", "10.0.0.2:5432"), nullptr);
  ASSERT_NE(find_tuple(sum, "2001:db8::1", "[2001:db8::2]:5432"), nullptr);
  // Host-wide pool: 40000..40004, shared ports counted once, across families.
  EXPECT_EQ(sum.tcp_ports_in_range, 5u);
}

TEST(SocketAggregator, TimeWaitAgesFromExpires) {
  AggregatorConfig cfg;
  cfg.tw_reuse_delay_ms = 1000;
  auto sum = aggregate(
      {
          time_wait("10.0.0.1:40000", "10.0.0.2:80", 59'500),  // age 0.5 s: recent
          time_wait("10.0.0.1:40001", "10.0.0.2:80", 50'000),  // age 10 s: recent, past delay
          time_wait("10.0.0.1:40002", "10.0.0.2:80", 30'000),  // age 30 s: past delay
          time_wait("10.0.0.1:40003", "10.0.0.2:80", 10'000),  // leaves within 10 s
          time_wait("10.0.0.1:40004", "10.0.0.2:80", 0),       // leaving now
          time_wait("10.0.0.1:40005", "10.0.0.2:80", 70'000),  // nonsense: clamp to age 0
      },
      cfg);
  ASSERT_EQ(sum.tuples.size(), 1u);
  const TupleUsage& t = sum.tuples[0];
  EXPECT_EQ(t.time_wait, 6u);
  EXPECT_EQ(t.by_state[state(TcpState::kTimeWait)], 6u);
  EXPECT_EQ(t.live(), 0u);
  EXPECT_EQ(t.tw_recent, 3u);
  EXPECT_EQ(t.tw_past_reuse_delay, 4u);
  EXPECT_EQ(t.tw_expiring, 2u);

  cfg.tw_reuse_delay_ms = 0;  // tcp_tw_reuse_delay=0: every TIME_WAIT is old enough
  auto sum0 = aggregate({time_wait("10.0.0.1:40000", "10.0.0.2:80", 60'000)}, cfg);
  EXPECT_EQ(sum0.tuples[0].tw_past_reuse_delay, 1u);
}

TEST(SocketAggregator, TimewaitTableFinWait2IsNotTimeWait) {
  // An orphaned FIN_WAIT2 lives in the timewait table (tw_substate): inode 0, an expiry, but
  // it must count as FIN_WAIT2.
  SockRecord fw2 = time_wait("10.0.0.1:40000", "10.0.0.2:80", 30'000);
  fw2.state = uint8_t(TcpState::kFinWait2);
  auto sum = aggregate({fw2});
  EXPECT_EQ(sum.by_state[state(TcpState::kFinWait2)], 1u);
  EXPECT_EQ(sum.by_state[state(TcpState::kTimeWait)], 0u);
  EXPECT_EQ(sum.time_wait_client + sum.time_wait_server + sum.time_wait_other, 0u);
  ASSERT_EQ(sum.tuples.size(), 1u);
  EXPECT_EQ(sum.tuples[0].time_wait, 0u);
  EXPECT_EQ(sum.tuples[0].live(), 1u);
  EXPECT_TRUE(sum.tuples[0].sample_inodes.empty());  // inode 0 is no sample
}

TEST(SocketAggregator, SampleInodesAreTheFirstLiveOnes) {
  std::vector<SockRecord> socks;
  socks.push_back(time_wait("10.0.0.1:39999", "10.0.0.2:80"));
  socks.push_back(tcp(kEst, "10.0.0.1:39998", "10.0.0.2:80", 0));  // not yet accepted: no inode
  for (int i = 0; i < 12; ++i)
    socks.push_back(tcp(kEst, "10.0.0.1:" + std::to_string(40000 + i), "10.0.0.2:80", 500 + i));
  auto sum = aggregate(socks);
  ASSERT_EQ(sum.tuples.size(), 1u);
  std::vector<uint32_t> want;
  for (uint32_t i = 0; i < kSampleInodes; ++i) want.push_back(500 + i);
  EXPECT_EQ(sum.tuples[0].sample_inodes, want);
}

TEST(SocketAggregator, CloseWaitGroupsByLocalEndpoint) {
  std::vector<SockRecord> socks{listener("0.0.0.0:8080", 0, 128)};
  for (int i = 0; i < 6; ++i)  // server side: the service never closes accepted sockets
    socks.push_back(
        tcp(TcpState::kCloseWait, "10.0.0.1:8080", "10.0.0.9:" + std::to_string(50000 + i), 1));
  socks.push_back(tcp(TcpState::kCloseWait, "10.0.0.1:40000", "10.0.0.2:5432", 2));  // client side
  socks.push_back(tcp(TcpState::kCloseWait, "10.0.0.1:40001", "10.0.0.3:6379", 3));
  socks.push_back(tcp(TcpState::kCloseWait, "10.0.0.4:40001", "10.0.0.3:6379", 4));
  auto sum = aggregate(socks);
  ASSERT_EQ(sum.close_wait.size(), 3u);
  EXPECT_EQ(sum.close_wait[0].local.to_string(), "10.0.0.1:8080");  // most first
  EXPECT_TRUE(sum.close_wait[0].server_side);
  EXPECT_EQ(sum.close_wait[0].count, 6u);
  EXPECT_LE(sum.close_wait[0].sample_peers.size(), 4u);
  EXPECT_FALSE(sum.close_wait[0].sample_peers.empty());
  EXPECT_EQ(sum.close_wait[0].sample_peers[0].to_string(), "10.0.0.9:50000");
  EXPECT_EQ(sum.close_wait[1].local.to_string(), "10.0.0.1:0");
  EXPECT_FALSE(sum.close_wait[1].server_side);
  EXPECT_EQ(sum.close_wait[1].count, 2u);
  EXPECT_EQ(sum.close_wait[2].count, 1u);
  EXPECT_EQ(sum.by_state[state(TcpState::kCloseWait)], 9u);
}

TEST(SocketAggregator, HostWidePoolAndUdp) {
  AggregatorConfig cfg;
  cfg.ephemeral = {40000, 40009};
  auto sum = aggregate(
      {
          listener("0.0.0.0:40005", 0, 128),              // in range: counts
          tcp(kEst, "10.0.0.1:40001", "10.0.0.2:80", 1),  //
          tcp(kEst, "10.0.0.1:40001", "10.0.0.3:80", 2),  // same port, other tuple: once
          time_wait("10.0.0.1:40002", "10.0.0.2:80"),     //
          tcp(kEst, "10.0.0.1:39999", "10.0.0.2:80", 3),  // outside the range
          udp("0.0.0.0:40003", "", 4),
          udp("[::]:40003", "", 5),
          udp("0.0.0.0:53", "", 6),
          udp("10.0.0.1:40004", "10.0.0.2:53", 7),
      },
      cfg);
  EXPECT_EQ(sum.tcp_ports_in_range, 3u);  // 40001, 40002, 40005
  EXPECT_EQ(sum.udp_ports_in_range, 2u);  // 40003, 40004
  EXPECT_EQ(sum.udp_sockets, 4u);
  EXPECT_EQ(sum.total, 5u);  // UDP is not in the TCP totals
  EXPECT_EQ(sum.by_state[state(TcpState::kClose)], 0u);
  EXPECT_EQ(sum.tuples.size(), 2u);  // 39999 is outside the range: not a client-side socket
}

const BindPool* find_pool(const SocketSummary& s, std::string_view addr) {
  for (const auto& b : s.bind_pools)
    if (b.address == *IpAddr::parse(addr)) return &b;
  return nullptr;
}

// bind(addr, 0) cannot take a port held on the same address or on an overlapping wildcard,
// whatever the destinations (inet_csk_find_open_port() with relax = false): connect() sharing
// a port across destinations does not make it free for bind().
TEST(SocketAggregator, BindPoolsPerLocalAddress) {
  AggregatorConfig cfg;
  cfg.ephemeral = {40000, 40099};
  std::vector<SockRecord> socks;
  // 10.0.0.1: ports 40000-40039 each shared by three destinations (connect() sharing).
  for (int d = 0; d < 3; ++d)
    for (int p = 0; p < 40; ++p)
      socks.push_back(tcp(kEst, "10.0.0.1:" + std::to_string(40000 + p),
                          "10.0.0." + std::to_string(100 + d) + ":80", 1));
  // 10.0.0.2: 5 TIME_WAIT on ports that 10.0.0.1 uses too, and one of its own.
  for (int p = 0; p < 5; ++p)
    socks.push_back(time_wait("10.0.0.2:" + std::to_string(40000 + p), "10.0.0.100:80"));
  socks.push_back(time_wait("10.0.0.2:40090", "10.0.0.100:80"));
  // A dual-stack client on a mapped address draws from the IPv4 address's pool.
  socks.push_back(tcp(kEst, "[::ffff:10.0.0.2]:40091", "[::ffff:10.0.0.100]:80", 2));
  // Wildcard sockets: a bound-inactive 0.0.0.0:40050 and a listener on [::]:40060.
  socks.push_back(tcp(TcpState::kClose, "0.0.0.0:40050", "0.0.0.0:0", 3));
  socks.push_back(listener("[::]:40060", 0, 128));
  // An IPv6 address: overlaps [::] only.
  socks.push_back(tcp(kEst, "[2001:db8::1]:40070", "[2001:db8::2]:80", 4));
  socks.push_back(tcp(kEst, "10.0.0.1:39999", "10.0.0.100:80", 5));  // outside the range
  auto sum = aggregate(socks, cfg);
  EXPECT_EQ(sum.tcp_ports_in_range, 45u);  // 40 + 40090 + 40091 + 40050 + 40060 + 40070
  ASSERT_EQ(sum.bind_pools.size(), 5u);
  const BindPool* a = find_pool(sum, "10.0.0.1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->own_ports_in_range, 40u);
  EXPECT_EQ(a->ports_in_range, 42u);  // + 0.0.0.0:40050 and [::]:40060
  EXPECT_EQ(a->sockets, 120u);
  EXPECT_EQ(a->bound_inactive, 0u);
  const BindPool* b = find_pool(sum, "10.0.0.2");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->own_ports_in_range, 7u);
  EXPECT_EQ(b->ports_in_range, 9u);
  EXPECT_EQ(b->sockets, 7u);
  const BindPool* v6 = find_pool(sum, "2001:db8::1");
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->ports_in_range, 2u);  // its own and [::]:40060, not 0.0.0.0:40050
  const BindPool* any4 = find_pool(sum, "0.0.0.0");
  ASSERT_NE(any4, nullptr);
  EXPECT_EQ(any4->ports_in_range, 45u);  // a wildcard bind(0) conflicts with every address
  EXPECT_EQ(any4->own_ports_in_range, 1u);
  EXPECT_EQ(any4->bound_inactive, 1u);
  EXPECT_EQ(sum.bind_pools.front().address, *IpAddr::parse("0.0.0.0"));  // fullest first
  EXPECT_EQ(sum.bind_pool_untracked_sockets, 0u);
}

TEST(SocketAggregator, BindPoolsAreCappedAndTheRestCounted) {
  AggregatorConfig cfg;
  cfg.ephemeral = {40000, 40999};
  std::vector<SockRecord> socks;
  for (std::size_t i = 0; i < kMaxBindPools + 6; ++i)
    for (int k = 0; k < 2; ++k)
      socks.push_back(tcp(kEst,
                          "10.1." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1) +
                              ":" + std::to_string(40000 + k),
                          "10.0.0.100:80", 1));
  auto sum = aggregate(socks, cfg);
  EXPECT_EQ(sum.bind_pools.size(), kMaxBindPools);
  EXPECT_EQ(sum.bind_pool_untracked_sockets, 12u);
  EXPECT_EQ(sum.tcp_ports_in_range, 2u);  // the host-wide count still sees every socket
}

// connect() walks the ports of the range start's parity first, bind(0) the other parity first.
TEST(SocketAggregator, TupleCountsSocketsOnBindsParity) {
  AggregatorConfig cfg;
  cfg.ephemeral = {40001, 40999};  // odd start: the second parity is the even ports
  auto sum = aggregate(
      {
          tcp(kEst, "10.0.0.1:40001", "10.0.0.2:80", 1),
          tcp(kEst, "10.0.0.1:40002", "10.0.0.2:80", 2),
          time_wait("10.0.0.1:40004", "10.0.0.2:80"),
          tcp(kEst, "10.0.0.1:40005", "10.0.0.2:80", 3),
      },
      cfg);
  ASSERT_EQ(sum.tuples.size(), 1u);
  EXPECT_EQ(sum.tuples[0].bind_parity, 2u);
}

TEST(SocketAggregator, PortCountsAtRangeEdges) {
  std::vector<SockRecord> socks;
  for (int p : {1, 63, 64, 127, 128, 65534, 65535})
    socks.push_back(tcp(kEst, "10.0.0.1:" + std::to_string(p), "10.0.0.2:80", 1));
  AggregatorConfig cfg;
  cfg.ephemeral = {1, 65535};
  EXPECT_EQ(aggregate(socks, cfg).tcp_ports_in_range, 7u);
  cfg.ephemeral = {64, 127};  // exactly one 64-port word
  EXPECT_EQ(aggregate(socks, cfg).tcp_ports_in_range, 2u);
  cfg.ephemeral = {63, 128};
  EXPECT_EQ(aggregate(socks, cfg).tcp_ports_in_range, 4u);
  cfg.ephemeral = {65535, 65535};
  EXPECT_EQ(aggregate(socks, cfg).tcp_ports_in_range, 1u);
  cfg.ephemeral = {2, 62};
  EXPECT_EQ(aggregate(socks, cfg).tcp_ports_in_range, 0u);
}

TEST(SocketAggregator, InodeIndexPointsAtSortedTuples) {
  AggregatorConfig cfg;
  cfg.index_inodes = true;
  SocketAggregator agg(cfg);
  std::vector<SockRecord> socks{listener("0.0.0.0:80", 0, 128, 1),
                                tcp(kEst, "10.0.0.1:40000", "10.0.0.3:443", 50)};
  for (int i = 0; i < 3; ++i)  // the second tuple seen is the busiest
    socks.push_back(tcp(kEst, "10.0.0.1:" + std::to_string(41000 + i), "10.0.0.2:5432", 60 + i));
  socks.push_back(time_wait("10.0.0.1:41010", "10.0.0.2:5432"));
  socks.push_back(tcp(kEst, "10.0.0.1:80", "10.0.0.9:50000", 70));
  for (const auto& s : socks) agg.on_socket(s);
  InodeIndex idx = agg.take_inode_index();
  SocketSummary sum = agg.finish();
  ASSERT_EQ(sum.tuples.size(), 2u);
  ASSERT_EQ(sum.tuples[0].key.dport, 5432);
  EXPECT_EQ(idx.size(), 6u);  // TIME_WAIT has no inode
  ASSERT_NE(idx.find(61), nullptr);
  EXPECT_EQ(idx.find(61)->tuple(), 0u);
  EXPECT_EQ(idx.find(61)->state(), state(kEst));
  EXPECT_EQ(idx.find(50)->tuple(), 1u);
  EXPECT_EQ(idx.find(1)->tuple(), kNoTuple);
  EXPECT_EQ(idx.find(1)->state(), state(TcpState::kListen));
  EXPECT_EQ(idx.find(70)->tuple(), kNoTuple);  // server side
  EXPECT_EQ(idx.find(999), nullptr);
}

// 8 bytes an entry: state and tuple share a word; a tuple number too big for its 28 bits reads
// back as "no tuple", never as another tuple.
TEST(SocketAggregator, InodeEntryPacksStateAndTuple) {
  const InodeEntry e(7, state(TcpState::kCloseWait), (1u << 28) - 2);
  EXPECT_EQ(e.inode, 7u);
  EXPECT_EQ(e.state(), state(TcpState::kCloseWait));
  EXPECT_EQ(e.tuple(), (1u << 28) - 2);
  InodeEntry f(8, state(TcpState::kNewSynRecv), kNoTuple);
  EXPECT_EQ(f.tuple(), kNoTuple);
  EXPECT_EQ(f.state(), state(TcpState::kNewSynRecv));
  f.set_tuple(3);
  EXPECT_EQ(f.tuple(), 3u);
  EXPECT_EQ(f.state(), state(TcpState::kNewSynRecv));
  f.set_tuple(1u << 28);
  EXPECT_EQ(f.tuple(), kNoTuple);
}

TEST(SocketAggregator, InodeIndexIsEmptyUnlessAsked) {
  SocketAggregator agg(AggregatorConfig{});
  agg.on_socket(tcp(kEst, "10.0.0.1:40000", "10.0.0.3:443", 50));
  EXPECT_TRUE(agg.take_inode_index().empty());
}

TEST(SocketAggregator, MappedLoopbackDestinationIsLoopback) {
  auto sum = aggregate({tcp(kEst, "[::ffff:127.0.0.1]:40000", "[::ffff:127.0.0.1]:8080", 1)});
  ASSERT_EQ(sum.tuples.size(), 1u);
  EXPECT_EQ(sum.tuples[0].key.dst.family, AF_INET);  // unmapped
  EXPECT_EQ(sum.tuples[0].key.destination().to_string(), "127.0.0.1:8080");
  EXPECT_TRUE(sum.tuples[0].key.dst.is_loopback());
}

// A dual-stack client's mapped connections and plain IPv4 ones to the same destination from
// the same source share one port pool in the kernel: one tuple, not two half-full ones.
TEST(SocketAggregator, MappedAndPlainIpv4ShareOneTuple) {
  auto sum =
      aggregate({tcp(kEst, "10.0.0.1:40000", "10.0.0.5:443", 1),
                 tcp(kEst, "[::ffff:10.0.0.1]:40001", "[::ffff:10.0.0.5]:443", 2),
                 tcp(TcpState::kTimeWait, "[::ffff:10.0.0.1]:40002", "[::ffff:10.0.0.5]:443", 0),
                 tcp(kEst, "[2001:db8::1]:40003", "[2001:db8::5]:443", 3)});
  ASSERT_EQ(sum.tuples.size(), 2u);
  const TupleUsage* v4 = find_tuple(sum, "10.0.0.1", "10.0.0.5:443");
  ASSERT_NE(v4, nullptr);
  EXPECT_EQ(v4->in_use(), 3u);
  EXPECT_EQ(v4->time_wait, 1u);
  EXPECT_NE(find_tuple(sum, "2001:db8::1", "[2001:db8::5]:443"), nullptr);
}

TEST(SocketAggregator, MemoryFollowsTuplesNotSockets) {
  SocketAggregator agg(AggregatorConfig{});
  for (uint32_t i = 0; i < 200'000; ++i) {
    auto s =
        tcp(i % 2 ? kEst : TcpState::kTimeWait, "10.0.0.1:40000", "10.0.0.2:80", i % 2 ? i : 0);
    s.local.port = uint16_t(32768 + i % 28000);
    s.remote.port = uint16_t(80 + i % 3);
    agg.on_socket(s);
  }
  auto sum = agg.finish();
  EXPECT_EQ(sum.total, 200'000u);
  ASSERT_EQ(sum.tuples.size(), 3u);
  uint64_t in_use = 0;
  for (const auto& t : sum.tuples) {
    in_use += t.in_use();
    EXPECT_LE(t.sample_inodes.size(), kSampleInodes);
  }
  EXPECT_EQ(in_use, 200'000u);
}

// --- dump_all over a recorded source ---------------------------------------------------------

SocketSummary replay_all(const DumpBuilder& b, bool* ok = nullptr, std::string* err = nullptr) {
  auto src = parse_recorded_sock_source(b.bytes(), "test.nldump");
  EXPECT_TRUE(src) << src.error().message;
  SocketAggregator agg(AggregatorConfig{});
  auto r = dump_all(**src, agg);
  if (ok) *ok = r.has_value();
  if (err && !r) *err = r.error().message;
  return agg.finish();
}

TEST(DumpAll, FeedsListenersFirstWhateverTheFileOrder) {
  // The transcript holds the other-states section before the LISTEN one; dump_all must still
  // ask for LISTEN first so that the server-side TIME_WAIT is recognised.
  DumpBuilder b;
  b.request(AF_INET, IPPROTO_TCP, ~DumpBuilder::kListenStates)
      .sock(time_wait("10.0.0.1:45000", "10.0.0.7:51000"))
      .sock(time_wait("10.0.0.1:41000", "10.0.0.7:80"))
      .done()
      .request(AF_INET, IPPROTO_TCP, DumpBuilder::kListenStates)
      .sock(listener("0.0.0.0:45000", 0, 16))
      .done();
  bool ok = false;
  auto sum = replay_all(b, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(sum.complete);
  EXPECT_EQ(sum.time_wait_server, 1u);
  EXPECT_EQ(sum.time_wait_client, 1u);
  ASSERT_EQ(sum.tuples.size(), 1u);
  EXPECT_EQ(sum.tuples[0].key.dport, 80);
}

TEST(DumpAll, WholeTranscriptRoundTrip) {
  DumpBuilder b;
  b.dump_all({listener("0.0.0.0:8080", 2, 64, 1), listener("[::]:8443", 0, 64, 2),
              tcp(kEst, "10.0.0.1:40000", "10.0.0.2:5432", 3),
              tcp(kEst, "[2001:db8::1]:40000", "[2001:db8::2]:5432", 4),
              time_wait("10.0.0.1:8080", "10.0.0.9:50000"), udp("0.0.0.0:40100", "", 5)});
  bool ok = false;
  auto sum = replay_all(b, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(sum.complete);
  EXPECT_TRUE(sum.udp_complete);
  EXPECT_EQ(sum.total, 5u);
  EXPECT_EQ(sum.listeners.size(), 2u);
  EXPECT_EQ(sum.tuples.size(), 2u);
  EXPECT_EQ(sum.time_wait_server, 1u);
  EXPECT_EQ(sum.udp_sockets, 1u);
  EXPECT_EQ(sum.udp_ports_in_range, 1u);
}

TEST(DumpAll, TcpErrorMakesTheDumpIncomplete) {
  DumpBuilder b;
  b.request(AF_INET, IPPROTO_TCP, DumpBuilder::kListenStates).done();
  b.request(AF_INET6, IPPROTO_TCP, DumpBuilder::kListenStates).error(EACCES);
  bool ok = true;
  std::string err;
  auto sum = replay_all(b, &ok, &err);
  EXPECT_FALSE(ok);
  EXPECT_FALSE(sum.complete);
  EXPECT_NE(err.find("test.nldump"), std::string::npos) << err;
  EXPECT_NE(err.find("Permission denied"), std::string::npos) << err;
}

TEST(DumpAll, UdpErrorOnlyMarksUdpIncomplete) {
  DumpBuilder b;
  b.request(AF_INET, IPPROTO_TCP, ~DumpBuilder::kListenStates)
      .sock(tcp(kEst, "10.0.0.1:40000", "10.0.0.2:5432", 3))
      .done();
  b.request(AF_INET, IPPROTO_UDP, ~0u).error(ENOENT);  // no udp_diag module
  bool ok = false;
  auto sum = replay_all(b, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(sum.complete);
  EXPECT_FALSE(sum.udp_complete);
  EXPECT_EQ(sum.total, 1u);
}

}  // namespace
}  // namespace cd
