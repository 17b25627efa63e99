// Tests of the conntrack source: ctnetlink and nf_tables decoding through recorded transcripts,
// the streaming aggregation (states, stale entries, destinations, SNAT groups and their port
// ranges), stats with and without the procfs file, refusals without CAP_NET_ADMIN, and a live
// dump inside a network namespace the test creates.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netfilter/nf_nat.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "no_skip.h"

#include "collect/conntrack_aggregator.h"
#include "collect/conntrack_collect.h"
#include "collect/conntrack_source.h"
#include "collect/ctnetlink_decode.h"
#include "collect/nftables_nat_decode.h"
#include "collect/proc_text.h"
#include "ct_msg_builder.h"
#include "diagnose/netns.h"
#include "temp_proc_tree.h"
#include "util/netns.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

using test::ep;
using test::NlBuilder;

constexpr uint32_t kSeenReply = 1u << 1;
constexpr uint32_t kAssured = 1u << 2;
constexpr uint32_t kConfirmed = 1u << 3;
constexpr uint32_t kSrcNat = 1u << 4;

CtEntry tcp(const char* src, uint16_t sport, const char* dst, uint16_t dport, CtTcpState st,
            uint32_t status = kSeenReply | kAssured | kConfirmed, uint32_t timeout = 431990) {
  CtEntry e;
  e.family = AF_INET;
  e.protocol = IPPROTO_TCP;
  e.tcp_state = uint8_t(st);
  e.orig_src = ep(src, sport);
  e.orig_dst = ep(dst, dport);
  e.reply_src = e.orig_dst;
  e.reply_dst = e.orig_src;
  e.status = status;
  e.timeout_s = timeout;
  return e;
}

// The entry as it looks after masquerade/snat to nat_ip:nat_port.
CtEntry snat(CtEntry e, const char* nat_ip, uint16_t nat_port) {
  e.reply_dst = ep(nat_ip, nat_port);
  e.status |= kSrcNat;
  return e;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// --- decoding ---------------------------------------------------------------------------------

TEST(CtDecode, TcpSnatEntryRoundTrips) {
  NlBuilder b;
  CtEntry in = snat(tcp("10.0.0.5", 51000, "203.0.113.7", 443, CtTcpState::kEstablished),
                    "198.51.100.1", 40001);
  test::put_entry(b, in);
  CtEntry out;
  auto ok = decode_ct_entry(b.bytes(), out);
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_TRUE(*ok);
  EXPECT_EQ(out.family, AF_INET);
  EXPECT_EQ(out.protocol, IPPROTO_TCP);
  EXPECT_EQ(out.orig_src.to_string(), "10.0.0.5:51000");
  EXPECT_EQ(out.orig_dst.to_string(), "203.0.113.7:443");
  EXPECT_EQ(out.reply_src.to_string(), "203.0.113.7:443");
  EXPECT_EQ(out.reply_dst.to_string(), "198.51.100.1:40001");
  ASSERT_TRUE(out.tcp_state);
  EXPECT_EQ(ct_tcp_state_name(*out.tcp_state), "ESTABLISHED");
  EXPECT_EQ(out.timeout_s, 431990u);
  EXPECT_TRUE(out.source_nat());
}

TEST(CtDecode, Ipv6UdpEntryWithoutNat) {
  CtEntry in;
  in.family = AF_INET6;
  in.protocol = IPPROTO_UDP;
  in.orig_src = ep("2001:db8::5", 5353);
  in.orig_dst = ep("2001:db8::53", 53);
  in.reply_src = in.orig_dst;
  in.reply_dst = in.orig_src;
  in.timeout_s = 29;
  NlBuilder b;
  test::put_entry(b, in);
  CtEntry out;
  auto ok = decode_ct_entry(b.bytes(), out);
  ASSERT_TRUE(ok && *ok);
  EXPECT_EQ(out.orig_dst.to_string(), "[2001:db8::53]:53");
  EXPECT_FALSE(out.tcp_state);
  EXPECT_FALSE(out.source_nat());
  EXPECT_EQ(ct_protocol_name(out.protocol), "udp");
}

TEST(CtDecode, AttributeRunningPastTheMessageIsAnError) {
  NlBuilder b;
  test::put_entry(b, tcp("10.0.0.5", 1, "10.0.0.6", 2, CtTcpState::kEstablished));
  auto& bytes = b.bytes();
  // The first attribute (CTA_TUPLE_ORIG) claims more bytes than the message holds.
  const std::size_t attr = NLMSG_HDRLEN + 4;
  const uint16_t huge = 4000;
  std::memcpy(bytes.data() + attr, &huge, 2);
  CtEntry out;
  auto ok = decode_ct_entry(bytes, out);
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("malformed attribute"), std::string::npos)
      << ok.error().message;
}

TEST(CtDecode, EntryWithoutOriginalTupleIsAnError) {
  NlBuilder b;
  b.begin((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, 0, AF_INET);
  b.put_be32(CTA_STATUS, kAssured);
  b.end();
  CtEntry out;
  EXPECT_FALSE(decode_ct_entry(b.bytes(), out));
}

TEST(CtTranscript, TruncatedTranscriptIsAnErrorNamingTheSection) {
  NlBuilder b;
  b.append(encode_query(NfQuery::kTable, 0));
  test::put_entry(b, tcp("10.0.0.5", 1, "10.0.0.6", 2, CtTcpState::kEstablished));
  auto t = recorded_transport_from_bytes(b.bytes(), "t.bin");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("t.bin: truncated"), std::string::npos) << t.error().message;

  auto cut = b.bytes();
  cut.resize(cut.size() - 7);  // mid-message
  auto t2 = recorded_transport_from_bytes(cut, "t.bin");
  ASSERT_FALSE(t2);
  EXPECT_NE(t2.error().message.find("truncated netlink message"), std::string::npos);
}

TEST(CtTranscript, RefusedDumpKeepsTheErrno) {
  NlBuilder b;
  test::section(
      b, NfQuery::kTable, [](NlBuilder&) {}, EPERM);
  auto src = test::source_of(b);
  ASSERT_TRUE(src);
  ConntrackAggregator agg({});
  auto r = src->dump(agg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, EPERM);
  EXPECT_NE(r.error().message.find("conntrack table dump (ctnetlink)"), std::string::npos);
}

