// report_json(): the v1 JSON contract, field by field - presence, null for unknowns, endpoint
// formatting (IPv6 in brackets), top-N cuts, rounding, and that the document round-trips.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "render/report.h"

namespace cd {
namespace {

using json = nlohmann::ordered_json;

IpAddr ip(const char* s) {
  return *IpAddr::parse(s);
}

TupleStat tuple(const char* src, const char* dst, uint16_t dport, uint32_t in_use,
                uint32_t usable) {
  TupleStat t;
  t.key = {ip(src), ip(dst), dport};
  t.in_use = in_use;
  t.time_wait = in_use / 2;
  t.live = in_use - t.time_wait;
  t.effective_in_use = in_use;
  t.usable = usable;
  t.utilization = double(in_use) / usable;
  return t;
}

// A two-reading snapshot with most figures known, and an analysis with one finding.
struct Fixture {
  Snapshot snap;
  Analysis a;

  Fixture() {
    Reading r;
    r.taken_at_s = 100;
    r.sysctls.ip_local_port_range = PortRange{32768, 60999};
    r.sysctls.ip_local_reserved_ports = std::vector<PortRange>{{8080, 8080}, {9000, 9010}};
    r.sysctls.tcp_tw_reuse = 2;
    r.sysctls.tcp_max_tw_buckets = 131072;
    r.sysctls.tcp_mem = std::array<int64_t, 3>{1000, 2000, 3000};
    r.sysctls.conntrack_timeouts["tcp_timeout_established"] = 432000;
    r.counters["TcpExt.ListenOverflows"] = 10;
    r.counters["TcpExt.TCPTimeWaitOverflow"] = 500;
    r.sockstat.tcp_tw = 40;
    r.file_nr.allocated = 1000;
    r.file_nr.max = 4000;
    r.conntrack.available = true;
    r.conntrack.count = 10;
    r.conntrack.max = 262144;
    r.conntrack.stats["drop"] = 4;
    r.conntrack.stats_source = "procfs";
    r.sockets.complete = true;
    r.sockets.total = 60;
    r.sockets.by_state[int(TcpState::kEstablished)] = 15;
    r.sockets.by_state[int(TcpState::kTimeWait)] = 40;
    r.sockets.by_state[int(TcpState::kListen)] = 2;
    r.sockets.time_wait_client = 30;
    r.sockets.time_wait_server = 10;
    r.sockets.listeners.push_back({Endpoint{ip("0.0.0.0"), 80}, 3, 128, 11});
    r.sockets.listeners.push_back({Endpoint{ip("::"), 8080}, 129, 128, 12});
    r.listener_owner[12] = 4242;
    ProcessInfo web{4242, "web", 1020, 1024, 4096, std::nullopt};
    ProcessInfo idle{7, "idle", 3, 1024, 4096, std::nullopt};
    ProcessInfo unreadable{8, "secret", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    r.processes = {idle, unreadable, web};
    snap.first = r;
    Reading r2 = r;
    r2.taken_at_s = 102;
    r2.counters["TcpExt.ListenOverflows"] = 30;     // +20 in 2 s
    r2.counters["TcpExt.TCPTimeWaitOverflow"] = 3;  // went down: a reset, not a negative rate
    r2.conntrack.stats["drop"] = 10;
    snap.second = r2;
    snap.missing = {"conntrack per-CPU stats: absent"};

    a.status = Status::kCritical;
    a.summary = "critical: ephemeral ports to [2001:db8::2]:443 90% used (application layer)";
    Finding f;
    f.id = "ephemeral_ports.tuple";
    f.resource = Resource::kEphemeralPorts;
    f.severity = Severity::kCritical;
    f.layer = Layer::kApplication;
    f.title = "ephemeral ports to [2001:db8::2]:443: 18 of 20 usable in use (90%)";
    f.evidence["destination"] = Endpoint{ip("2001:db8::2"), 443}.to_string();
    f.evidence["seconds_to_exhaustion"] = nullptr;
    f.remediation.push_back({'B',
                             "widen the range",
                             {"sysctl -w net.ipv4.ip_local_port_range=\"10000 65535\""},
                             "collisions"});
    f.remediation.push_back({'A', "reuse connections", {}, "none"});
    a.findings.push_back(f);

    a.ports.known = true;
    a.ports.range = {32768, 60999};
    a.ports.reserved_in_range = 0;
    a.ports.bound_in_range = 1;
    a.ports.usable_per_tuple = 28231;
    a.ports.tuples.push_back(tuple("2001:db8::1", "2001:db8::2", 443, 18, 20));
    a.ports.tuples.back().new_per_s = 2.0 / 3.0;
    a.ports.tuples.back().seconds_to_exhaustion = 0;
    a.ports.tuples.push_back(tuple("127.0.0.1", "127.0.0.1", 8080, 2, 3));
    a.ports.host_tcp_ports_in_use = 33;
    a.ports.host_usable = 28232;
  }
};

TEST(ReportJson, TopLevelContract) {
  Fixture fx;
  json j = report_json(fx.snap, fx.a);
  EXPECT_EQ(j["schema"], "conndoctor/report/v1");
  EXPECT_EQ(j["status"], "critical");
  EXPECT_EQ(j["summary"], fx.a.summary);
  ASSERT_TRUE(j["findings"].is_array());
  ASSERT_TRUE(j["resources"].is_object());
  ASSERT_TRUE(j["missing"].is_array());
  EXPECT_EQ(j["missing"][0], "conntrack per-CPU stats: absent");
  // The order of the top-level keys is part of what people see in `--json | less`.
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"schema", "status", "summary", "findings", "resources",
                                            "missing"}));
}

