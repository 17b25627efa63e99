// Tests of the config rule: service ports inside the ephemeral range, tcp_tw_reuse=1 with
// PAWS rejects, a tcp_max_tw_buckets cut down.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::ep;
using test::findings_with_id;
using test::run_rule;
using test::SnapshotBuilder;

TEST(Config, ListeningPortInsideTheRangeMustBeReserved) {
  SnapshotBuilder b;
  b.listener(ep("0.0.0.0", 40000), 0, 128, 77);
  b.listener(ep("::", 40000), 0, 128, 78);  // the same port over IPv6: one finding
  b.listener(ep("0.0.0.0", 8080));          // below the range
  b.listener(ep("0.0.0.0", 45000));         // reserved
  b.reserved({{45000, 45000}});
  b.process(9, "svc", 10, 1024);
  b.now().listener_owner[77] = 9;
  auto all = run_rule(rule_config, b.build());
  auto f = findings_with_id(all, "config.listen_port_in_range");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::kWarning);
  EXPECT_EQ(f[0]->layer, Layer::kSystem);
  EXPECT_EQ(f[0]->evidence["destination"], "0.0.0.0:40000");
  EXPECT_EQ(f[0]->evidence["pid"], 9);
  EXPECT_EQ(f[0]->evidence["comm"], "svc");
  ASSERT_EQ(f[0]->remediation.size(), 1u);
  // Writing the sysctl replaces the list: the command keeps 45000.
  EXPECT_EQ(f[0]->remediation[0].commands[0],
            "sysctl -w net.ipv4.ip_local_reserved_ports=\"40000,45000\"");
}

TEST(Config, TwReuseOneWithPawsRejectsRising) {
  SnapshotBuilder b;
  b.tw_reuse(1).counter("TcpExt.PAWSActive", 10);
  b.then(2.0).counter("TcpExt.PAWSActive", 30);
  auto all = run_rule(rule_config, b.build());
  auto f = findings_with_id(all, "config.tw_reuse_paws");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->layer, Layer::kNetwork);
  EXPECT_EQ(f[0]->evidence["paws_active_per_s"], 10.0);
  EXPECT_EQ(f[0]->remediation[0].commands[0], "sysctl -w net.ipv4.tcp_tw_reuse=2");

  SnapshotBuilder loopback_only;  // tcp_tw_reuse=2: PAWS rejects are somebody else's story
  loopback_only.counter("TcpExt.PAWSActive", 10);
  loopback_only.then(2.0).counter("TcpExt.PAWSActive", 30);
  EXPECT_TRUE(run_rule(rule_config, loopback_only.build()).empty());
}

TEST(Config, TwBucketsCutFarBelowTheDefault) {
  SnapshotBuilder b;  // tcp_max_orphans = 131072 (the same ehash/2 default)
  b.sysctls().tcp_max_tw_buckets = 131072;
  EXPECT_TRUE(run_rule(rule_config, b.build()).empty());
  b.sysctls().tcp_max_tw_buckets = 16384;  // exactly 1/8: not flagged
  EXPECT_TRUE(run_rule(rule_config, b.build()).empty());
  b.sysctls().tcp_max_tw_buckets = 8192;
  auto f = run_rule(rule_config, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "config.tw_buckets_lowered");
  EXPECT_EQ(f[0].remediation[0].commands[0], "sysctl -w net.ipv4.tcp_max_tw_buckets=131072");
  b.sysctls().tcp_max_orphans.reset();
  b.sysctls().tcp_max_tw_buckets = 2000;  // below 4096 whatever the orphans say
  EXPECT_EQ(run_rule(rule_config, b.build()).size(), 1u);
}

}  // namespace
}  // namespace cd
