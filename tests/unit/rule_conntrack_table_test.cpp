// Tests of rule conntrack_table: what fills the table (closed connections, idle ESTABLISHED
// entries, one hot destination, ASSURED entries early_drop cannot evict, long hash chains).
#include <gtest/gtest.h>

#include "conntrack_rule_fixture.h"

namespace cd {
namespace {

using test::ConntrackSnapshot;
using test::ct_tcp;

const Finding* find(const std::vector<Finding>& v, const std::string& id) {
  for (const Finding& f : v)
    if (f.id == id) return &f;
  return nullptr;
}

// `n` entries to dst:port in state `st`, source ports counting up from `base`.
void entries(ConntrackSnapshot& s, int n, const std::string& dst, uint16_t port, CtTcpState st,
             uint32_t timeout = 431999, uint16_t base = 1024,
             uint32_t status = test::kCtSeenReply | test::kCtAssured) {
  for (int i = 0; i < n; ++i)
    s.add(ct_tcp("10.0.0." + std::to_string(1 + i / 60000), uint16_t(base + i % 60000), dst, port,
                 st, status, timeout));
}

TEST(RuleConntrackTable, ClosedConnectionsInABusyTable) {
  ConntrackSnapshot s(1000, 1600);
  entries(s, 500, "10.1.0.1", 80, CtTcpState::kTimeWait, 100);
  entries(s, 100, "10.1.0.2", 80, CtTcpState::kClose, 5);
  entries(s, 400, "10.1.0.3", 443, CtTcpState::kEstablished);
  auto out = test::run_rule(rule_conntrack_table, s.finish());
  const Finding* f = find(out, "conntrack.closed_entries");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->layer, Layer::kNetwork);
  EXPECT_EQ(f->resource, Resource::kConntrack);
  EXPECT_EQ(f->evidence["time_wait"], 500);
  EXPECT_EQ(f->evidence["close"], 100);
  EXPECT_NE(f->title.find("600 of 1,000"), std::string::npos) << f->title;
  EXPECT_EQ(f->remediation.front().priority, 'A');
  // Raising the limit states its memory cost and raises the buckets with it.
  bool sized = false;
  for (const auto& st : f->remediation)
    if (st.priority == 'D' && st.risk.find("Kernel memory") != std::string::npos) {
      sized = true;
      bool hashsize = false;
      for (const auto& c : st.commands) hashsize |= c.find("hashsize") != std::string::npos;
      EXPECT_TRUE(hashsize);
    }
  EXPECT_TRUE(sized);
}

TEST(RuleConntrackTable, TheSameMixInAnEmptyishTableIsNotAFinding) {
  ConntrackSnapshot s(1000, 262144);
  entries(s, 600, "10.1.0.1", 80, CtTcpState::kTimeWait, 100);
  entries(s, 400, "10.1.0.3", 443, CtTcpState::kEstablished);
  EXPECT_TRUE(test::run_rule(rule_conntrack_table, s.finish()).empty());
}

TEST(RuleConntrackTable, IdleEstablishedEntriesAndTheFiveDayTimeout) {
  ConntrackSnapshot s(5000, 262144);
  entries(s, 1500, "10.1.0.1", 5432, CtTcpState::kEstablished, 432000 - 2 * 86400);
  entries(s, 3500, "10.1.0.2", 80, CtTcpState::kEstablished, 432000 - 5);
  auto out = test::run_rule(rule_conntrack_table, s.finish());
  const Finding* f = find(out, "conntrack.idle_established");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kInfo);  // the table is nowhere near full
  EXPECT_EQ(f->evidence["idle_over_1h"], 1500);
  EXPECT_EQ(f->evidence["idle_over_1d"], 1500);
  EXPECT_EQ(f->evidence["idle_max_s"], 2 * 86400);
  EXPECT_TRUE(test::has_step(*f, 'D', "Shorten conntrack timeouts"));

  ConntrackSnapshot busy(5000, 8000);
  entries(busy, 1500, "10.1.0.1", 5432, CtTcpState::kEstablished, 432000 - 2 * 86400);
  entries(busy, 3500, "10.1.0.2", 80, CtTcpState::kEstablished, 432000 - 5);
  auto busy_out = test::run_rule(rule_conntrack_table, busy.finish());
  const Finding* b = find(busy_out, "conntrack.idle_established");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->severity, Severity::kWarning);
}

TEST(RuleConntrackTable, OneDestinationHoldingMostOfAFullTable) {
  ConntrackSnapshot s(1000, 1050);
  entries(s, 800, "198.19.0.2", 80, CtTcpState::kEstablished);
  entries(s, 200, "198.19.0.3", 80, CtTcpState::kEstablished);
  auto out = test::run_rule(rule_conntrack_table, s.finish());
  const Finding* f = find(out, "conntrack.hot_destination");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kCritical);
  EXPECT_EQ(f->evidence["destination"], "198.19.0.2:80");
  EXPECT_EQ(f->evidence["entries"], 800);
  EXPECT_EQ(f->remediation.front().priority, 'A');
}