TEST(CtTranscript, NthQueryReplaysNthSection) {
  NlBuilder b;
  test::section(b, NfQuery::kCpuStats, [](NlBuilder& m) {
    test::put_cpu_stats(m, 0, {{CTA_STATS_DROP, 1}});
  });
  test::section(b, NfQuery::kCpuStats, [](NlBuilder& m) {
    test::put_cpu_stats(m, 0, {{CTA_STATS_DROP, 7}});
  });
  auto src = test::source_of(b);
  ASSERT_TRUE(src);
  EXPECT_EQ(src->cpu_stats()->sums.at("drop"), 1);
  EXPECT_EQ(src->cpu_stats()->sums.at("drop"), 7);
  EXPECT_EQ(src->cpu_stats()->sums.at("drop"), 7);  // the last one once they run out
  ConntrackAggregator agg({});
  auto none = src->dump(agg);  // never recorded: an empty table, not an error
  ASSERT_TRUE(none);
  EXPECT_EQ(agg.finish(true, false).entries, 0u);
}

// --- stats -------------------------------------------------------------------------------------

// What ctnetlink_ct_stat_cpu_fill_info() sends on 6.18, per CPU.
std::vector<std::pair<uint16_t, uint32_t>> cpu618(uint32_t drop, uint32_t insert_failed,
                                                  uint32_t early_drop) {
  return {{CTA_STATS_FOUND, 5},         {CTA_STATS_INVALID, 1},
          {CTA_STATS_INSERT, 0},        {CTA_STATS_INSERT_FAILED, insert_failed},
          {CTA_STATS_DROP, drop},       {CTA_STATS_EARLY_DROP, early_drop},
          {CTA_STATS_ERROR, 0},         {CTA_STATS_SEARCH_RESTART, 2},
          {CTA_STATS_CLASH_RESOLVE, 3}, {CTA_STATS_CHAIN_TOOLONG, 0}};
}

std::vector<std::string> header_names(const std::string& procfs_text) {
  std::istringstream in(procfs_text.substr(0, procfs_text.find('\n')));
  std::vector<std::string> names;
  for (std::string w; in >> w;) names.push_back(w);
  return names;
}

TEST(CtStats, CpuStatsAreSummedUnderTheProcfsColumnNames) {
  NlBuilder b;
  test::section(b, NfQuery::kCpuStats, [](NlBuilder& m) {
    test::put_cpu_stats(m, 0, cpu618(2, 1, 0));
    test::put_cpu_stats(m, 1, cpu618(3, 4, 6));
  });
  auto src = test::source_of(b);
  auto s = src->cpu_stats();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->cpus, 2);
  EXPECT_EQ(s->sums.at("drop"), 5);
  EXPECT_EQ(s->sums.at("insert_failed"), 5);
  EXPECT_EQ(s->sums.at("early_drop"), 6);
  EXPECT_EQ(s->sums.at("clashres"), 6);
  EXPECT_EQ(s->sums.at("search_restart"), 4);
  // Every key is a column of the 6.18 procfs header, so rules read one vocabulary.
  auto names = header_names(read_file(test::fixture_proc("host_6_18") + "/net/stat/nf_conntrack"));
  for (const auto& [k, v] : s->sums)
    EXPECT_NE(std::find(names.begin(), names.end(), k), names.end()) << k;
}

TEST(CtStats, OlderKernelAttributesMatchTheOlderHeader) {
  // A 4.x kernel still sent SEARCHED, NEW, IGNORE, DELETE, DELETE_LIST and no clash/chain.
  NlBuilder b;
  test::section(b, NfQuery::kCpuStats, [](NlBuilder& m) {
    test::put_cpu_stats(m, 0,
                        {{CTA_STATS_SEARCHED, 0},
                         {CTA_STATS_FOUND, 16},
                         {CTA_STATS_NEW, 0},
                         {CTA_STATS_INVALID, 2},
                         {CTA_STATS_IGNORE, 4096},
                         {CTA_STATS_DELETE, 0},
                         {CTA_STATS_DELETE_LIST, 0},
                         {CTA_STATS_INSERT, 0},
                         {CTA_STATS_INSERT_FAILED, 1},
                         {CTA_STATS_DROP, 0},
                         {CTA_STATS_EARLY_DROP, 0},
                         {CTA_STATS_ERROR, 0},
                         {CTA_STATS_SEARCH_RESTART, 4}});
  });
  auto s = test::source_of(b)->cpu_stats();
  ASSERT_TRUE(s);
  auto names =
      header_names(read_file(test::fixture_proc("old_kernel_4_19") + "/net/stat/nf_conntrack"));
  for (const auto& [k, v] : s->sums)
    EXPECT_NE(std::find(names.begin(), names.end(), k), names.end()) << k;
  EXPECT_EQ(s->sums.count("clashres"), 0u);
}

TEST(CtStats, ProcfsAndCtnetlinkAgreeOnTheSameCounters) {
  // The same per-CPU values, once as the 6.18 procfs file and once over ctnetlink.
  const std::string procfs =
      "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop "
      "early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
      "00000010  00000003 00000005 00000000 00000001 00000000 00000000 00000000 00000000 "
      "00000001 00000002 00000000 00000000  00000000 00000000 00000000 00000002\n"
      "00000010  00000003 00000005 00000000 00000001 00000000 00000000 00000000 00000000 "
      "00000004 00000003 00000006 00000000  00000000 00000000 00000000 00000002\n";
  auto p = parse_conntrack_stat(procfs);
  ASSERT_TRUE(p) << p.error().message;
  NlBuilder b;
  test::section(b, NfQuery::kCpuStats, [](NlBuilder& m) {
    test::put_cpu_stats(m, 0, cpu618(2, 1, 0));
    test::put_cpu_stats(m, 1, cpu618(3, 4, 6));
  });
  auto c = test::source_of(b)->cpu_stats();
  ASSERT_TRUE(c);
  for (const auto& [k, v] : c->sums) {
    ASSERT_TRUE(p->count(k)) << k;
    EXPECT_EQ(p->at(k), v) << k;
  }
}

Reading reading_with_conntrack(bool procfs_stats) {
  Reading r;
  r.conntrack.available = true;
  r.conntrack.count = 40;
  r.conntrack.max = 262144;
  r.sysctls.conntrack_timeouts["tcp_timeout_established"] = 432000;
  if (procfs_stats) {
    r.conntrack.stats = {{"drop", 9}};
    r.conntrack.stats_source = "procfs";
  }
  return r;
}

