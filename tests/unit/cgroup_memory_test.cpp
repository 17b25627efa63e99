// Tests of the cgroup socket-memory collection (collect/cgroup_memory) on recorded cgroup trees
// (tests/fixtures/cgroup/README.md), and of the rule on what it collected.
#include "collect/cgroup_memory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "analyse/rules.h"
#include "snapshot_builder.h"
#include "temp_proc_tree.h"

namespace cd {
namespace {

const std::string kFixtures = std::string(CONNDOCTOR_FIXTURES) + "/cgroup/";
constexpr const char* kCid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const CgroupSockMemory* group(const CgroupMemory& m, std::string_view suffix) {
  for (const CgroupSockMemory& g : m.groups)
    if (std::string_view(g.path).ends_with(suffix)) return &g;
  return nullptr;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += l + "\n";
  return s;
}

// A copy of a fixture machine (proc/ and sys/) that a test may change between readings.
class TempMachine {
 public:
  explicit TempMachine(const std::string& name) {
    std::filesystem::copy(kFixtures + name, tree_.root(), std::filesystem::copy_options::recursive);
  }
  std::string proc() const { return tree_.path("proc"); }
  void write(const std::string& rel, const std::string& text) const { tree_.write(rel, text); }

 private:
  test::TempProcTree tree_;
};

TEST(CgroupMounts, ParsesV1MemoryAndCgroup2Only) {
  auto m = parse_cgroup_mounts(
      "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "35 30 0:32 / /sys/fs/cgroup/cpu\\040x rw shared:3 - cgroup cgroup rw,cpuacct,memory\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
      "22 1 0:21 / /sys rw - sysfs sysfs rw\n"
      "garbage\n");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].version, 1);
  EXPECT_EQ(m[0].root, "/docker/abc");
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m[1].mount_point, "/sys/fs/cgroup/cpu x");  // \040 unescaped
  EXPECT_EQ(m[2].version, 2);
}

TEST(CgroupMounts, ProcCgroupLines) {
  auto pc = parse_proc_cgroups("9:name=systemd:/\n4:memory:/a/b\n3:cpu,cpuacct:/a\n0::/c/d\n");
  EXPECT_EQ(pc.v1_memory, "/a/b");
  EXPECT_EQ(pc.v2, "/c/d");
  auto v2only = parse_proc_cgroups("0::/x.slice/y.scope\n");
  EXPECT_FALSE(v2only.v1_memory);
  EXPECT_EQ(v2only.v2, "/x.slice/y.scope");
}

TEST(CgroupMounts, DirectoryHonoursTheMountRoot) {
  CgroupMount whole{1, "/", "/sys/fs/cgroup/memory"};
  EXPECT_EQ(cgroup_dir(whole, "/a/b"), "/sys/fs/cgroup/memory/a/b");
  EXPECT_EQ(cgroup_dir(whole, "/"), "/sys/fs/cgroup/memory");
  CgroupMount part{1, "/docker/abc", "/sys/fs/cgroup/memory"};
  EXPECT_EQ(cgroup_dir(part, "/docker/abc/x"), "/sys/fs/cgroup/memory/x");
  EXPECT_EQ(cgroup_dir(part, "/docker/abc"), "/sys/fs/cgroup/memory");
  EXPECT_FALSE(cgroup_dir(part, "/docker/abcd"));  // a sibling, not below the root
  EXPECT_FALSE(cgroup_dir(part, "/other"));
}

TEST(CgroupMounts, FsRootIsTheProcRootsParent) {
  EXPECT_EQ(fs_root_of(ProcFs("/proc")), "/");
  EXPECT_EQ(fs_root_of(ProcFs("/host/proc")), "/host");
  EXPECT_EQ(fs_root_of(ProcFs("rec/proc/")), "rec");
}

