// diagnose/trace_merge: what `check --trace` adds to the findings' evidence, and the one
// finding it creates (connects to one destination failing en masse).
#include "diagnose/trace_merge.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace cd {
namespace {

Endpoint ep(const char* ip, uint16_t port) {
  return Endpoint{*IpAddr::parse(ip), port};
}

TraceFailure failure(std::string op, int err, int32_t pid, std::string comm,
                     std::optional<Endpoint> dest, uint64_t n) {
  TraceFailure f;
  f.op = std::move(op);
  f.err = err;
  f.pid = pid;
  f.comm = std::move(comm);
  f.destination = dest;
  f.count = n;
  return f;
}

Finding finding(Resource r, Evidence ev, Severity s = Severity::kCritical) {
  Finding f;
  f.resource = r;
  f.severity = s;
  f.evidence = std::move(ev);
  return f;
}

TEST(TraceMerge, EphemeralPortsGetTheTracedOwnerAndTheFailingProcesses) {
  Analysis a;
  a.status = Status::kCritical;
  a.findings.push_back(finding(Resource::kEphemeralPorts, {{"destination", "127.0.0.1:8080"},
                                                           {"pid", nullptr},
                                                           {"comm", nullptr},
                                                           {"owner_inferred", nullptr},
                                                           {"confidence", nullptr}}));
  TraceResult t;
  t.failures = {failure("connect", EADDRNOTAVAIL, 42, "client", ep("127.0.0.1", 8080), 812),
                failure("connect", EADDRNOTAVAIL, 43, "other", ep("10.0.0.1", 80), 5)};
  TraceChurn c;
  c.pid = 42;
  c.comm = "client";
  c.destination = ep("127.0.0.1", 8080);
  c.opened = 1000;
  c.local_closed_first = 1000;
  t.churn.push_back(c);
  TraceChurn small = c;
  small.pid = 7;
  small.opened = 3;
  t.churn.push_back(small);

  merge_trace(a, t);
  const Evidence& ev = a.findings[0].evidence;
  EXPECT_EQ(ev["pid"], 42);
  EXPECT_EQ(ev["comm"], "client");
  EXPECT_EQ(ev["confidence"], "traced");
  EXPECT_EQ(ev["owner_inferred"], false);
  EXPECT_EQ(ev["traced_churn"]["opened"], 1000);
  ASSERT_EQ(ev["traced_eaddrnotavail"].size(), 1u);  // only the finding's destination
  EXPECT_EQ(ev["traced_eaddrnotavail"][0]["pid"], 42);
  EXPECT_EQ(ev["traced_eaddrnotavail"][0]["count"], 812);
}

TEST(TraceMerge, WithoutTracedChurnTheInferredOwnerStays) {
  Analysis a;
  a.findings.push_back(
      finding(Resource::kEphemeralPorts,
              {{"destination", "127.0.0.1:8080"}, {"pid", 5}, {"confidence", "high"}}));
  merge_trace(a, TraceResult{});
  EXPECT_EQ(a.findings[0].evidence["pid"], 5);
  EXPECT_EQ(a.findings[0].evidence["confidence"], "high");
  EXPECT_TRUE(a.findings[0].evidence["traced_churn"].is_null());
}

TEST(TraceMerge, FdAcceptQueueAndConntrackEvidence) {
  Analysis a;
  a.findings.push_back(finding(Resource::kFileDescriptors, {{"pid", 99}, {"comm", "nginx"}}));
  a.findings.push_back(finding(Resource::kAcceptQueue, {{"destination", "0.0.0.0:8080"}}));
  a.findings.push_back(finding(Resource::kConntrack, {{"count", 10}}));
  TraceResult t;
  t.failures = {failure("accept4", EMFILE, 99, "nginx", std::nullopt, 20),
                failure("socket", EMFILE, 99, "nginx", std::nullopt, 1),
                failure("accept4", EMFILE, 100, "x", std::nullopt, 7)};
  t.drops = {
      {.reason = "TCP_LISTEN_OVERFLOW", .netns = 1, .where = ep("127.0.0.1", 8080), .count = 4},
      {.reason = "TCP_LISTEN_OVERFLOW", .netns = 1, .where = ep("127.0.0.1", 9090), .count = 9},
      {.reason = "NETFILTER_DROP", .netns = 1, .where = ep("198.19.0.5", 53), .count = 30},
      {.reason = "NETFILTER_DROP", .netns = 1, .where = ep("198.19.0.6", 53), .count = 3}};
  merge_trace(a, t);
  EXPECT_EQ(a.findings[0].evidence["traced_emfile"], 21);
  EXPECT_EQ(a.findings[0].evidence["traced_emfile_calls"]["accept4"], 20);
  EXPECT_EQ(a.findings[1].evidence["traced_listen_overflow_drops"], 4);  // port 8080 only
  EXPECT_EQ(a.findings[2].evidence["traced_netfilter_drops"], 33);
  EXPECT_EQ(a.findings[2].evidence["traced_netfilter_drop_destinations"][0]["destination"],
            "198.19.0.5:53");
}

TEST(TraceMerge, ConnectsFailingEnMasseBecomeAFinding) {
  Analysis a;
  a.status = Status::kOk;
  a.summary = "ok: no connection resource near its limit";
  TraceResult t;
  t.duration_s = 10;
  t.failures = {failure("connect", ETIMEDOUT, 42, "java", ep("10.0.9.9", 443), 150),
                failure("connect", ECONNREFUSED, 42, "java", ep("10.0.9.8", 443), 12),
                failure("connect", ECONNREFUSED, 42, "java", ep("10.0.9.7", 443), 9)};  // < 10
  merge_trace(a, t);
  ASSERT_EQ(a.findings.size(), 2u);
  EXPECT_EQ(a.findings[0].id, "connect_failures.destination");
  EXPECT_EQ(a.findings[0].severity, Severity::kCritical);
  EXPECT_EQ(a.findings[0].layer, Layer::kNetwork);
  EXPECT_EQ(a.findings[0].evidence["destination"], "10.0.9.9:443");
  EXPECT_EQ(a.findings[0].evidence["errno"], "ETIMEDOUT");
  EXPECT_EQ(a.findings[0].evidence["processes"][0]["comm"], "java");
  EXPECT_EQ(a.findings[1].severity, Severity::kWarning);
  EXPECT_EQ(a.status, Status::kCritical);
  EXPECT_NE(a.summary.find("10.0.9.9:443"), std::string::npos) << a.summary;
}

}  // namespace
}  // namespace cd