NlBuilder full_transcript(int err = 0) {
  NlBuilder b;
  test::section(
      b, NfQuery::kCpuStats, [](NlBuilder& m) { test::put_cpu_stats(m, 0, cpu618(1, 2, 3)); }, err);
  test::section(
      b, NfQuery::kNatRules, [](NlBuilder&) {}, err);
  test::section(
      b, NfQuery::kTable,
      [](NlBuilder& m) {
        test::put_entry(m, tcp("10.0.0.5", 51000, "203.0.113.7", 443, CtTcpState::kEstablished));
      },
      err);
  return b;
}

TEST(CtCollect, ProcfsStatsAreKeptAndTheTableIsDumped) {
  auto b = full_transcript();
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(true);
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  EXPECT_TRUE(missing.empty());
  EXPECT_EQ(r.conntrack.stats_source, "procfs");
  EXPECT_EQ(r.conntrack.stats.at("drop"), 9);
  EXPECT_TRUE(r.conntrack_table.dumped);
  EXPECT_EQ(r.conntrack_table.entries, 1u);
}

TEST(CtCollect, StatsComeFromCtnetlinkWhenTheProcfsFileIsAbsent) {
  auto b = full_transcript();
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(false);
  std::vector<std::string> missing;
  collect_conntrack(*src, {.table = false}, r, missing);
  EXPECT_TRUE(missing.empty());
  EXPECT_EQ(r.conntrack.stats_source, "ctnetlink");
  EXPECT_EQ(r.conntrack.stats.at("drop"), 1);
  EXPECT_EQ(r.conntrack.stats.at("early_drop"), 3);
  EXPECT_EQ(r.conntrack.stats.at("entries"), 40);
  EXPECT_FALSE(r.conntrack_table.dumped);  // table = false
}

TEST(CtCollect, WithoutCapNetAdminItSaysWhichFiguresAreMissingAndWhy) {
  auto b = full_transcript(EPERM);
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(false);
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_NE(missing[0].find("drop, early_drop, insert_failed"), std::string::npos) << missing[0];
  EXPECT_NE(missing[0].find("CAP_NET_ADMIN"), std::string::npos) << missing[0];
  EXPECT_NE(missing[1].find("conntrack table"), std::string::npos) << missing[1];
  EXPECT_NE(missing[1].find("SNAT port use"), std::string::npos) << missing[1];
  EXPECT_NE(missing[1].find("CAP_NET_ADMIN"), std::string::npos) << missing[1];
  EXPECT_EQ(r.conntrack.stats_source, "");
  EXPECT_TRUE(r.conntrack.stats.empty());
  EXPECT_FALSE(r.conntrack_table.dumped);
  EXPECT_EQ(r.conntrack.count, 40);  // the procfs figures are untouched
}

// The table dumps of a transcript, each with the entry counts read just before and after it
// (global stats): {before, entries dumped, after, interrupted}.
struct CtAttempt {
  uint32_t before;
  int dumped;
  uint32_t after;
  bool interrupted = false;
};

NlBuilder attempts_transcript(const std::vector<CtAttempt>& attempts) {
  NlBuilder b;
  test::section(b, NfQuery::kNatRules, [](NlBuilder&) {});
  // The recorded transport answers the n-th query of a kind with the n-th section of it: the
  // global stats are asked twice per attempt, before and after.
  for (const CtAttempt& a : attempts) {
    for (uint32_t n : {a.before, a.after})
      test::section(b, NfQuery::kGlobalStats,
                    [n](NlBuilder& m) { test::put_global_stats(m, n, 262144); });
  }
  for (const CtAttempt& a : attempts)
    test::section(
        b, NfQuery::kTable,
        [&a](NlBuilder& m) {
          for (int i = 0; i < a.dumped; ++i)
            test::put_entry(m, tcp("10.0.0.5", uint16_t(20000 + i), "203.0.113.7", 443,
                                   CtTcpState::kEstablished));
        },
        0, a.interrupted);
  return b;
}

// A flush during the dump (which ctnetlink does not flag) leaves a dump of the buckets walked
// before it: the entry count read around the dump tells, and the table is dumped again.
TEST(CtCollect, ATableFlushedDuringItsDumpIsDumpedAgain) {
  auto b = attempts_transcript({{1000, 400, 0}, {0, 0, 0}});
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(true);
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  EXPECT_TRUE(missing.empty()) << missing[0];
  ASSERT_TRUE(r.conntrack_table.dumped);
  EXPECT_EQ(r.conntrack_table.entries, 0u);  // the second dump's, never the 400 of the first
  EXPECT_FALSE(r.conntrack_table.interrupted);
}

TEST(CtCollect, AnInterruptedDumpIsDumpedAgain) {
  auto b = attempts_transcript({{50, 30, 50, true}, {50, 50, 50}});
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(true);
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  EXPECT_TRUE(missing.empty()) << missing[0];
  ASSERT_TRUE(r.conntrack_table.dumped);
  EXPECT_EQ(r.conntrack_table.entries, 50u);
}

// A table that keeps changing under every dump is named in `missing`, with the reason, and
// not counted at all.
TEST(CtCollect, ATableChangingUnderEveryDumpIsMissingNotCounted) {
  std::vector<CtAttempt> attempts(kCtDumpAttempts, CtAttempt{5000, 2000, 10});
  attempts.back().interrupted = true;
  attempts.push_back({100, 100, 100});  // a clean one after the bound: must not be reached
  auto b = attempts_transcript(attempts);
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(true);
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  EXPECT_FALSE(r.conntrack_table.dumped);
  EXPECT_EQ(r.conntrack_table.entries, 0u);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("conntrack table"), std::string::npos) << missing[0];
  EXPECT_NE(missing[0].find("changed under each of " + std::to_string(kCtDumpAttempts)),
            std::string::npos)
      << missing[0];
  EXPECT_NE(missing[0].find("NLM_F_DUMP_INTR"), std::string::npos) << missing[0];
}

