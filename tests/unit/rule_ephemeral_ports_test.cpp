// Tests of the ephemeral_ports rule, including the traps of the naive "total TIME_WAIT vs
// range" rule: per-tuple vs host-wide, tcp_tw_reuse on loopback, mostly-live pools.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::ep;
using test::findings_of;
using test::findings_with_id;
using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;
using test::tuple_key;
using test::TupleSpec;

std::vector<Finding> run(const SnapshotBuilder& b) {
  return run_rule(rule_ephemeral_ports, b.build());
}

TEST(EphemeralPorts, ThirtyThousandTimeWaitOverHundredDestinationsIsNoPortFinding) {
  SnapshotBuilder b;  // default range: 28,232 ports
  for (int d = 0; d < 100; ++d) {
    std::string dst = "198.18.1." + std::to_string(d + 1);
    b.tuple(tuple_key("198.18.0.1", dst, 443),
            {.established = 2, .time_wait = 300, .tw_recent = 50, .tw_expiring = 50});
  }
  // connect() tries ports of the range start's parity first: 300 ports per destination from
  // a hashed offset cover at most the 14,116 even ports host-wide.
  b.host_ports(14116);
  Snapshot s = b.build();
  ASSERT_EQ(s.now().sockets.by_state[int(TcpState::kTimeWait)], 30000u);
  EXPECT_TRUE(run_rule(rule_ephemeral_ports, s).empty());
}

// connect() alone can leave a socket on every port of the range when it talks to many
// destinations, and connect() still works: no tuple finding. But bind(198.18.0.1, 0) has no port
// left (inet_csk_find_open_port() rejects a port held on the address by any socket). Without
// anything that binds before connecting, that is worth an info, not a warning.
TEST(EphemeralPorts, SpreadEvenWhenEveryPortHoldsASocketIsAnInfoAboutBind) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  for (int d = 0; d < 50; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.1." + std::to_string(d + 1), 80),
            {.time_wait = 100, .tw_recent = 10, .tw_expiring = 10});
  // 5000 sockets on 1000 ports: shared across destinations, as connect() does.
  b.host_ports(1000).bind_pool("198.18.0.1", 1000, 5000);
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "ephemeral_ports.host_wide");
  EXPECT_EQ(f[0].severity, Severity::kInfo);
  EXPECT_EQ(f[0].evidence["local_address"], "198.18.0.1");
  EXPECT_EQ(f[0].evidence["ports_in_use"], 1000);
  EXPECT_EQ(f[0].evidence["sockets_per_port"], 5.0);
  EXPECT_TRUE(f[0].evidence["bind_evidence"].empty());
  EXPECT_TRUE(f[0].evidence["pid"].is_null());
  EXPECT_NE(f[0].title.find("connect() still shares these ports; a bind(198.18.0.1, 0) before "
                            "connect() fails with EADDRINUSE"),
            std::string::npos)
      << f[0].title;
}

TEST(EphemeralPorts, TwentyInATwentyPortRangeToOneDestinationIsCriticalApplication) {
  SnapshotBuilder b;
  b.port_range(40000, 40019);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 8080),
          {.time_wait = 20, .tw_past_delay = 15, .tw_recent = 5, .tw_expiring = 0});
  b.host_ports(20);
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "ephemeral_ports.tuple");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].layer, Layer::kApplication);
  EXPECT_EQ(f[0].title,
            "ephemeral ports to 198.18.0.2:8080: 20 of 20 usable in use (100%), exhausted");
  EXPECT_EQ(f[0].evidence["destination"], "198.18.0.2:8080");
  EXPECT_EQ(f[0].evidence["source"], "198.18.0.1");
  EXPECT_EQ(f[0].evidence["usable"], 20);
  EXPECT_EQ(f[0].evidence["tw_reusable"], 0);
  EXPECT_EQ(f[0].evidence["seconds_to_exhaustion"], 0.0);
  EXPECT_EQ(priorities(f[0]), "ABC");
  // C must actually propose tcp_tw_reuse=1 here (2 does not cover a non-loopback tuple).
  bool proposes = false;
  for (const std::string& c : f[0].remediation[2].commands)
    proposes |= c == "sysctl -w net.ipv4.tcp_tw_reuse=1";
  EXPECT_TRUE(proposes);
  // No owner known: null, never a made-up pid.
  EXPECT_TRUE(f[0].evidence["pid"].is_null());
  EXPECT_TRUE(f[0].evidence["comm"].is_null());
}

