// The fd scan runs beside the socket dump (CollectOptions::concurrent_fd_scan) or after it:
// the JSON report must be the same byte for byte. Inputs: a recorded sock_diag dump
// (tests/fixtures/dumps), a fixture /proc tree whose processes' fd links name that dump's
// socket inodes, and a hand-built FdTable standing in for the BPF fd scan.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <vector>

#include "analyse/analysis.h"
#include "collect/collector.h"
#include "fake_clock.h"
#include "fake_fd_table_source.h"
#include "render/report.h"
#include "temp_proc_tree.h"
#include "util/clock.h"

namespace cd {
namespace {

const std::string kDump = std::string(CONNDOCTOR_FIXTURES) + "/dumps/close_wait_leak.nldump";

struct Collect : SockSink {
  std::vector<SockRecord> records;
  void on_socket(const SockRecord& s) override { records.push_back(s); }
};

// The dump's live TCP sockets (those with an inode), as the recording holds them.
std::vector<SockRecord> live_sockets() {
  auto src = open_recorded_sock_source(kDump);
  EXPECT_TRUE(src) << src.error().message;
  Collect c;
  if (!src) return {};
  for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)})
    EXPECT_TRUE((*src)->dump(DumpRequest{family, IPPROTO_TCP, ~0u}, c));
  std::erase_if(c.records, [](const SockRecord& s) { return s.inode == 0; });
  return c.records;
}

void add_process(const test::TempProcTree& t, int pid, const std::string& comm,
                 const std::vector<uint32_t>& inodes, const std::string& netns) {
  const std::string dir = std::to_string(pid) + "/";
  t.write(dir + "comm", comm + "\n");
  t.write(dir + "limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max open files            1024                 4096                 files     \n");
  t.link(dir + "ns/net", netns);
  t.link(dir + "fd/0", "/dev/null");
  int fd = 3;
  for (uint32_t inode : inodes)
    t.link(dir + "fd/" + std::to_string(fd++), "socket:[" + std::to_string(inode) + "]");
  t.link(dir + "fd/" + std::to_string(fd), "pipe:[31337]");
}

// host_6_18 plus a server (2001: the listener and every socket on :8080) and a client (2002:
// the other live sockets, and a unix socket not in the dump) in our namespace, and a process
// of another namespace (2003) holding the same inodes.
struct Fixture {
  test::TempProcTree tree{"host_6_18"};
  std::vector<uint32_t> server, client;
  FdTable table;

  Fixture() {
    for (const SockRecord& s : live_sockets())
      (s.local.port == 8080 ? server : client).push_back(s.inode);
    client.push_back(999999);  // a unix socket: in no dump
    const std::string ours = "net:[4026532301]";
    add_process(tree, 2001, "cw-server", server, ours);
    add_process(tree, 2002, "cw-client", client, ours);
    add_process(tree, 2003, "elsewhere", server, "net:[4026532999]");

    // The BPF fd scan's view: it lists the server (with other fd counts than /proc, so the
    // report shows which source was used), the other namespace's process and a process
    // that has exited since; the client is left to its /proc/PID/fd links.
    table.by_pid[2001] = FdTable::Process{.open_fds = 70, .socket_inodes = server};
    table.by_pid[2003] = FdTable::Process{.open_fds = 3, .socket_inodes = server};
    table.by_pid[31999] = FdTable::Process{.open_fds = 9, .socket_inodes = {client.front()}};
  }

  // sockstat's "TCP: inuse" picks the fd scan of --fd-scan auto before the dump.
  void set_tcp_inuse(int n) const {
    tree.write("net/sockstat", "sockets: used 0\nTCP: inuse " + std::to_string(n) +
                                   " orphan 50 tw 0 alloc 16 mem 7\nUDP: inuse 0 mem 0\n");
  }
};

struct Collected {
  std::string json;
  Snapshot snap;
  int table_reads = 0;
};

Collected run(const Fixture& fx, FdScan scan, bool concurrent) {
  ProcFs proc(fx.tree.root());
  auto socks = open_recorded_sock_source(kDump);
  EXPECT_TRUE(socks);
  FakeClock clock;
  test::FakeFdTableSource fds(fx.table);
  Sources src{proc, **socks, clock, nullptr, &fds};
  const CollectOptions opt{.interval_s = 0, .fd_scan = scan, .concurrent_fd_scan = concurrent};
  auto snap = collect_snapshot(src, opt);
  EXPECT_TRUE(snap) << snap.error().message;
  if (!snap) return {};
  Analysis a = analyse(*snap);
  return Collected{report_json(*snap, a).dump(2), std::move(*snap), fds.reads};
}