// Churn is not a flush: a table that shrinks by less than half, or a tiny one emptied, is
// counted from the first dump.
TEST(CtCollect, ChurnIsNotAFlush) {
  EXPECT_TRUE(table_emptied(1000, 0));
  EXPECT_TRUE(table_emptied(1000, 499));
  EXPECT_FALSE(table_emptied(1000, 500));
  EXPECT_FALSE(table_emptied(1000, 1200));
  EXPECT_FALSE(table_emptied(10, 0));
  auto b = attempts_transcript({{1000, 900, 800}, {0, 0, 0}});
  auto src = test::source_of(b);
  Reading r = reading_with_conntrack(true);
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  EXPECT_TRUE(missing.empty()) << missing[0];
  EXPECT_EQ(r.conntrack_table.entries, 900u);
}

TEST(CtCollect, NothingIsAskedWhenConntrackIsNotLoaded) {
  auto b = full_transcript();
  auto src = test::source_of(b);
  Reading r;  // available = false
  std::vector<std::string> missing;
  collect_conntrack(*src, {}, r, missing);
  EXPECT_TRUE(missing.empty());
  EXPECT_FALSE(r.conntrack_table.dumped);
  EXPECT_TRUE(r.conntrack.stats.empty());
}

TEST(CtStats, ACounterResetIsNotANegativeRate) {
  Snapshot snap;
  snap.first = reading_with_conntrack(false);
  snap.first.taken_at_s = 100;
  snap.first.conntrack.stats = {{"drop", 1000}, {"insert_failed", 10}};
  snap.first.conntrack.stats_source = "ctnetlink";
  snap.second = snap.first;
  snap.second->taken_at_s = 102;
  snap.second->conntrack.stats = {{"drop", 6}, {"insert_failed", 14}};  // drop was reset
  auto drop = snap.conntrack_stat_rate("drop");
  ASSERT_TRUE(drop);
  EXPECT_DOUBLE_EQ(*drop, 3.0);  // 6 since the reset, over 2 s
  EXPECT_DOUBLE_EQ(*snap.conntrack_stat_rate("insert_failed"), 2.0);
}

TEST(SnatPortRange, Parses) {
  EXPECT_EQ(*parse_snat_port_range("40000-40009"), (PortRange{40000, 40009}));
  EXPECT_EQ(*parse_snat_port_range("8080"), (PortRange{8080, 8080}));
  EXPECT_FALSE(parse_snat_port_range("0-10"));
  EXPECT_FALSE(parse_snat_port_range("10-5"));
  EXPECT_FALSE(parse_snat_port_range("1-70000"));
  EXPECT_FALSE(parse_snat_port_range("a-b"));
  EXPECT_FALSE(parse_snat_port_range(""));
}

// --- aggregation -------------------------------------------------------------------------------

TEST(CtAggregate, AnEntryWithinTheCappedTimeoutIsNotIdle) {
  // tcp_packet() refreshes a busy flow with unacknowledged data or a zero window to 300 s.
  ConntrackAggregatorConfig cfg;
  cfg.established_timeout_s = 432000;
  ConntrackAggregator agg(cfg);
  agg.on_entry(
      tcp("10.0.0.5", 1, "10.0.0.9", 80, CtTcpState::kEstablished, kAssured | kSeenReply, 299));
  agg.on_entry(
      tcp("10.0.0.5", 2, "10.0.0.9", 80, CtTcpState::kEstablished, kAssured | kSeenReply, 300));
  agg.on_entry(tcp("10.0.0.5", 3, "10.0.0.9", 80, CtTcpState::kEstablished, kAssured | kSeenReply,
                   301));  // idle ~5 days for real
  ConntrackTable t = agg.finish(true, false);
  EXPECT_EQ(t.stale.established_capped, 2u);
  EXPECT_EQ(t.stale.established_idle_1d, 1u);
  EXPECT_EQ(t.stale.established_idle_max_s, 432000u - 301);
}

TEST(CtAggregate, StatesStaleEntriesAndIdleTimes) {
  ConntrackAggregatorConfig cfg;
  cfg.established_timeout_s = 432000;
  ConntrackAggregator agg(cfg);
  agg.on_entry(tcp("10.0.0.5", 1, "10.0.0.9", 80, CtTcpState::kEstablished, kAssured | kSeenReply,
                   432000 - 10));  // busy
  agg.on_entry(tcp("10.0.0.5", 2, "10.0.0.9", 80, CtTcpState::kEstablished, kAssured | kSeenReply,
                   432000 - 7200));  // idle 2 h
  agg.on_entry(tcp("10.0.0.5", 3, "10.0.0.9", 80, CtTcpState::kEstablished, kAssured | kSeenReply,
                   432000 - 3 * 86400));  // idle 3 days
  agg.on_entry(
      tcp("10.0.0.5", 4, "10.0.0.9", 80, CtTcpState::kTimeWait, kAssured | kSeenReply, 100));
  agg.on_entry(tcp("10.0.0.5", 5, "10.0.0.8", 22, CtTcpState::kClose, kSeenReply, 5));
  agg.on_entry(tcp("10.0.0.5", 6, "10.0.0.8", 22, CtTcpState::kSynSent, 0, 100));
  CtEntry udp;
  udp.family = AF_INET;
  udp.protocol = IPPROTO_UDP;
  udp.orig_src = ep("10.0.0.5", 5000);
  udp.orig_dst = ep("10.0.0.53", 53);
  udp.reply_src = udp.orig_dst;
  udp.reply_dst = udp.orig_src;
  agg.on_entry(udp);
  ConntrackTable t = agg.finish(true, false);
  EXPECT_EQ(t.entries, 7u);
  EXPECT_EQ(t.by_protocol.at("tcp"), 6u);
  EXPECT_EQ(t.by_protocol.at("udp"), 1u);
  EXPECT_EQ(t.tcp_by_state.at("ESTABLISHED"), 3u);
  EXPECT_EQ(t.tcp_by_state.at("TIME_WAIT"), 1u);
  EXPECT_EQ(t.tcp_by_state.at("CLOSE"), 1u);
  EXPECT_EQ(t.tcp_by_state.at("SYN_SENT"), 1u);
  EXPECT_EQ(t.assured, 4u);
  EXPECT_EQ(t.unreplied, 2u);  // the SYN_SENT and the one-way UDP
  EXPECT_EQ(t.stale.tcp_time_wait, 1u);
  EXPECT_EQ(t.stale.tcp_close, 1u);
  EXPECT_EQ(t.stale.established_idle_1h, 2u);
  EXPECT_EQ(t.stale.established_idle_1d, 1u);
  EXPECT_EQ(t.stale.established_idle_max_s, 3u * 86400);
  EXPECT_EQ(t.stale.established_capped, 0u);
  EXPECT_EQ(t.stale.udp_unreplied, 1u);
  EXPECT_EQ(t.destinations_total, 3u);
  ASSERT_FALSE(t.top_destinations.empty());
  EXPECT_EQ(t.top_destinations[0].dst.to_string(), "10.0.0.9:80");
  EXPECT_EQ(t.top_destinations[0].entries, 4u);
  EXPECT_EQ(t.snat_entries, 0u);
}