TEST(ReportJson, FindingFieldsAndPlanOrder) {
  Fixture fx;
  json f = report_json(fx.snap, fx.a)["findings"][0];
  EXPECT_EQ(f["id"], "ephemeral_ports.tuple");
  EXPECT_EQ(f["resource"], "ephemeral_ports");
  EXPECT_EQ(f["severity"], "critical");
  EXPECT_EQ(f["layer"], "application");
  EXPECT_EQ(f["title"], fx.a.findings[0].title);
  EXPECT_EQ(f["evidence"]["destination"], "[2001:db8::2]:443");
  EXPECT_TRUE(f["evidence"]["seconds_to_exhaustion"].is_null());
  ASSERT_EQ(f["remediation"].size(), 2u);
  // The priority is a one-letter string and the plan reads A before B whatever the rule did.
  EXPECT_EQ(f["remediation"][0]["priority"], "A");
  EXPECT_EQ(f["remediation"][1]["priority"], "B");
  EXPECT_EQ(f["remediation"][1]["commands"][0],
            "sysctl -w net.ipv4.ip_local_port_range=\"10000 65535\"");
  EXPECT_EQ(f["remediation"][1]["risk"], "collisions");
  EXPECT_TRUE(f["remediation"][0]["commands"].is_array());
}

TEST(ReportJson, SocketsAndTimeWait) {
  Fixture fx;
  json res = report_json(fx.snap, fx.a)["resources"];
  json s = res["sockets"];
  EXPECT_EQ(s["by_state"]["ESTABLISHED"], 15);
  EXPECT_EQ(s["by_state"]["TIME_WAIT"], 40);
  EXPECT_EQ(s["by_state"]["CLOSE_WAIT"], 0);  // known: the dump completed
  EXPECT_FALSE(s["by_state"].contains("UNKNOWN"));
  EXPECT_EQ(s["total"], 60);
  EXPECT_EQ(s["time_wait_client"], 30);
  EXPECT_EQ(s["time_wait_server"], 10);
  EXPECT_TRUE(s["udp_sockets"].is_null());  // UDP dump not complete
  json tw = res["time_wait"];
  EXPECT_EQ(tw["count"], 40);
  EXPECT_EQ(tw["max_buckets"], 131072);
  EXPECT_EQ(tw["client"], 30);
  EXPECT_EQ(tw["server"], 10);
  // 500 -> 3 is a counter reset: 3 events in 2 s, never a negative rate.
  EXPECT_DOUBLE_EQ(tw["overflow_per_s"].get<double>(), 1.5);
}