TEST(EphemeralPorts, TwReuseTwoOnLoopbackIsNotCriticalButTheSameRemoteTupleIs) {
  TupleSpec churn{.time_wait = 20, .tw_past_delay = 19, .tw_recent = 20, .tw_expiring = 0};
  SnapshotBuilder loop;
  loop.port_range(40000, 40019).tw_reuse(2);
  loop.tuple(tuple_key("127.0.0.1", "127.0.0.1", 8080), churn);
  for (const Finding& f : run(loop)) EXPECT_NE(f.severity, Severity::kCritical) << f.title;

  SnapshotBuilder remote;
  remote.port_range(40000, 40019).tw_reuse(2);
  remote.tuple(tuple_key("198.18.0.1", "198.18.0.2", 8080), churn);
  auto f = run(remote);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
}

TEST(EphemeralPorts, HotLoopbackTupleWithTwReuseTwoSaysCIsAlreadyInEffect) {
  SnapshotBuilder b;
  b.port_range(40000, 40019).tw_reuse(2);
  // Too young to be reused yet: connections arrive faster than the 1 s reuse delay frees them.
  b.tuple(tuple_key("127.0.0.1", "127.0.0.1", 8080),
          {.time_wait = 20, .tw_past_delay = 0, .tw_recent = 20});
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(priorities(f[0]), "ABC");
  const RemediationStep& c = f[0].remediation[2];
  EXPECT_NE(c.action.find("already in effect"), std::string::npos) << c.action;
  EXPECT_TRUE(c.commands.empty());
}

TEST(EphemeralPorts, MostlyLivePoolIsSystemLayerWithPlanBFirst) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.9", 5432), {.established = 950, .time_wait = 10});
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].layer, Layer::kSystem);
  ASSERT_FALSE(f[0].remediation.empty());
  EXPECT_EQ(f[0].remediation[0].priority, 'B');
  EXPECT_EQ(priorities(f[0]).find('C'), std::string::npos);
}

TEST(EphemeralPorts, SeventyPercentIsAWarning) {
  SnapshotBuilder b;
  b.port_range(40000, 40099);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80), {.established = 5, .time_wait = 70});
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_EQ(f[0].evidence["utilization"], 0.75);
}

TEST(EphemeralPorts, ForecastWithinTenMinutesWarnsBelowSeventyPercent) {
  SnapshotBuilder b;
  b.port_range(40000, 49999);  // 10,000 ports, 4,000 in use (40%)
  // 200/s arriving, 100/s leaving: +100/s, demand 12,000 > 10,000, out in 60 s.
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80),
          {.time_wait = 4000, .tw_recent = 2000, .tw_expiring = 1000});
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);  // within a minute
  EXPECT_EQ(f[0].evidence["seconds_to_exhaustion"], 60.0);
  EXPECT_NE(f[0].title.find("runs out in ~60 s"), std::string::npos) << f[0].title;

  SnapshotBuilder slow;
  slow.port_range(40000, 49999);
  // +10/s: out in 600 s.
  slow.tuple(tuple_key("198.18.0.1", "198.18.0.2", 80),
             {.time_wait = 4000, .tw_recent = 1800, .tw_expiring = 1700});
  auto g = run(slow);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].severity, Severity::kWarning);
}

TEST(EphemeralPorts, OwnerIsInferredFromLiveSocketsWithConfidence) {
  SnapshotBuilder b;
  b.port_range(40000, 40019);
  TupleKey k = tuple_key("198.18.0.1", "198.18.0.2", 8080);
  b.tuple(k, {.established = 2, .time_wait = 18, .tw_recent = 5});
  b.process(4242, "loadgen", 10, 1024);
  b.process(7, "idle", 3, 1024);
  b.now().tuple_owners.push_back(TupleOwner{k, {{4242, 2}}});
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence["pid"], 4242);
  EXPECT_EQ(f[0].evidence["comm"], "loadgen");
  EXPECT_EQ(f[0].evidence["owner_inferred"], true);
  EXPECT_EQ(f[0].evidence["confidence"], "high");

  b.now().tuple_owners[0].pids = {{7, 1}, {4242, 3}};
  auto g = run(b);
  EXPECT_EQ(g[0].evidence["pid"], 4242);
  EXPECT_EQ(g[0].evidence["confidence"], "medium");
}

