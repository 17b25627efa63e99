// diagnose/trace_merge: what `check --trace` adds to the findings' evidence, and the one
// finding it creates (connects to one destination failing en masse).
#include "diagnose/trace_merge.h"

#include "analyse/remediation.h"

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

// A churn tuple whose inferred owner (pid 5, a JVM in pod shop/checkout) is not the process
// the trace saw open the connections (pid 42, "client").
Analysis churn_with_inferred_owner() {
  const RuntimeInfo jvm{"jvm", "17", "executable name java"};
  Finding f = finding(Resource::kEphemeralPorts, {{"destination", "127.0.0.1:8080"},
                                                  {"pid", 5},
                                                  {"comm", "java"},
                                                  {"pod", "checkout"},
                                                  {"pod_namespace", "shop"},
                                                  {"container", "app"},
                                                  {"container_id", std::string(64, 'a')},
                                                  {"owner_inferred", true},
                                                  {"confidence", "medium"},
                                                  {"owner_share_of_live_sockets", 0.8},
                                                  {"runtime", "jvm"},
                                                  {"runtime_version", "17"},
                                                  {"runtime_detected_by", "executable name java"}});
  f.remediation = {step_client_reuse({.runtime = &jvm, .port = 8080})};
  Analysis a;
  a.findings.push_back(std::move(f));
  return a;
}

TraceResult churn_by(int32_t pid, std::string comm) {
  TraceResult t;
  TraceChurn c;
  c.pid = pid;
  c.comm = std::move(comm);
  c.destination = ep("127.0.0.1", 8080);
  c.opened = 500;
  c.local_closed_first = 500;
  t.churn.push_back(c);
  return t;
}

TEST(TraceMerge, TheTracedOwnerBringsItsOwnIdentityAndRuntime) {
  Analysis a = churn_with_inferred_owner();
  ProcessInfo client;
  client.pid = 42;
  client.comm = "client";
  client.container = ContainerIdentity{.runtime = "containerd",
                                       .container_id = std::string(64, 'b'),
                                       .state_read = true,
                                       .pod = "loadgen-1",
                                       .pod_namespace = "test",
                                       .container = "gen"};
  client.runtime = RuntimeInfo{"go", "go1.22.1", "ELF section .go.buildinfo"};
  Reading r;
  r.processes = {client};
  merge_trace(a, churn_by(42, "client"), {}, processes_in(r));
  const Finding& f = a.findings[0];
  EXPECT_EQ(f.evidence["pid"], 42);
  EXPECT_EQ(f.evidence["pod"], "loadgen-1");
  EXPECT_EQ(f.evidence["pod_namespace"], "test");
  EXPECT_EQ(f.evidence["container"], "gen");
  EXPECT_EQ(f.evidence["container_id"], std::string(64, 'b'));
  EXPECT_FALSE(f.evidence.contains("owner_share_of_live_sockets"));  // the inferred owner's
  EXPECT_EQ(f.evidence["runtime"], "go");
  EXPECT_EQ(f.evidence["runtime_version"], "go1.22.1");
  ASSERT_FALSE(f.remediation.empty());
  EXPECT_EQ(f.remediation[0].action,
            step_client_reuse({.runtime = &*client.runtime, .port = 8080}).action);
}

TEST(TraceMerge, ATracedOwnerNobodyKnowsHasNoInferredOwnersKeys) {
  // No lookup (or a process the reading does not list, or a pid reused by another comm): the
  // identity and runtime are unknown, never the inferred owner's.
  for (bool with_reading : {false, true}) {
    Analysis a = churn_with_inferred_owner();
    ProcessInfo other;
    other.pid = 42;
    other.comm = "bash";  // pid 42 reused since the trace: not the traced process
    other.container = ContainerIdentity{.container_id = std::string(64, 'c')};
    Reading r;
    r.processes = {other};
    merge_trace(a, churn_by(42, "client"), {}, with_reading ? processes_in(r) : ProcessLookup{});
    const Evidence& ev = a.findings[0].evidence;
    EXPECT_EQ(ev["pid"], 42);
    for (const char* k : {"pod", "pod_namespace", "container", "container_id", "runtime",
                          "runtime_version", "runtime_detected_by"})
      EXPECT_TRUE(ev[k].is_null()) << k << " " << ev[k];
    EXPECT_FALSE(ev.contains("owner_share_of_live_sockets"));
    EXPECT_EQ(a.findings[0].remediation[0].action, step_client_reuse({.port = 8080}).action);
  }
}