TEST(CgroupMemoryV1, ReadsKmemTcpOfTheProcessesAndTheirAncestors) {
  ProcFs proc(kFixtures + "v1/proc");
  std::vector<std::string> missing;
  auto m = read_cgroup_memory(proc, {{100, 40}, {101, 2}, {200, 1}, {300, 1}, {1, 3}}, missing);
  ASSERT_TRUE(m.read);
  const CgroupSockMemory* c = group(m, kCid);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->version, 1);
  EXPECT_EQ(c->dir, "/sys/fs/cgroup/memory" + c->path);
  EXPECT_EQ(c->tcp_usage, 4190208);
  EXPECT_EQ(c->tcp_limit, 4194304);
  EXPECT_FALSE(c->tcp_limit_unlimited);
  EXPECT_EQ(c->tcp_max_usage, 4194304);
  EXPECT_EQ(c->tcp_failcnt, 1523);
  EXPECT_EQ(c->pids, (std::vector<int32_t>{100, 101}));
  EXPECT_EQ(c->sockets, 42u);
  // Ancestors are read (their limits apply below them); unlimited reads as unlimited, not a
  // number; the root "/" never.
  const CgroupSockMemory* qos = group(m, "/kubepods/burstable");
  ASSERT_NE(qos, nullptr);
  EXPECT_TRUE(qos->tcp_limit_unlimited);
  EXPECT_FALSE(qos->tcp_limit);
  for (const CgroupSockMemory& g : m.groups) EXPECT_NE(g.path, "/");
  const CgroupSockMemory* kubepods = group(m, "/kubepods");
  ASSERT_NE(kubepods, nullptr);
  EXPECT_EQ(kubepods->pid_count, 3u);  // 100, 101 and 200 are below it
  // The cgroup whose directory is gone: unknown figures and one line in `missing`.
  const CgroupSockMemory* gone = group(m, "/gone.service");
  ASSERT_NE(gone, nullptr);
  EXPECT_FALSE(gone->tcp_usage);
  EXPECT_FALSE(gone->tcp_limit);
  EXPECT_NE(gone->error, "");
  EXPECT_NE(joined(missing).find("socket memory of 1 memory cgroup unknown in part "
                                 "(/system.slice/gone.service: "),
            std::string::npos)
      << joined(missing);
}

TEST(CgroupMemoryV2, ReadsSockCurrentMaxAndEvents) {
  ProcFs proc(kFixtures + "v2/proc");
  std::vector<std::string> missing;
  auto m = read_cgroup_memory(proc, {{100, 300}, {200, 2}, {1, 1}}, missing);
  EXPECT_EQ(joined(missing), "");
  const CgroupSockMemory* c = group(m, std::string("cri-containerd-") + kCid + ".scope");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->version, 2);
  EXPECT_EQ(c->dir, "/sys/fs/cgroup" + c->path);
  EXPECT_EQ(c->sock, 188743680);
  EXPECT_EQ(c->current, 262144000);
  EXPECT_EQ(c->max, 268435456);
  EXPECT_TRUE(c->high_unlimited);
  EXPECT_EQ(c->events.at("max"), 37);
  EXPECT_EQ(c->events.at("oom_kill"), 0);
  const CgroupSockMemory* slice = group(m, "/kubepods.slice");
  ASSERT_NE(slice, nullptr);
  EXPECT_TRUE(slice->max_unlimited);
  // init.scope has no memory controller: not listed, not missing.
  EXPECT_EQ(group(m, "/init.scope"), nullptr);
}

