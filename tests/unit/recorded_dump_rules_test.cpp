// The rules on real kernel output: sock_diag transcripts recorded in throwaway namespaces
// (tests/fixtures/dumps/README.md), replayed through the real aggregator, then analysed.
#include <gtest/gtest.h>

#include "analyse/analysis.h"
#include "collect/sock_source.h"
#include "collect/socket_aggregator.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::findings_of;
using test::findings_with_id;
using test::SnapshotBuilder;

// A default host whose sockets are the recorded ones.
Snapshot from_dump(const std::string& name, PortRange range) {
  SnapshotBuilder b;
  b.port_range(range.lo, range.hi);
  Snapshot snap = b.build();
  auto src = open_recorded_sock_source(std::string(CONNDOCTOR_FIXTURES) + "/dumps/" + name);
  EXPECT_TRUE(src) << src.error().message;
  if (!src) return snap;
  AggregatorConfig cfg;
  cfg.ephemeral = range;
  SocketAggregator agg(cfg);
  auto r = dump_all(**src, agg);
  EXPECT_TRUE(r) << r.error().message;
  snap.first.sockets = agg.finish();
  snap.first.sockstat.tcp_tw = int64_t(snap.first.sockets.by_state[int(TcpState::kTimeWait)]);
  return snap;
}

TEST(RecordedDumps, PortsExhaustedIsCriticalApplicationForThatDestinationOnly) {
  Analysis a = analyse(from_dump("ports_exhausted.nldump", {40000, 40099}));
  auto ports = findings_of(a.findings, Resource::kEphemeralPorts);
  ASSERT_EQ(ports.size(), 1u);  // not the :9090 tuple, and no host-wide duplicate
  EXPECT_EQ(ports[0]->id, "ephemeral_ports.tuple");
  EXPECT_EQ(ports[0]->severity, Severity::kCritical);
  EXPECT_EQ(ports[0]->layer, Layer::kApplication);
  EXPECT_EQ(ports[0]->evidence["destination"], "198.18.0.2:8080");
  EXPECT_EQ(ports[0]->evidence["usable"], 100);
  EXPECT_EQ(ports[0]->evidence["in_use"], 100);
  EXPECT_EQ(ports[0]->evidence["tw_reusable"], 0);  // 198.18/15 is not loopback for reuse=2
  EXPECT_EQ(a.status, Status::kCritical);
  EXPECT_EQ(a.findings.front().id, "ephemeral_ports.tuple");
}

TEST(RecordedDumps, ServerSideTimeWaitUsesNoEphemeralPorts) {
  Analysis a = analyse(from_dump("server_time_wait.nldump", {32768, 60999}));
  EXPECT_TRUE(findings_of(a.findings, Resource::kEphemeralPorts).empty());
  // 300 server-side TIME_WAIT is below the 1,000 the rule asks for: a healthy verdict.
  EXPECT_EQ(a.status, Status::kOk);
  ASSERT_EQ(a.ports.tuples.size(), 1u);
  EXPECT_EQ(a.ports.tuples[0].time_wait, 0u);
}

TEST(RecordedDumps, CloseWaitLeakNamesTheService) {
  Analysis a = analyse(from_dump("close_wait_leak.nldump", {32768, 60999}));
  auto f = findings_with_id(a.findings, "close_wait.endpoint");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::kWarning);  // 50 sockets: the warning threshold
  EXPECT_EQ(f[0]->layer, Layer::kApplication);
  EXPECT_EQ(f[0]->evidence["destination"], "198.18.0.2:8080");
}

TEST(RecordedDumps, FullAcceptQueueIsCritical) {
  Analysis a = analyse(from_dump("accept_queue_full.nldump", {32768, 60999}));
  auto f = findings_of(a.findings, Resource::kAcceptQueue);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::kCritical);
  EXPECT_EQ(f[0]->evidence["destination"], "198.18.0.2:8080");
  EXPECT_EQ(f[0]->evidence["queue"], 9);
  EXPECT_EQ(f[0]->evidence["limit"], 8);
}

}  // namespace
}  // namespace cd
