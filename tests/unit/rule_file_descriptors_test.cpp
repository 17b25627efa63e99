// Tests of the file_descriptors rule: each process against its own soft limit, the system
// against file-max, never one against the other.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::findings_with_id;
using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;

TEST(FileDescriptors, ProcessAtItsOwnLimitWhileFileMaxIsFarAway) {
  SnapshotBuilder b;  // file-max huge, 2,000 files allocated
  b.process(1234, "api-server", 1024, 1024, 524288);
  b.process(99, "sshd", 12, 1024);
  auto f = run_rule(rule_file_descriptors, b.build());
  ASSERT_EQ(f.size(), 1u);  // and no system finding
  EXPECT_EQ(f[0].id, "file_descriptors.process");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["pid"], 1234);
  EXPECT_EQ(f[0].evidence["comm"], "api-server");
  EXPECT_EQ(f[0].evidence["open"], 1024);
  EXPECT_EQ(f[0].evidence["soft_limit"], 1024);
  EXPECT_NE(f[0].title.find("pid 1234 (api-server)"), std::string::npos);
  EXPECT_NE(f[0].title.find("EMFILE"), std::string::npos);
  EXPECT_EQ(priorities(f[0]), "AB");
  // The raise is of the process's own limit, live and persistent.
  const auto& cmds = f[0].remediation[1].commands;
  ASSERT_FALSE(cmds.empty());
  EXPECT_EQ(cmds[0].rfind("prlimit --pid 1234 --nofile=65536:", 0), 0u) << cmds[0];
  EXPECT_TRUE(findings_with_id(f, "file_descriptors.system").empty());
}

TEST(FileDescriptors, ThresholdsAgainstTheOwnSoftLimit) {
  SnapshotBuilder b;
  b.process(1, "below", 818, 1024);   // 79.9%
  b.process(2, "warn", 820, 1024);    // 80.1%
  b.process(6, "almost", 921, 1024);  // 89.9%
  b.process(3, "crit", 922, 1024);    // 90.0%: the line netdata and the node mixin use
  b.process(4, "unlimited", 900000, std::nullopt);
  b.process(5, "unknown", 0, 1024).open_fds.reset();
  auto f = run_rule(rule_file_descriptors, b.build());
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].evidence["comm"], "crit");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[1].evidence["comm"], "almost");
  EXPECT_EQ(f[1].severity, Severity::kWarning);
  EXPECT_EQ(f[2].evidence["comm"], "warn");
  EXPECT_EQ(f[2].severity, Severity::kWarning);
  // One reading: no forecast, and the evidence says why the rate is unknown.
  EXPECT_TRUE(f[0].evidence["seconds_to_exhaustion"].is_null());
  EXPECT_TRUE(f[0].evidence["growth_per_s"].is_null());
  EXPECT_EQ(f[0].evidence["rate_note"], "rate unknown (one reading)");
}

TEST(FileDescriptors, AGrowingCountIsForecastFromTwoReadings) {
  SnapshotBuilder b;
  b.process(10, "leaky", 1100, 2048);   // 54%: below every fill threshold
  b.process(11, "slow", 1100, 2048);    // grows 1/s: runs out in ~15 min, no finding
  b.process(12, "drifty", 1100, 2048);  // runs out in ~5 min: warning
  b.process(13, "swingy", 400, 2048);   // below half its limit: swings are not forecast
  b.then(2);
  b.now().processes[0].open_fds = 1500;  // +200/s: 548 left -> 2.7 s
  b.now().processes[1].open_fds = 1102;
  b.now().processes[2].open_fds = 1106;  // +3/s: 942 left -> 314 s
  b.now().processes[3].open_fds = 800;   // +200/s but 39%
  auto f = run_rule(rule_file_descriptors, b.build());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].evidence["comm"], "leaky");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["growth_per_s"], 200.0);
  EXPECT_EQ(f[0].evidence["seconds_to_exhaustion"], 2.7);
  EXPECT_NE(f[0].title.find("runs out in"), std::string::npos) << f[0].title;
  EXPECT_EQ(f[1].evidence["comm"], "drifty");
  EXPECT_EQ(f[1].severity, Severity::kWarning);
  EXPECT_EQ(f[1].evidence["seconds_to_exhaustion"], 314.0);
}

TEST(FileDescriptors, APidReusedByAnotherProgramIsNoGrowth) {
  SnapshotBuilder b;
  b.process(10, "old", 100, 2048);
  b.then(2);
  b.now().processes[0].comm = "new";
  b.now().processes[0].open_fds = 1500;
  auto f = run_rule(rule_file_descriptors, b.build());
  EXPECT_TRUE(f.empty());
}

TEST(FileDescriptors, NeverComparesAProcessWithFileMax) {
  SnapshotBuilder b;
  b.now().file_nr = FileNr{55000, 60000};  // 91.7% of file-max
  b.process(77, "bigdb", 50000, 1048576);  // 4.8% of its own limit
  auto f = run_rule(rule_file_descriptors, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "file_descriptors.system");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].layer, Layer::kSystem);
  EXPECT_EQ(f[0].evidence["top_processes"][0]["pid"], 77);
}

TEST(FileDescriptors, SystemThresholds) {
  SnapshotBuilder warn;
  warn.now().file_nr = FileNr{85, 100};
  auto f = run_rule(rule_file_descriptors, warn.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);

  SnapshotBuilder fine;
  fine.now().file_nr = FileNr{79, 100};
  EXPECT_TRUE(run_rule(rule_file_descriptors, fine.build()).empty());

  SnapshotBuilder unknown;
  unknown.now().file_nr = FileNr{};
  unknown.sysctls().file_max.reset();
  EXPECT_TRUE(run_rule(rule_file_descriptors, unknown.build()).empty());
}

TEST(FileDescriptors, CloseWaitOfTheProcessIsEvidence) {
  SnapshotBuilder b;
  ProcessInfo& p = b.process(8, "leaky", 1000, 1024);
  p.sockets = ProcessSockets{};
  p.sockets->close_wait = 700;
  p.sockets->by_state[int(TcpState::kCloseWait)] = 700;
  p.sockets->by_state[int(TcpState::kEstablished)] = 200;
  auto f = run_rule(rule_file_descriptors, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence["close_wait"], 700);
  EXPECT_EQ(f[0].evidence["sockets"], 900);
}

}  // namespace
}  // namespace cd