TEST(CtAggregate, SnatGroupsArePerNatIpDestinationPortAndProtocol) {
  ConntrackAggregatorConfig cfg;
  NatRule masq;
  masq.family = 2;  // NFPROTO_IPV4
  masq.masquerade = true;
  masq.ports = PortRange{40000, 40009};
  masq.where = "nft ip table nat chain postrouting";
  cfg.nat_rules = {masq};
  cfg.nat_rules_read = true;
  ConntrackAggregator agg(cfg);
  // 8 clients to 198.19.0.2:80 through 198.18.0.1, 2 to :81, 3 to :80 through another NAT IP,
  // 1 UDP to :80 (its own pool), and one entry without NAT.
  for (uint16_t i = 0; i < 8; ++i)
    agg.on_entry(snat(tcp("198.18.1.2", 50000 + i, "198.19.0.2", 80, CtTcpState::kEstablished),
                      "198.18.0.1", 40000 + i));
  for (uint16_t i = 0; i < 2; ++i)
    agg.on_entry(snat(tcp("198.18.1.2", 51000 + i, "198.19.0.2", 81, CtTcpState::kEstablished),
                      "198.18.0.1", 40000 + i));
  for (uint16_t i = 0; i < 3; ++i)
    agg.on_entry(snat(tcp("198.18.1.3", 52000 + i, "198.19.0.2", 80, CtTcpState::kTimeWait),
                      "198.18.0.7", 40005 + i));
  CtEntry u =
      snat(tcp("198.18.1.2", 53, "198.19.0.2", 80, CtTcpState::kEstablished), "198.18.0.1", 40000);
  u.protocol = IPPROTO_UDP;
  u.tcp_state.reset();
  agg.on_entry(u);
  agg.on_entry(tcp("198.18.0.1", 1234, "198.19.0.2", 80, CtTcpState::kEstablished));
  ConntrackTable t = agg.finish(true, false);
  EXPECT_EQ(t.snat_entries, 14u);
  EXPECT_EQ(t.snat_groups_total, 4u);
  ASSERT_EQ(t.snat.size(), 4u);
  const SnatGroup& g = t.snat[0];  // most utilised first
  EXPECT_EQ(g.nat_ip.to_string(), "198.18.0.1");
  EXPECT_EQ(g.dst.to_string(), "198.19.0.2:80");
  EXPECT_EQ(g.protocol, IPPROTO_TCP);
  EXPECT_EQ(g.entries, 8u);
  EXPECT_EQ(g.port_range, (PortRange{40000, 40009}));
  EXPECT_EQ(g.range_source, "nftables");
  EXPECT_EQ(g.rule, "nft ip table nat chain postrouting");
  EXPECT_DOUBLE_EQ(g.utilization(), 0.8);
  EXPECT_EQ(g.nat_port_lo, 40000);
  EXPECT_EQ(g.nat_port_hi, 40007);
  EXPECT_EQ(t.snat[1].nat_ip.to_string(), "198.18.0.7");
  EXPECT_EQ(t.snat[1].entries, 3u);
}

TEST(CtAggregate, SnatGroupKeyIsThePostDnatDestination) {
  // A Kubernetes service: DNAT to a pod and masquerade. Ports clash on the reply tuple, whose
  // source is the pod, not the service address the client asked for.
  CtEntry e = snat(tcp("10.244.1.5", 40000, "10.96.0.10", 53, CtTcpState::kEstablished),
                   "10.244.2.1", 61000);
  e.reply_src = ep("10.244.2.9", 5353);
  e.status |= 1u << 5;  // IPS_DST_NAT
  ConntrackAggregator agg({});
  agg.on_entry(e);
  ConntrackTable t = agg.finish(true, false);
  ASSERT_EQ(t.snat.size(), 1u);
  EXPECT_EQ(t.snat[0].dst.to_string(), "10.244.2.9:5353");
  EXPECT_EQ(t.dnat_entries, 1u);
  EXPECT_EQ(t.top_destinations[0].dst.to_string(), "10.96.0.10:53");
  EXPECT_EQ(t.snat[0].port_range, kDefaultSnatPorts);  // no rule known
  EXPECT_EQ(t.snat[0].range_source, "default");
}

TEST(SnatRange, ChoosesByAddressFamilyAndWidestAndHonoursTheOverride) {
  NatRule narrow;
  narrow.family = 2;
  narrow.addr_min = IpAddr::parse("203.0.113.1");
  narrow.addr_max = IpAddr::parse("203.0.113.4");
  narrow.ports = PortRange{20000, 20099};
  narrow.random_fully = true;
  narrow.where = "snat";
  NatRule v6;
  v6.family = 10;
  v6.masquerade = true;
  v6.ports = PortRange{1, 10};
  const std::vector<NatRule> rules{narrow, v6};

  auto in_range = choose_snat_range(*IpAddr::parse("203.0.113.3"), rules, std::nullopt);
  EXPECT_EQ(in_range.ports, (PortRange{20000, 20099}));
  EXPECT_EQ(in_range.source, "nftables");
  EXPECT_TRUE(in_range.random_fully);
  auto outside = choose_snat_range(*IpAddr::parse("203.0.113.9"), rules, std::nullopt);
  EXPECT_EQ(outside.ports, kDefaultSnatPorts);
  EXPECT_EQ(outside.source, "default");
  auto v6match = choose_snat_range(*IpAddr::parse("2001:db8::1"), rules, std::nullopt);
  EXPECT_EQ(v6match.ports, (PortRange{1, 10}));
  auto user = choose_snat_range(*IpAddr::parse("203.0.113.3"), rules, PortRange{5, 6});
  EXPECT_EQ(user.ports, (PortRange{5, 6}));
  EXPECT_EQ(user.source, "user");

  NatRule wide = narrow;
  wide.ports.reset();  // no --to-ports: the default pool
  auto widest = choose_snat_range(*IpAddr::parse("203.0.113.3"), {narrow, wide}, std::nullopt);
  EXPECT_EQ(widest.ports, kDefaultSnatPorts);
  EXPECT_EQ(widest.source, "nftables");
}

