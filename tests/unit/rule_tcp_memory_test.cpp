// Tests of the tcp_memory rule: tcp_mem's pressure and max thresholds, pressure events.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::run_rule;
using test::SnapshotBuilder;

TEST(TcpMemory, PressureWarnsMaxIsCritical) {
  SnapshotBuilder b;
  b.sysctls().tcp_mem = std::array<int64_t, 3>{1000, 2000, 3000};
  b.now().sockstat.tcp_mem_pages = 1999;
  EXPECT_TRUE(run_rule(rule_tcp_memory, b.build()).empty());
  b.now().sockstat.tcp_mem_pages = 2000;
  auto w = run_rule(rule_tcp_memory, b.build());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].severity, Severity::kWarning);
  EXPECT_EQ(w[0].layer, Layer::kSystem);
  EXPECT_EQ(w[0].evidence["tcp_mem_pressure"], 2000);
  b.now().sockstat.tcp_mem_pages = 3000;
  auto c = run_rule(rule_tcp_memory, b.build());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].severity, Severity::kCritical);
  // The plan doubles pressure and max and states the RAM that allows.
  EXPECT_EQ(c[0].remediation[1].commands[0], "sysctl -w net.ipv4.tcp_mem=\"1000 4000 6000\"");
}

TEST(TcpMemory, PressureEventsBetweenReadingsWarn) {
  SnapshotBuilder b;
  b.counter("TcpExt.TCPMemoryPressures", 3);
  b.then(2.0).counter("TcpExt.TCPMemoryPressures", 5);
  auto f = run_rule(rule_tcp_memory, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_EQ(f[0].evidence["memory_pressures_per_s"], 1.0);
}

TEST(TcpMemory, UnknownFiguresAreNoFinding) {
  SnapshotBuilder b;
  b.sysctls().tcp_mem.reset();
  b.now().sockstat.tcp_mem_pages = 1u << 30;
  EXPECT_TRUE(run_rule(rule_tcp_memory, b.build()).empty());
}

}  // namespace
}  // namespace cd
