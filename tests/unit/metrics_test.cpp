// Prometheus exposition of a diagnosis: the text format (HELP/TYPE, escaping, grouping),
// naming conventions, unknown figures omitted (never 0), bounded cardinality with 1000 tuples,
// processes and listeners, and docs/metrics.md listing every family.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "render/exposition.h"
#include "render/metrics.h"
#include "serve/trace_metrics.h"  // serve --trace families, documented in the same file

namespace cd {
namespace {

IpAddr ip(const char* s) {
  return *IpAddr::parse(s);
}

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

struct Parsed {
  std::map<std::string, std::string> type;  // family -> gauge|counter
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;
};

// A strict reader of the text format: a family's HELP then TYPE come before its samples, every
// sample belongs to the family announced last, no family appears twice, no series repeats.
Parsed parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line, current;
  std::set<std::string> closed, series;
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex sample_re(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+))");
  static const std::regex label_re(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?)re");
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "blank line in exposition";
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string fam = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(std::regex_match(fam, name_re)) << fam;
      EXPECT_FALSE(closed.count(fam)) << "family " << fam << " appears twice";
      if (!current.empty()) closed.insert(current);
      current = fam;
      p.help[fam] = rest.substr(fam.size() + 1);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream ls(line.substr(7));
      std::string fam, type;
      ls >> fam >> type;
      EXPECT_EQ(fam, current) << "TYPE without its HELP";
      EXPECT_TRUE(type == "gauge" || type == "counter") << type;
      p.type[fam] = type;
      continue;
    }
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, sample_re)) << "not a sample: " << line;
    if (m.empty()) continue;
    Sample s;
    s.name = m[1];
    s.value = m[4];
    EXPECT_EQ(s.name, current) << "sample outside its family block";
    EXPECT_TRUE(p.type.count(s.name)) << "sample before TYPE: " << line;
    std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), label_re), end; it != end; ++it)
      s.labels[(*it)[1]] = (*it)[2];
    EXPECT_TRUE(series.insert(s.name + "{" + labels + "}").second) << "duplicate " << line;
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::vector<Sample> of(const Parsed& p, const std::string& name) {
  std::vector<Sample> out;
  for (const Sample& s : p.samples)
    if (s.name == name) out.push_back(s);
  return out;
}

std::string value(const Parsed& p, const std::string& name,
                  const std::map<std::string, std::string>& labels = {}) {
  for (const Sample& s : p.samples)
    if (s.name == name && s.labels == labels) return s.value;
  return "<absent>";
}

