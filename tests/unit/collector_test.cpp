// Tests of the collector orchestration (fixture proc trees + a fake socket source + a fake
// clock) and of `record`, whose directory must replay to the same reading as the live system.
#include "collect/collector.h"
#include "fake_clock.h"

#include <gtest/gtest.h>

#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "no_skip.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>

#include "collect/record.h"
#include "collect/recorded_sock_source.h"
#include "collect/socket_aggregator.h"
#include "dump_builder.h"
#include "fake_fd_table_source.h"
#include "fake_sock_source.h"
#include "temp_proc_tree.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

using test::fixture_proc;
using test::TempProcTree;

constexpr int kEst = int(TcpState::kEstablished);
constexpr int kCloseWait = int(TcpState::kCloseWait);
constexpr int kTimeWait = int(TcpState::kTimeWait);
constexpr int kListen = int(TcpState::kListen);

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += l + "\n";
  return s;
}

// The sockets behind the host_6_18 fixture's processes: pid 100 owns listener 5001 and
// client sockets 6001..6009.
std::vector<SockRecord> fixture_sockets() {
  using namespace test;
  std::vector<SockRecord> v;
  v.push_back(listener("0.0.0.0:8080", 3, 4096, 5001));
  for (int i = 1; i <= 6; ++i)
    v.push_back(tcp(TcpState::kEstablished, "10.0.0.1:" + std::to_string(40000 + i),
                    "198.18.0.2:443", uint32_t(6000 + i)));
  v.push_back(tcp(TcpState::kCloseWait, "10.0.0.1:40007", "198.18.0.3:5432", 6007));
  v.push_back(tcp(TcpState::kCloseWait, "10.0.0.1:40008", "198.18.0.3:5432", 6008));
  v.push_back(tcp(TcpState::kEstablished, "[2001:db8::1]:41000", "[2001:db8::2]:443", 6009));
  for (int i = 0; i < 10; ++i)
    v.push_back(time_wait("10.0.0.1:" + std::to_string(40100 + i), "198.18.0.2:443", 30000));
  v.push_back(time_wait("10.0.0.1:8080", "198.18.0.9:50000", 30000));  // server side
  v.push_back(udp("0.0.0.0:45000"));
  return v;
}

// A fake clock that lets the test change the proc tree while the collector sleeps.
class SteppingClock : public FakeClock {
 public:
  std::function<void()> on_sleep;
  int sleeps = 0;
  void sleep_s(double s) override {
    FakeClock::sleep_s(s);
    ++sleeps;
    if (on_sleep) on_sleep();
  }
};