TEST(CgroupMemory, BoundedAndSilentWithoutMountinfo) {
  // A recording made before cgroups were recorded: nothing read, nothing missing.
  ProcFs old(std::string(CONNDOCTOR_FIXTURES) + "/proc/host_6_18");
  std::vector<std::string> missing;
  auto none = read_cgroup_memory(old, {{100, 1}}, missing);
  EXPECT_FALSE(none.read);
  EXPECT_TRUE(missing.empty());

  // A mount namespace without cgroup hierarchies (ip netns exec mounts a fresh /sys): said once
  // when there were processes to read, never a number.
  {
    test::TempProcTree bare;
    bare.write("proc/self/mountinfo", "22 1 0:21 / /sys rw - sysfs sysfs rw\n");
    bare.write("proc/100/cgroup", "4:memory:/a\n0::/\n");
    ProcFs p(bare.path("proc"));
    std::vector<std::string> said;
    auto m = read_cgroup_memory(p, {{100, 1}}, said);
    EXPECT_TRUE(m.groups.empty());
    EXPECT_NE(joined(said).find("no cgroup v1 memory or cgroup2 hierarchy is mounted"),
              std::string::npos)
        << joined(said);
    said.clear();
    read_cgroup_memory(p, {}, said);
    EXPECT_TRUE(said.empty()) << joined(said);
  }

  // More cgroups than kMaxCgroups: the rest are counted, not read.
  test::TempProcTree tree;
  tree.write("proc/self/mountinfo",
             "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  std::vector<std::pair<int32_t, uint64_t>> owners;
  for (int i = 1; i <= int(kMaxCgroups) + 10; ++i) {
    tree.write("proc/" + std::to_string(i) + "/cgroup",
               "4:memory:/g" + std::to_string(1000 + i) + "\n");
    tree.write(
        "sys/fs/cgroup/memory/g" + std::to_string(1000 + i) + "/memory.kmem.tcp.usage_in_bytes",
        "0\n");
    owners.emplace_back(i, 1);
  }
  ProcFs proc(tree.path("proc"));
  auto m = read_cgroup_memory(proc, owners, missing);
  EXPECT_EQ(m.groups.size(), kMaxCgroups);
  EXPECT_EQ(m.not_read, 10u);
  EXPECT_NE(joined(missing).find("socket memory of 10 memory cgroups not read (at most 256)"),
            std::string::npos)
      << joined(missing);
}

// Collection then the rule, over two readings of a changing tree.
Snapshot two_readings(TempMachine& machine, const std::vector<std::pair<int32_t, uint64_t>>& who,
                      const std::function<void()>& between) {
  ProcFs proc(machine.proc());
  std::vector<std::string> missing;
  Snapshot snap;
  snap.first.taken_at_s = 100;
  snap.first.cgroup_memory = read_cgroup_memory(proc, who, missing);
  between();
  Reading second;
  second.taken_at_s = 102;
  second.cgroup_memory = read_cgroup_memory(proc, who, missing);
  snap.second = std::move(second);
  return snap;
}

std::vector<Finding> run(const Snapshot& snap) {
  PortAnalysis ports;
  std::vector<Finding> out;
  rule_tcp_memory_cgroup(RuleInput{snap, ports}, out);
  return out;
}

TEST(CgroupMemoryV1, FailcntRisingIsCriticalOnTheLimitedCgroupOnly) {
  TempMachine m("v1");
  const std::string d =
      "sys/fs/cgroup/memory/kubepods/burstable/pod8d3c8b4e-1d6f-4a5b-9c3e-2f1a0b9c8d7e/" +
      std::string(kCid);
  // Below the limit, failcnt still rising: the refused charges make it critical.
  m.write(d + "/memory.kmem.tcp.usage_in_bytes", "3145728\n");
  auto snap = two_readings(m, {{100, 40}, {200, 1}},
                           [&] { m.write(d + "/memory.kmem.tcp.failcnt", "1600\n"); });
  auto f = run(snap);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "tcp_memory.cgroup");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["failcnt_rise"], 77);
  EXPECT_EQ(f[0].evidence["cgroup_version"], 1);
  EXPECT_EQ(f[0].evidence["tcp_limit_bytes"], 4194304);
  EXPECT_EQ(f[0].evidence["pids"], Evidence::array({100}));
  EXPECT_NE(f[0].title.find("77 socket allocations refused"), std::string::npos) << f[0].title;
  // The plan raises the kmem.tcp limit of that very directory.
  ASSERT_EQ(f[0].remediation.size(), 2u);
  EXPECT_EQ(f[0].remediation[1].commands[1],
            "echo 8388608 > /" + d + "/memory.kmem.tcp.limit_in_bytes");

  // Failcnt flat and 75 % used: no finding.
  auto calm = two_readings(m, {{100, 40}}, [] {});
  EXPECT_TRUE(run(calm).empty());
}

TEST(CgroupMemoryV1, NearTheLimitWarnsAtTheLimitIsCritical) {
  TempMachine m("v1");
  const std::string d =
      "sys/fs/cgroup/memory/kubepods/burstable/pod8d3c8b4e-1d6f-4a5b-9c3e-2f1a0b9c8d7e/" +
      std::string(kCid);
  m.write(d + "/memory.kmem.tcp.usage_in_bytes", "3800000\n");  // 90.6 %
  auto near = two_readings(m, {{100, 4}}, [] {});
  auto w = run(near);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].severity, Severity::kWarning);
  m.write(d + "/memory.kmem.tcp.usage_in_bytes", "4194304\n");
  auto at = two_readings(m, {{100, 4}}, [] {});
  auto c = run(at);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].severity, Severity::kCritical);
}

