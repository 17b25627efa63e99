// Tests of the procfs text parsers on real files (fixtures recorded on 6.18, the live /proc)
// and on malformed input.
#include "collect/proc_text.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "collect/proc_fs.h"
#include "temp_proc_tree.h"

namespace cd {
namespace {

using test::fixture_proc;

std::string fixture_file(const std::string& tree, const std::string& rel) {
  auto text = ProcFs(fixture_proc(tree)).read(rel);
  EXPECT_TRUE(text) << rel;
  return text.value_or("");
}

// --- /proc/net/snmp and /proc/net/netstat -------------------------------------------------

TEST(SnmpPairs, RealSnmpByName) {
  auto m = parse_snmp_pairs(fixture_file("host_6_18", "net/snmp"), "/proc/net/snmp");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("Tcp.ActiveOpens"), 45);
  EXPECT_EQ(m->at("Tcp.PassiveOpens"), 40);
  EXPECT_EQ(m->at("Tcp.AttemptFails"), 5);
  EXPECT_EQ(m->at("Tcp.MaxConn"), -1);  // the one signed field
  EXPECT_EQ(m->at("Tcp.OutRsts"), 5);
  EXPECT_EQ(m->at("Udp.InDatagrams"), 0);
  EXPECT_FALSE(m->contains("IcmpMsg.InType3"));  // printed only once an ICMP type was seen
  EXPECT_TRUE(m->contains("Ip.OutTransmits"));   // 6.18 field
}

TEST(SnmpPairs, RealNetstatHasEverySection) {
  auto m = parse_snmp_pairs(fixture_file("host_6_18", "net/netstat"), "/proc/net/netstat");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("TcpExt.TW"), 40);
  EXPECT_EQ(m->at("TcpExt.ListenOverflows"), 0);
  EXPECT_TRUE(m->contains("TcpExt.TCPTimeWaitOverflow"));
  EXPECT_TRUE(m->contains("IpExt.InOctets"));
  EXPECT_TRUE(m->contains("MPTcpExt.MPCapableSYNRX"));
}

TEST(SnmpPairs, OlderKernelWithFewerFields) {
  auto m = parse_snmp_pairs(fixture_file("old_kernel_4_19", "net/netstat"), "/proc/net/netstat");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("TcpExt.ListenOverflows"), 1234);
  EXPECT_EQ(m->at("TcpExt.ListenDrops"), 1240);
  EXPECT_FALSE(m->contains("MPTcpExt.MPCapableSYNRX"));
  EXPECT_FALSE(m->contains("TcpExt.TCPAOGood"));
}

TEST(SnmpPairs, LiveProcParses) {
  auto text = ProcFs("/proc").read("net/snmp");
  ASSERT_TRUE(text) << text.error().message;
  auto m = parse_snmp_pairs(*text, "/proc/net/snmp");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->contains("Tcp.ActiveOpens"));
  auto ns = ProcFs("/proc").read("net/netstat");
  ASSERT_TRUE(ns);
  auto n = parse_snmp_pairs(*ns, "/proc/net/netstat");
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_TRUE(n->contains("TcpExt.ListenOverflows"));
}

TEST(SnmpPairs, ByNameNotByColumn) {
  auto a = parse_snmp_pairs("Tcp: ActiveOpens PassiveOpens\nTcp: 7 9\n", "x");
  auto b = parse_snmp_pairs("Tcp: PassiveOpens ActiveOpens\nTcp: 9 7\n", "x");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->at("Tcp.ActiveOpens"), 7);
}

TEST(SnmpPairs, RepeatedSectionIsMerged) {
  auto m = parse_snmp_pairs("TcpExt: A B\nTcpExt: 1 2\nIpExt: X\nIpExt: 5\nTcpExt: C\nTcpExt: 3\n",
                            "/proc/net/netstat");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->size(), 4u);
  EXPECT_EQ(m->at("TcpExt.A"), 1);
  EXPECT_EQ(m->at("TcpExt.C"), 3);
  EXPECT_EQ(m->at("IpExt.X"), 5);
}

TEST(SnmpPairs, ShortValueLineNamesFileAndCounts) {
  std::string text = fixture_file("malformed", "net/snmp");
  auto m = parse_snmp_pairs(text, "/proc/net/snmp");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message, "/proc/net/snmp: 'Tcp:' value line has 3 fields, header has 15");
}