TEST(TraceMerge, TheSameOwnerKeepsItsIdentity) {
  Analysis a = churn_with_inferred_owner();
  merge_trace(a, churn_by(5, "java"));
  const Evidence& ev = a.findings[0].evidence;
  EXPECT_EQ(ev["confidence"], "traced");
  EXPECT_EQ(ev["pod"], "checkout");
  EXPECT_EQ(ev["owner_share_of_live_sockets"], 0.8);
  EXPECT_EQ(ev["runtime"], "jvm");
}

// bind(addr, 0) failing with EADDRINUSE proves the address's bind pool ran out: the finding
// becomes critical, names the failing process and lists every one; failures on another address
// or with another errno are not this pool's.
TEST(TraceMerge, BindPoolGetsTheTracedEaddrinuse) {
  Analysis a;
  a.status = Status::kOk;
  Finding f = finding(Resource::kEphemeralPorts,
                      {{"local_address", "127.0.0.1"},
                       {"ports_in_use", 1000},
                       {"usable", 1000},
                       {"bind_evidence", Evidence::array()},
                       {"pid", nullptr},
                       {"comm", nullptr},
                       {"owner_basis", nullptr}},
                      Severity::kInfo);
  f.id = "ephemeral_ports.host_wide";
  f.title = "ports for bind(127.0.0.1, 0)";
  a.findings.push_back(f);
  TraceResult t;
  t.failures = {failure("bind", EADDRINUSE, 42, "cdlab-binder", ep("127.0.0.1", 0), 20),
                failure("bind", EADDRINUSE, 43, "other", ep("127.0.0.1", 0), 2),
                failure("bind", EADDRINUSE, 44, "elsewhere", ep("198.18.0.1", 0), 7),
                failure("bind", EACCES, 45, "nope", ep("127.0.0.1", 0), 3),
                failure("connect", EADDRNOTAVAIL, 46, "client", ep("127.0.0.1", 8080), 5)};
  merge_trace(a, t);
  const Finding& m = a.findings[0];
  EXPECT_EQ(m.severity, Severity::kCritical);
  EXPECT_EQ(a.status, Status::kCritical);
  EXPECT_NE(a.summary.find("22 bind() calls failed with EADDRINUSE"), std::string::npos)
      << a.summary;
  const Evidence& ev = m.evidence;
  ASSERT_EQ(ev["traced_eaddrinuse"].size(), 2u);
  EXPECT_EQ(ev["traced_eaddrinuse"][0]["pid"], 42);
  EXPECT_EQ(ev["traced_eaddrinuse"][0]["comm"], "cdlab-binder");
  EXPECT_EQ(ev["traced_eaddrinuse"][0]["count"], 20);
  EXPECT_EQ(ev["pid"], 42);
  EXPECT_EQ(ev["comm"], "cdlab-binder");
  EXPECT_EQ(ev["owner_basis"], "traced");
  EXPECT_EQ(ev["bind_evidence"], Evidence::array({"traced_eaddrinuse"}));
}

TEST(TraceMerge, BindPoolWithoutFailuresStaysAsItWas) {
  Analysis a;
  Finding f = finding(Resource::kEphemeralPorts, {{"local_address", "127.0.0.1"}, {"pid", 7}},
                      Severity::kInfo);
  f.id = "ephemeral_ports.host_wide";
  a.findings.push_back(f);
  TraceResult t;
  t.failures = {failure("bind", EADDRINUSE, 44, "elsewhere", ep("198.18.0.1", 0), 7)};
  merge_trace(a, t);
  EXPECT_EQ(a.findings[0].severity, Severity::kInfo);
  EXPECT_EQ(a.findings[0].evidence["pid"], 7);
  EXPECT_TRUE(a.findings[0].evidence["traced_eaddrinuse"].empty());
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

TEST(TraceMerge, AUnixListenerGetsNoTcpListenDrops) {
  Analysis a;
  Finding unix_listener = finding(Resource::kAcceptQueue, {{"destination", "/run/php/fpm.sock"},
                                                           {"path", "/run/php/fpm.sock"}});
  unix_listener.id = "accept_queue.unix_listener";
  a.findings.push_back(unix_listener);
  TraceResult t;
  t.drops = {
      {.reason = "TCP_LISTEN_OVERFLOW", .netns = 1, .where = ep("127.0.0.1", 8080), .count = 4}};
  merge_trace(a, t);
  EXPECT_FALSE(a.findings[0].evidence.contains("traced_listen_overflow_drops"))
      << a.findings[0].evidence;
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
