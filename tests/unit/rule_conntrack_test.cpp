// Tests of the conntrack rule: fill thresholds, drop / early_drop / insert_failed rates, the
// plan with its memory cost.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::all_text;
using test::findings_with_id;
using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;

void table(SnapshotBuilder& b, int64_t count, int64_t max) {
  ConntrackStats& c = b.now().conntrack;
  c.available = true;
  c.count = count;
  c.max = max;
  c.buckets = max;
  c.stats_source = "procfs";
  c.stats = {{"drop", 0}, {"early_drop", 0}, {"insert_failed", 0}};
}

TEST(Conntrack, FillThresholds) {
  SnapshotBuilder ok, warn, crit;
  table(ok, 79, 100);
  table(warn, 85, 100);
  table(crit, 96, 100);
  EXPECT_TRUE(run_rule(rule_conntrack, ok.build()).empty());
  auto w = run_rule(rule_conntrack, warn.build());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].id, "conntrack.table");
  EXPECT_EQ(w[0].severity, Severity::kWarning);
  EXPECT_EQ(w[0].layer, Layer::kNetwork);
  auto c = run_rule(rule_conntrack, crit.build());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].severity, Severity::kCritical);
  EXPECT_EQ(c[0].title, "conntrack table: 96 of 100 entries (96%)");
  EXPECT_EQ(priorities(c[0]), "DD");
}

TEST(Conntrack, DropRateIsCriticalAndThePlanStatesItsMemory) {
  SnapshotBuilder b;
  table(b, 262000, 262144);
  b.then(2.0);
  b.now().conntrack.stats["drop"] = 40;
  b.now().conntrack.stats["early_drop"] = 10;
  auto f = run_rule(rule_conntrack, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["drop_per_s"], 20.0);
  EXPECT_EQ(f[0].evidence["early_drop_per_s"], 5.0);
  const RemediationStep& size = f[0].remediation[0];
  EXPECT_EQ(size.commands[0], "sysctl -w net.netfilter.nf_conntrack_max=524288");
  EXPECT_EQ(size.commands[1], "echo 524288 > /sys/module/nf_conntrack/parameters/hashsize");
  // 524,288 x 320 B = 160 MiB.
  EXPECT_NE(size.risk.find("524,288 entries x ~320 B = 160 MiB"), std::string::npos) << size.risk;
  // The established timeout (5 days by default) is shortened.
  EXPECT_NE(all_text(f[0]).find("nf_conntrack_tcp_timeout_established=86400"), std::string::npos);
}

TEST(Conntrack, EarlyDropAloneWarns) {
  SnapshotBuilder b;
  table(b, 50, 100);
  b.then(1.0);
  b.now().conntrack.stats["early_drop"] = 3;
  auto f = run_rule(rule_conntrack, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
}

TEST(Conntrack, InvalidPacketsAreInfoThenAWarningWithAReadOnlyPlan) {
  auto run_with = [](int64_t invalid_in_2s) {
    SnapshotBuilder b;
    table(b, 50, 100);
    b.now().conntrack.stats["invalid"] = 1000;
    b.then(2.0);
    b.now().conntrack.stats["invalid"] = 1000 + invalid_in_2s;
    return run_rule(rule_conntrack, b.build());
  };
  EXPECT_TRUE(run_with(10).empty());  // 5/s: the usual late packets
  auto info = run_with(40);           // 20/s
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].id, "conntrack.invalid");
  EXPECT_EQ(info[0].severity, Severity::kInfo);
  EXPECT_EQ(info[0].evidence["invalid_per_s"], 20.0);
  auto warn = run_with(400);  // 200/s
  ASSERT_EQ(warn.size(), 1u);
  EXPECT_EQ(warn[0].severity, Severity::kWarning);
  EXPECT_EQ(warn[0].layer, Layer::kNetwork);
  ASSERT_EQ(warn[0].remediation.size(), 1u);
  for (const std::string& cmd : warn[0].remediation[0].commands)
    EXPECT_EQ(cmd.find("-w"), std::string::npos) << cmd;  // reading only
}

TEST(Conntrack, InsertFailedIsAClashFindingAndOwnsItsDrops) {
  SnapshotBuilder b;
  table(b, 1000, 262144);
  b.then(1.0);
  b.now().conntrack.stats["insert_failed"] = 6;
  b.now().conntrack.stats["drop"] = 6;  // nf_ct_resolve_clash() drops what it cannot resolve
  auto f = run_rule(rule_conntrack, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "conntrack.insert_failed");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  std::string text = all_text(f[0]);
  EXPECT_NE(text.find("--random-fully"), std::string::npos);
  EXPECT_NE(text.find("single-request-reopen"), std::string::npos);
  EXPECT_NE(text.find("NodeLocal DNSCache"), std::string::npos);

  b.now().conntrack.stats["drop"] = 0;
  auto g = run_rule(rule_conntrack, b.build());
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].severity, Severity::kWarning);
}

TEST(Conntrack, OneReadingRatesAreUnknownNotZero) {
  SnapshotBuilder b;
  table(b, 90, 100);
  b.now().conntrack.stats["drop"] = 1000000;  // since boot: says nothing about now
  auto f = run_rule(rule_conntrack, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_TRUE(f[0].evidence["drop_per_s"].is_null());
  EXPECT_EQ(f[0].evidence["rate_note"], "rate unknown (one reading)");
}

TEST(Conntrack, StatsResetIsNotANegativeRate) {
  SnapshotBuilder b;
  table(b, 10, 100);
  b.now().conntrack.stats["drop"] = 500;
  b.then(1.0);
  b.now().conntrack.stats["drop"] = 0;  // module reloaded
  EXPECT_TRUE(run_rule(rule_conntrack, b.build()).empty());
}

TEST(Conntrack, NotLoadedIsNothing) {
  SnapshotBuilder b;
  EXPECT_TRUE(run_rule(rule_conntrack, b.build()).empty());
}

}  // namespace
}  // namespace cd
