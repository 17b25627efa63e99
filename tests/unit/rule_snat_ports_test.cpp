// Tests of rule snat_ports: SNAT pools per (NAT IP, destination, port, protocol) against the
// rule's port range, from tables built by the real aggregator.
#include <gtest/gtest.h>

#include "conntrack_rule_fixture.h"

namespace cd {
namespace {

using test::ConntrackSnapshot;
using test::ct_snat;
using test::ct_tcp;

NatRule masquerade_to(uint16_t lo, uint16_t hi, bool random_fully = false) {
  NatRule r;
  r.family = 2;  // NFPROTO_IPV4
  r.masquerade = true;
  r.ports = PortRange{lo, hi};
  r.random_fully = random_fully;
  r.where = "nft ip table nat chain postrouting";
  return r;
}

ConntrackAggregatorConfig rules(std::vector<NatRule> r) {
  ConntrackAggregatorConfig c;
  c.nat_rules = std::move(r);
  c.nat_rules_read = true;
  return c;
}

// `n` connections from the client through NAT IP `nat` to dst:dport, NAT ports from 40000.
void connections(ConntrackSnapshot& s, int n, const std::string& dst, uint16_t dport,
                 const std::string& nat = "198.18.0.1", CtTcpState st = CtTcpState::kEstablished) {
  for (int i = 0; i < n; ++i)
    s.add(ct_snat(ct_tcp("198.18.1.2", uint16_t(50000 + i), dst, dport, st), nat,
                  uint16_t(40000 + i)));
}

TEST(RuleSnatPorts, ExhaustedPoolIsCriticalNamingTheDestinationAndTheNatIp) {
  ConntrackSnapshot s(10, 262144, rules({masquerade_to(40000, 40009)}));
  connections(s, 10, "198.19.0.2", 80);
  auto out = test::run_rule(rule_snat_ports, s.finish());
  ASSERT_EQ(out.size(), 1u);
  const Finding& f = out[0];
  EXPECT_EQ(f.id, "snat_ports.destination");
  EXPECT_EQ(f.resource, Resource::kSnatPorts);
  EXPECT_EQ(f.severity, Severity::kCritical);
  EXPECT_EQ(f.layer, Layer::kNetwork);
  EXPECT_NE(f.title.find("198.19.0.2:80"), std::string::npos) << f.title;
  EXPECT_NE(f.title.find("198.18.0.1"), std::string::npos) << f.title;
  EXPECT_NE(f.title.find("exhausted"), std::string::npos) << f.title;
  EXPECT_EQ(f.evidence["destination"], "198.19.0.2:80");
  EXPECT_EQ(f.evidence["nat_ip"], "198.18.0.1");
  EXPECT_EQ(f.evidence["in_use"], 10);
  EXPECT_EQ(f.evidence["usable"], 10);
  EXPECT_EQ(f.evidence["ports_left"], 0);
  EXPECT_EQ(f.evidence["range_source"], "nftables");
  EXPECT_EQ(f.evidence["port_range"], Evidence::array({40000, 40009}));
  EXPECT_TRUE(f.evidence["insert_failed_per_s"].is_null());  // one reading: unknown, not 0
  // The article's remedies, connection reuse first.
  ASSERT_FALSE(f.remediation.empty());
  EXPECT_EQ(f.remediation.front().priority, 'A');
  // One source (198.18.1.2) behind the pool: the NAT IP is a hash of (source, destination),
  // so more NAT IPs would not be used; the step says so instead of proposing them.
  EXPECT_EQ(f.evidence["sources"], 1);
  EXPECT_FALSE(test::has_step(f, 'D', "Add NAT addresses"));
  EXPECT_TRUE(test::has_step(f, 'D', "More NAT addresses would not help"));
  EXPECT_TRUE(test::has_step(f, 'D', "Widen the NAT port range"));
  EXPECT_TRUE(test::has_step(f, 'D', "random-fully"));
}

TEST(RuleSnatPorts, MoreNatAddressesOnlyWhereSeveralSourcesShareThePool) {
  ConntrackSnapshot s(10, 262144, rules({masquerade_to(40000, 40009)}));
  for (int i = 0; i < 10; ++i)  // ten hosts behind the gateway, one connection each
    s.add(ct_snat(ct_tcp("198.18.1." + std::to_string(10 + i), 50000, "198.19.0.2", 80,
                         CtTcpState::kEstablished),
                  "198.18.0.1", uint16_t(40000 + i)));
  auto out = test::run_rule(rule_snat_ports, s.finish());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].evidence["sources"], 8);  // counted up to 8
  EXPECT_EQ(out[0].evidence["more_sources"], true);
  EXPECT_TRUE(test::has_step(out[0], 'D', "Add NAT addresses"));
  EXPECT_TRUE(test::has_step(out[0], 'D', "8+ sources"));
}

