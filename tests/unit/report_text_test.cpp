// report_text(): the verdict first, no ANSI without colour, the plan in A-B-C-D order,
// evidence as "key: value", lines that fit a terminal, and "missing:" at the end.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <sstream>
#include <string>
#include <vector>

#include "render/report.h"

namespace cd {
namespace {

IpAddr ip(const char* s) {
  return *IpAddr::parse(s);
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

struct Fixture {
  Snapshot snap;
  Analysis a;

  Fixture() {
    Reading& r = snap.first;
    r.sysctls.tcp_max_tw_buckets = 131072;
    r.sockstat.tcp_tw = 5000;
    r.file_nr.allocated = 2000;
    r.file_nr.max = 9223372036854775807;
    r.sockets.complete = true;
    r.sockets.total = 5100;
    r.sockets.by_state[int(TcpState::kEstablished)] = 98;
    r.sockets.by_state[int(TcpState::kTimeWait)] = 5000;
    r.sockets.by_state[int(TcpState::kListen)] = 2;
    r.sockets.time_wait_client = 4990;
    r.sockets.time_wait_server = 10;
    r.sockets.listeners.push_back({Endpoint{ip("::"), 8080}, 129, 128, 12});
    r.listener_owner[12] = 4242;
    r.processes.push_back({4242, "web", 1020, 1024, 4096, std::nullopt});
    snap.missing = {"fd counts of 3 processes not readable (need root or CAP_SYS_PTRACE)"};

    a.status = Status::kCritical;
    a.summary =
        "critical: ephemeral ports to 198.18.0.2:8080: 20 of 20 usable in use (100%), "
        "exhausted (application layer)";
    a.ports.known = true;
    a.ports.range = {32768, 60999};
    a.ports.usable_per_tuple = 28232;
    a.ports.host_usable = 28232;
    for (int i = 0; i < 8; ++i) {
      TupleStat t;
      t.key = {ip("198.18.0.1"), ip("198.18.0.2"), uint16_t(8080 + i)};
      t.in_use = t.effective_in_use = 20 - i;
      t.time_wait = 18 - i;
      t.usable = 20;
      t.utilization = double(t.in_use) / 20;
      if (i == 0) t.seconds_to_exhaustion = 0;
      a.ports.tuples.push_back(t);
    }

    Finding f;
    f.id = "ephemeral_ports.tuple";
    f.resource = Resource::kEphemeralPorts;
    f.severity = Severity::kCritical;
    f.layer = Layer::kApplication;
    f.title = "ephemeral ports to 198.18.0.2:8080: 20 of 20 usable in use (100%), exhausted";
    f.evidence["destination"] = "198.18.0.2:8080";
    f.evidence["utilization"] = 1.0;
    f.evidence["new_per_s"] = nullptr;
    // Deliberately out of order: the report must still read A, B, C.
    f.remediation.push_back({'C',
                             "Let connect() reuse TIME_WAIT ports: tcp_tw_reuse=1.",
                             {"sysctl -w net.ipv4.tcp_tw_reuse=1"},
                             "PAWS rejects through NAT that rewrites timestamps"});
    f.remediation.push_back(
        {'A',
         "Reuse connections in the application: one shared pooled client per process, and read "
         "every response body to the end and close it so that the connection goes back to the "
         "pool instead of being closed by the client, which leaves TIME_WAIT behind.",
         {"Go: http.Transport{MaxIdleConnsPerHost: 100, IdleConnTimeout: 90 * time.Second}"},
         "none"});
    f.remediation.push_back({'B',
                             "Widen the ephemeral port range.",
                             {"sysctl -w net.ipv4.ip_local_port_range=\"10000 65535\""},
                             "ports below 32768 may collide with services: reserve them"});
    a.findings.push_back(f);
    Finding w;
    w.id = "accept_queue.listener_full";
    w.resource = Resource::kAcceptQueue;
    w.severity = Severity::kWarning;
    w.layer = Layer::kApplication;
    w.title = "accept queue of [::]:8080 full (129 of 128)";
    w.evidence["destination"] = "[::]:8080";
    w.evidence["pid"] = 4242;
    a.findings.push_back(w);
  }
};

TEST(ReportText, VerdictIsTheFirstLine) {
  Fixture fx;
  auto lines = lines_of(report_text(fx.snap, fx.a, {}));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], fx.a.summary);
}

TEST(ReportText, EmptySummaryFallsBackToStatus) {
  Fixture fx;
  fx.a.summary.clear();
  fx.a.status = Status::kUnknown;
  EXPECT_EQ(lines_of(report_text(fx.snap, fx.a, {}))[0], "unknown");
}

TEST(ReportText, NoEscapesWithoutColour) {
  Fixture fx;
  std::string out = report_text(fx.snap, fx.a, {.color = false});
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

// A process name is attacker-controlled bytes: it must not smuggle escapes into a terminal.
TEST(ReportText, ControlCharactersFromTheSystemAreNeutralised) {
  Fixture fx;
  fx.snap.first.processes[0].comm = "\x1b]0;pwned\x07";
  fx.snap.missing.push_back("bad\x1b[2Jname");
  std::string out = report_text(fx.snap, fx.a, {.color = false});
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(out.find('\x07'), std::string::npos);
  EXPECT_NE(out.find("?]0;pwned?[4242]"), std::string::npos);
}

TEST(ReportText, VerdictColouredByStatus) {
  Fixture fx;
  std::string crit = lines_of(report_text(fx.snap, fx.a, {.color = true}))[0];
  EXPECT_EQ(crit, "\x1b[1;31m" + fx.a.summary + "\x1b[0m");
  fx.a.status = Status::kWarning;
  EXPECT_EQ(lines_of(report_text(fx.snap, fx.a, {.color = true}))[0].rfind("\x1b[1;33m", 0), 0u);
  fx.a.status = Status::kOk;
  EXPECT_EQ(lines_of(report_text(fx.snap, fx.a, {.color = true}))[0].rfind("\x1b[32m", 0), 0u);
}

TEST(ReportText, PlanInPriorityOrderWithCommandsAndRisk) {
  Fixture fx;
  std::string out = report_text(fx.snap, fx.a, {});
  std::size_t a = out.find("A. Reuse connections");
  std::size_t b = out.find("B. Widen the ephemeral port range.");
  std::size_t c = out.find("C. Let connect() reuse");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  // Shell commands get a prompt, application settings don't.
  EXPECT_NE(out.find("$ sysctl -w net.ipv4.ip_local_port_range=\"10000 65535\""),
            std::string::npos);
  EXPECT_NE(out.find("$ sysctl -w net.ipv4.tcp_tw_reuse=1"), std::string::npos);
  EXPECT_EQ(out.find("$ Go: http.Transport"), std::string::npos);
  EXPECT_NE(out.find("Go: http.Transport{MaxIdleConnsPerHost: 100"), std::string::npos);
  EXPECT_NE(out.find("risk: PAWS rejects through NAT"), std::string::npos);
  // Commands follow their own step: the B command sits between B and C.
  std::size_t bcmd = out.find("$ sysctl -w net.ipv4.ip_local_port_range");
  EXPECT_GT(bcmd, b);
  EXPECT_LT(bcmd, c);
}

TEST(ReportText, FindingsWithSeverityLayerAndEvidence) {
  Fixture fx;
  std::string out = report_text(fx.snap, fx.a, {});
  EXPECT_NE(out.find("[CRITICAL] ephemeral ports to 198.18.0.2:8080"), std::string::npos);
  EXPECT_NE(out.find("[WARNING] accept queue of [::]:8080 full"), std::string::npos);
  EXPECT_LT(out.find("[CRITICAL]"), out.find("[WARNING]"));
  EXPECT_NE(out.find("layer: application"), std::string::npos);
  EXPECT_NE(out.find("id: ephemeral_ports.tuple"), std::string::npos);
  EXPECT_NE(out.find("    destination: 198.18.0.2:8080\n"), std::string::npos);
  EXPECT_NE(out.find("    utilization: 100.0%\n"), std::string::npos);
  EXPECT_NE(out.find("    unknown: new_per_s\n"), std::string::npos);  // nulls gathered
  EXPECT_NE(out.find("    pid: 4242\n"), std::string::npos);
}

TEST(ReportText, ResourceOverview) {
  Fixture fx;
  std::string out = report_text(fx.snap, fx.a, {});
  EXPECT_NE(out.find("TIME_WAIT 5000 (client 4990, server 10, other 0)"), std::string::npos);
  EXPECT_NE(out.find("range 32768-60999: 28232 usable per destination"), std::string::npos);
  EXPECT_NE(out.find("198.18.0.1 -> 198.18.0.2:8080"), std::string::npos);
  EXPECT_NE(out.find("web[4242] 1020 of 1024 (99.6%)"), std::string::npos);
  EXPECT_NE(out.find("[::]:8080 web[4242] queue 129/128"), std::string::npos);
  EXPECT_NE(out.find("5000 of 131072 buckets (3.8%)"), std::string::npos);
  EXPECT_NE(out.find("one reading: rates unknown"), std::string::npos);
  EXPECT_NE(out.find("overflow ?/s"), std::string::npos);  // unknown rate is not "0/s"
  // Only the hottest five tuples unless verbose.
  EXPECT_EQ(out.find("198.18.0.2:8085"), std::string::npos);
  std::string verbose = report_text(fx.snap, fx.a, {.verbose = true});
  EXPECT_NE(verbose.find("198.18.0.2:8087"), std::string::npos);
}

TEST(ReportText, ConntrackTableWhenDumped) {
  Fixture fx;
  Reading& r = fx.snap.first;
  r.conntrack.available = true;
  r.conntrack.count = 65530;
  r.conntrack.max = 65536;
  std::string before = report_text(fx.snap, fx.a, {});
  EXPECT_NE(before.find("65530 of 65536"), std::string::npos);
  EXPECT_EQ(before.find("table "), std::string::npos);  // not dumped (no CAP_NET_ADMIN): no line

  ConntrackTable& t = r.conntrack_table;
  t.dumped = true;
  t.entries = 65530;
  t.by_protocol = {{"tcp", 65000}, {"udp", 530}};
  t.assured = 64000;
  t.unreplied = 1200;
  t.stale.tcp_time_wait = 30000;
  t.stale.udp_unreplied = 500;
  t.snat_groups_total = 7;
  for (int i = 0; i < 7; ++i) {
    SnatGroup g;
    g.nat_ip = ip("198.19.0.1");
    g.dst = Endpoint{ip("198.19.0.2"), uint16_t(80 + i)};
    g.protocol = IPPROTO_TCP;
    g.entries = 10 - i;
    g.port_range = {40000, 40009};
    g.closing = 3;
    t.snat.push_back(g);
  }
  t.destinations_total = 40;
  for (int i = 0; i < 5; ++i)
    t.top_destinations.push_back(
        {Endpoint{ip("198.19.0.2"), uint16_t(80 + i)}, IPPROTO_TCP, uint64_t(900 - i), 0, 0});
  std::string out = report_text(fx.snap, fx.a, {});
  EXPECT_NE(out.find("table 65530 entries; tcp 65000; udp 530; assured 64000; unreplied 1200"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("stale: tcp time_wait 30000, close 0, idle > 1 h 0, udp one-way 500"),
            std::string::npos);
  EXPECT_NE(out.find("SNAT pools, fullest 5 of 7:"), std::string::npos);
  EXPECT_NE(out.find("198.19.0.1 -> 198.19.0.2:80 tcp: 10 of 10 ports (100.0%), 3 closing"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("198.19.0.2:85 tcp:"), std::string::npos);  // only the fullest five
  EXPECT_NE(out.find("top destinations (40 in all): 198.19.0.2:80 tcp 900"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("198.19.0.2:83 tcp 897"), std::string::npos);  // top three unless verbose
  std::string verbose = report_text(fx.snap, fx.a, {.verbose = true});
  EXPECT_NE(verbose.find("198.19.0.2:86 tcp: 4 of 10 ports"), std::string::npos);
  EXPECT_NE(verbose.find("198.19.0.2:84 tcp 896"), std::string::npos);
  auto lines = lines_of(verbose);
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_LE(lines[i].size(), 100u) << lines[i];
}

TEST(ReportText, UnknownSocketsSaidSo) {
  Fixture fx;
  fx.snap.first.sockets.complete = false;
  fx.a.ports.known = false;
  std::string out = report_text(fx.snap, fx.a, {});
  bool sockets = false, ports = false;
  for (const std::string& l : lines_of(out)) {
    if (l.rfind("  sockets ", 0) == 0) sockets = l.find("unknown") != std::string::npos;
    if (l.rfind("  ports ", 0) == 0) ports = l.find("unknown") != std::string::npos;
  }
  EXPECT_TRUE(sockets);
  EXPECT_TRUE(ports);
}

TEST(ReportText, MissingListedLast) {
  Fixture fx;
  auto lines = lines_of(report_text(fx.snap, fx.a, {}));
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[lines.size() - 2], "missing:");
  EXPECT_EQ(lines.back(),
            "  - fd counts of 3 processes not readable (need root or CAP_SYS_PTRACE)");
}

TEST(ReportText, FitsInOneHundredColumns) {
  Fixture fx;
  // Long IPv6 pairs and long evidence must wrap too.
  TupleStat t = fx.a.ports.tuples[0];
  t.key = {ip("2001:db8:aaaa:bbbb::1"), ip("2001:db8:aaaa:bbbb::2"), 443};
  fx.a.ports.tuples.insert(fx.a.ports.tuples.begin(), t);
  fx.a.findings[0].evidence["note"] =
      std::string(300, 'x') + " and then some words " + std::string(40, 'y');
  fx.a.findings[0].remediation[1].commands.push_back(
      "Python: one requests.Session() with session.mount('https://', "
      "HTTPAdapter(pool_connections=10, pool_maxsize=N)) (and 'http://'); or one "
      "httpx.Client(limits=httpx.Limits(max_connections=N)) reused for every request");
  auto lines = lines_of(report_text(fx.snap, fx.a, {}));
  ASSERT_GT(lines.size(), 1u);
  for (std::size_t i = 1; i < lines.size(); ++i) {  // the verdict is one line, whatever its size
    const std::string& l = lines[i];
    if (l.find("$ ") != std::string::npos) continue;                   // commands are never broken
    if (l.find(std::string(300, 'x')) != std::string::npos) continue;  // one unbreakable word
    EXPECT_LE(l.size(), 100u) << l;
  }
}

TEST(ReportText, NoFindingsSaysNone) {
  Snapshot snap;
  Analysis a;
  a.summary = "ok: no connection resource near its limit";
  std::string out = report_text(snap, a, {});
  EXPECT_EQ(lines_of(out)[0], a.summary);
  EXPECT_NE(out.find("findings: none"), std::string::npos);
  EXPECT_EQ(out.find("missing:"), std::string::npos);
}

}  // namespace
}  // namespace cd