// A reading with every figure known and two readings 10 s apart.
struct Fixture {
  Snapshot snap;
  Analysis a;
  Fixture() {
    Reading r;
    r.taken_at_s = 100;
    r.sysctls.ip_local_port_range = PortRange{40000, 40009};
    r.sysctls.tcp_max_tw_buckets = 131072;
    r.sysctls.tcp_tw_reuse = 2;
    r.sysctls.tcp_max_orphans = 65536;
    r.sysctls.tcp_mem = std::array<int64_t, 3>{1000, 2000, 3000};
    r.sysctls.nf_conntrack_max = 262144;
    r.sockstat.tcp_orphan = 3;
    r.sockstat.tcp_alloc = 40;
    r.sockstat.tcp_mem_pages = 7;
    r.file_nr.allocated = 1500;
    r.file_nr.max = 100000;
    r.counters = {{"TcpExt.ListenOverflows", 42},
                  {"Tcp.ActiveOpens", 9007199254740993LL},  // 2^53 + 1: must not round
                  {"Tcp.CurrEstab", 12}};
    r.conntrack.available = true;
    r.conntrack.count = 131072;
    r.conntrack.max = 262144;
    r.conntrack.stats = {{"drop", 5}, {"insert_failed", 0}};
    r.sockets.complete = true;
    r.sockets.udp_complete = true;
    r.sockets.by_state[int(TcpState::kEstablished)] = 10;
    r.sockets.by_state[int(TcpState::kTimeWait)] = 4;
    r.sockets.time_wait_client = 3;
    r.sockets.time_wait_server = 1;
    r.sockets.listeners = {Listener{Endpoint{ip("127.0.0.1"), 8080}, 3, 4, 1},
                           Listener{Endpoint{ip("127.0.0.1"), 8080}, 1, 4, 2},  // SO_REUSEPORT
                           Listener{Endpoint{ip("::1"), 22}, 0, 128, 3}};
    ProcessInfo p;
    p.pid = 4242;
    p.comm = "we\"ird\\name";
    p.open_fds = 900;
    p.fd_soft_limit = 1024;
    r.processes.push_back(p);
    ProcessInfo unlimited;
    unlimited.pid = 7;
    unlimited.comm = "unlimited";
    unlimited.open_fds = 5;
    r.processes.push_back(unlimited);
    snap.first = r;
    Reading r2 = r;
    r2.taken_at_s = 110;
    snap.second = r2;

    a.status = Status::kCritical;
    a.ports.known = true;
    a.ports.range = PortRange{40000, 40009};
    a.ports.usable_per_tuple = 10;
    TupleStat t;
    t.key = TupleKey{ip("127.0.0.1"), ip("127.0.0.1"), 8080};
    t.in_use = t.effective_in_use = t.usable = 10;
    t.time_wait = 6;
    t.utilization = 1.0;
    t.new_per_s = 2.5;
    t.seconds_to_exhaustion = 0;  // exhausted now: known, so exported as 0
    a.ports.tuples.push_back(t);
    TupleStat stable = t;
    stable.key.dport = 9090;
    stable.in_use = 1;
    stable.utilization = 0.1;
    stable.new_per_s.reset();
    stable.seconds_to_exhaustion.reset();  // stable: omitted
    a.ports.tuples.push_back(stable);
    Finding f;
    f.id = "ephemeral_ports.tuple_exhausted";
    f.resource = Resource::kEphemeralPorts;
    f.severity = Severity::kCritical;
    f.layer = Layer::kApplication;
    a.findings = {f, f};  // the same kind raised for two tuples
    Finding g;
    g.id = "file_descriptors.process_near_limit";
    g.resource = Resource::kFileDescriptors;
    g.severity = Severity::kWarning;
    g.layer = Layer::kApplication;
    a.findings.push_back(g);
  }
};

TEST(Exposition, EscapesAndFormats) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(format_metric_value(3.0), "3");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  Exposition e;
  MetricFamily a{"x_a", MetricType::kGauge, "first"};
  MetricFamily b{"x_b_total", MetricType::kCounter, "second\\with\nnewline"};
  e.add(a, int64_t(1), {{"k", "1"}});
  e.add(b, uint64_t(2));
  e.add(a, int64_t(3), {{"k", "2"}});  // back to the first family: kept in its block
  e.add(a, int64_t(4), {{"k", "2"}});  // duplicate series: dropped
  e.add_known(a, std::optional<int64_t>{}, {{"k", "3"}});
  EXPECT_EQ(e.str(),
            "# HELP x_a first\n# TYPE x_a gauge\nx_a{k=\"1\"} 1\nx_a{k=\"2\"} 3\n"
            "# HELP x_b_total second\\\\with\\nnewline\n# TYPE x_b_total counter\nx_b_total 2\n");
}