TEST(EphemeralPorts, PlanANamesTheOwnersRuntimeAndTheDatabasePoolFirst) {
  SnapshotBuilder b;
  b.port_range(40000, 40019);
  TupleKey k = tuple_key("198.18.0.1", "198.18.0.2", 5432);
  b.tuple(k, {.established = 2, .time_wait = 18, .tw_recent = 5});
  b.process(4242, "checkout", 10, 1024).runtime =
      RuntimeInfo{"go", "go1.21.5", "ELF section .go.buildinfo of /app/checkout"};
  b.now().tuple_owners.push_back(TupleOwner{k, {{4242, 2}}});
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence["runtime"], "go");
  EXPECT_EQ(f[0].evidence["runtime_version"], "go1.21.5");
  EXPECT_EQ(f[0].evidence["runtime_detected_by"], "ELF section .go.buildinfo of /app/checkout");
  const RemediationStep& a = f[0].remediation.at(0);
  ASSERT_EQ(a.priority, 'A');
  EXPECT_NE(a.action.find("the client runs Go go1.21.5"), std::string::npos) << a.action;
  ASSERT_GE(a.commands.size(), 2u);
  EXPECT_EQ(a.commands[0].rfind("PostgreSQL (port 5432)", 0), 0u) << a.commands[0];
  EXPECT_EQ(a.commands[1].rfind("Go: ", 0), 0u) << a.commands[1];

  // No runtime recognised: null evidence, the general clients in their usual order.
  b.now().processes.back().runtime.reset();
  auto g = run(b);
  EXPECT_TRUE(g[0].evidence["runtime"].is_null());
  EXPECT_TRUE(g[0].evidence["runtime_detected_by"].is_null());
  EXPECT_EQ(g[0].remediation.at(0).commands.at(1).rfind("Go: ", 0), 0u);
}

TEST(EphemeralPorts, AtMostFiveTupleFindingsAndTheRestCounted) {
  SnapshotBuilder b;
  b.port_range(40000, 40099);
  for (int d = 0; d < 8; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.1." + std::to_string(d + 1), 80),
            {.time_wait = uint32_t(91 + d)});
  b.tuple(tuple_key("198.18.0.1", "198.18.2.1", 80), {.time_wait = 55});  // warm
  b.tuple(tuple_key("198.18.0.1", "198.18.2.2", 80), {.time_wait = 5});   // cold
  auto f = run(b);
  ASSERT_EQ(findings_with_id(f, "ephemeral_ports.tuple").size(), 5u);
  // Hottest first, and the count of the rest on the first.
  EXPECT_EQ(f[0].evidence["destination"], "198.18.1.8:80");
  EXPECT_EQ(f[0].evidence["others_hot_tuples"], 3);
  EXPECT_EQ(f[0].evidence["other_warm_tuples"], 1);
}

TEST(EphemeralPorts, PastHalfThePoolConnectScansTheFirstParity) {
  SnapshotBuilder b;
  b.port_range(40000, 40099);
  b.tuple(tuple_key("198.18.0.1", "198.18.1.1", 80), {.established = 55});  // 55 %
  b.tuple(tuple_key("198.18.0.1", "198.18.1.2", 80), {.established = 49});  // below half
  b.tuple(tuple_key("198.18.0.1", "198.18.1.3", 80), {.established = 75});  // a warning
  b.host_ports(100);
  auto f = run(b);
  auto search = findings_with_id(f, "ephemeral_ports.port_search");
  ASSERT_EQ(search.size(), 1u);
  EXPECT_EQ(search[0]->severity, Severity::kInfo);
  EXPECT_EQ(search[0]->layer, Layer::kSystem);  // live connections, not churn
  EXPECT_EQ(search[0]->evidence["destination"], "198.18.1.1:80");
  EXPECT_EQ(search[0]->evidence["first_parity_ports"], 50);
  EXPECT_NE(search[0]->title.find("55 of 100 usable in use (55%)"), std::string::npos)
      << search[0]->title;
  EXPECT_NE(search[0]->title.find("~50 taken ports of one parity"), std::string::npos);
  auto tuples = findings_with_id(f, "ephemeral_ports.tuple");
  ASSERT_EQ(tuples.size(), 1u);
  EXPECT_EQ(tuples[0]->evidence["destination"], "198.18.1.3:80");
  EXPECT_EQ(tuples[0]->evidence["other_warm_tuples"], 1);
}

