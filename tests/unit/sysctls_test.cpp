// Tests of read_sysctls on fixture proc trees: every field, kernels with fewer files, conntrack
// not loaded, namespaces without host-wide sysctls, unreadable and malformed files.
#include "collect/sysctls.h"

#include <gtest/gtest.h>

#include "no_skip.h"

#include <algorithm>
#include <filesystem>

#include "temp_proc_tree.h"

namespace cd {
namespace {

using test::fixture_proc;
using test::TempProcTree;

bool has_line(const std::vector<std::string>& v, const std::string& line) {
  return std::find(v.begin(), v.end(), line) != v.end();
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += l + "\n";
  return s;
}

TEST(Sysctls, Kernel618FixtureReadsEveryField) {
  std::vector<std::string> missing;
  Sysctls s = read_sysctls(ProcFs(fixture_proc("host_6_18")), missing).value();
  EXPECT_TRUE(missing.empty()) << joined(missing);
  EXPECT_EQ(s.ip_local_port_range, (PortRange{32768, 60999}));
  ASSERT_TRUE(s.ip_local_reserved_ports);
  EXPECT_TRUE(s.ip_local_reserved_ports->empty());  // known: nothing reserved
  EXPECT_EQ(s.tcp_tw_reuse, 2);
  EXPECT_EQ(s.tcp_tw_reuse_delay_ms, 1000);
  EXPECT_EQ(s.tcp_timestamps, 1);
  EXPECT_EQ(s.tcp_max_tw_buckets, 131072);
  EXPECT_EQ(s.tcp_fin_timeout, 60);
  EXPECT_EQ(s.somaxconn, 4096);
  EXPECT_EQ(s.tcp_max_syn_backlog, 2048);
  EXPECT_EQ(s.tcp_max_orphans, 131072);
  EXPECT_EQ(s.tcp_mem, (std::array<int64_t, 3>{287898, 383867, 575796}));
  EXPECT_EQ(s.tcp_syncookies, 1);
  EXPECT_EQ(s.file_max, 2466170);
  EXPECT_EQ(s.nr_open, 1048576);
  EXPECT_EQ(s.nf_conntrack_count, 40);
  EXPECT_EQ(s.nf_conntrack_max, 262144);
  EXPECT_EQ(s.nf_conntrack_buckets, 262144);
  EXPECT_EQ(s.conntrack_timeouts.at("tcp_timeout_established"), 432000);
  EXPECT_EQ(s.conntrack_timeouts.at("tcp_timeout_time_wait"), 120);
  EXPECT_EQ(s.conntrack_timeouts.at("tcp_timeout_close_wait"), 60);
  EXPECT_EQ(s.conntrack_timeouts.at("udp_timeout"), 30);
  EXPECT_EQ(s.conntrack_timeouts.at("udp_timeout_stream"), 120);
  EXPECT_EQ(s.conntrack_timeouts.at("generic_timeout"), 600);
  // Only *timeout* files: not nf_conntrack_acct, tcp_loose, count, max.
  EXPECT_FALSE(s.conntrack_timeouts.contains("acct"));
  EXPECT_FALSE(s.conntrack_timeouts.contains("tcp_loose"));
  EXPECT_FALSE(s.conntrack_timeouts.contains("max"));
  EXPECT_EQ(s.conntrack_timeouts.size(), 26u);
}

TEST(Sysctls, OlderKernelWithoutTwReuseDelayIsSilentlyUnknown) {
  std::vector<std::string> missing;
  Sysctls s = read_sysctls(ProcFs(fixture_proc("old_kernel_4_19")), missing).value();
  EXPECT_TRUE(missing.empty()) << joined(missing);
  EXPECT_FALSE(s.tcp_tw_reuse_delay_ms);
  EXPECT_EQ(s.ip_local_port_range, (PortRange{1024, 65000}));
  ASSERT_TRUE(s.ip_local_reserved_ports);
  EXPECT_EQ(*s.ip_local_reserved_ports,
            (std::vector<PortRange>{PortRange{8080, 8080}, PortRange{9000, 9010}}));
  EXPECT_EQ(s.somaxconn, 128);
  EXPECT_EQ(s.conntrack_timeouts.size(), 6u);
}

TEST(Sysctls, ExpectedFileAbsentIsMissingWithWhy) {
  TempProcTree t("host_6_18");
  t.remove("sys/net/ipv4/tcp_tw_reuse");
  std::vector<std::string> missing;
  Sysctls s = read_sysctls(ProcFs(t.root()), missing).value();
  EXPECT_FALSE(s.tcp_tw_reuse);
  EXPECT_EQ(missing, std::vector<std::string>{"net.ipv4.tcp_tw_reuse: No such file or directory"});
}

TEST(Sysctls, ConntrackNotLoaded) {
  TempProcTree t("host_6_18");
  t.remove("sys/net/netfilter");
  std::vector<std::string> missing;
  Sysctls s = read_sysctls(ProcFs(t.root()), missing).value();
  EXPECT_EQ(missing, std::vector<std::string>{"conntrack: nf_conntrack not loaded (no " + t.root() +
                                              "/sys/net/netfilter/nf_conntrack_count)"});
  EXPECT_FALSE(s.nf_conntrack_count);
  EXPECT_FALSE(s.nf_conntrack_max);
  EXPECT_FALSE(s.nf_conntrack_buckets);
  EXPECT_TRUE(s.conntrack_timeouts.empty());
  EXPECT_TRUE(s.tcp_tw_reuse);  // the rest is still read
}

TEST(Sysctls, HostWideSysctlsAbsentInsideANetworkNamespace) {
  // Checked on 6.18: in a netns made by `unshare -n`, /proc/sys/net/ipv4/tcp_mem and
  // tcp_max_orphans do not exist (they are registered for the initial netns only).
  TempProcTree t("host_6_18");
  t.remove("sys/net/ipv4/tcp_mem");
  t.remove("sys/net/ipv4/tcp_max_orphans");
  std::vector<std::string> missing;
  Sysctls s = read_sysctls(ProcFs(t.root()), missing).value();
  EXPECT_FALSE(s.tcp_mem);
  EXPECT_FALSE(s.tcp_max_orphans);
  const std::string why =
      ": not visible in this network namespace (host-wide, shown only in the initial one)";
  EXPECT_TRUE(has_line(missing, "net.ipv4.tcp_mem" + why)) << joined(missing);
  EXPECT_TRUE(has_line(missing, "net.ipv4.tcp_max_orphans" + why)) << joined(missing);
  EXPECT_EQ(missing.size(), 2u);
}

// A sysctl that reads but does not parse is bad input: the reading fails with one line that
// names the file, rather than a diagnosis made on half the settings.
TEST(Sysctls, MalformedFilesAreBadInputNamingTheSysctl) {
  std::vector<std::string> missing;
  auto s = read_sysctls(ProcFs(fixture_proc("malformed")), missing);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            fixture_proc("malformed") + "/sys/net/ipv4/tcp_tw_reuse: not an integer ('abc')");
  struct Case {
    const char* rel;
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"sys/net/ipv4/ip_local_port_range", "60999 32768\n",
                "net.ipv4.ip_local_port_range: low port above high port in '60999 32768'"},
           Case{"sys/net/ipv4/ip_local_reserved_ports", "8080,9000-\n",
                "net.ipv4.ip_local_reserved_ports: bad port or range '9000-'"},
           Case{"sys/net/ipv4/tcp_mem", "1 2\n",
                "net.ipv4.tcp_mem: expected 3 page counts (min pressure max)"},
       }) {
    TempProcTree t("host_6_18");
    t.write(c.rel, c.text);
    std::vector<std::string> m;
    auto r = read_sysctls(ProcFs(t.root()), m);
    ASSERT_FALSE(r) << c.rel;
    EXPECT_EQ(r.error().message, c.message);
  }
}