TEST(SnmpPairs, MalformedInputs) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "f: no 'Section:' header and value lines"},
      {"Tcp: A B\n", "f: 'Tcp:' header line has no value line"},
      {"Tcp: A B\nUdp: 1 2\n", "f: 'Tcp:' header line is followed by 'Udp:', not its value line"},
      {"Tcp: A B\nTcp: 1 x2\n", "f: 'Tcp:' field 'B' has a non-numeric value 'x2'"},
      {"garbage line\n", "f: line 1 has no 'Section:' prefix"},
      {"Tcp:\nTcp:\n", "f: 'Tcp:' header line has no names"},
  };
  for (const Case& c : cases) {
    auto m = parse_snmp_pairs(c.text, "f");
    ASSERT_FALSE(m) << c.text;
    EXPECT_EQ(m.error().message, c.message);
  }
}

TEST(SnmpPairs, UnsignedCountersAboveInt64DoNotFail) {
  // Kernel counters are unsigned long; the top half wraps and a rate sees it as a reset.
  auto m = parse_snmp_pairs("IpExt: InOctets\nIpExt: 18446744073709551615\n", "f");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("IpExt.InOctets"), -1);
}

// --- /proc/net/sockstat --------------------------------------------------------------------

TEST(Sockstat, RealFile) {
  auto s = parse_sockstat(fixture_file("host_6_18", "net/sockstat"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->sockets_used, 0);
  EXPECT_EQ(s->tcp_inuse, 0);
  EXPECT_EQ(s->tcp_tw, 40);
  EXPECT_EQ(s->tcp_alloc, 16);
  EXPECT_EQ(s->tcp_mem_pages, 7);
  EXPECT_EQ(s->tcp_orphan, 0);
  EXPECT_EQ(s->udp_inuse, 0);
}

TEST(Sockstat, Sockstat6LinesAreIgnoredAndUnknownFieldsStayUnknown) {
  auto s = parse_sockstat("TCP: inuse 5 tw 7\nTCP6: inuse 99 tw 99\nUDP6: inuse 3\n");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->tcp_inuse, 5);
  EXPECT_EQ(s->tcp_tw, 7);
  EXPECT_FALSE(s->tcp_orphan);
  EXPECT_FALSE(s->udp_inuse);
  EXPECT_FALSE(s->sockets_used);
}

TEST(Sockstat, Malformed) {
  auto no_tcp = parse_sockstat(fixture_file("malformed", "net/sockstat"));
  ASSERT_FALSE(no_tcp);
  EXPECT_EQ(no_tcp.error().message, "/proc/net/sockstat: no 'TCP:' line");
  auto odd = parse_sockstat("TCP: inuse 5 tw\n");
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().message,
            "/proc/net/sockstat: 'TCP:' line has an odd number of name/value fields");
  auto nan = parse_sockstat("TCP: inuse five\n");
  ASSERT_FALSE(nan);
  EXPECT_NE(nan.error().message.find("'inuse' has a non-numeric value 'five'"), std::string::npos);
}

// --- /proc/sys/fs/file-nr ------------------------------------------------------------------

TEST(FileNr, RealFile) {
  auto f = parse_file_nr(fixture_file("host_6_18", "sys/fs/file-nr"));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->allocated, 694);
  EXPECT_EQ(f->max, 2466170);
}

TEST(FileNr, Malformed) {
  auto two = parse_file_nr(fixture_file("malformed", "sys/fs/file-nr"));
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().message,
            "/proc/sys/fs/file-nr: expected 3 fields (allocated unused max), found 2");
  EXPECT_FALSE(parse_file_nr("1 x 3\n"));
  EXPECT_FALSE(parse_file_nr(""));
}

// --- /proc/net/stat/nf_conntrack -----------------------------------------------------------

TEST(ConntrackStat, EntriesIsAGaugeNotSummed) {
  auto m = parse_conntrack_stat(fixture_file("host_6_18", "net/stat/nf_conntrack"));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("entries"), 40);  // 0x28 on both CPU lines: 40, not 80
  EXPECT_EQ(m->at("clashres"), 0);
  EXPECT_EQ(m->at("chainlength"), 0);
  EXPECT_EQ(m->size(), 17u);
}

TEST(ConntrackStat, OldHeaderSumsPerCpuHex) {
  auto m = parse_conntrack_stat(fixture_file("old_kernel_4_19", "net/stat/nf_conntrack"));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("entries"), 500);
  EXPECT_EQ(m->at("found"), 0x10 + 0x20 + 0x30 + 0x40);
  EXPECT_EQ(m->at("ignore"), 0xa000);
  EXPECT_EQ(m->at("insert_failed"), 3);
  EXPECT_EQ(m->at("drop"), 15);
  EXPECT_EQ(m->at("early_drop"), 3);
  EXPECT_EQ(m->at("invalid"), 3);
  EXPECT_EQ(m->at("search_restart"), 5);
  EXPECT_TRUE(m->contains("searched"));
  EXPECT_TRUE(m->contains("delete_list"));
  EXPECT_FALSE(m->contains("clashres"));
}

