// Tests of the port-pool arithmetic: usable ports per tuple, tcp_tw_reuse, rates, forecast.
#include <gtest/gtest.h>

#include "analyse/port_pool.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::ep;
using test::SnapshotBuilder;
using test::tuple_key;
using test::TupleSpec;

const TupleStat* find(const PortAnalysis& pa, const TupleKey& k) {
  for (const TupleStat& t : pa.tuples)
    if (t.key == k) return &t;
  return nullptr;
}

TEST(PortPool, UsableIsRangeMinusReservedMinusListeningCountingEachPortOnce) {
  SnapshotBuilder b;
  // The domain page's check: 5 listeners + 2 reserved ports in a 10-port range left 3 usable.
  b.port_range(40000, 40009).reserved({{40000, 40001}});
  for (uint16_t p = 40002; p <= 40006; ++p) b.listener(ep("0.0.0.0", p));
  PortAnalysis pa = analyse_ports(b.build());
  EXPECT_TRUE(pa.known);
  EXPECT_EQ(pa.reserved_in_range, 2u);
  EXPECT_EQ(pa.bound_in_range, 5u);
  EXPECT_EQ(pa.usable_per_tuple, 3u);
  EXPECT_EQ(pa.host_usable, 8u);  // bound ports are in use, not unusable, for the host-wide pool
}

// The bind(0) pool of an address with what overlaps it: listeners on the address or on a
// wildcard of a matching family, the tuples from the address, and the sockets on bind()'s
// parity of the tuples below half their pool.
TEST(PortPool, BindPoolsGetTheirListenersAndTuples) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).reserved({{40900, 40999}});
  b.listener(ep("0.0.0.0", 40005)).listener(ep("::", 40006)).listener(ep("198.18.0.2", 40007));
  b.listener(ep("198.18.0.1", 8080));  // outside the range
  b.tuple(tuple_key("198.18.0.1", "198.18.1.1", 80), {.established = 100, .bind_parity = 40});
  b.tuple(tuple_key("198.18.0.1", "198.18.1.2", 80), {.established = 600, .bind_parity = 150});
  b.tuple(tuple_key("198.18.0.2", "198.18.1.1", 80), {.established = 10});
  b.bind_pool("198.18.0.1", 900, 700).bind_pool("2001:db8::1", 1, 0);
  PortAnalysis pa = analyse_ports(b.build());
  ASSERT_EQ(pa.bind_pools.size(), 2u);
  const BindPoolStat& v4 = pa.bind_pools[0];
  EXPECT_EQ(v4.usable, 900u);
  EXPECT_DOUBLE_EQ(v4.utilization, 1.0);
  EXPECT_EQ(v4.listening_ports, 2u);  // 0.0.0.0:40005 and [::]:40006
  EXPECT_EQ(v4.client_sockets, 700u);
  EXPECT_EQ(v4.tuples, 2u);
  ASSERT_TRUE(v4.hottest_tuple);
  EXPECT_EQ(pa.tuples[*v4.hottest_tuple].key.dst, *IpAddr::parse("198.18.1.2"));
  EXPECT_EQ(v4.bind_parity_sockets, 40u);  // the tuple past half its pool does not count
  ASSERT_TRUE(v4.bind_parity_tuple);
  EXPECT_EQ(pa.tuples[*v4.bind_parity_tuple].key.dst, *IpAddr::parse("198.18.1.1"));
  EXPECT_EQ(pa.bind_pools[1].listening_ports, 1u);  // an IPv6 address: [::] only
  EXPECT_EQ(pa.bind_pools[1].tuples, 0u);
}

TEST(PortPool, PortsOfBoundInactiveSocketsAreExcludedForEveryTuple) {
  SnapshotBuilder b;
  b.port_range(40000, 40009);
  b.listener(ep("0.0.0.0", 40002));
  // bind() made their buckets: __inet_hash_connect() skips them; 40002 is counted once.
  b.now().sockets.bound_inactive_ports = {40002, 40003, 40004, 50000};
  PortAnalysis pa = analyse_ports(b.build());
  EXPECT_EQ(pa.bound_in_range, 3u);
  EXPECT_EQ(pa.bound_inactive_in_range, 2u);
  EXPECT_EQ(pa.usable_per_tuple, 7u);
}