TEST(Metrics, FormatAndNamingConventions) {
  Fixture fx;
  Exposition e;
  write_exporter_metrics(e, ExporterStats{.up = true, .collection_duration_s = 0.125});
  write_diagnosis_metrics(e, fx.snap, fx.a, MetricsOptions{});
  Parsed p = parse(e.str());
  ASSERT_FALSE(p.samples.empty());
  for (const auto& [fam, type] : p.type) {
    EXPECT_EQ(fam.rfind("conndoctor_", 0), 0u) << fam;
    bool total = fam.size() > 6 && fam.ends_with("_total");
    EXPECT_EQ(type == "counter", total) << fam << " is a " << type;
    EXPECT_FALSE(p.help[fam].empty()) << fam;
  }
  EXPECT_EQ(value(p, "conndoctor_up"), "1");
  EXPECT_EQ(value(p, "conndoctor_scrape_duration_seconds"), "0.125");
  EXPECT_EQ(value(p, "conndoctor_status"), "2");
  EXPECT_EQ(value(p, "conndoctor_tcp_listen_overflows_total"), "42");
  EXPECT_EQ(value(p, "conndoctor_tcp_active_opens_total"), "9007199254740993");
  EXPECT_EQ(value(p, "conndoctor_tcp_current_established"), "12");
  EXPECT_EQ(value(p, "conndoctor_rate_interval_seconds"), "10");
  EXPECT_EQ(value(p, "conndoctor_conntrack_utilization_ratio"), "0.5");
  EXPECT_EQ(value(p, "conndoctor_conntrack_drops_total"), "5");
  EXPECT_EQ(value(p, "conndoctor_tcp_sockets", {{"state", "TIME_WAIT"}}), "4");
  EXPECT_EQ(value(p, "conndoctor_tcp_time_wait_sockets", {{"side", "server"}}), "1");
  EXPECT_EQ(value(p, "conndoctor_tcp_memory_limit_pages", {{"threshold", "pressure"}}), "2000");
  EXPECT_EQ(value(p, "conndoctor_ephemeral_port_range_low"), "40000");

  std::map<std::string, std::string> hot = {{"source", "127.0.0.1"},
                                            {"destination", "127.0.0.1:8080"}};
  std::map<std::string, std::string> cold = {{"source", "127.0.0.1"},
                                             {"destination", "127.0.0.1:9090"}};
  EXPECT_EQ(value(p, "conndoctor_ephemeral_ports_utilization_ratio", hot), "1");
  EXPECT_EQ(value(p, "conndoctor_ephemeral_ports_time_to_exhaustion_seconds", hot), "0");
  EXPECT_EQ(value(p, "conndoctor_ephemeral_ports_new_connections_per_second", hot), "2.5");
  EXPECT_EQ(value(p, "conndoctor_ephemeral_ports_utilization_ratio", cold), "0.1");
  EXPECT_EQ(value(p, "conndoctor_ephemeral_ports_time_to_exhaustion_seconds", cold), "<absent>");
  EXPECT_EQ(value(p, "conndoctor_ephemeral_ports_max_utilization_ratio"), "1");

  // Two findings of one kind: one series, value 2.
  EXPECT_EQ(value(p, "conndoctor_finding",
                  {{"id", "ephemeral_ports.tuple_exhausted"},
                   {"resource", "ephemeral_ports"},
                   {"severity", "critical"},
                   {"layer", "application"}}),
            "2");
  EXPECT_EQ(of(p, "conndoctor_finding").size(), 2u);

  // Labels escaped; the unlimited process cannot be ranked against a limit and is left out.
  auto procs = of(p, "conndoctor_process_open_fds");
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0].labels["pid"], "4242");
  EXPECT_EQ(procs[0].labels["comm"], "we\\\"ird\\\\name");
  EXPECT_EQ(value(p, "conndoctor_process_max_fd_utilization_ratio"), "0.87890625");

  // SO_REUSEPORT listeners share an endpoint: one series, the fullest queue.
  auto queues = of(p, "conndoctor_listen_queue_length");
  ASSERT_EQ(queues.size(), 2u);
  EXPECT_EQ(value(p, "conndoctor_listen_queue_length", {{"listen", "127.0.0.1:8080"}}), "3");
  EXPECT_EQ(value(p, "conndoctor_listen_queue_limit", {{"listen", "[::1]:22"}}), "128");
  EXPECT_EQ(value(p, "conndoctor_listen_queue_max_utilization_ratio"), "0.75");
}

