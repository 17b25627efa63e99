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

TEST(Config, PawsRejectsAreNoSignOfTwReuseTrouble) {
  // tcp_tw_recycle-era lore: with tcp_tw_reuse=1 PAWS rejects say nothing about reuse.
  SnapshotBuilder b;
  b.tw_reuse(1).counter("TcpExt.PAWSActive", 10).counter("TcpExt.PAWSEstab", 0);
  b.then(2.0).counter("TcpExt.PAWSActive", 30).counter("TcpExt.PAWSEstab", 50);
  EXPECT_TRUE(run_rule(rule_config, b.build()).empty());
}

TEST(Config, TwReuseWithSynRetriesIsInformationNeverTurnItOff) {
  SnapshotBuilder b;
  b.tw_reuse(1).counter("TcpExt.TWRecycled", 100).counter("TcpExt.TCPSynRetrans", 4);
  b.then(2.0).counter("TcpExt.TWRecycled", 900).counter("TcpExt.TCPSynRetrans", 10);
  auto all = run_rule(rule_config, b.build());
  auto f = findings_with_id(all, "config.tw_reuse_syn_retrans");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::kInfo);
  EXPECT_EQ(f[0]->layer, Layer::kNetwork);
  EXPECT_EQ(f[0]->evidence["tw_recycled_per_s"], 400.0);
  EXPECT_EQ(f[0]->evidence["syn_retrans_per_s"], 3.0);
  EXPECT_NE(f[0]->title.find("LAST_ACK"), std::string::npos) << f[0]->title;
  // No step may bring port exhaustion back: nothing switches tcp_tw_reuse off or to 2.
  for (const RemediationStep& st : f[0]->remediation)
    for (const std::string& c : st.commands)
      EXPECT_EQ(c.find("tcp_tw_reuse"), std::string::npos) << c;

  SnapshotBuilder off;  // tcp_tw_reuse=0: nothing is reused, the retries are someone else's
  off.tw_reuse(0).counter("TcpExt.TWRecycled", 100).counter("TcpExt.TCPSynRetrans", 4);
  off.then(2.0).counter("TcpExt.TWRecycled", 100).counter("TcpExt.TCPSynRetrans", 10);
  EXPECT_TRUE(run_rule(rule_config, off.build()).empty());
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
