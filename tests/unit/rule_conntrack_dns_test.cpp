// Tests of the UDP/53 aggregation of the conntrack dump and of rule conntrack_dns: insert_failed
// while DNS flows are tracked, UDP/53 entries never answered, per resolver.
#include <gtest/gtest.h>

#include "conntrack_rule_fixture.h"
#include "render/conntrack_table_json.h"

namespace cd {
namespace {

using test::ConntrackSnapshot;

CtEntry ct_udp(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
               bool replied, uint32_t timeout = 25) {
  CtEntry e;
  e.family = AF_INET;
  e.protocol = IPPROTO_UDP;
  e.orig_src = Endpoint{*IpAddr::parse(src), sport};
  e.orig_dst = Endpoint{*IpAddr::parse(dst), dport};
  e.reply_src = e.orig_dst;
  e.reply_dst = e.orig_src;
  e.status = replied ? test::kCtSeenReply : 0;
  e.timeout_s = timeout;
  return e;
}

// `n` lookups from 10.0.0.1 to resolver:53, the first `replied` of them answered.
void lookups(ConntrackSnapshot& s, int n, int replied, const std::string& resolver,
             uint16_t base = 30000) {
  for (int i = 0; i < n; ++i)
    s.add(ct_udp("10.0.0.1", uint16_t(base + i), resolver, 53, i < replied));
}

const Finding* find(const std::vector<Finding>& v, const std::string& id) {
  for (const Finding& f : v)
    if (f.id == id) return &f;
  return nullptr;
}

TEST(ConntrackDnsAggregation, CountsUdpToPort53PerResolver) {
  ConntrackAggregator agg({});
  for (int i = 0; i < 30; ++i)
    agg.on_entry(ct_udp("10.0.0.1", uint16_t(1000 + i), "10.96.0.10", 53, i < 10));
  for (int i = 0; i < 5; ++i)
    agg.on_entry(ct_udp("10.0.0.2", uint16_t(2000 + i), "10.96.0.11", 53, true));
  // Not DNS: UDP to another port, TCP to 53, UDP *from* port 53.
  agg.on_entry(ct_udp("10.0.0.1", 3000, "10.96.0.10", 123, false));
  agg.on_entry(test::ct_tcp("10.0.0.1", 3001, "10.96.0.10", 53, CtTcpState::kEstablished));
  agg.on_entry(ct_udp("10.0.0.1", 53, "10.96.0.12", 4000, false));
  CtEntry assured = ct_udp("10.0.0.3", 5000, "10.96.0.11", 53, true, 110);
  assured.status |= test::kCtAssured;
  agg.on_entry(assured);
  ConntrackTable t = agg.finish(true, false);
  EXPECT_EQ(t.dns.entries, 36u);
  EXPECT_EQ(t.dns.unreplied, 20u);
  EXPECT_EQ(t.dns.assured, 1u);
  EXPECT_EQ(t.dns.destinations_total, 2u);
  ASSERT_EQ(t.dns.destinations.size(), 2u);
  EXPECT_EQ(t.dns.destinations[0].dst.to_string(), "10.96.0.10:53");
  EXPECT_EQ(t.dns.destinations[0].entries, 30u);
  EXPECT_EQ(t.dns.destinations[0].unreplied, 20u);
  EXPECT_EQ(t.dns.destinations[1].dst.to_string(), "10.96.0.11:53");
  EXPECT_EQ(t.dns.destinations[1].entries, 6u);
  EXPECT_EQ(t.dns.destinations[1].unreplied, 0u);
  // The whole table still counts everything.
  EXPECT_EQ(t.entries, 39u);
  EXPECT_EQ(t.stale.udp_unreplied, 22u);

  auto j = conntrack_table_json(t);
  EXPECT_EQ(j["dns"]["entries"], 36);
  EXPECT_EQ(j["dns"]["unreplied"], 20);
  EXPECT_EQ(j["dns"]["destinations"][0]["destination"], "10.96.0.10:53");
  EXPECT_EQ(j["dns"]["destinations"][0]["unreplied"], 20);
}

TEST(ConntrackDnsAggregation, KeepsTheBusiestResolvers) {
  ConntrackAggregator agg({});
  for (int d = 0; d < 15; ++d)
    for (int i = 0; i <= d; ++i)
      agg.on_entry(ct_udp("10.0.0.1", uint16_t(1000 + 100 * d + i),
                          "10.1.0." + std::to_string(d + 1), 53, true));
  ConntrackTable t = agg.finish(true, false);
  EXPECT_EQ(t.dns.destinations_total, 15u);
  ASSERT_EQ(t.dns.destinations.size(), kDnsDestinationsKept);
  EXPECT_EQ(t.dns.destinations.front().dst.to_string(), "10.1.0.15:53");
  EXPECT_EQ(t.dns.destinations.front().entries, 15u);
  EXPECT_EQ(t.dns.destinations.back().entries, 15u - kDnsDestinationsKept + 1);
}

TEST(RuleConntrackDns, InsertFailedWhileDnsFlowsIsAWarningWithTheAppFixFirst) {
  ConntrackSnapshot s(1000, 262144);
  lookups(s, 200, 190, "10.96.0.10");
  s.snapshot().first.conntrack.stats["clashres"] = 0;
  s.second_reading(2.0, {{"insert_failed", 6}, {"drop", 6}, {"clashres", 40}});
  auto out = test::run_rule(rule_conntrack_dns, s.finish());
  const Finding* f = find(out, "conntrack.dns");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->layer, Layer::kNetwork);
  EXPECT_EQ(f->resource, Resource::kConntrack);
  EXPECT_EQ(f->evidence["insert_failed_per_s"], 3.0);
  EXPECT_EQ(f->evidence["clash_resolve_per_s"], 20.0);
  EXPECT_EQ(f->evidence["udp53_entries"], 200);
  EXPECT_EQ(f->evidence["udp53_unreplied"], 10);
  EXPECT_EQ(f->evidence["destinations"][0]["destination"], "10.96.0.10:53");
  EXPECT_EQ(f->evidence["udp_timeout"], 30);
  EXPECT_NE(f->title.find("3.0/s"), std::string::npos) << f->title;
  EXPECT_NE(f->title.find("200 UDP/53"), std::string::npos) << f->title;
  ASSERT_GE(f->remediation.size(), 2u);
  EXPECT_EQ(f->remediation[0].priority, 'A');
  EXPECT_TRUE(test::has_step(*f, 'A', "single-request-reopen"));
  EXPECT_TRUE(test::has_step(*f, 'D', "NodeLocal DNSCache"));
  // 10 of 200 unreplied is not enough for the resolver step, and the table is not under
  // pressure: no timeout change.
  EXPECT_FALSE(test::has_step(*f, 'D', "do not answer"));
  EXPECT_FALSE(test::has_step(*f, 'D', "nf_conntrack_udp_timeout"));
}

TEST(RuleConntrackDns, ClashesTheKernelResolvedAreNotAFinding) {
  ConntrackSnapshot s(1000, 262144);
  lookups(s, 200, 200, "10.96.0.10");
  s.snapshot().first.conntrack.stats["clashres"] = 0;
  s.second_reading(2.0, {{"clashres", 40}});
  EXPECT_EQ(find(test::run_rule(rule_conntrack_dns, s.finish()), "conntrack.dns"), nullptr);
}

TEST(RuleConntrackDns, InsertFailedWithoutDnsFlowsIsNotThisFinding) {
  ConntrackSnapshot s(1000, 262144);
  s.add(ct_udp("10.0.0.1", 5000, "10.1.0.1", 4789, true));
  s.second_reading(2.0, {{"insert_failed", 6}});
  EXPECT_EQ(find(test::run_rule(rule_conntrack_dns, s.finish()), "conntrack.dns"), nullptr);
}

TEST(RuleConntrackDns, OneReadingGivesNoRateAndNoInsertClaim) {
  ConntrackSnapshot s(1000, 262144);
  lookups(s, 200, 200, "10.96.0.10");
  EXPECT_TRUE(test::run_rule(rule_conntrack_dns, s.finish()).empty());
}

TEST(RuleConntrackDns, UnansweredLookupsNameTheResolvers) {
  ConntrackSnapshot s(1000, 262144);
  lookups(s, 100, 100, "10.96.0.10");
  lookups(s, 100, 0, "10.96.0.11", 40000);
  auto out = test::run_rule(rule_conntrack_dns, s.finish());
  const Finding* f = find(out, "conntrack.dns");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);  // half of them
  EXPECT_NE(f->title.find("100 of 200"), std::string::npos) << f->title;
  EXPECT_NE(f->title.find("10.96.0.11:53"), std::string::npos) << f->title;
  EXPECT_EQ(f->title.find("10.96.0.10:53"), std::string::npos) << f->title;  // all answered
  EXPECT_EQ(f->evidence["unreplied_share"], 0.5);
  EXPECT_TRUE(f->evidence["insert_failed_per_s"].is_null());
  EXPECT_TRUE(test::has_step(*f, 'D', "do not answer"));
  bool names = false;
  for (const auto& st : f->remediation)
    for (const auto& c : st.commands) names |= c.find("10.96.0.11") != std::string::npos;
  EXPECT_TRUE(names);
  EXPECT_FALSE(test::has_step(*f, 'A', "single-request-reopen"));
}