TEST(Metrics, UnknownFiguresAreOmittedNeverZero) {
  Snapshot snap;  // nothing could be read: every optional unknown, dump incomplete
  Analysis a;
  a.status = Status::kUnknown;
  Parsed p = parse(render_metrics(snap, a, MetricsOptions{}));
  for (const char* name :
       {"conndoctor_tcp_time_wait_limit", "conndoctor_tcp_sockets", "conndoctor_tcp_tw_reuse",
        "conndoctor_conntrack_entries", "conndoctor_conntrack_entries_limit",
        "conndoctor_conntrack_utilization_ratio", "conndoctor_system_open_files",
        "conndoctor_system_open_files_limit", "conndoctor_tcp_orphan_sockets",
        "conndoctor_tcp_memory_pages", "conndoctor_tcp_listen_overflows_total",
        "conndoctor_ephemeral_ports_max_utilization_ratio", "conndoctor_ephemeral_port_range_low",
        "conndoctor_listeners", "conndoctor_rate_interval_seconds",
        "conndoctor_process_max_fd_utilization_ratio", "conndoctor_host_ports_in_use",
        "conndoctor_attribution_fd_scan"}) {
    EXPECT_TRUE(of(p, name).empty()) << name << " exported while unknown";
    EXPECT_FALSE(p.type.count(name)) << name << " has a TYPE line but no sample";
  }
  EXPECT_EQ(value(p, "conndoctor_status"), "3");
  EXPECT_EQ(value(p, "conndoctor_missing_figures"), "0");

  Exposition e;
  write_exporter_metrics(e, ExporterStats{.up = false, .errors_total = 3});
  Parsed q = parse(e.str());
  EXPECT_EQ(value(q, "conndoctor_up"), "0");
  EXPECT_EQ(value(q, "conndoctor_scrape_errors_total"), "3");
  EXPECT_TRUE(of(q, "conndoctor_scrape_duration_seconds").empty());
}

TEST(Metrics, CardinalityStaysBoundedWithAThousandTuples) {
  Fixture fx;
  fx.a.ports.tuples.clear();
  std::vector<TupleStat> tuples;
  for (int i = 0; i < 1000; ++i) {
    TupleStat t;
    t.key = TupleKey{ip("198.18.0.1"), IpAddr::v4(htonl(0xC6120000u + 2 + uint32_t(i))), 443};
    t.in_use = uint32_t(i);
    t.usable = 1000;
    t.utilization = double(i) / 1000.0;
    t.seconds_to_exhaustion = 1000.0 - i;
    tuples.push_back(t);
  }
  // Whatever order they come in, the hottest ones are exported.
  std::shuffle(tuples.begin(), tuples.end(), std::mt19937(7));
  fx.a.ports.tuples = tuples;
  fx.snap.second->processes.clear();
  fx.snap.second->fd_scan = "bpf";
  for (int i = 0; i < 1000; ++i) {
    ProcessInfo p;
    p.pid = 10000 + i;
    p.comm = "worker";
    p.open_fds = uint64_t(i);
    p.fd_soft_limit = 1000;
    fx.snap.second->processes.push_back(p);
  }
  fx.snap.second->sockets.listeners.clear();
  for (int i = 0; i < 1000; ++i)
    fx.snap.second->sockets.listeners.push_back(
        Listener{Endpoint{ip("127.0.0.1"), uint16_t(1000 + i)}, uint32_t(i % 50), 128, 0});

  for (std::size_t top : {std::size_t(1), std::size_t(5), std::size_t(20)}) {
    MetricsOptions opt{.top_tuples = top, .top_processes = top, .top_listeners = top};
    Parsed p = parse(render_metrics(fx.snap, fx.a, opt));
    for (const char* fam :
         {"conndoctor_ephemeral_ports_in_use", "conndoctor_ephemeral_ports_utilization_ratio",
          "conndoctor_ephemeral_ports_time_to_exhaustion_seconds", "conndoctor_process_open_fds",
          "conndoctor_process_fd_limit", "conndoctor_listen_queue_length"})
      EXPECT_EQ(of(p, fam).size(), top) << fam;
    // The exported tuples are exactly the `top` hottest (in_use 999, 998, ...).
    std::set<std::string> got, want;
    for (const Sample& s : of(p, "conndoctor_ephemeral_ports_in_use")) got.insert(s.value);
    for (std::size_t i = 0; i < top; ++i) want.insert(std::to_string(999 - i));
    EXPECT_EQ(got, want);
    EXPECT_EQ(value(p, "conndoctor_ephemeral_tuples"), "1000");
    EXPECT_EQ(value(p, "conndoctor_processes_scanned"), "1000");
    EXPECT_EQ(value(p, "conndoctor_attribution_fd_scan", {{"method", "bpf"}}), "1");
    EXPECT_EQ(value(p, "conndoctor_listeners"), "1000");
    // The whole document stays small: series grow with `top`, not with the host.
    EXPECT_LT(p.samples.size(), 120 + 12 * top);
  }
}

