// Tests of the orphans rule: a quarter and a half of tcp_max_orphans, memory aborts.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::findings_of;
using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;

TEST(Orphans, QuarterWarnsHalfIsCritical) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_orphans = 1000;
  b.now().sockstat.tcp_orphan = 240;
  EXPECT_TRUE(run_rule(rule_orphans, b.build()).empty());
  b.now().sockstat.tcp_orphan = 300;
  auto w = run_rule(rule_orphans, b.build());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].severity, Severity::kWarning);
  EXPECT_EQ(w[0].resource, Resource::kOrphans);
  EXPECT_EQ(w[0].title, "orphaned TCP sockets: 300 of tcp_max_orphans 1,000 (30%)");
  EXPECT_EQ(priorities(w[0]), "AB");
  b.now().sockstat.tcp_orphan = 500;
  EXPECT_EQ(run_rule(rule_orphans, b.build())[0].severity, Severity::kCritical);
}

TEST(Orphans, AbortOnMemoryRateIsCritical) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_orphans = 1000;
  b.now().sockstat.tcp_orphan = 10;
  b.counter("TcpExt.TCPAbortOnMemory", 7);
  b.then(1.0).counter("TcpExt.TCPAbortOnMemory", 9);
  auto f = run_rule(rule_orphans, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["abort_on_memory_per_s"], 2.0);
}

TEST(Orphans, AbortsExplainedByTcpMemoryGoToTheTcpMemoryRule) {
  SnapshotBuilder b;
  b.sysctls().tcp_max_orphans = 1000;
  b.sysctls().tcp_mem = std::array<int64_t, 3>{100, 200, 300};
  b.now().sockstat.tcp_orphan = 10;
  b.now().sockstat.tcp_mem_pages = 310;
  b.counter("TcpExt.TCPAbortOnMemory", 7);
  b.then(1.0).counter("TcpExt.TCPAbortOnMemory", 9);
  Snapshot s = b.build();
  EXPECT_TRUE(run_rule(rule_orphans, s).empty());
  auto m = run_rule(rule_tcp_memory, s);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].severity, Severity::kCritical);
}

}  // namespace
}  // namespace cd
