// Tests of the plan-step library: port lists, the widened range, the tcp_tw_reuse variants.
#include "analyse/remediation.h"

#include <gtest/gtest.h>

#include "snapshot_builder.h"

namespace cd {
namespace {

using test::ep;
using test::SnapshotBuilder;

bool has(const std::vector<std::string>& v, const std::string& s) {
  for (const std::string& x : v)
    if (x == s) return true;
  return false;
}

TEST(Remediation, PortListsMergeAndFormatLikeTheSysctl) {
  EXPECT_EQ(format_port_list(merge_ports({{9000, 9010}}, {8080, 9011, 9005, 8080})),
            "8080,9000-9011");
  EXPECT_EQ(format_port_list(merge_ports({}, {})), "");
  EXPECT_EQ(format_port_list(merge_ports({{1, 5}, {3, 9}}, {})), "1-9");
  EXPECT_EQ(format_port_list(merge_ports({{65535, 65535}}, {65534})), "65534-65535");
}

TEST(Remediation, ClientReuseNamesTheDetectedRuntimeFirstAndEachOnce) {
  const RemediationStep plain = step_client_reuse();
  ASSERT_EQ(plain.commands.size(), 4u);  // Go, Java, Python, Node.js
  EXPECT_EQ(plain.commands[0].rfind("Go: ", 0), 0u);
  EXPECT_EQ(plain.commands[3].rfind("Node.js: ", 0), 0u);
  EXPECT_EQ(plain.action.find("the client runs"), std::string::npos);

  const RuntimeInfo node{"nodejs", "", "executable /usr/bin/node"};
  const RemediationStep n = step_client_reuse({.runtime = &node});
  ASSERT_EQ(n.commands.size(), 4u);
  EXPECT_EQ(n.commands[0].rfind("Node.js: ", 0), 0u);
  EXPECT_EQ(n.commands[1].rfind("Go: ", 0), 0u);
  EXPECT_NE(n.action.find("(the client runs Node.js: its setting comes first)"), std::string::npos);

  // A proxy is named only when it is the client.
  const RuntimeInfo nginx{"nginx", "", "comm nginx"};
  const RemediationStep x = step_client_reuse({.runtime = &nginx, .port = 6379});
  ASSERT_EQ(x.commands.size(), 6u);
  EXPECT_EQ(x.commands[0].rfind("Redis (port 6379)", 0), 0u);
  EXPECT_NE(x.commands[1].find("proxy_http_version 1.1"), std::string::npos);
  EXPECT_NE(x.commands[1].find("keepalive 32"), std::string::npos);

  const RuntimeInfo unknown{"cobol", "", "?"};
  EXPECT_EQ(step_client_reuse({.runtime = &unknown, .port = 80}).commands, plain.commands);
}

TEST(Remediation, PersistIsOneFilePerKey) {
  EXPECT_EQ(persist_sysctl("net.ipv4.tcp_tw_reuse", "1"),
            "echo 'net.ipv4.tcp_tw_reuse = 1' > /etc/sysctl.d/90-net.ipv4.tcp_tw_reuse.conf");
}

TEST(Remediation, WidenRangeReservesTheListeningPortsItWouldCoverFirst) {
  SnapshotBuilder b;
  b.reserved({{30000, 30000}});
  b.listener(ep("0.0.0.0", 22));     // below 10000: not covered
  b.listener(ep("0.0.0.0", 11211));  // covered by 10000-65535
  b.listener(ep("0.0.0.0", 61000));
  RemediationStep s = step_widen_port_range(b.now());
  EXPECT_EQ(s.priority, 'B');
  ASSERT_GE(s.commands.size(), 3u);
  EXPECT_EQ(
      s.commands[0].rfind("sysctl -w net.ipv4.ip_local_reserved_ports=\"11211,30000,61000\"", 0),
      0u)
      << s.commands[0];
  EXPECT_TRUE(has(s.commands, "sysctl -w net.ipv4.ip_local_port_range=\"10000 65535\""));
  EXPECT_NE(s.risk.find("32768"), std::string::npos);
}

TEST(Remediation, WidenRangeWhenAlreadyWideHasNothingToRun) {
  SnapshotBuilder b;
  b.port_range(1024, 65535);
  RemediationStep s = step_widen_port_range(b.now());
  EXPECT_TRUE(s.commands.empty());
  EXPECT_NE(s.action.find("already wide"), std::string::npos);
}

TEST(Remediation, TwReuseVariants) {
  Sysctls s;
  s.tcp_timestamps = 1;
  s.tcp_tw_reuse = 2;
  RemediationStep remote = step_tw_reuse(s, false);
  EXPECT_EQ(remote.priority, 'C');
  EXPECT_TRUE(has(remote.commands, "sysctl -w net.ipv4.tcp_tw_reuse=1"));
  // No tcp_tw_recycle-era lore: without timestamps reuse is refused; the risk is LAST_ACK.
  EXPECT_EQ(remote.risk.find("PAWS"), std::string::npos) << remote.risk;
  EXPECT_NE(remote.risk.find("LAST_ACK"), std::string::npos) << remote.risk;
  EXPECT_NE(remote.risk.find("does not reuse"), std::string::npos) << remote.risk;
  EXPECT_NE(remote.action.find("never to server-side TIME_WAIT"), std::string::npos);

  RemediationStep loop = step_tw_reuse(s, true);
  EXPECT_TRUE(loop.commands.empty());
  EXPECT_NE(loop.action.find("already in effect"), std::string::npos);

  s.tcp_tw_reuse = 1;
  EXPECT_TRUE(step_tw_reuse(s, false).commands.empty());

  s.tcp_tw_reuse = 0;
  s.tcp_timestamps = 0;
  RemediationStep no_ts = step_tw_reuse(s, false);
  EXPECT_EQ(no_ts.commands.front().rfind("sysctl -w net.ipv4.tcp_timestamps=1", 0), 0u);
  EXPECT_TRUE(has(no_ts.commands, "sysctl -w net.ipv4.tcp_tw_reuse=1"));

  s.tcp_tw_reuse = 2;  // loopback already covered, but reuse needs timestamps
  RemediationStep loop_no_ts = step_tw_reuse(s, true);
  EXPECT_FALSE(has(loop_no_ts.commands, "sysctl -w net.ipv4.tcp_tw_reuse=1"));
  EXPECT_EQ(loop_no_ts.commands.front().rfind("sysctl -w net.ipv4.tcp_timestamps=1", 0), 0u);
}

TEST(Remediation, RaisingNeverLowers) {
  Sysctls s;
  s.tcp_max_tw_buckets = 262144;
  s.tcp_max_orphans = 131072;
  RemediationStep tw = step_raise_tw_buckets(s, 200000);
  EXPECT_EQ(tw.commands[0], "sysctl -w net.ipv4.tcp_max_tw_buckets=524288");

  ProcessInfo p;
  p.pid = 5;
  p.comm = "x";
  p.fd_soft_limit = 200000;
  p.fd_hard_limit = 200000;
  RemediationStep fd = step_raise_fd_limit(p, 1048576);
  EXPECT_EQ(fd.commands[0].rfind("prlimit --pid 5 --nofile=400000:400000", 0), 0u)
      << fd.commands[0];
  // Capped by fs.nr_open.
  RemediationStep capped = step_raise_fd_limit(p, 300000);
  EXPECT_EQ(capped.commands[0].rfind("prlimit --pid 5 --nofile=300000:300000", 0), 0u)
      << capped.commands[0];
}

TEST(Remediation, ClientReuseHasConcreteSettingsForGoJavaPythonNode) {
  RemediationStep a = step_client_reuse();
  ASSERT_EQ(a.commands.size(), 4u);
  EXPECT_NE(a.commands[0].find("MaxIdleConnsPerHost"), std::string::npos);
  EXPECT_NE(a.commands[0].find("IdleConnTimeout: 90 * time.Second"), std::string::npos);
  EXPECT_NE(a.commands[1].find("PoolingHttpClientConnectionManager"), std::string::npos);
  EXPECT_NE(a.commands[1].find("ConnectionPool"), std::string::npos);
  EXPECT_NE(a.commands[2].find("requests.Session()"), std::string::npos);
  EXPECT_NE(a.commands[2].find("httpx.Limits"), std::string::npos);
  EXPECT_NE(a.commands[3].find("keepAlive: true"), std::string::npos);
}

}  // namespace
}  // namespace cd