TEST(PortPool, OverlapsAndOutsidersAreNotCountedTwice) {
  SnapshotBuilder b;
  b.port_range(40000, 40009).reserved({{39990, 40002}, {40001, 40003}, {50000, 50010}});
  b.listener(ep("0.0.0.0", 40003));  // reserved already: counted once
  b.listener(ep("0.0.0.0", 40005));
  b.listener(ep("::", 40005));        // same port over IPv6: one port
  b.listener(ep("127.0.0.1", 8080));  // outside the range
  PortAnalysis pa = analyse_ports(b.build());
  EXPECT_EQ(pa.reserved_in_range, 4u);  // 40000..40003
  EXPECT_EQ(pa.bound_in_range, 1u);     // 40005
  EXPECT_EQ(pa.usable_per_tuple, 5u);
}

TEST(PortPool, TwReuseTwoFreesTimeWaitOnLoopbackOnly) {
  SnapshotBuilder b;
  b.port_range(40000, 40019).tw_reuse(2);
  TupleSpec churn{.time_wait = 20, .tw_past_delay = 18, .tw_recent = 4};
  TupleKey lo = tuple_key("127.0.0.1", "127.0.0.1", 8080);
  TupleKey remote = tuple_key("198.18.0.1", "198.18.0.2", 8080);
  TupleKey src_lo = tuple_key("127.0.0.5", "198.18.0.2", 8081);  // tcp_twsk_unique: src OR dst
  TupleKey mapped = tuple_key("::ffff:127.0.0.1", "::ffff:127.0.0.1", 8082);
  b.tuple(lo, churn).tuple(remote, churn).tuple(src_lo, churn).tuple(mapped, churn);
  PortAnalysis pa = analyse_ports(b.build());
  const TupleStat* l = find(pa, lo);
  const TupleStat* r = find(pa, remote);
  ASSERT_TRUE(l && r);
  EXPECT_TRUE(l->tw_reuse_applies);
  EXPECT_EQ(l->tw_reusable, 18u);
  EXPECT_EQ(l->effective_in_use, 2u);
  EXPECT_DOUBLE_EQ(l->utilization, 0.1);
  EXPECT_FALSE(r->tw_reuse_applies);
  EXPECT_EQ(r->tw_reusable, 0u);
  EXPECT_EQ(r->effective_in_use, 20u);
  EXPECT_EQ(r->seconds_to_exhaustion, 0.0);
  EXPECT_EQ(find(pa, src_lo)->tw_reusable, 18u);
  EXPECT_EQ(find(pa, mapped)->tw_reusable, 18u);
  // Hottest first.
  EXPECT_EQ(pa.tuples.front().key, remote);
}

TEST(PortPool, TwReuseNeedsTimestampsAndAKnownSetting) {
  TupleSpec churn{.time_wait = 10, .tw_past_delay = 10};
  TupleKey k = tuple_key("198.18.0.1", "198.18.0.2", 443);
  {
    SnapshotBuilder b;
    b.tw_reuse(1).timestamps(1).tuple(k, churn);
    EXPECT_EQ(analyse_ports(b.build()).tuples[0].tw_reusable, 10u);
  }
  {
    SnapshotBuilder b;
    b.tw_reuse(1).timestamps(0).tuple(k, churn);
    EXPECT_EQ(analyse_ports(b.build()).tuples[0].tw_reusable, 0u);
  }
  {
    SnapshotBuilder b;
    b.tuple(k, churn);
    b.sysctls().tcp_tw_reuse.reset();  // unknown: assume nothing is reusable
    EXPECT_EQ(analyse_ports(b.build()).tuples[0].tw_reusable, 0u);
  }
  {
    SnapshotBuilder b;
    b.tw_reuse(0).tuple(tuple_key("127.0.0.1", "127.0.0.1", 80), churn);
    EXPECT_EQ(analyse_ports(b.build()).tuples[0].tw_reusable, 0u);
  }
}

// tcp_twsk_unique() needs the old connection's timestamps, which the sysctls cannot show: a
// full pool of aged TIME_WAIT that connects keep meeting while TWRecycled stays flat is reuse
// refused (the peer sends no timestamps), not a pool that reuse keeps free.
TEST(PortPool, TwReuseRefusedWhenTwRecycledStaysFlatUnderChurn) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).tw_reuse(1).timestamps(1).counter("TcpExt.TWRecycled", 50);
  TupleKey k = tuple_key("198.18.0.1", "198.18.2.2", 8080);
  b.tuple(k, {.time_wait = 1000, .tw_past_delay = 600, .tw_recent = 1000});
  b.then(1.0);
  b.tuple(k, {.time_wait = 1000, .tw_past_delay = 900, .tw_recent = 1000});
  const TupleStat t = analyse_ports(b.build()).tuples[0];
  EXPECT_EQ(t.tw_reuse_basis, TwReuseBasis::kRefused);
  EXPECT_FALSE(t.tw_reuse_applies);
  EXPECT_EQ(t.tw_reusable, 0u);
  EXPECT_DOUBLE_EQ(t.utilization, 1.0);
  // 100 connects/s over 1 s, every one meeting an aged TIME_WAIT port first (no free port).
  ASSERT_TRUE(t.tw_reuses_expected);
  EXPECT_DOUBLE_EQ(*t.tw_reuses_expected, 100.0);
  EXPECT_DOUBLE_EQ(*t.steady_state_demand, 100.0 * 60);  // held the full 60 s
}