TEST(EphemeralPorts, BindBeforeConnectExhaustsTheHostWidePool) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  // 950 sockets on 950 distinct ports over 10 destinations: nothing shared, no tuple near its
  // own pool. The next bind(ip, 0) fails with EADDRINUSE.
  for (int d = 0; d < 10; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.1." + std::to_string(d + 1), 80),
            {.established = 45, .time_wait = 50});
  b.host_ports(950).bind_pool("198.18.0.1", 950, 950);
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "ephemeral_ports.host_wide");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].layer, Layer::kApplication);
  EXPECT_EQ(f[0].evidence["bind_evidence"], Evidence::array({"ports_not_shared"}));
  ASSERT_FALSE(f[0].remediation.empty());
  EXPECT_NE(f[0].remediation[0].action.find("IP_BIND_ADDRESS_NO_PORT"), std::string::npos);
}

// The case the old host-wide gate hid: a connect()-only client shares ports over 10
// destinations (3 sockets per port), a bind-before-connect client holds the rest of the range
// on the same address. Sockets per port are far above 1.2, yet bind(198.18.0.1, 0) fails. Its
// sockets sit on bind()'s parity in tuples far below half their pool: connect() never needed
// that parity for them.
TEST(EphemeralPorts, MixedSharingAndBindBeforeConnectIsCritical) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  for (int d = 0; d < 10; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.1." + std::to_string(d + 1), 80), {.established = 150});
  for (int d = 0; d < 4; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.2." + std::to_string(d + 1), 443),
            {.established = 128, .bind_parity = 125});
  b.host_ports(1000).bind_pool("198.18.0.1", 1000, 2012);
  b.process(77, "binder", 600, 4096);
  b.now().tuple_owners.push_back(
      TupleOwner{tuple_key("198.18.0.1", "198.18.2.1", 443), {{77, 128}}});
  auto f = run(b);
  EXPECT_TRUE(findings_with_id(f, "ephemeral_ports.tuple").empty());
  auto hw = findings_with_id(f, "ephemeral_ports.host_wide");
  ASSERT_EQ(hw.size(), 1u);
  const Finding& h = *hw[0];
  EXPECT_EQ(h.severity, Severity::kCritical);
  EXPECT_EQ(h.evidence["local_address"], "198.18.0.1");
  EXPECT_EQ(h.evidence["bind_parity_sockets"], 500);
  EXPECT_EQ(h.evidence["bind_evidence"], Evidence::array({"bind_parity"}));
  EXPECT_EQ(h.evidence["pid"], 77);
  EXPECT_EQ(h.evidence["comm"], "binder");
  EXPECT_EQ(h.evidence["owner_basis"], "bind_parity_tuple");
  EXPECT_EQ(h.evidence["tuples"], 14);
  EXPECT_EQ(h.evidence["hottest_tuple_utilization"], 0.15);
}

// A tuple past half its pool takes the second parity from connect() itself: no evidence.
TEST(EphemeralPorts, SecondParityOfATupleBeyondHalfIsConnectsOwn) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  b.tuple(tuple_key("198.18.0.1", "198.18.1.1", 80), {.established = 600, .bind_parity = 100});
  b.tuple(tuple_key("198.18.0.1", "198.18.1.2", 80), {.established = 600, .bind_parity = 100});
  b.host_ports(1000).bind_pool("198.18.0.1", 1000, 1200);
  auto all = run(b);
  auto hw = findings_with_id(all, "ephemeral_ports.host_wide");
  ASSERT_EQ(hw.size(), 1u);
  EXPECT_EQ(hw[0]->severity, Severity::kInfo);
  EXPECT_EQ(hw[0]->evidence["bind_parity_sockets"], 0);
}