// Rewrites one "Section: names" / "Section: values" counter in a copied proc tree.
void set_counter(const TempProcTree& t, const std::string& rel, const std::string& section,
                 const std::string& name, int64_t value) {
  auto text = ProcFs(t.root()).read(rel);
  ASSERT_TRUE(text);
  std::istringstream in(*text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (!lines[i].starts_with(section + ":")) continue;
    std::istringstream h(lines[i]), v(lines[i + 1]);
    std::vector<std::string> names, values;
    for (std::string w; h >> w;) names.push_back(w);
    for (std::string w; v >> w;) values.push_back(w);
    auto it = std::find(names.begin(), names.end(), name);
    ASSERT_NE(it, names.end()) << name;
    values[std::size_t(it - names.begin())] = std::to_string(value);
    std::string line;
    for (const auto& w : values) line += (line.empty() ? "" : " ") + w;
    lines[i + 1] = line;
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  t.write(rel, out);
}

TEST(Collector, OneReadingFillsEverySection) {
  ProcFs proc(fixture_proc("host_6_18"));
  test::FakeSockSource socks(fixture_sockets());
  SteppingClock clock;
  auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 0});
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_FALSE(snap->second);
  EXPECT_EQ(clock.sleeps, 0);
  EXPECT_TRUE(snap->missing.empty()) << joined(snap->missing);
  const Reading& r = snap->first;
  EXPECT_EQ(r.taken_at_s, 1000.0);

  EXPECT_EQ(r.sysctls.ip_local_port_range, (PortRange{32768, 60999}));
  EXPECT_EQ(counter(r, "Tcp.ActiveOpens"), 45);
  EXPECT_EQ(counter(r, "TcpExt.TW"), 40);
  EXPECT_EQ(counter(r, "TcpExt.ListenOverflows"), 0);
  EXPECT_EQ(r.sockstat.tcp_tw, 40);
  EXPECT_EQ(r.file_nr.allocated, 694);
  EXPECT_EQ(r.file_nr.max, 2466170);

  EXPECT_TRUE(r.conntrack.available);
  EXPECT_EQ(r.conntrack.count, 40);
  EXPECT_EQ(r.conntrack.max, 262144);
  EXPECT_EQ(r.conntrack.buckets, 262144);
  EXPECT_EQ(r.conntrack.stats_source, "procfs");
  EXPECT_EQ(r.conntrack.stats.at("entries"), 40);

  // Sockets went through the aggregator, LISTEN first, v4 and v6, then UDP.
  EXPECT_TRUE(r.sockets.complete);
  EXPECT_EQ(r.sockets.by_state[kEst], 7u);
  EXPECT_EQ(r.sockets.by_state[kCloseWait], 2u);
  EXPECT_EQ(r.sockets.by_state[kTimeWait], 11u);
  EXPECT_EQ(r.sockets.by_state[kListen], 1u);
  EXPECT_EQ(r.sockets.time_wait_client, 10u);
  EXPECT_EQ(r.sockets.time_wait_server, 1u);
  ASSERT_EQ(socks.requests.size(), 6u);
  EXPECT_EQ(socks.requests[0].states, 1u << kListen);

  // Attribution: the fixture's pid 100 holds the listener and the client sockets.
  EXPECT_EQ(r.listener_owner, (std::map<uint32_t, int32_t>{{5001, 100}}));
  auto api = std::find_if(r.processes.begin(), r.processes.end(),
                          [](const ProcessInfo& p) { return p.pid == 100; });
  ASSERT_NE(api, r.processes.end());
  ASSERT_TRUE(api->sockets);
  EXPECT_EQ(api->sockets->by_state[kEst], 7u);
  EXPECT_EQ(api->sockets->close_wait, 2u);
  const TupleKey busiest{test::ep("10.0.0.1:0").addr, test::ep("198.18.0.2:0").addr, 443};
  auto owner = std::find_if(r.tuple_owners.begin(), r.tuple_owners.end(),
                            [&](const TupleOwner& o) { return o.key == busiest; });
  ASSERT_NE(owner, r.tuple_owners.end());
  EXPECT_EQ(owner->pids, (std::vector<std::pair<int32_t, uint32_t>>{{100, 6}}));
}

TEST(Collector, UnixListenersUnknownWithoutAWordOrMissingWhenTheDumpFails) {
  ProcFs proc(fixture_proc("host_6_18"));
  SteppingClock clock;
  {
    // A source that cannot tell (a recording without a unix section): unknown, no `missing`.
    test::FakeSockSource socks(fixture_sockets());
    auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 0});
    ASSERT_TRUE(snap) << snap.error().message;
    EXPECT_FALSE(snap->first.unix_listeners);
    EXPECT_TRUE(snap->missing.empty()) << joined(snap->missing);
  }
  {
    // The kernel refuses (no unix_diag): named in `missing`, the TCP picture stands.
    test::FakeSockSource socks(fixture_sockets());
    socks.unix_error = ENOENT;
    auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 0});
    ASSERT_TRUE(snap) << snap.error().message;
    EXPECT_FALSE(snap->first.unix_listeners);
    ASSERT_EQ(snap->missing.size(), 1u) << joined(snap->missing);
    EXPECT_NE(snap->missing[0].find("unix stream listeners unknown"), std::string::npos)
        << snap->missing[0];
    EXPECT_TRUE(snap->first.sockets.complete);
  }
  {
    // Known, empty: no unix listener at all.
    test::FakeSockSource socks(fixture_sockets());
    socks.unix_records.emplace();
    auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 0});
    ASSERT_TRUE(snap) << snap.error().message;
    ASSERT_TRUE(snap->first.unix_listeners);
    EXPECT_TRUE(snap->first.unix_listeners->empty());
  }
}