// --- nf_tables rules ---------------------------------------------------------------------------

std::vector<NatRule> rules_of(NlBuilder& b) {
  auto src = test::source_of(b);
  auto r = src->nat_rules();
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::vector<NatRule>{};
}

TEST(NatRules, MasqueradeToPortsFromImmediates) {
  // `masquerade to :40000-40009`: two immediates load the ports, masq reads the registers.
  NlBuilder b;
  test::section(b, NfQuery::kNatRules, [](NlBuilder& m) {
    test::put_rule(m, 2, "nat", "postrouting",
                   {test::Expr{"meta", {{1, 8}, {2, 1}}, {}, {}, {}},  // meta oifname -> reg 1
                    test::immediate(NFT_REG32_00, test::be16_bytes(40000)),
                    test::immediate(NFT_REG32_01, test::be16_bytes(40009)),
                    test::Expr{"masq",
                               {{NFTA_MASQ_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED},
                                {NFTA_MASQ_REG_PROTO_MIN, NFT_REG32_00},
                                {NFTA_MASQ_REG_PROTO_MAX, NFT_REG32_01}},
                               {},
                               {},
                               {}}});
    test::put_rule(m, 2, "filter", "input",
                   {test::immediate(NFT_REG_1, test::be16_bytes(22)),
                    test::Expr{"cmp", {{1, 1}}, {}, {}, {}}});
  });
  auto rules = rules_of(b);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(rules[0].masquerade);
  ASSERT_TRUE(rules[0].ports);
  EXPECT_EQ(*rules[0].ports, (PortRange{40000, 40009}));
  EXPECT_FALSE(rules[0].ports_from_map);
  EXPECT_FALSE(rules[0].random_fully);
  EXPECT_EQ(rules[0].where, "nft ip table nat chain postrouting");
}

TEST(NatRules, SnatToAddressRangeFullyRandom) {
  NlBuilder b;
  auto addr = [](const char* s) {
    auto a = *IpAddr::parse(s);
    return std::vector<uint8_t>(a.bytes.begin(), a.bytes.begin() + 4);
  };
  test::section(b, NfQuery::kNatRules, [&](NlBuilder& m) {
    test::put_rule(
        m, 1, "nat", "post",
        {test::immediate(NFT_REG_1, addr("203.0.113.1")),
         test::immediate(NFT_REG_2, addr("203.0.113.4")),
         test::immediate(NFT_REG_3, test::be16_bytes(1025)),
         test::Expr{"nat",
                    {{NFTA_NAT_TYPE, 0 /* NFT_NAT_SNAT */},
                     {NFTA_NAT_FAMILY, 2},
                     {NFTA_NAT_REG_ADDR_MIN, NFT_REG_1},
                     {NFTA_NAT_REG_ADDR_MAX, NFT_REG_2},
                     {NFTA_NAT_REG_PROTO_MIN, NFT_REG_3},
                     {NFTA_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED |
                                          NF_NAT_RANGE_PROTO_RANDOM_FULLY}},
                    {},
                    {},
                    {}}});
    // DNAT rules are not ours.
    test::put_rule(
        m, 1, "nat", "pre",
        {test::immediate(NFT_REG_1, addr("10.0.0.1")),
         test::Expr{"nat", {{NFTA_NAT_TYPE, 1}, {NFTA_NAT_REG_ADDR_MIN, NFT_REG_1}}, {}, {}, {}}});
  });
  auto rules = rules_of(b);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_FALSE(rules[0].masquerade);
  EXPECT_EQ(rules[0].addr_min->to_string(), "203.0.113.1");
  EXPECT_EQ(rules[0].addr_max->to_string(), "203.0.113.4");
  EXPECT_EQ(*rules[0].ports, (PortRange{1025, 1025}));
  EXPECT_TRUE(rules[0].random_fully);
}

TEST(NatRules, PortsLoadedByAnotherExpressionAreUnknown) {
  // `snat to ip saddr map {...}`: the register comes from a lookup, not an immediate.
  NlBuilder b;
  test::section(b, NfQuery::kNatRules, [](NlBuilder& m) {
    test::put_rule(m, 2, "nat", "post",
                   {test::immediate(NFT_REG32_00, test::be16_bytes(40000)),
                    test::Expr{"lookup", {{3, NFT_REG32_00}}, {}, {}, {}},
                    test::Expr{"masq", {{NFTA_MASQ_REG_PROTO_MIN, NFT_REG32_00}}, {}, {}, {}}});
  });
  auto rules = rules_of(b);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(rules[0].ports_from_map);
  EXPECT_FALSE(rules[0].ports);
  EXPECT_EQ(choose_snat_range(*IpAddr::parse("1.2.3.4"), rules, std::nullopt).ports,
            kDefaultSnatPorts);
}

TEST(NatRules, IptablesNftMasqueradeTarget) {
  nf_nat_ipv4_multi_range_compat mr{};
  mr.rangesize = 1;
  mr.range[0].flags = NF_NAT_RANGE_PROTO_SPECIFIED | NF_NAT_RANGE_PROTO_RANDOM_FULLY;
  mr.range[0].min.all = htons(30000);
  mr.range[0].max.all = htons(30999);
  std::vector<uint8_t> info(sizeof mr);
  std::memcpy(info.data(), &mr, sizeof mr);
  NlBuilder b;
  test::section(b, NfQuery::kNatRules, [&](NlBuilder& m) {
    test::put_rule(m, 2, "nat", "POSTROUTING",
                   {test::Expr{"target", {{NFTA_TARGET_REV, 0}}, {}, "MASQUERADE", info}});
  });
  auto rules = rules_of(b);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(rules[0].masquerade);
  EXPECT_EQ(*rules[0].ports, (PortRange{30000, 30999}));
  EXPECT_TRUE(rules[0].random_fully);
  EXPECT_NE(rules[0].where.find("iptables-nft MASQUERADE"), std::string::npos);
}

// --- recording -------------------------------------------------------------------------------

