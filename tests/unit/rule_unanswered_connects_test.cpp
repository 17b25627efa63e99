// Tests of the unanswered_connects rule: SYN_SENT whose SYNs got no answer piling up towards one
// destination is a path/destination problem (layer network), never "widen the port range".
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::ep;
using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;
using test::tuple_key;

const TupleKey kTuple = tuple_key("198.18.0.1", "198.18.0.2", 8080);

TEST(UnansweredConnects, SynSentFillingTheRangeIsNetworkNotAPortFinding) {
  SnapshotBuilder b;
  b.port_range(40000, 40099);
  b.counter("TcpExt.TCPSynRetrans", 100).counter("TcpExt.TCPAbortOnTimeout", 0);
  b.tuple(kTuple, {.syn_sent = 100, .syn_unanswered = 60});
  b.host_ports(100);
  b.then(2).counter("TcpExt.TCPSynRetrans", 180);
  Snapshot s = b.build();

  auto f = run_rule(rule_unanswered_connects, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "unanswered_connects.destination");
  EXPECT_EQ(f[0].resource, Resource::kUnansweredConnects);
  EXPECT_EQ(f[0].layer, Layer::kNetwork);
  // 100 of 100 ports held: critical, although "only" 60 SYNs were retransmitted.
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["destination"], "198.18.0.2:8080");
  EXPECT_EQ(f[0].evidence["syn_sent"], 100);
  EXPECT_EQ(f[0].evidence["syn_unanswered"], 60);
  EXPECT_EQ(f[0].evidence["syn_retrans_per_s"], 40.0);
  EXPECT_EQ(f[0].evidence["abort_on_timeout_per_s"], 0.0);
  EXPECT_EQ(priorities(f[0]), "DADA");
  for (const RemediationStep& st : f[0].remediation)
    EXPECT_EQ(st.action.find("ip_local_port_range"), std::string::npos) << st.action;
  // The port pool rule leaves the tuple alone: widening the range would only let more SYNs wait.
  EXPECT_TRUE(run_rule(rule_ephemeral_ports, s).empty());
}

TEST(UnansweredConnects, FewUnansweredIsNothingAndSlowHandshakesAreNotUnanswered) {
  SnapshotBuilder b;
  b.tuple(kTuple, {.established = 5, .syn_sent = 200, .syn_unanswered = 9});
  EXPECT_TRUE(run_rule(rule_unanswered_connects, b.build()).empty());
}

TEST(UnansweredConnects, WarningBelowAHundredAndRatesNullWithOneReading) {
  SnapshotBuilder b;
  b.tuple(kTuple, {.established = 1000, .syn_sent = 20, .syn_unanswered = 20});
  Snapshot s = b.build();
  auto f = run_rule(rule_unanswered_connects, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_TRUE(f[0].evidence["syn_retrans_per_s"].is_null());
  EXPECT_EQ(f[0].evidence["other_live"], 1000);
}

TEST(UnansweredConnects, AbortsOnTimeoutMakeItCritical) {
  SnapshotBuilder b;
  b.counter("TcpExt.TCPAbortOnTimeout", 10);
  b.tuple(kTuple, {.syn_sent = 20, .syn_unanswered = 20});
  b.then(2).counter("TcpExt.TCPAbortOnTimeout", 30);
  auto f = run_rule(rule_unanswered_connects, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["abort_on_timeout_per_s"], 10.0);
}

TEST(UnansweredConnects, ALocalListenerThatOverflowsIsTheAcceptQueueFinding) {
  SnapshotBuilder b;
  b.listener(ep("0.0.0.0", 8080), 9, 8);
  b.tuple(kTuple, {.syn_sent = 30, .syn_unanswered = 30});
  EXPECT_TRUE(run_rule(rule_unanswered_connects, b.build()).empty());
  // A listener on another port does not explain it.
  SnapshotBuilder c;
  c.listener(ep("0.0.0.0", 9090), 9, 8);
  c.tuple(kTuple, {.syn_sent = 30, .syn_unanswered = 30});
  EXPECT_EQ(run_rule(rule_unanswered_connects, c.build()).size(), 1u);
}

}  // namespace
}  // namespace cd