TEST(RuleConntrackTable, AnUnansweredDestinationIsCalledSo) {
  ConntrackSnapshot s(1000, 1500);
  entries(s, 900, "198.19.0.9", 443, CtTcpState::kSynSent, 100, 1024, 0);
  entries(s, 100, "198.19.0.3", 80, CtTcpState::kEstablished);
  auto out = test::run_rule(rule_conntrack_table, s.finish());
  const Finding* f = find(out, "conntrack.hot_destination");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->evidence["unreplied"], 900);
  EXPECT_NE(f->remediation.front().action.find("does not answer"), std::string::npos);
}

TEST(RuleConntrackTable, AFullTableOfAssuredEntriesCannotBeEarlyDropped) {
  ConntrackSnapshot s(1000, 1000);
  for (int d = 0; d < 10; ++d)
    entries(s, 100, "198.19.0." + std::to_string(d + 1), 53, CtTcpState::kEstablished);
  auto out = test::run_rule(rule_conntrack_table, s.finish());
  const Finding* f = find(out, "conntrack.unevictable");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence["assured"], 1000);
  EXPECT_EQ(find(out, "conntrack.hot_destination"), nullptr);  // spread over 10 destinations

  ConntrackSnapshot evictable(1000, 1000);
  for (int d = 0; d < 10; ++d)
    entries(evictable, 100, "198.19.0." + std::to_string(d + 1), 53, CtTcpState::kSynSent, 100,
            1024, 0);
  EXPECT_EQ(find(test::run_rule(rule_conntrack_table, evictable.finish()), "conntrack.unevictable"),
            nullptr);
}

// ASSURED TCP entries that are closing are not stuck: above 95 % fill gc_worker() evicts them
// (tcp_can_early_drop()), so a full table of ASSURED TIME_WAIT/CLOSE entries is not
// "unevictable"; ASSURED ESTABLISHED ones are.
TEST(RuleConntrackTable, AssuredClosingTcpEntriesAreEvictable) {
  ConntrackSnapshot closing(1000, 1000);
  entries(closing, 400, "198.19.0.1", 80, CtTcpState::kTimeWait, 100);
  entries(closing, 300, "198.19.0.2", 80, CtTcpState::kClose, 5);
  entries(closing, 100, "198.19.0.3", 80, CtTcpState::kFinWait, 100);
  entries(closing, 100, "198.19.0.4", 80, CtTcpState::kLastAck, 20);
  entries(closing, 100, "198.19.0.5", 80, CtTcpState::kEstablished);
  const Snapshot& snap = closing.finish();
  EXPECT_EQ(snap.now().conntrack_table.assured, 1000u);
  EXPECT_EQ(snap.now().conntrack_table.assured_evictable, 900u);
  auto out = test::run_rule(rule_conntrack_table, snap);
  EXPECT_EQ(find(out, "conntrack.unevictable"), nullptr);

  ConntrackSnapshot mixed(1000, 1000);
  entries(mixed, 50, "198.19.0.1", 80, CtTcpState::kTimeWait, 100);
  entries(mixed, 950, "198.19.0.2", 80, CtTcpState::kEstablished);
  auto out2 = test::run_rule(rule_conntrack_table, mixed.finish());
  const Finding* f = find(out2, "conntrack.unevictable");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence["unevictable"], 950);
  EXPECT_EQ(f->evidence["assured"], 1000);
  EXPECT_EQ(f->evidence["assured_evictable"], 50);
}

TEST(RuleConntrackTable, LongHashChainsNeedTwoReadings) {
  ConntrackSnapshot one(100, 262144);
  entries(one, 100, "10.1.0.1", 80, CtTcpState::kEstablished);
  EXPECT_EQ(find(test::run_rule(rule_conntrack_table, one.finish()), "conntrack.chain_too_long"),
            nullptr);

  ConntrackSnapshot two(100, 262144);
  entries(two, 100, "10.1.0.1", 80, CtTcpState::kEstablished);
  two.second_reading(2.0, {{"chainlength", 10}});
  auto out = test::run_rule(rule_conntrack_table, two.finish());
  const Finding* f = find(out, "conntrack.chain_too_long");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence["chaintoolong_per_s"], 5.0);
}

TEST(RuleConntrackTable, NothingWithoutADumpAndNoRemovedSysctlIsEverAdvised) {
  ConntrackSnapshot s(1000, 1000);
  entries(s, 1000, "198.19.0.2", 80, CtTcpState::kTimeWait, 100);
  Snapshot& snap = s.finish();
  auto out = test::run_rule(rule_conntrack_table, snap);
  ASSERT_FALSE(out.empty());
  for (const Finding& f : out)
    for (const auto& st : f.remediation) {
      EXPECT_EQ(st.action.find("tcp_tw_recycle"), std::string::npos);
      for (const auto& c : st.commands) EXPECT_EQ(c.find("tcp_tw_recycle"), std::string::npos);
    }
  snap.first.conntrack_table.dumped = false;
  EXPECT_TRUE(test::run_rule(rule_conntrack_table, snap).empty());
}

}  // namespace
}  // namespace cd