TEST(CtRecord, RecordingReplaysTheSameTable) {
  auto b = full_transcript();
  auto inner = recorded_transport_from_bytes(b.bytes(), "in");
  ASSERT_TRUE(inner);
  const std::string path = std::filesystem::temp_directory_path() /
                           ("cd-ct-record-" + std::to_string(::getpid()) + ".bin");
  std::filesystem::remove(path);
  {
    auto rec = open_recording_transport(std::move(*inner), path);
    ASSERT_TRUE(rec) << rec.error().message;
    auto src = make_conntrack_source(std::move(*rec));
    ASSERT_TRUE(src->cpu_stats());
    ASSERT_TRUE(src->nat_rules());
    ConntrackAggregator agg({});
    ASSERT_TRUE(src->dump(agg));
  }
  auto replay = open_recorded_transport(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(replay) << replay.error().message;
  auto src = make_conntrack_source(std::move(*replay));
  ConntrackAggregator agg({});
  ASSERT_TRUE(src->dump(agg));
  ConntrackTable t = agg.finish(true, false);
  EXPECT_EQ(t.entries, 1u);
  EXPECT_EQ(t.top_destinations.at(0).dst.to_string(), "203.0.113.7:443");
  EXPECT_EQ(src->cpu_stats()->sums.at("early_drop"), 3);
}

// A real transcript, recorded in the router namespace of `lab run snat-exhaustion --keep` by
// tests/tools/ct_record.cpp: ten connections masqueraded to 40000-40009.
TEST(CtRealTranscript, SnatRouterReplaysItsRuleAndTenSnatEntries) {
  auto t =
      open_recorded_transport(std::string(CONNDOCTOR_FIXTURES) + "/conntrack/snat_router.nfdump");
  ASSERT_TRUE(t) << t.error().message;
  auto src = make_conntrack_source(std::move(*t));
  auto rules = src->nat_rules();
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_TRUE((*rules)[0].masquerade);
  EXPECT_EQ((*rules)[0].ports, (PortRange{40000, 40009}));
  EXPECT_EQ((*rules)[0].where, "nft ip table cdlab_nat chain post");
  ConntrackAggregatorConfig cfg;
  cfg.nat_rules = *rules;
  cfg.nat_rules_read = true;
  ConntrackAggregator agg(cfg);
  ASSERT_TRUE(src->dump(agg));
  ConntrackTable table = agg.finish(true, false);
  EXPECT_EQ(table.entries, 10u);
  ASSERT_EQ(table.snat.size(), 1u);
  EXPECT_EQ(table.snat[0].nat_ip.to_string(), "198.19.0.1");
  EXPECT_EQ(table.snat[0].dst.to_string(), "198.19.0.2:80");
  EXPECT_EQ(table.snat[0].entries, 10u);
  EXPECT_EQ(table.snat[0].nat_port_lo, 40000);
  EXPECT_EQ(table.snat[0].nat_port_hi, 40009);
  EXPECT_DOUBLE_EQ(table.snat[0].utilization(), 1.0);
  auto stats = src->cpu_stats();
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->cpus, 1);
}

// --- live, in a namespace this test creates -------------------------------------------------

bool lo_up() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags |= IFF_UP;
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

bool nft(const std::string& ruleset) {
  FILE* p = ::popen("nft -f - 2>/dev/null", "w");
  if (!p) return false;
  std::fputs(ruleset.c_str(), p);
  return ::pclose(p) == 0;
}

// A fresh network namespace for the calling (single-threaded) test process, left on scope exit.
class ScratchNetns {
 public:
  ScratchNetns() {
    original_ = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    ok_ = original_ && ::unshare(CLONE_NEWNET) == 0 && lo_up();
  }
  ~ScratchNetns() {
    if (original_) ::setns(original_.get(), CLONE_NEWNET);
  }
  bool ok() const { return ok_; }

 private:
  UniqueFd original_;
  bool ok_ = false;
};

uint16_t listen_on_loopback(UniqueFd& fd) {
  fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd.get(), 64);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

UniqueFd connect_to(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  return fd;
}

TEST(CtLive, DumpsTheTableStatsAndNatRulesOfANamespace) {
  if (::geteuid() != 0) CD_SKIP() << "needs root for a network namespace";
  if (::system("command -v nft >/dev/null 2>&1") != 0) CD_SKIP() << "nft not installed";
  ScratchNetns ns;
  if (!ns.ok()) CD_SKIP() << "cannot create a network namespace";
  // Conntrack hooks register in a namespace only once a ruleset needs them (nf_ct_netns_get()).
  ASSERT_TRUE(nft(R"(table inet cdtest {
  chain out {
    type filter hook output priority 0;
    ct state new counter
  }
}
table ip cdnat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "cd-none" meta l4proto tcp masquerade to :40000-40009
  }
}
table ip cdsnat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "cd-none" meta l4proto { tcp, udp } snat to 198.18.0.1-198.18.0.4:50000-50010 fully-random
  }
}
)"));
  UniqueFd listener;
  const uint16_t port = listen_on_loopback(listener);
  std::vector<UniqueFd> clients, servers;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(connect_to(port));
    servers.emplace_back(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
  // Two closed by the client first: their entries move to TIME_WAIT.
  for (int i = 0; i < 2; ++i) {
    clients[i].reset();
    servers[i].reset();
  }
  ::usleep(50 * 1000);

  auto src = open_netlink_conntrack_source();
  ASSERT_TRUE(src) << src.error().message;
  ConntrackAggregatorConfig cfg;
  cfg.established_timeout_s = 432000;
  ConntrackAggregator agg(cfg);
  auto d = (*src)->dump(agg);
  ASSERT_TRUE(d) << d.error().message;
  ConntrackTable t = agg.finish(true, d->interrupted);
  EXPECT_GE(t.entries, 5u);
  EXPECT_GE(t.tcp_by_state["ESTABLISHED"], 3u);
  EXPECT_GE(t.tcp_by_state["TIME_WAIT"] + t.tcp_by_state["CLOSE"] + t.tcp_by_state["FIN_WAIT"] +
                t.tcp_by_state["LAST_ACK"],
            2u);
  ASSERT_FALSE(t.top_destinations.empty());
  EXPECT_EQ(t.top_destinations[0].dst.to_string(), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(t.top_destinations[0].entries, 5u);
  EXPECT_EQ(t.snat_entries, 0u);
  EXPECT_EQ(t.stale.established_idle_1h, 0u);

  auto stats = (*src)->cpu_stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_GE(stats->cpus, 1);
  EXPECT_TRUE(stats->sums.count("insert_failed"));
  EXPECT_TRUE(stats->sums.count("drop"));

  auto global = (*src)->global_stats();
  ASSERT_TRUE(global) << global.error().message;
  EXPECT_EQ(global->entries, int64_t(t.entries));
  auto max = std::stoll(read_file("/proc/sys/net/netfilter/nf_conntrack_max"));
  EXPECT_EQ(global->max, max);

  auto rules = (*src)->nat_rules();
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 2u);
  auto masq = std::find_if(rules->begin(), rules->end(), [](auto& r) { return r.masquerade; });
  ASSERT_NE(masq, rules->end());
  EXPECT_EQ(masq->ports, (PortRange{40000, 40009}));
  auto sn = std::find_if(rules->begin(), rules->end(), [](auto& r) { return !r.masquerade; });
  ASSERT_NE(sn, rules->end());
  EXPECT_EQ(sn->addr_min->to_string(), "198.18.0.1");
  EXPECT_EQ(sn->addr_max->to_string(), "198.18.0.4");
  EXPECT_EQ(sn->ports, (PortRange{50000, 50010}));
  EXPECT_TRUE(sn->random_fully);
}