TEST(Collector, TwoReadingsGiveRatesAndACounterResetIsNotNegative) {
  TempProcTree t("host_6_18");
  ProcFs proc(t.root());
  test::FakeSockSource socks(fixture_sockets());
  SteppingClock clock;
  clock.on_sleep = [&] {
    set_counter(t, "net/snmp", "Tcp", "ActiveOpens", 145);  // +100 in 2 s
    set_counter(t, "net/netstat", "TcpExt", "ListenOverflows", 30);
    set_counter(t, "net/netstat", "TcpExt", "TW", 10);  // 40 -> 10: the netns was recreated
    t.write("net/stat/nf_conntrack",
            "entries drop insert_failed\n00000030 00000004 00000001\n00000030 00000006 00000000\n");
  };
  auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 2});
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_TRUE(snap->second);
  EXPECT_EQ(clock.sleeps, 1);
  EXPECT_EQ(snap->first.taken_at_s, 1000.0);
  EXPECT_EQ(snap->second->taken_at_s, 1002.0);
  EXPECT_EQ(snap->interval_s(), 2.0);
  EXPECT_EQ(snap->counter_rate("Tcp.ActiveOpens"), 50.0);
  EXPECT_EQ(snap->counter_rate("TcpExt.ListenOverflows"), 15.0);
  EXPECT_EQ(snap->counter_rate("TcpExt.TW"), 5.0);  // reset: 10 since, never -15/s
  EXPECT_EQ(snap->conntrack_stat_rate("drop"), 5.0);
  EXPECT_EQ(snap->now().conntrack.stats.at("entries"), 48);
  EXPECT_EQ(socks.requests.size(), 12u);  // the dump ran once per reading
}

TEST(Collector, MalformedFileIsBadInputNamingTheFile) {
  // A file that reads but does not parse fails the reading (check exits 3 with this line)
  // instead of diagnosing on half-parsed numbers.
  ProcFs proc(fixture_proc("malformed"));
  test::FakeSockSource socks(fixture_sockets());
  SteppingClock clock;
  auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 1});
  ASSERT_FALSE(snap);
  // The sysctls are read first: the first malformed file met is the one named.
  EXPECT_EQ(snap.error().message,
            proc.path("sys/net/ipv4/tcp_tw_reuse") + ": not an integer ('abc')");
}

TEST(Collector, MissingIsDeduplicatedAcrossReadings) {
  TempProcTree t("host_6_18");
  t.remove("net/sockstat");
  t.remove("net/stat");
  ProcFs proc(t.root());
  test::FakeSockSource socks(fixture_sockets());
  SteppingClock clock;
  auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 1});
  ASSERT_TRUE(snap) << snap.error().message;
  const auto& m = snap->missing;
  ASSERT_GE(m.size(), 2u) << joined(m);
  for (const auto& line : m) EXPECT_EQ(std::count(m.begin(), m.end(), line), 1) << line;
  // An unreadable file leaves its figures unknown, the rest stands.
  EXPECT_FALSE(snap->first.sockstat.tcp_tw);
  EXPECT_TRUE(counter(snap->first, "Tcp.ActiveOpens"));
  EXPECT_TRUE(snap->first.conntrack.stats.empty());
}