TEST(PortPool, TwReuseCreditedWhenTwRecycledRises) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).tw_reuse(1).timestamps(1).counter("TcpExt.TWRecycled", 50);
  TupleKey k = tuple_key("198.18.0.1", "198.18.2.2", 8080);
  b.tuple(k, {.time_wait = 1000, .tw_past_delay = 900, .tw_recent = 1000});
  b.then(1.0).counter("TcpExt.TWRecycled", 130);
  const TupleStat t = analyse_ports(b.build()).tuples[0];
  EXPECT_EQ(t.tw_reuse_basis, TwReuseBasis::kObserved);
  EXPECT_EQ(t.tw_reusable, 900u);
  EXPECT_EQ(tw_reuse_basis_name(t.tw_reuse_basis), "reuse_seen");
}

TEST(PortPool, TooFewConnectsOrOneReadingLeaveTheSysctlsToDecide) {
  TupleKey k = tuple_key("198.18.0.1", "198.18.2.2", 8080);
  {
    // 2 connects in 1 s, against 500 free ports and 100 aged: 0.3 reuses expected. A flat
    // TWRecycled proves nothing.
    SnapshotBuilder b;
    b.port_range(40000, 40999).tw_reuse(1).timestamps(1);
    b.tuple(k, {.time_wait = 500, .tw_past_delay = 100, .tw_recent = 20});
    b.then(1.0);
    const TupleStat t = analyse_ports(b.build()).tuples[0];
    EXPECT_EQ(t.tw_reuse_basis, TwReuseBasis::kSysctls);
    EXPECT_EQ(t.tw_reusable, 100u);
  }
  {
    SnapshotBuilder b;
    b.port_range(40000, 40999).tw_reuse(1).timestamps(1);
    b.tuple(k, {.time_wait = 1000, .tw_past_delay = 900, .tw_recent = 1000});
    const TupleStat t = analyse_ports(b.build()).tuples[0];
    EXPECT_EQ(t.tw_reuse_basis, TwReuseBasis::kSysctls);
    EXPECT_EQ(t.tw_reusable, 900u);
  }
  {
    SnapshotBuilder b;
    b.port_range(40000, 40999).tw_reuse(0);
    b.tuple(k, {.time_wait = 1000, .tw_past_delay = 900, .tw_recent = 1000});
    b.then(1.0);
    EXPECT_EQ(analyse_ports(b.build()).tuples[0].tw_reuse_basis, TwReuseBasis::kOff);
  }
}

TEST(PortPool, OneReadingRateComesFromTimeWaitAges) {
  SnapshotBuilder b;
  b.port_range(32768, 60999);
  // 50 connections closed in the last 10 s: 5/s; steady state 10 live + 5/s x 60 s = 310.
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80),
          {.established = 10, .time_wait = 300, .tw_recent = 50, .tw_expiring = 50});
  PortAnalysis pa = analyse_ports(b.build());
  const TupleStat& t = pa.tuples[0];
  ASSERT_TRUE(t.new_per_s);
  EXPECT_DOUBLE_EQ(*t.new_per_s, 5.0);
  EXPECT_DOUBLE_EQ(*t.steady_state_demand, 310.0);
  EXPECT_FALSE(t.seconds_to_exhaustion);  // demand far below 28,232: stable
  EXPECT_EQ(t.usable, 28232u);
}

TEST(PortPool, ForecastWhenDemandExceedsThePool) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);  // 1000 ports
  // 20/s arriving, 5/s leaving TIME_WAIT: growing by 15/s; demand = 20/s x 60 s = 1200 > 1000.
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80),
          {.time_wait = 400, .tw_recent = 200, .tw_expiring = 50});
  const TupleStat t = analyse_ports(b.build()).tuples[0];  // a copy: the analysis is a temporary
  ASSERT_TRUE(t.seconds_to_exhaustion);
  EXPECT_DOUBLE_EQ(*t.seconds_to_exhaustion, 600.0 / 15.0);
}