TEST(ConntrackStat, ColumnOrderDoesNotMatter) {
  auto m = parse_conntrack_stat("drop entries\n00000001 00000010\n00000002 00000010\n");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("drop"), 3);
  EXPECT_EQ(m->at("entries"), 16);
}

TEST(ConntrackStat, Malformed) {
  auto short_line = parse_conntrack_stat(fixture_file("malformed", "net/stat/nf_conntrack"));
  ASSERT_FALSE(short_line);
  EXPECT_EQ(short_line.error().message,
            "/proc/net/stat/nf_conntrack: line 3 has 5 fields, header has 17");
  auto header_only = parse_conntrack_stat("entries drop\n");
  ASSERT_FALSE(header_only);
  EXPECT_EQ(header_only.error().message,
            "/proc/net/stat/nf_conntrack: header but no per-CPU lines");
  auto not_hex = parse_conntrack_stat("entries drop\n0000000g 00000001\n");
  ASSERT_FALSE(not_hex);
  EXPECT_NE(not_hex.error().message.find("'entries' is not hex"), std::string::npos);
  EXPECT_FALSE(parse_conntrack_stat(""));
  EXPECT_FALSE(parse_conntrack_stat("entries dr-op\n1 2\n"));
}

// --- /proc/PID/limits ----------------------------------------------------------------------

TEST(Limits, LiveSelfMatchesGetrlimit) {
  auto text = ProcFs("/proc").read("self/limits");
  ASSERT_TRUE(text);
  auto l = parse_limits_nofile(*text);
  ASSERT_TRUE(l) << l.error().message;
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_TRUE(l->soft && l->hard);
  EXPECT_EQ(*l->soft, rl.rlim_cur);
  EXPECT_EQ(*l->hard, rl.rlim_max);
}

TEST(Limits, FixtureAtItsOwnLimitAndUnlimited) {
  auto l = parse_limits_nofile(fixture_file("host_6_18", "4242/limits"));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->soft, 1024u);
  EXPECT_EQ(l->hard, 4096u);
  auto u = parse_limits_nofile(fixture_file("host_6_18", "900/limits"));
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->soft);
  EXPECT_FALSE(u->hard);
}

TEST(Limits, Malformed) {
  auto none = parse_limits_nofile("Max processes 10 10 processes\n");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "/proc/PID/limits: no 'Max open files' line");
  EXPECT_FALSE(parse_limits_nofile("Max open files 1024\n"));
  EXPECT_FALSE(parse_limits_nofile("Max open files lots 4096 files\n"));
}

// --- ports ---------------------------------------------------------------------------------

TEST(Ports, Range) {
  auto r = parse_port_range(fixture_file("host_6_18", "sys/net/ipv4/ip_local_port_range"));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (PortRange{32768, 60999}));
  EXPECT_EQ(r->size(), 28232u);
  auto bad = parse_port_range(fixture_file("malformed", "sys/net/ipv4/ip_local_port_range"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "net.ipv4.ip_local_port_range: low port above high port in '60999 32768'");
  EXPECT_FALSE(parse_port_range("1 2 3"));
  EXPECT_FALSE(parse_port_range("1 70000"));
  EXPECT_FALSE(parse_port_range(""));
  EXPECT_FALSE(parse_port_range("-1 5"));
}

TEST(Ports, ReservedList) {
  auto none = parse_port_list(fixture_file("host_6_18", "sys/net/ipv4/ip_local_reserved_ports"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto l = parse_port_list(fixture_file("old_kernel_4_19", "sys/net/ipv4/ip_local_reserved_ports"));
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0], (PortRange{8080, 8080}));
  EXPECT_EQ((*l)[1], (PortRange{9000, 9010}));
  auto bad = parse_port_list(fixture_file("malformed", "sys/net/ipv4/ip_local_reserved_ports"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "net.ipv4.ip_local_reserved_ports: bad port or range '9000-'");
  EXPECT_FALSE(parse_port_list("9010-9000"));
  EXPECT_FALSE(parse_port_list("80,,90"));
  EXPECT_FALSE(parse_port_list("65536"));
}

}  // namespace
}  // namespace cd
