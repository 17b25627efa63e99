// Tests of the close_wait rule: per process with attribution, per endpoint without.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::ep;
using test::run_rule;
using test::SnapshotBuilder;

void hold_close_wait(ProcessInfo& p, uint32_t n) {
  p.sockets = ProcessSockets{};
  p.sockets->close_wait = n;
  p.sockets->by_state[int(TcpState::kCloseWait)] = n;
}

TEST(CloseWait, PerProcessThresholdsNamePidAndComm) {
  SnapshotBuilder b;
  hold_close_wait(b.process(10, "leaker", 700, 4096), 600);
  hold_close_wait(b.process(11, "slow", 100, 4096), 60);
  hold_close_wait(b.process(12, "fine", 20, 4096), 49);
  auto f = run_rule(rule_close_wait, b.build());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].id, "close_wait.process");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].layer, Layer::kApplication);
  EXPECT_EQ(f[0].evidence["pid"], 10);
  EXPECT_EQ(f[0].evidence["comm"], "leaker");
  EXPECT_NE(f[0].title.find("never calls close()"), std::string::npos);
  EXPECT_EQ(f[1].severity, Severity::kWarning);
  EXPECT_EQ(f[1].evidence["pid"], 11);
  ASSERT_EQ(f[0].remediation.size(), 1u);
  EXPECT_EQ(f[0].remediation[0].priority, 'A');
  EXPECT_NE(f[0].remediation[0].commands[0].find("pid=10,"), std::string::npos);
}

TEST(CloseWait, WithoutAttributionTheEndpointIsTheEvidence) {
  SnapshotBuilder b;
  b.now().sockets.close_wait.push_back(
      CloseWaitGroup{ep("198.18.0.1", 8080), true, 520, {ep("198.18.0.7", 51000)}});
  b.now().sockets.close_wait.push_back(CloseWaitGroup{ep("198.18.0.1", 0), false, 51, {}});
  b.now().sockets.close_wait.push_back(CloseWaitGroup{ep("198.18.0.1", 9090), true, 3, {}});
  auto f = run_rule(rule_close_wait, b.build());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].id, "close_wait.endpoint");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["destination"], "198.18.0.1:8080");
  EXPECT_TRUE(f[0].evidence["pid"].is_null());
  EXPECT_EQ(f[0].evidence["sample_peers"][0], "198.18.0.7:51000");
  EXPECT_EQ(f[1].severity, Severity::kWarning);
  EXPECT_EQ(f[1].evidence["local_address"], "198.18.0.1");
}

TEST(CloseWait, AttributedFindingsReplaceTheEndpointView) {
  SnapshotBuilder b;
  hold_close_wait(b.process(10, "leaker", 700, 4096), 600);
  b.now().sockets.close_wait.push_back(CloseWaitGroup{ep("198.18.0.1", 8080), true, 600, {}});
  auto f = run_rule(rule_close_wait, b.build());
  ASSERT_EQ(f.size(), 1u);  // not counted twice
  EXPECT_EQ(f[0].id, "close_wait.process");
}

}  // namespace
}  // namespace cd