// Forwards every entry to the aggregator and keeps the time left of the TCP entries to `port`.
class TimeoutTap : public ConntrackSink {
 public:
  TimeoutTap(ConntrackAggregator& agg, uint16_t port) : agg_(agg), port_(port) {}
  void on_entry(const CtEntry& e) override {
    if (e.protocol == IPPROTO_TCP && e.orig_dst.port == port_ && e.timeout_s)
      left.push_back(int64_t(*e.timeout_s));
    agg_.on_entry(e);
  }
  std::vector<int64_t> left;

 private:
  ConntrackAggregator& agg_;
  uint16_t port_;
};

// Item 7 of issue 12 on the real kernel: a flow whose receiver stopped reading (zero window)
// is busy, yet tcp_packet() refreshes its entry to the 300 s cap on every packet, so
// "established timeout - time left" called it idle for ~5 days. It must count as capped.
TEST(CtLive, ZeroWindowFlowsAreCappedNotIdle) {
  if (::geteuid() != 0) CD_SKIP() << "needs root for a network namespace";
  if (::system("command -v nft >/dev/null 2>&1") != 0) CD_SKIP() << "nft not installed";
  ScratchNetns ns;
  if (!ns.ok()) CD_SKIP() << "cannot create a network namespace";
  ASSERT_TRUE(nft(R"(table inet cdtest {
  chain out {
    type filter hook output priority 0;
    ct state new counter
  }
}
)"));
  // Small buffers: the receiver's window closes after a few KiB.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int small = 4096;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener.get(), 64), 0);
  socklen_t len = sizeof a;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t port = ntohs(a.sin_port);
  constexpr int kFlows = 8;
  std::vector<UniqueFd> clients, servers;
  std::vector<char> chunk(65536, 'x');
  for (int i = 0; i < kFlows; ++i) {
    UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ::setsockopt(c.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    servers.emplace_back(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));  // never read
    clients.push_back(std::move(c));
  }
  // Write until the peer's window and our send buffer are full (bounded).
  for (int round = 0; round < 200; ++round) {
    bool any = false;
    for (auto& c : clients)
      any |= ::send(c.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0;
    if (!any) break;
    ::usleep(5 * 1000);
  }
  ::usleep(300 * 1000);  // the zero-window ACKs have been seen by conntrack

  auto src = open_netlink_conntrack_source();
  ASSERT_TRUE(src) << src.error().message;
  ConntrackAggregatorConfig cfg;
  cfg.established_timeout_s = 432000;
  cfg.capped_timeout_s = 300;
  ConntrackAggregator agg(cfg);
  TimeoutTap tap(agg, port);
  auto d = (*src)->dump(tap);
  ASSERT_TRUE(d) << d.error().message;
  ConntrackTable t = agg.finish(true, d->interrupted);
  ASSERT_EQ(tap.left.size(), std::size_t(kFlows));
  // The kernel capped them (the bug's premise: the old formula reads ~5 days of idleness).
  for (int64_t left : tap.left) {
    EXPECT_LE(left, 300);
    EXPECT_GE(432000 - left, 86400);
  }
  EXPECT_EQ(t.tcp_by_state["ESTABLISHED"], uint64_t(kFlows));
  EXPECT_EQ(t.stale.established_capped, uint64_t(kFlows));
  EXPECT_EQ(t.stale.established_idle_1h, 0u);
  EXPECT_EQ(t.stale.established_idle_max_s, 0u);
}

TEST(CtLive, WithoutCapNetAdminTheDumpIsRefusedWithEperm) {
  if (::geteuid() != 0) CD_SKIP() << "needs root to create the namespace first";
  auto r = test::run_in_child([]() -> std::string {
    if (::unshare(CLONE_NEWNET) != 0) return "SKIP";
    // Drop CAP_NET_ADMIN (and only it) from every set, as a non-root agent would run.
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (::syscall(SYS_capget, &h, d) != 0) return "capget failed";
    for (auto& x : d) {
      x.effective &= ~(1u << CAP_NET_ADMIN);
      x.permitted &= ~(1u << CAP_NET_ADMIN);
    }
    if (::syscall(SYS_capset, &h, d) != 0) return "capset failed";
    auto src = open_netlink_conntrack_source();
    if (!src) return "open: " + src.error().message;
    Reading rd;
    rd.conntrack.available = true;
    rd.conntrack.count = 0;
    std::vector<std::string> missing;
    collect_conntrack(**src, {}, rd, missing);
    if (missing.size() != 2)
      return "expected 2 missing lines, got " + std::to_string(missing.size());
    for (const auto& m : missing)
      if (m.find("CAP_NET_ADMIN") == std::string::npos) return "no CAP_NET_ADMIN in: " + m;
    if (rd.conntrack_table.dumped) return "table dumped without CAP_NET_ADMIN";
    return "";
  });
  if (r.skipped) CD_SKIP() << "cannot create a network namespace";
  EXPECT_EQ(r.failure, "");
}

}  // namespace
}  // namespace cd