// A process in a pod's container gets kube-state-metrics' label names; one outside any
// container gets none of them; the container's short id stands in when its state is unknown.
TEST(Metrics, ProcessesInContainersCarryPodLabels) {
  Fixture fx;
  Reading& r = *fx.snap.second;
  ContainerIdentity c;
  c.container_id = std::string(64, 'a');
  c.runtime = "containerd";
  c.state_read = true;
  c.pod = "checkout-7f9c";
  c.pod_namespace = "shop";
  c.container = "app";
  r.processes[0].container = c;
  r.processes[0].comm = "api";
  ProcessInfo unnamed;
  unnamed.pid = 99;
  unnamed.comm = "side";
  unnamed.open_fds = 800;
  unnamed.fd_soft_limit = 1024;
  unnamed.container = ContainerIdentity{};
  unnamed.container->container_id = std::string(64, 'b');
  r.processes.push_back(unnamed);
  ProcessInfo host;
  host.pid = 1;
  host.comm = "init";
  host.open_fds = 700;
  host.fd_soft_limit = 1024;
  r.processes.push_back(host);
  Parsed p = parse(render_metrics(fx.snap, fx.a, MetricsOptions{}));
  EXPECT_EQ(value(p, "conndoctor_process_open_fds",
                  {{"pid", "4242"},
                   {"comm", "api"},
                   {"pod", "checkout-7f9c"},
                   {"namespace", "shop"},
                   {"container", "app"}}),
            "900");
  EXPECT_EQ(value(p, "conndoctor_process_open_fds",
                  {{"pid", "99"}, {"comm", "side"}, {"container", "bbbbbbbbbbbb"}}),
            "800");
  EXPECT_EQ(value(p, "conndoctor_process_open_fds", {{"pid", "1"}, {"comm", "init"}}), "700");
}

TEST(Metrics, EveryFamilyIsDocumentedOnce) {
  std::ifstream in(std::string(CONNDOCTOR_FIXTURES) + "/../../docs/metrics.md");
  ASSERT_TRUE(in) << "docs/metrics.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  std::set<std::string_view> names;
  std::vector<MetricFamily> families = all_metric_families();
  for (const MetricFamily& f : trace_metric_families()) families.push_back(f);  // serve --trace
  for (const MetricFamily& f : families) {
    EXPECT_TRUE(names.insert(f.name).second) << "family declared twice: " << f.name;
    EXPECT_NE(doc.find("`" + std::string(f.name) + "`"), std::string::npos)
        << f.name << " is not in docs/metrics.md";
  }
  // And the doc names nothing the code does not export.
  std::regex doc_name("`(conndoctor_[a-z0-9_]+)`");
  for (std::sregex_iterator it(doc.begin(), doc.end(), doc_name), end; it != end; ++it)
    EXPECT_TRUE(names.count((*it)[1].str())) << (*it)[1] << " documented but not exported";
}

}  // namespace
}  // namespace cd