TEST(PortPool, GrowingButWithinThePoolIsStable) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  // Ramp-up: growing now, but 10/s x 60 s = 600 ports fit in 1000.
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80), {.time_wait = 100, .tw_recent = 100});
  const TupleStat t = analyse_ports(b.build()).tuples[0];  // a copy: the analysis is a temporary
  EXPECT_FALSE(t.seconds_to_exhaustion);
}

TEST(PortPool, TwoReadingsAddLiveGrowthAndMeasureTheTrend) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  TupleKey k = tuple_key("198.18.0.1", "198.18.0.2", 5432);
  b.tuple(k, {.established = 100, .time_wait = 100, .tw_recent = 20});
  b.then(2.0);
  b.tuple(k, {.established = 500, .time_wait = 300, .tw_recent = 20});
  const TupleStat t = analyse_ports(b.build()).tuples[0];  // a copy: the analysis is a temporary
  // 2/s from TIME_WAIT ages + 400 new live sockets over 2 s.
  EXPECT_DOUBLE_EQ(*t.new_per_s, 202.0);
  EXPECT_DOUBLE_EQ(*t.steady_state_demand, 500 + 202.0 * 60);
  // Measured trend: 800 - 200 effective over 2 s = 300/s; 200 ports left.
  ASSERT_TRUE(t.seconds_to_exhaustion);
  EXPECT_NEAR(*t.seconds_to_exhaustion, 200.0 / 300.0, 1e-9);
}

TEST(PortPool, ShrinkingBetweenReadingsIsNotAForecast) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  TupleKey k = tuple_key("198.18.0.1", "198.18.0.2", 5432);
  b.tuple(k, {.established = 10, .time_wait = 900, .tw_recent = 200});
  b.then(2.0);
  b.tuple(k, {.established = 10, .time_wait = 850, .tw_recent = 200});
  const TupleStat t = analyse_ports(b.build()).tuples[0];  // a copy: the analysis is a temporary
  EXPECT_FALSE(t.seconds_to_exhaustion);
  EXPECT_DOUBLE_EQ(*t.new_per_s, 20.0);  // live did not grow: no negative contribution
}

TEST(PortPool, TwReuseShortensTheHoldInTheSteadyState) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).tw_reuse(2);
  // 99/s on loopback: ports are free again after tcp_tw_reuse_delay (1 s), not 60 s.
  b.tuple(tuple_key("127.0.0.1", "127.0.0.1", 80),
          {.time_wait = 990, .tw_past_delay = 890, .tw_recent = 990, .tw_expiring = 0});
  const TupleStat t = analyse_ports(b.build()).tuples[0];  // a copy: the analysis is a temporary
  EXPECT_DOUBLE_EQ(*t.steady_state_demand, 99.0);
  EXPECT_FALSE(t.seconds_to_exhaustion);
  EXPECT_EQ(t.effective_in_use, 100u);
}

TEST(PortPool, NotKnownWithoutRangeOrCompleteDump) {
  {
    SnapshotBuilder b;
    b.now().sockets.complete = false;
    EXPECT_FALSE(analyse_ports(b.build()).known);
  }
  {
    SnapshotBuilder b;
    b.sysctls().ip_local_port_range.reset();
    PortAnalysis pa = analyse_ports(b.build());
    EXPECT_FALSE(pa.known);
    EXPECT_EQ(pa.range, (PortRange{32768, 60999}));  // the kernel default, for display
  }
}

TEST(PortPool, HostWideFiguresComeFromTheDump) {
  SnapshotBuilder b;
  b.port_range(40000, 40099).reserved({{40000, 40009}}).host_ports(70, 12);
  PortAnalysis pa = analyse_ports(b.build());
  EXPECT_EQ(pa.host_usable, 90u);
  EXPECT_EQ(pa.host_tcp_ports_in_use, 70u);
  EXPECT_EQ(pa.host_udp_ports_in_use, 12u);
}

TEST(PortPool, NoUsablePortMeansExhaustedNotDivisionByZero) {
  SnapshotBuilder b;
  b.port_range(40000, 40001).reserved({{40000, 40001}});
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80), {.established = 1});
  const TupleStat t = analyse_ports(b.build()).tuples[0];  // a copy: the analysis is a temporary
  EXPECT_EQ(t.usable, 0u);
  EXPECT_EQ(t.utilization, 1.0);
  EXPECT_EQ(t.seconds_to_exhaustion, 0.0);
}

}  // namespace
}  // namespace cd