const ProcessInfo* find_pid(const Snapshot& s, int32_t pid) {
  auto it = std::find_if(s.first.processes.begin(), s.first.processes.end(),
                         [pid](const ProcessInfo& p) { return p.pid == pid; });
  return it == s.first.processes.end() ? nullptr : &*it;
}

TEST(FdScanConcurrency, ProcfsReportIsTheSameSerialOrBesideTheDump) {
  Fixture fx;
  ASSERT_GT(fx.server.size(), 50u);  // listener + 50 CLOSE_WAIT + server ends
  Collected serial = run(fx, FdScan::kProcfs, false);
  Collected beside = run(fx, FdScan::kProcfs, true);
  EXPECT_EQ(serial.json, beside.json);
  EXPECT_EQ(beside.table_reads, 0);
  EXPECT_EQ(beside.snap.first.fd_scan, "procfs");
  // The join did happen: the server owns the listener and the CLOSE_WAIT leak.
  const ProcessInfo* server = find_pid(beside.snap, 2001);
  ASSERT_TRUE(server && server->sockets);
  EXPECT_EQ(server->sockets->close_wait, 50u);
  EXPECT_EQ(server->open_fds, fx.server.size() + 2);
  EXPECT_FALSE(find_pid(beside.snap, 2003));
  EXPECT_NE(beside.json.find("cw-server"), std::string::npos);
}

TEST(FdScanConcurrency, BpfTableReportIsTheSameSerialOrBesideTheDump) {
  Fixture fx;
  Collected serial = run(fx, FdScan::kBpf, false);
  Collected beside = run(fx, FdScan::kBpf, true);
  EXPECT_EQ(serial.json, beside.json);
  EXPECT_EQ(beside.table_reads, 1);
  EXPECT_EQ(beside.snap.first.fd_scan, "bpf");
  const ProcessInfo* server = find_pid(beside.snap, 2001);
  ASSERT_TRUE(server && server->sockets);
  EXPECT_EQ(server->open_fds, 70u);  // from the table, not its /proc/PID/fd
  EXPECT_EQ(server->sockets->close_wait, 50u);
  const ProcessInfo* client = find_pid(beside.snap, 2002);  // not listed: its links were read
  ASSERT_TRUE(client && client->sockets);
  EXPECT_EQ(client->open_fds, fx.client.size() + 2);
  EXPECT_FALSE(find_pid(beside.snap, 31999));
}

// --fd-scan auto decides from sockstat before the dump: the table at >= kBpfMinSockets.
TEST(FdScanConcurrency, AutoReportIsTheSameSerialOrBesideTheDump) {
  Fixture fx;
  for (int inuse : {3, int(kBpfMinSockets)}) {
    fx.set_tcp_inuse(inuse);
    Collected serial = run(fx, FdScan::kAuto, false);
    Collected beside = run(fx, FdScan::kAuto, true);
    EXPECT_EQ(serial.json, beside.json) << "TCP inuse " << inuse;
    const bool big = inuse >= int(kBpfMinSockets);
    EXPECT_EQ(beside.snap.first.fd_scan, big ? "bpf" : "procfs");
    EXPECT_EQ(serial.table_reads, big ? 1 : 0);
    EXPECT_EQ(beside.table_reads, big ? 1 : 0);
  }
}

// Without attribution the fd counts are read beside the dump all the same.
TEST(FdScanConcurrency, FdCountsWithoutAttributionAreTheSame) {
  Fixture fx;
  auto once = [&](bool concurrent) {
    ProcFs proc(fx.tree.root());
    auto socks = open_recorded_sock_source(kDump);
    EXPECT_TRUE(socks);
    FakeClock clock;
    auto snap = collect_snapshot(
        Sources{proc, **socks, clock},
        CollectOptions{.interval_s = 0, .attribution = false, .concurrent_fd_scan = concurrent});
    EXPECT_TRUE(snap);
    return snap ? report_json(*snap, analyse(*snap)).dump(2) : std::string();
  };
  const std::string serial = once(false);
  EXPECT_EQ(serial, once(true));
  EXPECT_NE(serial.find("cw-client"), std::string::npos);
}

}  // namespace
}  // namespace cd