TEST(Sysctls, UnreadableFileIsMissingWithErrnoText) {
  TempProcTree t("host_6_18");
  t.chmod("sys/net/ipv4/tcp_tw_reuse", 0600);  // root-owned: nobody cannot read it
  auto r = test::run_in_child([&]() -> std::string {
    if (!test::become_nobody()) return "SKIP";
    std::vector<std::string> missing;
    Sysctls s = read_sysctls(ProcFs(t.root()), missing).value();
    if (s.tcp_tw_reuse) return "tcp_tw_reuse read despite mode 0600";
    if (missing != std::vector<std::string>{"net.ipv4.tcp_tw_reuse: Permission denied"})
      return "missing was: " + joined(missing);
    return "";
  });
  if (r.skipped) CD_SKIP() << "cannot switch to uid 65534 here";
  EXPECT_EQ(r.failure, "");
}

TEST(Sysctls, LiveProcIsReadable) {
  std::vector<std::string> missing;
  Sysctls s = read_sysctls(ProcFs("/proc"), missing).value();
  ASSERT_TRUE(s.ip_local_port_range) << joined(missing);
  EXPECT_LE(s.ip_local_port_range->lo, s.ip_local_port_range->hi);
  ASSERT_TRUE(s.tcp_tw_reuse);
  EXPECT_GE(*s.tcp_tw_reuse, 0);
  EXPECT_LE(*s.tcp_tw_reuse, 2);
  EXPECT_TRUE(s.file_max);
  EXPECT_TRUE(s.somaxconn);
}

TEST(Sysctls, FileListCoversEveryFixtureSysctl) {
  // record copies sysctl_files(): it must name every file read_sysctls reads and no other.
  ProcFs proc(fixture_proc("host_6_18"));
  std::vector<std::string> listed = sysctl_files(proc);
  std::sort(listed.begin(), listed.end());
  std::vector<std::string> on_disk;
  namespace fs = std::filesystem;
  for (const auto& e : fs::recursive_directory_iterator(proc.path("sys"))) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), proc.root()).string();
    if (rel == "sys/fs/file-nr" || rel.ends_with("nf_conntrack_acct") ||
        rel.ends_with("nf_conntrack_tcp_loose"))
      continue;  // file-nr is a collector file, the others are not ours
    on_disk.push_back(rel);
  }
  std::sort(on_disk.begin(), on_disk.end());
  EXPECT_EQ(listed, on_disk);
}

}  // namespace
}  // namespace cd