// Recent kernels never count memory.kmem.tcp.failcnt (the tcpmem page counter does not track
// failures): near the limit, the namespace's receive-queue drops are what says charges fail.
TEST(CgroupMemoryV1, ReceiveDropsNearTheLimitAreCriticalWithFailcntFlat) {
  TempMachine m("v1");
  const std::string d =
      "sys/fs/cgroup/memory/kubepods/burstable/pod8d3c8b4e-1d6f-4a5b-9c3e-2f1a0b9c8d7e/" +
      std::string(kCid);
  m.write(d + "/memory.kmem.tcp.usage_in_bytes", "3900000\n");  // 93 %, 288 KiB below
  m.write(d + "/memory.kmem.tcp.failcnt", "0\n");
  auto snap = two_readings(m, {{100, 40}}, [] {});
  snap.first.counters["TcpExt.TCPRcvQDrop"] = 100;
  snap.second->counters["TcpExt.TCPRcvQDrop"] = 100;
  auto flat = run(snap);
  ASSERT_EQ(flat.size(), 1u);
  EXPECT_EQ(flat[0].severity, Severity::kWarning);
  EXPECT_EQ(flat[0].evidence["rcvq_drop_per_s"], 0.0);
  snap.second->counters["TcpExt.TCPRcvQDrop"] = 160;
  auto dropping = run(snap);
  ASSERT_EQ(dropping.size(), 1u);
  EXPECT_EQ(dropping[0].severity, Severity::kCritical);
  EXPECT_EQ(dropping[0].evidence["failcnt_rise"], 0);
  EXPECT_EQ(dropping[0].evidence["rcvq_drop_per_s"], 30.0);
  EXPECT_NE(dropping[0].title.find("received data dropped"), std::string::npos)
      << dropping[0].title;
}

TEST(CgroupMemoryV2, MaxEventsRisingWithSocketsHoldingTheMemoryIsCritical) {
  TempMachine m("v2");
  const std::string d =
      "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod8d3c8b4e_1d6f_4a5b_9c3e_2f1a0b9c8d7e.slice/cri-containerd-" +
      std::string(kCid) + ".scope";
  auto snap = two_readings(m, {{100, 300}, {200, 2}}, [&] {
    m.write(d + "/memory.events", "low 0\nhigh 0\nmax 52\noom 0\noom_kill 0\noom_group_kill 0\n");
  });
  auto f = run(snap);
  ASSERT_EQ(f.size(), 1u) << "sshd is near its limit, but not through sockets";
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["cgroup_version"], 2);
  EXPECT_EQ(f[0].evidence["events_max_rise"], 15);
  EXPECT_EQ(f[0].evidence["sock_bytes"], 188743680);
  EXPECT_EQ(f[0].evidence["memory_max_bytes"], 268435456);
  EXPECT_EQ(f[0].evidence["sock_share"], 0.72);
  EXPECT_TRUE(f[0].evidence["memory_high_bytes"].is_null());
  EXPECT_NE(f[0].remediation[1].commands.back().find("/memory.max"), std::string::npos);

  // The same cgroup, sockets a sliver of its memory: not a socket-memory finding.
  m.write(d + "/memory.stat", "anon 250000000\nsock 4096\n");
  EXPECT_TRUE(run(two_readings(m, {{100, 300}}, [] {})).empty());
}

TEST(CgroupMemoryV2, OneReadingNearTheLimitWarnsWithRateUnknown) {
  ProcFs proc(kFixtures + "v2/proc");
  std::vector<std::string> missing;
  Snapshot snap;
  snap.first.cgroup_memory = read_cgroup_memory(proc, {{100, 300}}, missing);
  auto f = run(snap);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_TRUE(f[0].evidence["events_max_rise"].is_null());
  EXPECT_EQ(f[0].evidence["rate_note"], "rate unknown (one reading)");
}

}  // namespace
}  // namespace cd