// Two addresses: the full one without evidence is an info, the one that something binds
// on (a bound-inactive socket) is judged by its own utilization and wins.
TEST(EphemeralPorts, TwoAddressesTheOneWithBindEvidenceIsReported) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  for (int d = 0; d < 10; ++d) {
    b.tuple(tuple_key("198.18.0.1", "198.18.1." + std::to_string(d + 1), 80), {.established = 300});
    b.tuple(tuple_key("198.18.0.2", "198.18.1." + std::to_string(d + 1), 80), {.established = 200});
  }
  b.host_ports(1000)
      .bind_pool("198.18.0.1", 1000, 3000)
      .bind_pool("198.18.0.2", 750, 2001, /*bound_inactive=*/1);
  auto all = run(b);
  auto hw = findings_with_id(all, "ephemeral_ports.host_wide");
  ASSERT_EQ(hw.size(), 1u);
  EXPECT_EQ(hw[0]->severity, Severity::kWarning);
  EXPECT_EQ(hw[0]->evidence["local_address"], "198.18.0.2");
  EXPECT_EQ(hw[0]->evidence["bind_evidence"], Evidence::array({"bound_inactive"}));
  EXPECT_EQ(hw[0]->evidence["other_full_bind_pools"], 1);
}

// A socket bound to 0.0.0.0:0 and not yet connected: a wildcard bind(0), whose pool is every
// port held on any address.
TEST(EphemeralPorts, WildcardBindPool) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  for (int d = 0; d < 10; ++d)
    b.tuple(tuple_key("198.18.0." + std::to_string(d + 1), "198.18.1.1", 80), {.established = 92});
  b.host_ports(921);
  for (int d = 0; d < 10; ++d)
    b.bind_pool("198.18.0." + std::to_string(d + 1), 93, 92);  // 92 + the wildcard's port
  b.bind_pool("0.0.0.0", 921, 1, /*bound_inactive=*/1, /*own=*/1);
  auto all = run(b);
  auto hw = findings_with_id(all, "ephemeral_ports.host_wide");
  ASSERT_EQ(hw.size(), 1u);
  EXPECT_EQ(hw[0]->severity, Severity::kCritical);
  EXPECT_EQ(hw[0]->evidence["local_address"], "0.0.0.0");
  EXPECT_EQ(hw[0]->evidence["ports_in_use"], 921);
  // The same wildcard pool without a bound socket says nothing: no one binds 0.0.0.0:0.
  b.now().sockets.bind_pools.back().bound_inactive = 0;
  auto again = run(b);
  EXPECT_TRUE(findings_with_id(again, "ephemeral_ports.host_wide").empty());
}

// Reserved ports are out of every pool: 760 held of 800 usable is 95 %, not 76 %.
TEST(EphemeralPorts, BindPoolExcludesReservedPorts) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  b.now().sysctls.ip_local_reserved_ports = std::vector<PortRange>{{40800, 40999}};
  for (int d = 0; d < 10; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.1." + std::to_string(d + 1), 80), {.established = 76});
  b.host_ports(760).bind_pool("198.18.0.1", 760, 760);
  auto all = run(b);
  auto hw = findings_with_id(all, "ephemeral_ports.host_wide");
  ASSERT_EQ(hw.size(), 1u);
  EXPECT_EQ(hw[0]->severity, Severity::kCritical);
  EXPECT_EQ(hw[0]->evidence["usable"], 800);
  EXPECT_EQ(hw[0]->evidence["utilization"], 0.95);
}

// One tuple that fills the address is its own (critical) finding: no bind-pool info on top.
TEST(EphemeralPorts, NoBindPoolInfoWhenATupleFindingSaysIt) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  b.tuple(tuple_key("127.0.0.1", "127.0.0.1", 8080), {.time_wait = 1000});
  b.host_ports(1000).bind_pool("127.0.0.1", 1000, 1000);
  auto f = run(b);
  EXPECT_EQ(findings_with_id(f, "ephemeral_ports.tuple").size(), 1u);
  EXPECT_TRUE(findings_with_id(f, "ephemeral_ports.host_wide").empty());
}

TEST(EphemeralPorts, HostWideListenersAreNotClientSockets) {
  SnapshotBuilder b;
  b.port_range(40000, 40099);
  // 80 listeners in the range and 6 client sockets on distinct ports: the pool is mostly
  // bound by services, which is the per-tuple pool's business (usable = 20), not
  // bind-before-connect.
  for (uint16_t p = 40000; p < 40080; ++p) b.listener(ep("0.0.0.0", p));
  for (int d = 2; d <= 4; ++d)
    b.tuple(tuple_key("198.18.0.1", "198.18.0." + std::to_string(d), 80), {.established = 2});
  b.host_ports(86).bind_pool("198.18.0.1", 86, 6, 0, 6).bind_pool("0.0.0.0", 86, 80, 0, 80);
  auto f = run(b);
  EXPECT_TRUE(findings_with_id(f, "ephemeral_ports.host_wide").empty());
}

