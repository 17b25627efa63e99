// The diagnosis as Prometheus metrics: one table of families, then one small writer per resource.
#include "render/metrics.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "analyse/finding.h"
#include "util/format.h"

namespace cd {
namespace {

using T = MetricType;

// A kernel counter and the family it is re-exported as.
struct CounterMap {
  MetricFamily family;
  const char* key;  // "Section.Field" in Reading::counters, or a conntrack stat name
};

// Every family, in the order docs/metrics.md lists them. Names carry their unit (`_seconds`,
// `_ratio`, `_pages`) and counters end in `_total`, as the Prometheus naming guide asks.
namespace m {
constexpr MetricFamily status{"conndoctor_status", T::kGauge,
                              "Overall verdict: 0 ok, 1 warning, 2 critical, 3 unknown."};
constexpr MetricFamily finding{
    "conndoctor_finding", T::kGauge,
    "Findings of the last diagnosis by kind; value = how many subjects (tuples, processes, "
    "listeners) raised it."};
constexpr MetricFamily missing{"conndoctor_missing_figures", T::kGauge,
                               "Figures that could not be read (see /report missing)."};
constexpr MetricFamily rate_interval{
    "conndoctor_rate_interval_seconds", T::kGauge,
    "Time between the two readings that rates and forecasts were computed from."};

constexpr MetricFamily sockets{"conndoctor_tcp_sockets", T::kGauge,
                               "TCP sockets of the namespace by state."};
constexpr MetricFamily tw_sockets{
    "conndoctor_tcp_time_wait_sockets", T::kGauge,
    "TIME_WAIT sockets by side: client (holds an ephemeral port), server (the server closed "
    "first), other."};
constexpr MetricFamily tw_limit{"conndoctor_tcp_time_wait_limit", T::kGauge,
                                "net.ipv4.tcp_max_tw_buckets."};
constexpr MetricFamily tw_ratio{"conndoctor_tcp_time_wait_utilization_ratio", T::kGauge,
                                "TIME_WAIT sockets / tcp_max_tw_buckets."};
constexpr MetricFamily tw_reuse{"conndoctor_tcp_tw_reuse", T::kGauge,
                                "net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only."};
constexpr MetricFamily curr_estab{"conndoctor_tcp_current_established", T::kGauge,
                                  "Tcp CurrEstab: ESTABLISHED plus CLOSE_WAIT sockets."};

constexpr MetricFamily range_low{"conndoctor_ephemeral_port_range_low", T::kGauge,
                                 "First port of net.ipv4.ip_local_port_range."};
constexpr MetricFamily range_high{"conndoctor_ephemeral_port_range_high", T::kGauge,
                                  "Last port of net.ipv4.ip_local_port_range."};
constexpr MetricFamily ports_reserved{"conndoctor_ephemeral_ports_reserved", T::kGauge,
                                      "Reserved ports (ip_local_reserved_ports) inside the range."};
constexpr MetricFamily ports_bound{
    "conndoctor_ephemeral_ports_bound", T::kGauge,
    "Listening ports inside the range: excluded from every destination's pool."};
constexpr MetricFamily ports_usable{
    "conndoctor_ephemeral_ports_usable_per_tuple", T::kGauge,
    "Ports one (source IP, destination IP, destination port) tuple can use."};
constexpr MetricFamily tuples_total{"conndoctor_ephemeral_tuples", T::kGauge,
                                    "Destination tuples holding ephemeral ports (all of them)."};
constexpr MetricFamily ports_max_ratio{
    "conndoctor_ephemeral_ports_max_utilization_ratio", T::kGauge,
    "Utilisation of the hottest destination tuple (0 when no tuple holds a port)."};
constexpr MetricFamily tuple_in_use{
    "conndoctor_ephemeral_ports_in_use", T::kGauge,
    "Ports held towards this tuple, TIME_WAIT included (top-N tuples)."};
constexpr MetricFamily tuple_tw{"conndoctor_ephemeral_ports_time_wait", T::kGauge,
                                "Ports of this tuple held by TIME_WAIT (top-N tuples)."};
constexpr MetricFamily tuple_tw_reusable{
    "conndoctor_ephemeral_ports_time_wait_reusable", T::kGauge,
    "TIME_WAIT ports of this tuple that tcp_tw_reuse lets connect() take over (top-N tuples)."};
constexpr MetricFamily tuple_limit{"conndoctor_ephemeral_ports_limit", T::kGauge,
                                   "Usable pool of this tuple (top-N tuples)."};
constexpr MetricFamily tuple_ratio{
    "conndoctor_ephemeral_ports_utilization_ratio", T::kGauge,
    "Ports that block connect() / usable pool, per tuple (top-N tuples)."};
constexpr MetricFamily tuple_rate{
    "conndoctor_ephemeral_ports_new_connections_per_second", T::kGauge,
    "Connections started per second towards this tuple (top-N tuples)."};
constexpr MetricFamily tuple_demand{
    "conndoctor_ephemeral_ports_steady_state_demand", T::kGauge,
    "Ports this tuple needs at its current rate: live + rate x 60 s (top-N tuples)."};
constexpr MetricFamily tuple_eta{
    "conndoctor_ephemeral_ports_time_to_exhaustion_seconds", T::kGauge,
    "Forecast seconds until this tuple's pool is exhausted; 0 = exhausted now; absent = stable."};
constexpr MetricFamily host_ports{"conndoctor_host_ports_in_use", T::kGauge,
                                  "Distinct local ports in the ephemeral range (the pool "
                                  "bind()-before-connect() and UDP share)."};
constexpr MetricFamily host_usable{"conndoctor_host_ports_usable", T::kGauge,
                                   "Usable ports of that host-wide pool."};

constexpr MetricFamily sys_files{"conndoctor_system_open_files", T::kGauge,
                                 "Open files on the host (fs.file-nr allocated)."};
constexpr MetricFamily sys_files_limit{"conndoctor_system_open_files_limit", T::kGauge,
                                       "fs.file-max."};
constexpr MetricFamily sys_files_ratio{"conndoctor_system_open_files_utilization_ratio", T::kGauge,
                                       "Open files / fs.file-max."};
constexpr MetricFamily processes{"conndoctor_processes_scanned", T::kGauge,
                                 "Processes scanned for open fds."};
constexpr MetricFamily fd_scan{
    "conndoctor_attribution_fd_scan", T::kGauge,
    "Always 1; how attribution read the processes' fds (method: bpf or procfs)."};
constexpr MetricFamily proc_open{"conndoctor_process_open_fds", T::kGauge,
                                 "Open fds of the process (top-N processes)."};
constexpr MetricFamily proc_limit{"conndoctor_process_fd_limit", T::kGauge,
                                  "The process's own soft RLIMIT_NOFILE (top-N processes)."};
constexpr MetricFamily proc_ratio{"conndoctor_process_fd_utilization_ratio", T::kGauge,
                                  "Open fds / own soft limit (top-N processes)."};
constexpr MetricFamily proc_max_ratio{
    "conndoctor_process_max_fd_utilization_ratio", T::kGauge,
    "Highest open fds / own soft limit of any process with a limit."};

constexpr MetricFamily listeners{"conndoctor_listeners", T::kGauge, "Listening TCP sockets."};
constexpr MetricFamily listen_len{"conndoctor_listen_queue_length", T::kGauge,
                                  "Accept-queue length of the listener (top-N listeners)."};
constexpr MetricFamily listen_limit{
    "conndoctor_listen_queue_limit", T::kGauge,
    "Accept-queue limit min(backlog, somaxconn) of the listener (top-N listeners)."};
constexpr MetricFamily listen_max_ratio{
    "conndoctor_listen_queue_max_utilization_ratio", T::kGauge,
    "Fullest accept queue: length / limit (0 when no listener)."};

constexpr MetricFamily orphans{"conndoctor_tcp_orphan_sockets", T::kGauge,
                               "Orphaned TCP sockets (host-wide)."};
constexpr MetricFamily orphans_limit{"conndoctor_tcp_orphan_sockets_limit", T::kGauge,
                                     "net.ipv4.tcp_max_orphans."};
constexpr MetricFamily alloc{"conndoctor_tcp_allocated_sockets", T::kGauge,
                             "Allocated TCP sockets (host-wide)."};
constexpr MetricFamily mem_pages{"conndoctor_tcp_memory_pages", T::kGauge,
                                 "Pages of memory TCP uses (host-wide, same unit as tcp_mem)."};
constexpr MetricFamily mem_limit{"conndoctor_tcp_memory_limit_pages", T::kGauge,
                                 "net.ipv4.tcp_mem thresholds: min, pressure, max."};

constexpr MetricFamily ct_entries{"conndoctor_conntrack_entries", T::kGauge,
                                  "Conntrack entries of the namespace."};
constexpr MetricFamily ct_limit{"conndoctor_conntrack_entries_limit", T::kGauge,
                                "nf_conntrack_max (global, compared with each namespace)."};
constexpr MetricFamily ct_buckets{"conndoctor_conntrack_buckets", T::kGauge,
                                  "nf_conntrack_buckets."};
constexpr MetricFamily ct_ratio{"conndoctor_conntrack_utilization_ratio", T::kGauge,
                                "Conntrack entries / nf_conntrack_max."};
constexpr MetricFamily snat{
    "conndoctor_snat_entries", T::kGauge,
    "Conntrack entries source-NATed per (NAT IP, destination, protocol) (top-N groups)."};

// Kernel counters, re-exported as counters under conventional names. Prometheus computes the
// rates (and handles resets); the analysis used its own two readings for the findings.
constexpr CounterMap kKernelCounters[] = {
    {{"conndoctor_tcp_active_opens_total", T::kCounter, "Tcp ActiveOpens: connect() calls."},
     "Tcp.ActiveOpens"},
    {{"conndoctor_tcp_passive_opens_total", T::kCounter, "Tcp PassiveOpens: accepted."},
     "Tcp.PassiveOpens"},
    {{"conndoctor_tcp_attempt_fails_total", T::kCounter,
      "Tcp AttemptFails (ECONNREFUSED and the like; not EADDRNOTAVAIL)."},
     "Tcp.AttemptFails"},
    {{"conndoctor_tcp_established_resets_total", T::kCounter, "Tcp EstabResets."},
     "Tcp.EstabResets"},
    {{"conndoctor_tcp_retransmitted_segments_total", T::kCounter, "Tcp RetransSegs."},
     "Tcp.RetransSegs"},
    {{"conndoctor_tcp_out_resets_total", T::kCounter, "Tcp OutRsts: resets sent."}, "Tcp.OutRsts"},
    {{"conndoctor_tcp_in_errors_total", T::kCounter, "Tcp InErrs."}, "Tcp.InErrs"},
    {{"conndoctor_tcp_listen_overflows_total", T::kCounter,
      "TcpExt ListenOverflows: accept queue full."},
     "TcpExt.ListenOverflows"},
    {{"conndoctor_tcp_listen_drops_total", T::kCounter, "TcpExt ListenDrops."},
     "TcpExt.ListenDrops"},
    {{"conndoctor_tcp_request_queue_full_cookies_total", T::kCounter,
      "TcpExt TCPReqQFullDoCookies: SYN queue full, syncookies sent."},
     "TcpExt.TCPReqQFullDoCookies"},
    {{"conndoctor_tcp_request_queue_full_drops_total", T::kCounter,
      "TcpExt TCPReqQFullDrop: SYN queue full, SYN dropped."},
     "TcpExt.TCPReqQFullDrop"},
    {{"conndoctor_tcp_syncookies_sent_total", T::kCounter, "TcpExt SyncookiesSent."},
     "TcpExt.SyncookiesSent"},
    {{"conndoctor_tcp_syncookies_failed_total", T::kCounter, "TcpExt SyncookiesFailed."},
     "TcpExt.SyncookiesFailed"},
    {{"conndoctor_tcp_time_wait_completed_total", T::kCounter,
      "TcpExt TW: sockets that finished TIME_WAIT."},
     "TcpExt.TW"},
    {{"conndoctor_tcp_time_wait_reused_total", T::kCounter,
      "TcpExt TWRecycled: TIME_WAIT ports taken over by connect() (tcp_tw_reuse)."},
     "TcpExt.TWRecycled"},
    {{"conndoctor_tcp_time_wait_killed_total", T::kCounter, "TcpExt TWKilled."}, "TcpExt.TWKilled"},
    {{"conndoctor_tcp_time_wait_overflows_total", T::kCounter,
      "TcpExt TCPTimeWaitOverflow: closes that skipped TIME_WAIT (tcp_max_tw_buckets)."},
     "TcpExt.TCPTimeWaitOverflow"},
    {{"conndoctor_tcp_aborts_on_memory_total", T::kCounter,
      "TcpExt TCPAbortOnMemory: resets for orphans or tcp_mem."},
     "TcpExt.TCPAbortOnMemory"},
    {{"conndoctor_tcp_memory_pressures_total", T::kCounter, "TcpExt TCPMemoryPressures."},
     "TcpExt.TCPMemoryPressures"},
    {{"conndoctor_tcp_aborts_on_timeout_total", T::kCounter, "TcpExt TCPAbortOnTimeout."},
     "TcpExt.TCPAbortOnTimeout"},
    {{"conndoctor_tcp_aborts_on_close_total", T::kCounter, "TcpExt TCPAbortOnClose."},
     "TcpExt.TCPAbortOnClose"},
    {{"conndoctor_tcp_aborts_on_data_total", T::kCounter, "TcpExt TCPAbortOnData."},
     "TcpExt.TCPAbortOnData"},
    {{"conndoctor_tcp_paws_active_rejects_total", T::kCounter,
      "TcpExt PAWSActive: SYN-ACKs rejected by PAWS (timestamp older than the last seen)."},
     "TcpExt.PAWSActive"},
    {{"conndoctor_tcp_paws_established_rejects_total", T::kCounter, "TcpExt PAWSEstab."},
     "TcpExt.PAWSEstab"},
};
constexpr CounterMap kConntrackCounters[] = {
    {{"conndoctor_conntrack_drops_total", T::kCounter,
      "Conntrack drop: packets dropped, table full and nothing evictable."},
     "drop"},
    {{"conndoctor_conntrack_early_drops_total", T::kCounter,
      "Conntrack early_drop: entries evicted to make room."},
     "early_drop"},
    {{"conndoctor_conntrack_insert_failures_total", T::kCounter,
      "Conntrack insert_failed: clashes at confirm time (SNAT port clash, UDP races)."},
     "insert_failed"},
    {{"conndoctor_conntrack_invalid_total", T::kCounter, "Conntrack invalid packets."}, "invalid"},
};

constexpr MetricFamily up{"conndoctor_up", T::kGauge,
                          "1 when the last collection succeeded, else 0."};
constexpr MetricFamily duration{"conndoctor_scrape_duration_seconds", T::kGauge,
                                "Time the collection and analysis behind this scrape took."};
constexpr MetricFamily age{"conndoctor_scrape_age_seconds", T::kGauge,
                           "Age of the data served (collections are rate-limited and shared)."};
constexpr MetricFamily collections{"conndoctor_collections_total", T::kCounter, "Collections run."};
constexpr MetricFamily errors{"conndoctor_scrape_errors_total", T::kCounter,
                              "Collections that failed."};
constexpr MetricFamily scrapes{"conndoctor_scrapes_total", T::kCounter,
                               "/metrics requests answered."};
constexpr MetricFamily shared{
    "conndoctor_scrapes_shared_total", T::kCounter,
    "/metrics requests answered from a collection in progress or a recent one."};
constexpr MetricFamily build{"conndoctor_build_info", T::kGauge,
                             "Always 1; the version in a label."};
}  // namespace m

double ratio(double num, double den) {
  return den > 0 ? num / den : 0.0;
}

MetricLabels tuple_labels(const TupleKey& k) {
  return {{"source", k.src.to_string()}, {"destination", k.destination().to_string()}};
}

void write_status(Exposition& out, const Snapshot& snap, const Analysis& a) {
  out.add(m::status, int64_t(a.status));
  // Findings can repeat one id for several subjects; one series per kind keeps the label set
  // bounded by the rule table, whatever the host does.
  std::map<std::tuple<std::string, Resource, Severity, Layer>, int64_t> kinds;
  for (const Finding& f : a.findings) ++kinds[{f.id, f.resource, f.severity, f.layer}];
  for (const auto& [k, n] : kinds) {
    const auto& [id, resource, severity, layer] = k;
    out.add(m::finding, n,
            {{"id", id},
             {"resource", std::string(to_string(resource))},
             {"severity", std::string(to_string(severity))},
             {"layer", std::string(to_string(layer))}});
  }
  out.add(m::missing, uint64_t(snap.missing.size()));
  out.add_known(m::rate_interval, snap.interval_s());
}

void write_sockets(Exposition& out, const Reading& r) {
  const SocketSummary& s = r.sockets;
  if (s.complete) {
    for (int st = 1; st < kTcpStateSlots; ++st) {
      std::string_view name = tcp_state_name(st);
      if (name == "UNKNOWN") continue;
      out.add(m::sockets, uint64_t(s.by_state[st]), {{"state", std::string(name)}});
    }
    out.add(m::tw_sockets, s.time_wait_client, {{"side", "client"}});
    out.add(m::tw_sockets, s.time_wait_server, {{"side", "server"}});
    out.add(m::tw_sockets, s.time_wait_other, {{"side", "other"}});
    if (r.sysctls.tcp_max_tw_buckets) {
      uint64_t tw = s.by_state[int(TcpState::kTimeWait)];
      out.add(m::tw_ratio, ratio(double(tw), double(*r.sysctls.tcp_max_tw_buckets)));
    }
  }
  out.add_known(m::tw_limit, r.sysctls.tcp_max_tw_buckets);
  out.add_known(m::tw_reuse, r.sysctls.tcp_tw_reuse);
  out.add_known(m::curr_estab, counter(r, "Tcp.CurrEstab"));
}

void write_ports(Exposition& out, const Reading& r, const PortAnalysis& p,
                 const MetricsOptions& opt) {
  if (r.sysctls.ip_local_port_range) {
    out.add(m::range_low, uint64_t(r.sysctls.ip_local_port_range->lo));
    out.add(m::range_high, uint64_t(r.sysctls.ip_local_port_range->hi));
  }
  if (!p.known) return;
  out.add(m::ports_reserved, uint64_t(p.reserved_in_range));
  out.add(m::ports_bound, uint64_t(p.bound_in_range));
  out.add(m::ports_usable, uint64_t(p.usable_per_tuple));
  out.add(m::tuples_total, uint64_t(p.tuples.size()));
  double hottest = 0;
  for (const TupleStat& t : p.tuples) hottest = std::max(hottest, t.utilization);
  out.add(m::ports_max_ratio, hottest);

  // PortAnalysis keeps the tuples hottest first; sort a view anyway so that the top N do not
  // depend on that promise.
  std::vector<const TupleStat*> order;
  order.reserve(p.tuples.size());
  for (const TupleStat& t : p.tuples) order.push_back(&t);
  std::size_t n = std::min(opt.top_tuples, order.size());
  std::partial_sort(order.begin(), order.begin() + n, order.end(),
                    [](const TupleStat* a, const TupleStat* b) {
                      if (a->utilization != b->utilization) return a->utilization > b->utilization;
                      if (a->in_use != b->in_use) return a->in_use > b->in_use;
                      return a->key < b->key;
                    });
  for (std::size_t i = 0; i < n; ++i) {
    const TupleStat& t = *order[i];
    MetricLabels l = tuple_labels(t.key);
    out.add(m::tuple_in_use, uint64_t(t.in_use), l);
    out.add(m::tuple_tw, uint64_t(t.time_wait), l);
    out.add(m::tuple_tw_reusable, uint64_t(t.tw_reusable), l);
    out.add(m::tuple_limit, uint64_t(t.usable), l);
    out.add(m::tuple_ratio, t.utilization, l);
    out.add_known(m::tuple_rate, t.new_per_s, l);
    out.add_known(m::tuple_demand, t.steady_state_demand, l);
    out.add_known(m::tuple_eta, t.seconds_to_exhaustion, l);
  }
  out.add(m::host_ports, uint64_t(p.host_tcp_ports_in_use), {{"protocol", "tcp"}});
  if (r.sockets.udp_complete)
    out.add(m::host_ports, uint64_t(p.host_udp_ports_in_use), {{"protocol", "udp"}});
  out.add(m::host_usable, uint64_t(p.host_usable));
}

// kube-state-metrics' and cAdvisor's label names, for processes in a pod's container. Only the
// --top processes get series, so the values are bounded like pid and comm; a name is cut at
// Kubernetes' own longest (253) so that a forged annotation cannot blow a series up.
void add_identity_labels(MetricLabels& l, const ProcessInfo& p) {
  if (!p.container) return;
  const ContainerIdentity& c = *p.container;
  auto cut = [](std::string v) {
    if (v.size() > 253) v.resize(253);
    return v;
  };
  if (c.pod && !c.pod->empty()) l.push_back({"pod", cut(*c.pod)});
  if (c.pod_namespace && !c.pod_namespace->empty())
    l.push_back({"namespace", cut(*c.pod_namespace)});
  l.push_back({"container", cut(c.container_name())});
}

void write_fds(Exposition& out, const Reading& r, const MetricsOptions& opt) {
  out.add_known(m::sys_files, r.file_nr.allocated);
  std::optional<int64_t> file_max = r.file_nr.max ? r.file_nr.max : r.sysctls.file_max;
  out.add_known(m::sys_files_limit, file_max);
  if (r.file_nr.allocated && file_max)
    out.add(m::sys_files_ratio, ratio(double(*r.file_nr.allocated), double(*file_max)));

  out.add(m::processes, uint64_t(r.processes.size()));
  if (!r.fd_scan.empty()) out.add(m::fd_scan, int64_t(1), {{"method", r.fd_scan}});
  // Only processes with both figures known can be ranked against their own limit; an
  // unlimited process cannot run out and is left out.
  std::vector<const ProcessInfo*> ranked;
  for (const ProcessInfo& p : r.processes)
    if (p.open_fds && p.fd_soft_limit && *p.fd_soft_limit > 0) ranked.push_back(&p);
  auto util = [](const ProcessInfo* p) { return double(*p->open_fds) / double(*p->fd_soft_limit); };
  std::size_t n = std::min(opt.top_processes, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + n, ranked.end(),
                    [&](const ProcessInfo* a, const ProcessInfo* b) {
                      if (util(a) != util(b)) return util(a) > util(b);
                      if (*a->open_fds != *b->open_fds) return *a->open_fds > *b->open_fds;
                      return a->pid < b->pid;
                    });
  if (!ranked.empty()) out.add(m::proc_max_ratio, util(ranked.front()));
  for (std::size_t i = 0; i < n; ++i) {
    const ProcessInfo& p = *ranked[i];
    MetricLabels l = {{"pid", std::to_string(p.pid)}, {"comm", p.comm}};
    add_identity_labels(l, p);
    out.add(m::proc_open, *p.open_fds, l);
    out.add(m::proc_limit, *p.fd_soft_limit, l);
    out.add(m::proc_ratio, util(&p), l);
  }
}

void write_listeners(Exposition& out, const Reading& r, const MetricsOptions& opt) {
  const SocketSummary& s = r.sockets;
  if (!s.complete) return;
  out.add(m::listeners, uint64_t(s.listeners.size()));
  auto util = [](const Listener* l) {
    return l->queue_limit ? double(l->queue_len) / double(l->queue_limit) : 0.0;
  };
  std::vector<const Listener*> ranked;
  for (const Listener& l : s.listeners) ranked.push_back(&l);
  // Fullest first, so that when SO_REUSEPORT listeners share an endpoint the exporter keeps
  // the fullest queue of them (Exposition drops the later duplicates).
  std::sort(ranked.begin(), ranked.end(), [&](const Listener* a, const Listener* b) {
    if (util(a) != util(b)) return util(a) > util(b);
    if (a->queue_len != b->queue_len) return a->queue_len > b->queue_len;
    return a->local < b->local;
  });
  out.add(m::listen_max_ratio, ranked.empty() ? 0.0 : util(ranked.front()));
  std::size_t shown = 0;
  std::vector<Endpoint> seen;
  for (const Listener* l : ranked) {
    if (shown == opt.top_listeners) break;
    if (std::find(seen.begin(), seen.end(), l->local) != seen.end()) continue;
    seen.push_back(l->local);
    MetricLabels lab = {{"listen", l->local.to_string()}};
    out.add(m::listen_len, uint64_t(l->queue_len), lab);
    out.add(m::listen_limit, uint64_t(l->queue_limit), lab);
    ++shown;
  }
}

void write_memory(Exposition& out, const Reading& r) {
  out.add_known(m::orphans, r.sockstat.tcp_orphan);
  out.add_known(m::orphans_limit, r.sysctls.tcp_max_orphans);
  out.add_known(m::alloc, r.sockstat.tcp_alloc);
  out.add_known(m::mem_pages, r.sockstat.tcp_mem_pages);
  if (r.sysctls.tcp_mem) {
    const auto& t = *r.sysctls.tcp_mem;
    out.add(m::mem_limit, t[0], {{"threshold", "min"}});
    out.add(m::mem_limit, t[1], {{"threshold", "pressure"}});
    out.add(m::mem_limit, t[2], {{"threshold", "max"}});
  }
}

void write_conntrack(Exposition& out, const Reading& r, const MetricsOptions& opt) {
  const ConntrackStats& c = r.conntrack;
  std::optional<int64_t> count = c.count ? c.count : r.sysctls.nf_conntrack_count;
  std::optional<int64_t> max = c.max ? c.max : r.sysctls.nf_conntrack_max;
  std::optional<int64_t> buckets = c.buckets ? c.buckets : r.sysctls.nf_conntrack_buckets;
  out.add_known(m::ct_entries, count);
  out.add_known(m::ct_limit, max);
  out.add_known(m::ct_buckets, buckets);
  if (count && max) out.add(m::ct_ratio, ratio(double(*count), double(*max)));
  for (const CounterMap& cm : m::kConntrackCounters) {
    auto it = c.stats.find(cm.key);
    if (it != c.stats.end()) out.add(cm.family, it->second);
  }
  const ConntrackTable& t = r.conntrack_table;
  if (!t.dumped) return;
  std::size_t n = std::min(opt.top_snat, t.snat.size());
  for (std::size_t i = 0; i < n; ++i) {
    const SnatGroup& g = t.snat[i];
    std::string proto = g.protocol == 6    ? "tcp"
                        : g.protocol == 17 ? "udp"
                                           : std::to_string(g.protocol);
    out.add(m::snat, g.entries,
            {{"nat_ip", g.nat_ip.to_string()},
             {"destination", g.dst.to_string()},
             {"protocol", proto}});
  }
}

void write_kernel_counters(Exposition& out, const Reading& r) {
  for (const CounterMap& cm : m::kKernelCounters) out.add_known(cm.family, counter(r, cm.key));
}

}  // namespace

void write_diagnosis_metrics(Exposition& out, const Snapshot& snap, const Analysis& a,
                             const MetricsOptions& opt) {
  const Reading& r = snap.now();
  write_status(out, snap, a);
  write_sockets(out, r);
  write_ports(out, r, a.ports, opt);
  write_fds(out, r, opt);
  write_listeners(out, r, opt);
  write_memory(out, r);
  write_conntrack(out, r, opt);
  write_kernel_counters(out, r);
}

void write_exporter_metrics(Exposition& out, const ExporterStats& s) {
  out.add(m::up, int64_t(s.up ? 1 : 0));
  out.add_known(m::duration, s.collection_duration_s);
  out.add_known(m::age, s.collection_age_s);
  out.add(m::collections, s.collections_total);
  out.add(m::errors, s.errors_total);
  out.add(m::scrapes, s.scrapes_total);
  out.add(m::shared, s.scrapes_shared_total);
  out.add(m::build, int64_t(1), {{"version", CONNDOCTOR_VERSION}});
}

std::string render_metrics(const Snapshot& snap, const Analysis& a, const MetricsOptions& opt) {
  Exposition out;
  write_diagnosis_metrics(out, snap, a, opt);
  return out.str();
}

const std::vector<MetricFamily>& all_metric_families() {
  static const std::vector<MetricFamily> all = [] {
    std::vector<MetricFamily> v = {m::status,          m::finding,
                                   m::missing,         m::rate_interval,
                                   m::sockets,         m::tw_sockets,
                                   m::tw_limit,        m::tw_ratio,
                                   m::tw_reuse,        m::curr_estab,
                                   m::range_low,       m::range_high,
                                   m::ports_reserved,  m::ports_bound,
                                   m::ports_usable,    m::tuples_total,
                                   m::ports_max_ratio, m::tuple_in_use,
                                   m::tuple_tw,        m::tuple_tw_reusable,
                                   m::tuple_limit,     m::tuple_ratio,
                                   m::tuple_rate,      m::tuple_demand,
                                   m::tuple_eta,       m::host_ports,
                                   m::host_usable,     m::sys_files,
                                   m::sys_files_limit, m::sys_files_ratio,
                                   m::processes,       m::fd_scan,
                                   m::proc_open,       m::proc_limit,
                                   m::proc_ratio,      m::proc_max_ratio,
                                   m::listeners,       m::listen_len,
                                   m::listen_limit,    m::listen_max_ratio,
                                   m::orphans,         m::orphans_limit,
                                   m::alloc,           m::mem_pages,
                                   m::mem_limit,       m::ct_entries,
                                   m::ct_limit,        m::ct_buckets,
                                   m::ct_ratio,        m::snat};
    for (const CounterMap& cm : m::kConntrackCounters) v.push_back(cm.family);
    for (const CounterMap& cm : m::kKernelCounters) v.push_back(cm.family);
    for (const MetricFamily& f :
         {m::up, m::duration, m::age, m::collections, m::errors, m::scrapes, m::shared, m::build})
      v.push_back(f);
    return v;
  }();
  return all;
}

}  // namespace cd