TEST(Collector, ConntrackWithoutProcfsStats) {
  TempProcTree t("host_6_18");
  t.remove("net/stat");
  ProcFs proc(t.root());
  test::FakeSockSource socks;
  SteppingClock clock;
  std::vector<std::string> missing;
  auto r = collect_reading(Sources{proc, socks, clock}, CollectOptions{}, missing);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->conntrack.available);
  EXPECT_EQ(r->conntrack.count, 40);
  EXPECT_TRUE(r->conntrack.stats.empty());
  EXPECT_EQ(missing, std::vector<std::string>{
                         "conntrack per-CPU stats: " + proc.path("net/stat/nf_conntrack") +
                         " absent (kernel built without "
                         "CONFIG_NF_CONNTRACK_PROCFS)"});
}

TEST(Collector, ConntrackNotLoaded) {
  TempProcTree t("host_6_18");
  t.remove("net/stat");
  t.remove("sys/net/netfilter");
  ProcFs proc(t.root());
  test::FakeSockSource socks;
  SteppingClock clock;
  std::vector<std::string> missing;
  auto r = collect_reading(Sources{proc, socks, clock}, CollectOptions{}, missing);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->conntrack.available);
  EXPECT_FALSE(r->conntrack.count);
  EXPECT_FALSE(r->conntrack.max);
  EXPECT_EQ(missing.size(), 1u) << joined(missing);  // only "nf_conntrack not loaded"
}

TEST(Collector, AnUnusableDumpFailsTheReading) {
  ProcFs proc(fixture_proc("host_6_18"));
  test::FakeSockSource socks(fixture_sockets());
  socks.fail_on_request = 2;
  SteppingClock clock;
  auto snap = collect_snapshot(Sources{proc, socks, clock}, CollectOptions{.interval_s = 0});
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().message, "fake sock_diag: truncated netlink message at byte 4096");
}

// A transcript of `rounds` attempts: each of the first `interrupted` rounds is cut by an
// NLM_F_DUMP_INTR message in its third section (TCP/IPv4, non-LISTEN) after one socket, as
// the live source records it (the flagged message ends the section); the others are whole.
std::unique_ptr<SockSource> interrupted_dumps(int interrupted, int rounds) {
  using namespace test;
  DumpBuilder b;
  const auto socks = fixture_sockets();
  for (int i = 0; i < rounds; ++i) {
    if (i >= interrupted) {
      b.dump_all(socks);
      continue;
    }
    b.request(AF_INET, IPPROTO_TCP, DumpBuilder::kListenStates).sock(socks[0]).done();
    b.request(AF_INET6, IPPROTO_TCP, DumpBuilder::kListenStates).done();
    b.request(AF_INET, IPPROTO_TCP, ~DumpBuilder::kListenStates).sock(socks[1]);
    b.interrupted().sock(socks[2]).interrupted(false);
  }
  auto src = parse_recorded_sock_source(b.bytes(), "intr.nldump");
  EXPECT_TRUE(src) << src.error().message;
  return src ? std::move(*src) : nullptr;
}

TEST(Collector, AnInterruptedDumpIsTakenAgainAndCountedOnce) {
  ProcFs proc(fixture_proc("host_6_18"));
  SteppingClock clock;
  test::FakeSockSource whole(fixture_sockets());
  auto expected = collect_snapshot(Sources{proc, whole, clock}, CollectOptions{.interval_s = 0});
  ASSERT_TRUE(expected) << expected.error().message;
  for (int interrupted : {1, kDumpAttempts - 1}) {
    auto socks = interrupted_dumps(interrupted, interrupted + 1);
    ASSERT_TRUE(socks);
    auto snap = collect_snapshot(Sources{proc, *socks, clock}, CollectOptions{.interval_s = 0});
    ASSERT_TRUE(snap) << snap.error().message;
    const SocketSummary& got = snap->first.sockets;
    const SocketSummary& want = expected->first.sockets;
    // Nothing of the interrupted attempts is counted: the same figures as one clean dump.
    EXPECT_TRUE(got.complete);
    EXPECT_EQ(got.total, want.total);
    EXPECT_EQ(got.by_state, want.by_state);
    EXPECT_EQ(got.listeners.size(), want.listeners.size());
    EXPECT_EQ(got.tuples.size(), want.tuples.size());
    EXPECT_EQ(snap->first.listener_owner, expected->first.listener_owner);
    EXPECT_EQ(snap->missing, expected->missing);
  }
}