TEST(EphemeralPorts, UdpHostWidePool) {
  SnapshotBuilder b;
  b.port_range(40000, 40099).host_ports(0, 75);
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "ephemeral_ports.udp");
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  b.now().sockets.udp_complete = false;  // unknown: no finding rather than a guess
  EXPECT_TRUE(run(b).empty());
}

TEST(EphemeralPorts, IncompleteDumpGivesNoPortFinding) {
  SnapshotBuilder b;
  b.port_range(40000, 40019);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 8080), {.time_wait = 20});
  b.now().sockets.complete = false;
  auto f = run(b);
  EXPECT_TRUE(findings_of(f, Resource::kEphemeralPorts).empty());
}

TEST(EphemeralPorts, FullButNotGrowingIsSaturatedNotStable) {
  SnapshotBuilder b;
  b.port_range(40000, 40999);
  TupleKey k = tuple_key("198.18.0.1", "198.18.0.2", 8080);
  TupleSpec churn{.established = 5, .time_wait = 940, .tw_recent = 900, .tw_expiring = 900};
  b.tuple(k, churn).then(2.0).tuple(k, churn);  // as full in both readings
  auto f = run(b);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_TRUE(f[0].evidence["seconds_to_exhaustion"].is_null());
  EXPECT_EQ(f[0].evidence["forecast"], "saturated: needs ~5,405 at 90/s");
  EXPECT_EQ(f[0].title.find("stable"), std::string::npos) << f[0].title;
}

// tcp_tw_reuse=1 and timestamps on, but the peer sends none: TWRecycled stays flat while the
// churn keeps meeting aged TIME_WAIT ports. The sysctls alone would credit 900 ports and see
// a pool at 10 %; the kernel reuses none, and connect() fails.
TEST(EphemeralPorts, ReuseRefusedForAPeerWithoutTimestampsIsCriticalWithAPeerSideStep) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).tw_reuse(1).timestamps(1).counter("TcpExt.TWRecycled", 7);
  TupleKey k = tuple_key("198.18.2.1", "198.18.2.2", 8080);
  b.tuple(k, {.time_wait = 1000, .tw_past_delay = 900, .tw_recent = 1000});
  b.host_ports(1000);
  b.then(1.0);
  const std::vector<Finding> all = run(b);
  auto f = findings_with_id(all, "ephemeral_ports.tuple");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::kCritical);
  EXPECT_EQ(f[0]->evidence.at("tw_reusable"), 0);
  EXPECT_EQ(f[0]->evidence.at("tw_reuse_basis"), "refused");
  EXPECT_EQ(f[0]->evidence.at("tw_recycled_per_s"), 0.0);
  EXPECT_EQ(f[0]->evidence.at("tw_reuses_expected"), 100.0);
  const RemediationStep* c = nullptr;
  for (const RemediationStep& s : f[0]->remediation)
    if (s.priority == 'C') c = &s;
  ASSERT_TRUE(c);
  EXPECT_NE(c->action.find("no TCP timestamps"), std::string::npos) << c->action;
  ASSERT_EQ(c->commands.size(), 1u);
  EXPECT_EQ(c->commands[0].rfind("ss -tni state established dst 198.18.2.2:8080", 0), 0u)
      << c->commands[0];
}

TEST(EphemeralPorts, ReuseSeenInTwRecycledKeepsTheCredit) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).tw_reuse(1).timestamps(1).counter("TcpExt.TWRecycled", 7);
  TupleKey k = tuple_key("198.18.2.1", "198.18.2.2", 8080);
  b.tuple(k, {.time_wait = 1000, .tw_past_delay = 900, .tw_recent = 1000});
  b.host_ports(1000);
  b.then(1.0).counter("TcpExt.TWRecycled", 300);
  const std::vector<Finding> all = run(b);
  EXPECT_TRUE(
      findings_with_id(all, "ephemeral_ports.tuple").empty());  // 100 of 1,000 effectively in use
}

}  // namespace
}  // namespace cd