TEST(RuleSnatPorts, TheSameEntriesAgainstTheDefaultRangeAreFine) {
  ConntrackSnapshot s(10, 262144, rules({}));
  connections(s, 10, "198.19.0.2", 80);
  EXPECT_TRUE(test::run_rule(rule_snat_ports, s.finish()).empty());
}

TEST(RuleSnatPorts, EachDestinationPortIsItsOwnPool) {
  // 9 + 9 entries through one NAT IP: 18 ports in a 10-port range would be "180 %" if the pool
  // were per NAT IP; per destination port each pool is 90 %.
  ConntrackSnapshot s(25, 262144, rules({masquerade_to(40000, 40009)}));
  connections(s, 9, "198.19.0.2", 80);
  connections(s, 9, "198.19.0.2", 81);
  connections(s, 7, "198.19.0.3", 80);
  auto out = test::run_rule(rule_snat_ports, s.finish());
  ASSERT_EQ(out.size(), 3u);
  int critical = 0, warning = 0;
  for (const Finding& f : out) {
    EXPECT_EQ(f.evidence["usable"], 10);
    critical += f.severity == Severity::kCritical;
    warning += f.severity == Severity::kWarning;
  }
  EXPECT_EQ(critical, 2);
  EXPECT_EQ(warning, 1);
}

TEST(RuleSnatPorts, AnotherNatIpIsAnotherPool) {
  ConntrackSnapshot s(20, 262144, rules({masquerade_to(40000, 40009)}));
  connections(s, 5, "198.19.0.2", 80, "198.18.0.1");
  connections(s, 5, "198.19.0.2", 80, "198.18.0.2");
  EXPECT_TRUE(test::run_rule(rule_snat_ports, s.finish()).empty());
}

TEST(RuleSnatPorts, InsertFailedRisingMakesAWellUsedPoolCritical) {
  ConntrackSnapshot s(7, 262144, rules({masquerade_to(40000, 40009, /*random_fully=*/true)}));
  connections(s, 7, "198.19.0.2", 80);
  s.second_reading(2.0, {{"insert_failed", 6}});
  auto out = test::run_rule(rule_snat_ports, s.finish());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].severity, Severity::kCritical);
  EXPECT_EQ(out[0].evidence["insert_failed_per_s"], 3.0);
  EXPECT_FALSE(test::has_step(out[0], 'D', "random-fully"));  // already on

  ConntrackSnapshot quiet(7, 262144, rules({masquerade_to(40000, 40009)}));
  connections(quiet, 7, "198.19.0.2", 80);
  quiet.second_reading(2.0, {});
  auto w = test::run_rule(rule_snat_ports, quiet.finish());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].severity, Severity::kWarning);
  EXPECT_EQ(w[0].evidence["insert_failed_per_s"], 0.0);
}

TEST(RuleSnatPorts, ClosedConnectionsHoldingPortsBringTheTimeoutStep) {
  ConntrackSnapshot s(10, 262144, rules({masquerade_to(40000, 40009)}));
  connections(s, 10, "198.19.0.2", 80, "198.18.0.1", CtTcpState::kTimeWait);
  auto out = test::run_rule(rule_snat_ports, s.finish());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].evidence["closing_entries"], 10);
  EXPECT_TRUE(test::has_step(out[0], 'D', "Shorten conntrack timeouts"));
}

TEST(RuleSnatPorts, UserRangeOverridesAndFindingsAreCapped) {
  ConntrackAggregatorConfig cfg;
  cfg.snat_ports_override = PortRange{2000, 2003};
  ConntrackSnapshot s(32, 262144, cfg);
  for (int d = 0; d < 8; ++d) connections(s, 4, "198.19.0." + std::to_string(d + 10), 443);
  auto out = test::run_rule(rule_snat_ports, s.finish());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].evidence["range_source"], "user");
  EXPECT_EQ(out[0].evidence["others_snat_groups"], 3);
}

TEST(RuleSnatPorts, NothingWithoutADump) {
  ConntrackSnapshot s(10, 262144, rules({masquerade_to(40000, 40009)}));
  connections(s, 10, "198.19.0.2", 80);
  Snapshot& snap = s.finish();
  snap.first.conntrack_table.dumped = false;
  EXPECT_TRUE(test::run_rule(rule_snat_ports, snap).empty());
}

TEST(RuleSnatPorts, RegisteredInTheRuleTable) {
  bool found = false;
  for (const Rule& r : all_rules()) found |= r.fn == rule_snat_ports;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace cd
