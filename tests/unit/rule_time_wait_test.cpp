// Tests of the time_wait rule: the bucket table, overflow rates (with resets), and
// server-side TIME_WAIT, which is an application finding that no port tuning fixes.
#include <gtest/gtest.h>

#include "analyse/analysis.h"
#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::all_text;
using test::ep;
using test::findings_of;
using test::findings_with_id;
using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;
using test::tuple_key;

TEST(TimeWait, ServerSideIsApplicationKeepAliveAndNoPortFindingNoC) {
  SnapshotBuilder b;
  b.listener(ep("0.0.0.0", 80));
  b.server_time_wait(5000);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 443), {.established = 3, .time_wait = 100});
  Analysis a = analyse(b.build());
  auto f = findings_with_id(a.findings, "time_wait.server_side");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::kWarning);
  EXPECT_EQ(f[0]->layer, Layer::kApplication);
  EXPECT_EQ(f[0]->evidence["time_wait_server"], 5000);
  EXPECT_EQ(f[0]->evidence["tw_reuse_helps"], false);
  EXPECT_EQ(priorities(*f[0]), "A");
  EXPECT_NE(f[0]->remediation[0].action.find("keep-alive"), std::string::npos);
  EXPECT_NE(f[0]->remediation[0].action.find("tcp_tw_reuse does not help"), std::string::npos);
  EXPECT_TRUE(findings_of(a.findings, Resource::kEphemeralPorts).empty());
  for (const Finding& g : a.findings)
    EXPECT_EQ(priorities(g).find('C'), std::string::npos) << g.title;
  EXPECT_EQ(a.status, Status::kWarning);
}

TEST(TimeWait, ServerSideNeedsVolumeAndMajority) {
  SnapshotBuilder few;
  few.server_time_wait(900);
  EXPECT_TRUE(run_rule(rule_time_wait, few.build()).empty());

  SnapshotBuilder minority;
  minority.server_time_wait(2000);
  minority.tuple(tuple_key("198.18.0.1", "198.18.0.2", 443), {.time_wait = 3000});
  auto f = run_rule(rule_time_wait, minority.build());
  EXPECT_TRUE(findings_with_id(f, "time_wait.server_side").empty());
}

TEST(TimeWait, TableAtEightyPercentWarns) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_tw_buckets = 10000;
  b.now().sockstat.tcp_tw = 8500;
  auto f = run_rule(rule_time_wait, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "time_wait.buckets");
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_EQ(f[0].title, "TIME_WAIT table: 8,500 of 10,000 buckets (85%)");
  // One reading: the overflow rate is unknown, and says so, never 0.
  EXPECT_TRUE(f[0].evidence["overflow_per_s"].is_null());
  EXPECT_EQ(f[0].evidence["rate_note"], "rate unknown (one reading)");
}

TEST(TimeWait, OverflowWithAFullTableIsCritical) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_tw_buckets = 10000;
  b.now().sockstat.tcp_tw = 9990;
  b.counter("TcpExt.TCPTimeWaitOverflow", 100);
  b.then(2.0).counter("TcpExt.TCPTimeWaitOverflow", 300);
  auto f = run_rule(rule_time_wait, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["overflow_per_s"], 100.0);
  EXPECT_NE(f[0].title.find("overflowing at 100/s"), std::string::npos) << f[0].title;
  // The plan raises the limit; it never shrinks it.
  ASSERT_EQ(priorities(f[0]), "AB");
  EXPECT_NE(f[0].remediation[1].commands[0].find("tcp_max_tw_buckets=131072"), std::string::npos)
      << f[0].remediation[1].commands[0];
}

TEST(TimeWait, OverflowWithoutAFullTableWarns) {
  SnapshotBuilder b;
  b.now().sockstat.tcp_tw = 100;
  b.counter("TcpExt.TCPTimeWaitOverflow", 0);
  b.then(1.0).counter("TcpExt.TCPTimeWaitOverflow", 5);
  auto f = run_rule(rule_time_wait, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
}

TEST(TimeWait, CounterResetIsNotANegativeRate) {
  SnapshotBuilder b;
  b.now().sockstat.tcp_tw = 100;
  b.counter("TcpExt.TCPTimeWaitOverflow", 5000);
  // The namespace was recreated: the counter restarted from 0.
  b.then(2.0).counter("TcpExt.TCPTimeWaitOverflow", 0);
  Snapshot s = b.build();
  ASSERT_TRUE(s.counter_rate("TcpExt.TCPTimeWaitOverflow"));
  EXPECT_GE(*s.counter_rate("TcpExt.TCPTimeWaitOverflow"), 0.0);
  EXPECT_TRUE(run_rule(rule_time_wait, s).empty());

  b.counter("TcpExt.TCPTimeWaitOverflow", 8);  // 8 since the reset: a real rate
  auto f = run_rule(rule_time_wait, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence["overflow_per_s"], 4.0);
}

TEST(TimeWait, ServerDominatedTableGetsServerKeepAlive) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_tw_buckets = 10000;
  b.server_time_wait(9000);
  auto f = run_rule(rule_time_wait, b.build());
  auto t = findings_with_id(f, "time_wait.buckets");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NE(t[0]->remediation[0].action.find("keep-alive"), std::string::npos);
  EXPECT_EQ(all_text(*t[0]).find("tcp_tw_reuse=1"), std::string::npos);
}

TEST(TimeWait, LoweredLimitIsASystemLayerProblem) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_tw_buckets = 1000;
  b.now().sockstat.tcp_tw = 1000;
  auto f = run_rule(rule_time_wait, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].layer, Layer::kSystem);
}

}  // namespace
}  // namespace cd