TEST(RuleConntrackDns, AFewUnansweredAreInfoAndVeryFewNothing) {
  {
    ConntrackSnapshot s(1000, 262144);
    lookups(s, 200, 170, "10.96.0.10");  // 30 unreplied, 15 %
    auto out = test::run_rule(rule_conntrack_dns, s.finish());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].severity, Severity::kInfo);
  }
  {
    ConntrackSnapshot s(1000, 262144);
    lookups(s, 200, 185, "10.96.0.10");  // 15 unreplied: below the minimum
    EXPECT_TRUE(test::run_rule(rule_conntrack_dns, s.finish()).empty());
  }
}

TEST(RuleConntrackDns, ATableUnderPressureAlsoGetsTheUdpTimeoutStep) {
  ConntrackSnapshot s(200000, 262144);
  s.snapshot().first.sysctls.conntrack_timeouts["udp_timeout"] = 30;
  lookups(s, 100, 0, "10.96.0.11");
  auto out = test::run_rule(rule_conntrack_dns, s.finish());
  const Finding* f = find(out, "conntrack.dns");
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(test::has_step(*f, 'D', "nf_conntrack_udp_timeout"));
  const RemediationStep& last = f->remediation.back();
  ASSERT_FALSE(last.commands.empty());
  EXPECT_NE(last.commands[0].find("sysctl -w net.netfilter.nf_conntrack_udp_timeout=10"),
            std::string::npos);
}

}  // namespace
}  // namespace cd
