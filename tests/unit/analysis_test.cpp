// Tests of analyse(): status, verdict line, ordering, "unknown", and properties every finding
// of every rule must have (never tcp_tw_recycle, plans ordered A..D, nulls for unknowns).
#include "analyse/analysis.h"

#include <gtest/gtest.h>

#include <set>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::all_text;
using test::ep;
using test::SnapshotBuilder;
using test::tuple_key;

TEST(Analysis, HealthyHostIsOk) {
  SnapshotBuilder b;
  b.listener(ep("0.0.0.0", 22));
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 443), {.established = 20, .time_wait = 40});
  b.process(1, "systemd", 100, 1024);
  Analysis a = analyse(b.build());
  EXPECT_EQ(a.status, Status::kOk);
  EXPECT_TRUE(a.findings.empty());
  EXPECT_EQ(a.summary, "ok: no connection resource near its limit");
  EXPECT_TRUE(a.ports.known);
  EXPECT_EQ(a.ports.tuples.size(), 1u);
}

TEST(Analysis, WorstFirstAndTheVerdictIsTheWorstFinding) {
  SnapshotBuilder b;
  b.now().conntrack.available = true;
  b.now().conntrack.count = 85;
  b.now().conntrack.max = 100;
  b.port_range(40000, 40019);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 8080), {.time_wait = 20});
  Analysis a = analyse(b.build());
  ASSERT_EQ(a.findings.size(), 2u);
  EXPECT_EQ(a.findings[0].resource, Resource::kEphemeralPorts);
  EXPECT_EQ(a.findings[1].resource, Resource::kConntrack);
  EXPECT_EQ(a.status, Status::kCritical);
  EXPECT_EQ(a.summary,
            "critical: ephemeral ports to 198.18.0.2:8080: 20 of 20 usable in use (100%), "
            "exhausted (application layer)");
}

TEST(Analysis, EquallySevereFindingsKeepTheRuleTableOrder) {
  SnapshotBuilder b;
  b.now().file_nr = FileNr{85, 100};      // file_descriptors warning
  b.sysctls().tcp_max_tw_buckets = 1000;  // config warning
  b.now().sockstat.tcp_tw = 10;
  b.now().conntrack.available = true;  // conntrack warning
  b.now().conntrack.count = 85;
  b.now().conntrack.max = 100;
  Analysis a = analyse(b.build());
  ASSERT_EQ(a.findings.size(), 3u);
  EXPECT_EQ(a.findings[0].resource, Resource::kFileDescriptors);
  EXPECT_EQ(a.findings[1].resource, Resource::kConntrack);
  EXPECT_EQ(a.findings[2].resource, Resource::kConfig);
  EXPECT_EQ(a.status, Status::kWarning);
}

TEST(Analysis, UnknownOnlyWhenNothingCouldBeRead) {
  Snapshot nothing;  // no dump, no sysctl, no counter
  nothing.missing = {"sock_diag: Operation not permitted"};
  Analysis a = analyse(nothing);
  EXPECT_EQ(a.status, Status::kUnknown);
  EXPECT_EQ(a.summary.rfind("unknown: could not diagnose", 0), 0u) << a.summary;
  EXPECT_NE(a.summary.find("Operation not permitted"), std::string::npos);

  SnapshotBuilder partial;  // the dump failed but the counters and sysctls were read
  partial.now().sockets.complete = false;
  Analysis p = analyse(partial.build());
  EXPECT_EQ(p.status, Status::kOk);
  EXPECT_NE(p.summary.find("sockets not read"), std::string::npos);
  EXPECT_FALSE(p.ports.known);

  partial.now().file_nr = FileNr{95, 100};  // and what could be read still counts
  EXPECT_EQ(analyse(partial.build()).status, Status::kCritical);
}

TEST(Analysis, StatusNames) {
  EXPECT_EQ(to_string(Status::kOk), "ok");
  EXPECT_EQ(to_string(Status::kWarning), "warning");
  EXPECT_EQ(to_string(Status::kCritical), "critical");
  EXPECT_EQ(to_string(Status::kUnknown), "unknown");
}