TEST(Collector, ADumpInterruptedEveryTimeFailsTheReading) {
  ProcFs proc(fixture_proc("host_6_18"));
  SteppingClock clock;
  // Interrupted kDumpAttempts times, then a clean round that must not be reached.
  auto socks = interrupted_dumps(kDumpAttempts, kDumpAttempts + 1);
  ASSERT_TRUE(socks);
  auto snap = collect_snapshot(Sources{proc, *socks, clock}, CollectOptions{.interval_s = 0});
  ASSERT_FALSE(snap);
  EXPECT_NE(snap.error().message.find("interrupted " + std::to_string(kDumpAttempts) + " times"),
            std::string::npos)
      << snap.error().message;
  EXPECT_NE(snap.error().message.find("NLM_F_DUMP_INTR"), std::string::npos)
      << snap.error().message;
}

TEST(Collector, ProcessesAndAttributionCanBeTurnedOff) {
  ProcFs proc(fixture_proc("host_6_18"));
  test::FakeSockSource socks(fixture_sockets());
  SteppingClock clock;
  std::vector<std::string> missing;
  auto none =
      collect_reading(Sources{proc, socks, clock}, CollectOptions{.processes = false}, missing);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->processes.empty());
  EXPECT_TRUE(none->listener_owner.empty());
  auto counts =
      collect_reading(Sources{proc, socks, clock}, CollectOptions{.attribution = false}, missing);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->processes.size(), 3u);
  for (const auto& p : counts->processes) EXPECT_FALSE(p.sockets) << p.pid;
  EXPECT_TRUE(counts->tuple_owners.empty());
}

// The fixture's pid 100 holds listener 5001 and sockets 6001..6009 through its fd links; the
// table below says it holds only 6001 and 6002: what the scan reports tells which was used.
FdTable table_for_pid_100() {
  FdTable t;
  t.by_pid[100] = FdTable::Process{.open_fds = 3, .socket_inodes = {6001, 6002}};
  return t;
}

// Pads the fixture's dump with TIME_WAIT-free sockets nobody holds, up to `live` inodes.
std::vector<SockRecord> sockets_with_live(std::size_t live) {
  std::vector<SockRecord> v = fixture_sockets();
  for (std::size_t i = 0; v.size() < live + 12; ++i)
    v.push_back(test::tcp(TcpState::kEstablished, "10.0.0.5:" + std::to_string(1024 + i % 60000),
                          "198.18.1." + std::to_string(1 + i / 60000) + ":80",
                          uint32_t(100000 + i)));
  return v;
}

// A copy of host_6_18 whose sockstat counts `tcp` IPv4 and `tcp6` IPv6 live TCP sockets.
void set_tcp_inuse(const TempProcTree& t, int tcp, int tcp6) {
  t.write("net/sockstat", "sockets: used 0\nTCP: inuse " + std::to_string(tcp) +
                              " orphan 0 tw 40 alloc 16 mem 7\nUDP: inuse 0 mem 0\n");
  t.write("net/sockstat6", "TCP6: inuse " + std::to_string(tcp6) + "\nUDP6: inuse 0\n");
}