TEST(ReportJson, EphemeralPortsAndIpv6Destinations) {
  Fixture fx;
  json p = report_json(fx.snap, fx.a)["resources"]["ephemeral_ports"];
  EXPECT_EQ(p["range"], json::array({32768, 60999}));
  EXPECT_EQ(p["usable"], 28231);
  EXPECT_EQ(p["bound_in_range"], 1);
  EXPECT_EQ(p["tuples_total"], 2);
  json t = p["tuples"][0];
  EXPECT_EQ(t["src"], "2001:db8::1");
  EXPECT_EQ(t["dst"], "2001:db8::2");
  EXPECT_EQ(t["dport"], 443);
  EXPECT_EQ(t["destination"], "[2001:db8::2]:443");
  EXPECT_EQ(t["in_use"], 18);
  EXPECT_EQ(t["time_wait"], 9);
  EXPECT_EQ(t["usable"], 20);
  EXPECT_DOUBLE_EQ(t["utilization"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(t["new_per_s"].get<double>(), 0.67);
  EXPECT_DOUBLE_EQ(t["seconds_to_exhaustion"].get<double>(), 0.0);
  EXPECT_TRUE(t["steady_state_demand"].is_null());
  json t2 = p["tuples"][1];
  EXPECT_EQ(t2["destination"], "127.0.0.1:8080");
  EXPECT_DOUBLE_EQ(t2["utilization"].get<double>(), 0.6667);  // 2/3 to 4 decimals
  EXPECT_TRUE(t2["new_per_s"].is_null());
  EXPECT_TRUE(t2["seconds_to_exhaustion"].is_null());
  EXPECT_EQ(p["host_wide"]["tcp_ports_in_use"], 33);
  EXPECT_TRUE(p["host_wide"]["udp_ports_in_use"].is_null());
  EXPECT_EQ(p["host_wide"]["usable"], 28232);
}

TEST(ReportJson, TuplesCutAtTwenty) {
  Fixture fx;
  fx.a.ports.tuples.clear();
  for (int i = 0; i < 25; ++i)
    fx.a.ports.tuples.push_back(tuple("10.0.0.1", "198.18.0.2", uint16_t(1000 + i), 10, 100));
  json p = report_json(fx.snap, fx.a)["resources"]["ephemeral_ports"];
  EXPECT_EQ(p["tuples"].size(), 20u);
  EXPECT_EQ(p["tuples_total"], 25);
  EXPECT_EQ(p["tuples"][0]["dport"], 1000);  // the analysis's order is kept (hottest first)
}

TEST(ReportJson, FileDescriptorsSortedByOwnLimit) {
  Fixture fx;
  json fd = report_json(fx.snap, fx.a)["resources"]["file_descriptors"];
  EXPECT_EQ(fd["system"]["allocated"], 1000);
  EXPECT_EQ(fd["system"]["max"], 4000);
  EXPECT_DOUBLE_EQ(fd["system"]["utilization"].get<double>(), 0.25);
  ASSERT_EQ(fd["processes"].size(), 3u);
  EXPECT_EQ(fd["processes"][0]["pid"], 4242);
  EXPECT_EQ(fd["processes"][0]["comm"], "web");
  EXPECT_EQ(fd["processes"][0]["open"], 1020);
  EXPECT_EQ(fd["processes"][0]["limit"], 1024);
  EXPECT_DOUBLE_EQ(fd["processes"][0]["utilization"].get<double>(), 0.9961);
  EXPECT_EQ(fd["processes"][1]["pid"], 7);
  // Unreadable: last, with nulls rather than zeros.
  EXPECT_EQ(fd["processes"][2]["pid"], 8);
  EXPECT_TRUE(fd["processes"][2]["open"].is_null());
  EXPECT_TRUE(fd["processes"][2]["limit"].is_null());
  EXPECT_TRUE(fd["processes"][2]["utilization"].is_null());
}

TEST(ReportJson, AcceptQueueListenersWithOwners) {
  Fixture fx;
  json aq = report_json(fx.snap, fx.a)["resources"]["accept_queue"];
  ASSERT_EQ(aq["listeners"].size(), 2u);
  // The overflowing one first, IPv6 in brackets, owner joined from listener_owner.
  EXPECT_EQ(aq["listeners"][0]["listen"], "[::]:8080");
  EXPECT_EQ(aq["listeners"][0]["queue"], 129);
  EXPECT_EQ(aq["listeners"][0]["limit"], 128);
  EXPECT_EQ(aq["listeners"][0]["pid"], 4242);
  EXPECT_EQ(aq["listeners"][0]["comm"], "web");
  EXPECT_EQ(aq["listeners"][1]["listen"], "0.0.0.0:80");
  EXPECT_TRUE(aq["listeners"][1]["pid"].is_null());
  EXPECT_TRUE(aq["listeners"][1]["comm"].is_null());
  EXPECT_DOUBLE_EQ(aq["overflows_per_s"].get<double>(), 10.0);
  EXPECT_TRUE(aq["drops_per_s"].is_null());  // counter never read
}

TEST(ReportJson, ConntrackOrphansMemorySysctls) {
  Fixture fx;
  json res = report_json(fx.snap, fx.a)["resources"];
  json ct = res["conntrack"];
  EXPECT_EQ(ct["count"], 10);
  EXPECT_EQ(ct["max"], 262144);
  EXPECT_TRUE(ct["buckets"].is_null());
  EXPECT_EQ(ct["stats"]["drop"], 10);
  EXPECT_EQ(ct["stats_source"], "procfs");
  EXPECT_DOUBLE_EQ(ct["drop_per_s"].get<double>(), 3.0);
  EXPECT_TRUE(ct["early_drop_per_s"].is_null());
  EXPECT_TRUE(res["orphans"]["count"].is_null());
  EXPECT_TRUE(res["orphans"]["max"].is_null());
  EXPECT_TRUE(res["tcp_memory"]["pages"].is_null());
  EXPECT_EQ(res["tcp_memory"]["pressure"], 2000);
  EXPECT_EQ(res["tcp_memory"]["max"], 3000);
  json sc = res["sysctls"];
  EXPECT_EQ(sc["net.ipv4.ip_local_port_range"], json::array({32768, 60999}));
  EXPECT_EQ(sc["net.ipv4.ip_local_reserved_ports"], "8080,9000-9010");
  EXPECT_EQ(sc["net.ipv4.tcp_tw_reuse"], 2);
  EXPECT_TRUE(sc["net.ipv4.tcp_timestamps"].is_null());
  EXPECT_TRUE(sc["fs.file-max"].is_null());
  EXPECT_EQ(sc["net.ipv4.tcp_mem"], json::array({1000, 2000, 3000}));
  EXPECT_EQ(sc["net.netfilter.nf_conntrack_tcp_timeout_established"], 432000);
  EXPECT_DOUBLE_EQ(res["interval_s"].get<double>(), 2.0);
  EXPECT_EQ(res["readings"], 2);
  EXPECT_TRUE(res["netns"].is_null());
}

// An empty snapshot (nothing could be read) must say "unknown" everywhere, never 0.
TEST(ReportJson, UnknownsAreNullNeverZero) {
  Snapshot snap;
  Analysis a;
  a.status = Status::kUnknown;
  json j = report_json(snap, a);
  EXPECT_EQ(j["status"], "unknown");
  json res = j["resources"];
  EXPECT_EQ(res["sockets"]["complete"], false);
  for (const char* k : {"by_state", "total", "time_wait_client", "time_wait_server"})
    EXPECT_TRUE(res["sockets"][k].is_null()) << k;
  json p = res["ephemeral_ports"];
  for (const char* k : {"range", "usable", "reserved_in_range", "bound_in_range", "tuples_total"})
    EXPECT_TRUE(p[k].is_null()) << k;
  EXPECT_TRUE(p["tuples"].empty());
  EXPECT_TRUE(p["host_wide"]["tcp_ports_in_use"].is_null());
  EXPECT_TRUE(res["file_descriptors"]["system"]["allocated"].is_null());
  EXPECT_TRUE(res["file_descriptors"]["system"]["max"].is_null());
  EXPECT_TRUE(res["accept_queue"]["listeners_total"].is_null());
  EXPECT_TRUE(res["accept_queue"]["overflows_per_s"].is_null());  // one reading
  EXPECT_TRUE(res["conntrack"]["count"].is_null());
  EXPECT_TRUE(res["conntrack"]["stats"].is_null());
  EXPECT_TRUE(res["conntrack"]["stats_source"].is_null());
  EXPECT_TRUE(res["time_wait"]["count"].is_null());
  EXPECT_TRUE(res["time_wait"]["client"].is_null());
  EXPECT_TRUE(res["interval_s"].is_null());
  EXPECT_EQ(res["readings"], 1);
  for (const auto& [k, v] : res["sysctls"].items()) EXPECT_TRUE(v.is_null()) << k;
}

TEST(ReportJson, NonFiniteNumbersBecomeNull) {
  Fixture fx;
  fx.a.ports.tuples[0].utilization = std::numeric_limits<double>::quiet_NaN();
  fx.a.ports.tuples[0].new_per_s = std::numeric_limits<double>::infinity();
  json t = report_json(fx.snap, fx.a)["resources"]["ephemeral_ports"]["tuples"][0];
  EXPECT_TRUE(t["utilization"].is_null());
  EXPECT_TRUE(t["new_per_s"].is_null());
}

TEST(ReportJson, ValidAndRoundTrips) {
  Fixture fx;
  fx.snap.netns = "cdlab-1-port-exhaustion";
  fx.a.findings[0].title += " \"quoted\" \xc3\xa9";  // escaping and UTF-8 survive
  json j = report_json(fx.snap, fx.a);
  std::string text = j.dump(2);
  nlohmann::json plain = nlohmann::json::parse(text);  // valid JSON for any consumer
  EXPECT_EQ(plain["schema"], "conndoctor/report/v1");
  EXPECT_EQ(json::parse(text), j);
  EXPECT_EQ(json::parse(j.dump()), j);
  EXPECT_EQ(j["resources"]["netns"], "cdlab-1-port-exhaustion");
}

// comm is whatever bytes a process put there (prctl PR_SET_NAME): the document must stay
// valid UTF-8, or dump() throws and `check --json` prints nothing.
TEST(ReportJson, InvalidUtf8FromTheSystemIsReplaced) {
  Fixture fx;
  fx.snap.second->processes[2].comm =
      "w\xff\xfe"
      "eb";
  fx.snap.missing.push_back("/proc/1/\xc3(fd: permission denied");
  fx.a.findings[0].evidence["comm"] =
      "w\xff"
      "eb";
  json j = report_json(fx.snap, fx.a);
  std::string text;
  ASSERT_NO_THROW(text = j.dump());
  json back = json::parse(text);
  EXPECT_EQ(back["resources"]["file_descriptors"]["processes"][0]["comm"],
            "w\xef\xbf\xbd\xef\xbf\xbd"
            "eb");
  EXPECT_EQ(back["missing"][1], "/proc/1/\xef\xbf\xbd(fd: permission denied");
  EXPECT_EQ(back["findings"][0]["evidence"]["comm"],
            "w\xef\xbf\xbd"
            "eb");
  // Valid multi-byte text is kept as it is.
  fx.snap.second->processes[2].comm = "caf\xc3\xa9";
  EXPECT_EQ(report_json(fx.snap, fx.a)["resources"]["file_descriptors"]["processes"][0]["comm"],
            "caf\xc3\xa9");
}

}  // namespace
}  // namespace cd