// A host where every rule has something to say, read once or twice.
SnapshotBuilder everything_wrong(bool two_readings) {
  SnapshotBuilder b;
  b.port_range(40000, 40999).tw_reuse(1);
  b.sysctls().tcp_max_tw_buckets = 2000;
  b.sysctls().tcp_max_orphans = 1000;
  b.sysctls().tcp_mem = std::array<int64_t, 3>{10, 20, 30};
  b.now().sockstat.tcp_orphan = 600;
  b.now().sockstat.tcp_mem_pages = 40;
  b.now().file_nr = FileNr{95, 100};
  b.now().conntrack.available = true;
  b.now().conntrack.count = 99;
  b.now().conntrack.max = 100;
  b.now().conntrack.stats = {{"drop", 0}, {"early_drop", 0}, {"insert_failed", 0}};
  b.listener(ep("0.0.0.0", 40500), 129, 128, 1);
  b.listener(ep("::", 443), 0, 4096, 2);
  b.now().listener_owner[1] = 10;
  ProcessInfo& p = b.process(10, "everything", 1024, 1024);
  p.sockets = ProcessSockets{};
  p.sockets->close_wait = 700;
  b.now().sockets.close_wait.push_back(CloseWaitGroup{ep("::", 443), true, 700, {}});
  b.server_time_wait(1900);
  b.tuple(tuple_key("198.18.0.1", "198.18.0.2", 8080),
          {.established = 5, .time_wait = 990, .tw_recent = 900});
  b.tuple(tuple_key("2001:db8::1", "2001:db8::2", 443), {.established = 980});
  b.now().tuple_owners.push_back(
      TupleOwner{tuple_key("2001:db8::1", "2001:db8::2", 443), {{10, 980}}});
  b.host_ports(1000, 900);
  b.now().sockstat.tcp_tw = 2000;
  if (two_readings) {
    b.then(2.0);
    for (const char* c : {"TcpExt.ListenOverflows", "TcpExt.ListenDrops",
                          "TcpExt.TCPTimeWaitOverflow", "TcpExt.TCPAbortOnMemory",
                          "TcpExt.TCPMemoryPressures", "TcpExt.PAWSActive", "TcpExt.PAWSEstab"})
      b.counter(c, 100);
    b.now().conntrack.stats = {{"drop", 10}, {"early_drop", 10}, {"insert_failed", 10}};
  }
  return b;
}

void check_every_finding(const Analysis& a) {
  std::set<Resource> seen;
  for (const Finding& f : a.findings) {
    seen.insert(f.resource);
    std::string text = all_text(f);
    // tcp_tw_recycle was removed in 4.12: no rule may ever recommend it (TWRecycled, the reuse
    // counter, is another thing), nor shrinking the TIME_WAIT table to "fix" TIME_WAIT.
    EXPECT_EQ(text.find("tcp_tw_recycle"), std::string::npos) << f.id;
    EXPECT_EQ(text.find("tcp_fin_timeout"), std::string::npos) << f.id;
    std::string resource(to_string(f.resource));
    EXPECT_EQ(f.id.rfind(resource + ".", 0), 0u) << f.id;
    EXPECT_FALSE(f.title.empty());
    EXPECT_EQ(f.title.find('\n'), std::string::npos) << f.title;
    EXPECT_TRUE(f.evidence.is_object()) << f.id;
    EXPECT_FALSE(f.remediation.empty()) << f.id;
    char last = 'A';
    for (const RemediationStep& s : f.remediation) {
      EXPECT_TRUE(s.priority >= 'A' && s.priority <= 'D') << f.id;
      EXPECT_GE(s.priority, last) << f.id << ": plan not ordered by priority";
      last = s.priority;
      EXPECT_FALSE(s.action.empty()) << f.id;
    }
    // Rates without two readings are null with a note, never 0.
    for (const auto& [key, value] : f.evidence.items()) {
      if (key.size() > 6 && key.ends_with("_per_s") && key != "new_per_s" && value.is_null())
        EXPECT_TRUE(f.evidence.contains("rate_note")) << f.id << " " << key;
    }
  }
  for (Resource r : {Resource::kEphemeralPorts, Resource::kTimeWait, Resource::kFileDescriptors,
                     Resource::kCloseWait, Resource::kAcceptQueue, Resource::kConntrack,
                     Resource::kOrphans, Resource::kTcpMemory, Resource::kConfig})
    EXPECT_TRUE(seen.count(r)) << "no finding for " << to_string(r);
}

TEST(Analysis, EveryFindingOfEveryRuleIsWellFormedOneReading) {
  Analysis a = analyse(everything_wrong(false).build());
  check_every_finding(a);
  EXPECT_EQ(a.status, Status::kCritical);
  for (const Finding& f : a.findings)
    for (const auto& [key, value] : f.evidence.items())
      if (key.ends_with("_per_s") && key != "new_per_s") EXPECT_TRUE(value.is_null()) << key;
}

TEST(Analysis, EveryFindingOfEveryRuleIsWellFormedTwoReadings) {
  Analysis a = analyse(everything_wrong(true).build());
  check_every_finding(a);
  bool ipv6 = false;
  for (const Finding& f : a.findings)
    if (f.evidence.contains("destination") && f.evidence["destination"] == "[2001:db8::2]:443")
      ipv6 = true;
  EXPECT_TRUE(ipv6) << "IPv6 destinations are written [addr]:port";
}

TEST(Analysis, RuleTableNamesAreUniqueAndEveryRuleRuns) {
  std::set<std::string_view> names;
  for (const Rule& r : all_rules()) {
    EXPECT_TRUE(names.insert(r.name).second) << r.name;
    EXPECT_FALSE(r.description.empty());
    EXPECT_NE(r.fn, nullptr);
  }
  for (std::string_view n : {"ephemeral_ports", "time_wait", "file_descriptors", "close_wait",
                             "accept_queue", "conntrack", "orphans", "tcp_memory", "config"})
    EXPECT_TRUE(names.count(n)) << n;
}

}  // namespace
}  // namespace cd