// The choice is made before the dump (so that the fd scan can run beside it), from sockstat's
// TCP + TCP6 "inuse": the size of the dump itself no longer matters when sockstat is known.
TEST(Collector, AutoFdScanUsesTheTableOnlyForBigPopulations) {
  TempProcTree t("host_6_18");
  ProcFs proc(t.root());
  SteppingClock clock;
  std::vector<std::string> missing;
  test::FakeFdTableSource fds(table_for_pid_100());

  set_tcp_inuse(t, int(kBpfMinSockets) - 1001, 1000);  // one short
  test::FakeSockSource big(sockets_with_live(kBpfMinSockets));
  auto r = collect_reading(Sources{proc, big, clock, nullptr, &fds}, CollectOptions{}, missing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(fds.reads, 0);
  EXPECT_EQ(r->fd_scan, "procfs");

  set_tcp_inuse(t, int(kBpfMinSockets) - 1000, 1000);
  test::FakeSockSource small(fixture_sockets());
  r = collect_reading(Sources{proc, small, clock, nullptr, &fds}, CollectOptions{}, missing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(fds.reads, 1);
  EXPECT_EQ(r->fd_scan, "bpf");
  auto pid100 = std::find_if(r->processes.begin(), r->processes.end(),
                             [](const ProcessInfo& p) { return p.pid == 100; });
  ASSERT_NE(pid100, r->processes.end());
  EXPECT_EQ(pid100->open_fds, 3u);
  ASSERT_TRUE(pid100->sockets);
  EXPECT_EQ(pid100->sockets->by_state[kEst], 2u);
  EXPECT_EQ(pid100->sockets->by_state[kListen], 0u);
}

// Without sockstat the choice waits for the dump and counts its live sockets, as it always did.
TEST(Collector, AutoFdScanWithoutSockstatDecidesFromTheDump) {
  TempProcTree t("host_6_18");
  t.remove("net/sockstat");
  ProcFs proc(t.root());
  SteppingClock clock;
  std::vector<std::string> missing;
  test::FakeFdTableSource fds(table_for_pid_100());

  test::FakeSockSource small(fixture_sockets());
  auto r = collect_reading(Sources{proc, small, clock, nullptr, &fds}, CollectOptions{}, missing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(fds.reads, 0);
  EXPECT_EQ(r->fd_scan, "procfs");

  test::FakeSockSource big(sockets_with_live(kBpfMinSockets));
  r = collect_reading(Sources{proc, big, clock, nullptr, &fds}, CollectOptions{}, missing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(fds.reads, 1);
  EXPECT_EQ(r->fd_scan, "bpf");
}

TEST(Collector, ForcedFdScanUsesTheTableOrFailsWithTheReason) {
  ProcFs proc(fixture_proc("host_6_18"));
  test::FakeSockSource socks(fixture_sockets());
  SteppingClock clock;
  std::vector<std::string> missing;
  const CollectOptions bpf{.fd_scan = FdScan::kBpf};

  test::FakeFdTableSource fds(table_for_pid_100());
  auto r = collect_reading(Sources{proc, socks, clock, nullptr, &fds}, bpf, missing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->fd_scan, "bpf");

  test::FakeFdTableSource denied(Error{"BPF fd scan: loading failed: Operation not permitted", 1});
  r = collect_reading(Sources{proc, socks, clock, nullptr, &denied}, bpf, missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "BPF fd scan: loading failed: Operation not permitted");

  r = collect_reading(Sources{proc, socks, clock}, bpf, missing);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("only on the live system"), std::string::npos);

  // Auto falls back to /proc/PID/fd when the table cannot be read: the fd links count.
  TempProcTree t("host_6_18");
  set_tcp_inuse(t, int(kBpfMinSockets), 0);
  ProcFs busy(t.root());
  test::FakeSockSource big(sockets_with_live(kBpfMinSockets));
  const int denied_before = denied.reads;
  r = collect_reading(Sources{busy, big, clock, nullptr, &denied}, CollectOptions{}, missing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(denied.reads, denied_before + 1);
  EXPECT_EQ(r->fd_scan, "procfs");
  const ProcessInfo* api = nullptr;
  for (const auto& p : r->processes)
    if (p.pid == 100) api = &p;
  ASSERT_TRUE(api && api->sockets);
  EXPECT_EQ(api->sockets->by_state[kEst], 7u);  // its fd links, not the table's two sockets

  // --fd-scan procfs never reads the table.
  test::FakeFdTableSource unused(table_for_pid_100());
  r = collect_reading(Sources{proc, big, clock, nullptr, &unused},
                      CollectOptions{.fd_scan = FdScan::kProcfs}, missing);
  ASSERT_TRUE(r);
  EXPECT_EQ(unused.reads, 0);
  EXPECT_EQ(r->fd_scan, "procfs");
}

// --- record ----------------------------------------------------------------------------------

TEST(Record, RefusesToMergeIntoAnOldRecording) {
  TempProcTree out;
  std::filesystem::create_directory(out.path("proc"));
  test::FakeSockSource socks;
  auto r = record_state(ProcFs(fixture_proc("host_6_18")), socks, nullptr, out.root());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, out.path("proc") + ": already exists (record into a new directory)");
}

TEST(Record, ASourceWithoutNetlinkBytesCannotBeRecorded) {
  TempProcTree out;
  test::FakeSockSource socks(fixture_sockets());
  auto r = record_state(ProcFs(fixture_proc("host_6_18")), socks, nullptr, out.path("rec"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("sock_diag.bin"), std::string::npos) << r.error().message;
}

bool loopback_up() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (!s || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

// Real sockets in a namespace of our own: listener, established pairs, client TIME_WAIT.
std::string make_sockets(std::vector<UniqueFd>& keep) {
  UniqueFd lst(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(8080);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lst.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(lst.get(), 64) != 0)
    return "listen";
  for (int i = 0; i < 4; ++i) {
    UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "connect";
    UniqueFd s(::accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!s) return "accept";
    if (i == 0) {
      c.reset();  // the client closes first: its side goes to TIME_WAIT
      ::usleep(50000);
      s.reset();
    } else {
      keep.push_back(std::move(c));
      keep.push_back(std::move(s));
    }
  }
  keep.push_back(std::move(lst));
  ::usleep(100000);
  return "";
}

TEST(Record, ReplayGivesTheSameReadingAsTheLiveNamespace) {
  auto res = test::run_in_child([]() -> std::string {
    if (::unshare(CLONE_NEWNET) != 0) return "SKIP";
    if (!loopback_up()) return "cannot bring lo up";
    std::vector<UniqueFd> keep;
    if (auto e = make_sockets(keep); !e.empty()) return e;
    // A unix stream listener (abstract name, backlog 4) with 2 connections never accepted.
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    static constexpr char kName[] = "\0cd-record-test";
    std::memcpy(sun.sun_path, kName, sizeof kName - 1);
    const socklen_t sun_len = socklen_t(offsetof(sockaddr_un, sun_path) + sizeof kName - 1);
    UniqueFd ul(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::bind(ul.get(), reinterpret_cast<sockaddr*>(&sun), sun_len) != 0 ||
        ::listen(ul.get(), 4) != 0)
      return "unix listen";
    for (int i = 0; i < 2; ++i) {
      UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (::connect(c.get(), reinterpret_cast<sockaddr*>(&sun), sun_len) != 0)
        return "unix connect";
      keep.push_back(std::move(c));
    }
    const uint32_t unix_inode = [&] {
      struct stat st {};
      return ::fstat(ul.get(), &st) == 0 ? uint32_t(st.st_ino) : 0u;
    }();
    keep.push_back(std::move(ul));

    TempProcTree out;
    ProcFs live_proc("/proc");
    auto live = open_netlink_sock_source();
    if (!live) return live.error().message;
    auto ct_live = open_netlink_transport();
    if (!ct_live) return ct_live.error().message;
    if (auto r = record_state(live_proc, **live, std::move(*ct_live), out.root()); !r)
      return r.error().message;

    FakeClock clock;
    CollectOptions opt{.interval_s = 0};
    std::vector<std::string> live_missing, replay_missing;
    auto ct_now = open_netlink_conntrack_source();
    if (!ct_now) return ct_now.error().message;
    auto now = collect_reading(Sources{live_proc, **live, clock, ct_now->get()}, opt, live_missing);
    if (!now) return now.error().message;
    ProcFs replay_proc(out.path("proc"));
    auto rec = open_recorded_sock_source(out.path("sock_diag.bin"));
    if (!rec) return rec.error().message;
    auto ct_rec = open_recorded_transport(out.path("conntrack.bin"));
    if (!ct_rec) return ct_rec.error().message;
    auto ct_then = make_conntrack_source(std::move(*ct_rec));
    auto then =
        collect_reading(Sources{replay_proc, **rec, clock, ct_then.get()}, opt, replay_missing);
    if (!then) return then.error().message;

    std::string f;
    auto check = [&f](bool ok, const std::string& what) {
      if (!ok) f += what + "\n";
    };
    const Reading& a = *now;
    const Reading& b = *then;
    check(a.sockets.by_state == b.sockets.by_state, "by_state differs");
    check(a.sockets.by_state[kEst] == 6, "expected 6 ESTABLISHED live");
    check(a.sockets.time_wait_client == 1 && b.sockets.time_wait_client == 1, "client TIME_WAIT");
    check(a.sockets.listeners.size() == 1 && b.sockets.listeners.size() == 1, "listeners");
    check(a.sockets.tuples.size() == b.sockets.tuples.size(), "tuples");
    check(a.sysctls.ip_local_port_range == b.sysctls.ip_local_port_range, "port range");
    check(a.sysctls.tcp_tw_reuse == b.sysctls.tcp_tw_reuse, "tcp_tw_reuse");
    check(a.sysctls.conntrack_timeouts == b.sysctls.conntrack_timeouts, "conntrack timeouts");
    check(counter(a, "Tcp.ActiveOpens") == counter(b, "Tcp.ActiveOpens") &&
              counter(b, "Tcp.ActiveOpens") == 4,
          "Tcp.ActiveOpens");
    check(a.sockstat.tcp_inuse == b.sockstat.tcp_inuse, "sockstat");
    check(a.conntrack.count == b.conntrack.count, "conntrack count");
    check(a.conntrack_table.dumped == b.conntrack_table.dumped &&
              a.conntrack_table.entries == b.conntrack_table.entries &&
              a.conntrack_table.nat_rules_read == b.conntrack_table.nat_rules_read,
          "conntrack table");
    check(a.conntrack.stats_source == b.conntrack.stats_source, "conntrack stats source");
    check(live_missing == replay_missing,
          "missing: live\n" + joined(live_missing) + "replay\n" + joined(replay_missing));
    // Only we live in this namespace, in both views, and we own the listener.
    const int32_t me = ::getpid();
    check(b.processes.size() == 1 && b.processes[0].pid == me, "replayed processes");
    check(a.processes.size() == 1 && a.processes[0].pid == me, "live processes");
    check(a.listener_owner == b.listener_owner && b.listener_owner.size() == 2 &&
              b.listener_owner.begin()->second == me && b.listener_owner.rbegin()->second == me,
          "listener owner (TCP and unix)");
    // The unix listener, live from unix_diag and replayed from the transcript's unix section.
    auto unix_ok = [&](const Reading& r) {
      return r.unix_listeners && r.unix_listeners->size() == 1 &&
             (*r.unix_listeners)[0].path == "@cd-record-test" &&
             (*r.unix_listeners)[0].queue_len == 2 && (*r.unix_listeners)[0].queue_limit == 4 &&
             (*r.unix_listeners)[0].inode == unix_inode && !(*r.unix_listeners)[0].seqpacket &&
             r.listener_owner.count(unix_inode) == 1;
    };
    check(unix_ok(a), "live unix listener");
    check(unix_ok(b), "replayed unix listener");
    if (!b.processes.empty() && b.processes[0].sockets)
      check(b.processes[0].sockets->by_state[kEst] == 6 &&
                b.processes[0].sockets->by_state[kListen] == 1,
            "replayed attribution");
    else
      check(false, "no attribution in the replay");
    return f;
  });
  if (res.skipped) CD_SKIP() << "cannot create a network namespace here";
  EXPECT_EQ(res.failure, "");
}

}  // namespace
}  // namespace cd
