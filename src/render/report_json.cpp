// The machine report: snapshot + analysis as JSON, schema conndoctor/report/v1
// (docs/json-schema.md). Unknown numbers are null, never 0; the renderer only reads the structs.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "analyse/evidence.h"
#include "render/conntrack_table_json.h"
#include "render/report.h"
#include "util/text_style.h"

namespace cd {

namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kTopTuples = 20;
constexpr std::size_t kTopBindPools = 10;
constexpr std::size_t kTopProcesses = 20;
constexpr std::size_t kTopListeners = 20;

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Rounded to `decimals`; NaN/inf (a 0/0 the analysis let through) become null, not a lie.
json num(double v, int decimals) {
  if (!std::isfinite(v)) return nullptr;
  double scale = std::pow(10.0, decimals);
  double r = std::round(v * scale) / scale;
  if (r == 0) r = 0;  // no "-0.0"
  return r;
}
json num(const std::optional<double>& v, int decimals) {
  return v ? num(*v, decimals) : json(nullptr);
}

json ratio(std::optional<int64_t> used, std::optional<int64_t> limit) {
  if (!used || !limit || *limit <= 0) return nullptr;
  return num(double(*used) / double(*limit), 4);
}

// The kernel's own text form of ip_local_reserved_ports: "8080,9000-9010", "" for none.
std::string reserved_ports_text(const std::vector<PortRange>& ranges) {
  std::string s;
  for (const PortRange& r : ranges) {
    if (!s.empty()) s += ',';
    s += std::to_string(r.lo);
    if (r.hi != r.lo) s += '-' + std::to_string(r.hi);
  }
  return s;
}

const ProcessInfo* process_of(const Reading& r, int32_t pid) {
  for (const ProcessInfo& p : r.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

json findings_json(const Analysis& a) {
  json out = json::array();
  for (const Finding& f : a.findings) {
    json steps = json::array();
    std::vector<const RemediationStep*> plan;
    for (const RemediationStep& s : f.remediation) plan.push_back(&s);
    // The contract says the plan is ordered A, B, C, D; keep the rule's order within a letter.
    std::stable_sort(plan.begin(), plan.end(),
                     [](auto* x, auto* y) { return x->priority < y->priority; });
    for (const RemediationStep* s : plan) {
      steps.push_back({{"priority", std::string(1, s->priority)},
                       {"action", s->action},
                       {"commands", s->commands},
                       {"risk", s->risk}});
    }
    out.push_back({{"id", f.id},
                   {"resource", to_string(f.resource)},
                   {"severity", to_string(f.severity)},
                   {"layer", to_string(f.layer)},
                   {"title", f.title},
                   {"evidence", f.evidence.is_object() ? f.evidence : json::object()},
                   {"remediation", std::move(steps)}});
  }
  return out;
}

json sockets_json(const SocketSummary& s) {
  json j;
  j["complete"] = s.complete;
  // Without a complete dump the counts are partial: report them as unknown.
  if (!s.complete) {
    for (const char* k : {"by_state", "total", "time_wait_client", "time_wait_server",
                          "time_wait_other", "bound_inactive", "udp_sockets"})
      j[k] = nullptr;
    return j;
  }
  json by_state = json::object();
  for (int st = 1; st < kTcpStateSlots; ++st) {
    std::string_view name = tcp_state_name(st);
    if (name == "UNKNOWN") continue;
    by_state[std::string(name)] = s.by_state[st];
  }
  j["by_state"] = std::move(by_state);
  j["total"] = s.total;
  j["time_wait_client"] = s.time_wait_client;
  j["time_wait_server"] = s.time_wait_server;
  j["time_wait_other"] = s.time_wait_other;
  j["bound_inactive"] = s.bound_inactive;
  j["udp_sockets"] = s.udp_complete ? json(s.udp_sockets) : json(nullptr);
  return j;
}

json tuple_json(const TupleStat& t) {
  return {{"src", t.key.src.to_string()},
          {"dst", t.key.dst.to_string()},
          {"dport", t.key.dport},
          {"destination", t.key.destination().to_string()},
          {"in_use", t.in_use},
          {"live", t.live},
          {"time_wait", t.time_wait},
          {"tw_reusable", t.tw_reusable},
          {"tw_reuse_applies", t.tw_reuse_applies},
          {"tw_reuse_basis", std::string(tw_reuse_basis_name(t.tw_reuse_basis))},
          {"effective_in_use", t.effective_in_use},
          {"usable", t.usable},
          {"utilization", num(t.utilization, 4)},
          {"new_per_s", num(t.new_per_s, 2)},
          {"steady_state_demand", num(t.steady_state_demand, 1)},
          {"seconds_to_exhaustion", num(t.seconds_to_exhaustion, 1)}};
}

json ports_json(const Reading& r, const PortAnalysis& p) {
  json j;
  std::optional<PortRange> range;
  if (p.known)
    range = p.range;
  else if (r.sysctls.ip_local_port_range)
    range = r.sysctls.ip_local_port_range;
  j["known"] = p.known;
  j["range"] = range ? json::array({range->lo, range->hi}) : json(nullptr);
  if (!p.known) {
    for (const char* k :
         {"reserved_in_range", "bound_in_range", "bound_inactive_in_range", "usable"})
      j[k] = nullptr;
    j["tuples"] = json::array();
    j["tuples_total"] = nullptr;
    j["host_wide"] = {
        {"tcp_ports_in_use", nullptr}, {"udp_ports_in_use", nullptr}, {"usable", nullptr}};
    j["bind_pools"] = json::array();
    j["bind_pools_total"] = nullptr;
    j["bind_pools_untracked_sockets"] = nullptr;
    return j;
  }
  j["reserved_in_range"] = p.reserved_in_range;
  j["bound_in_range"] = p.bound_in_range;
  j["bound_inactive_in_range"] = p.bound_inactive_in_range;
  j["usable"] = p.usable_per_tuple;
  json tuples = json::array();
  for (std::size_t i = 0; i < p.tuples.size() && i < kTopTuples; ++i)
    tuples.push_back(tuple_json(p.tuples[i]));
  j["tuples"] = std::move(tuples);
  j["tuples_total"] = p.tuples.size();
  j["host_wide"] = {
      {"tcp_ports_in_use", p.host_tcp_ports_in_use},
      {"udp_ports_in_use", r.sockets.udp_complete ? json(p.host_udp_ports_in_use) : json(nullptr)},
      {"usable", p.host_usable}};
  json pools = json::array();
  for (std::size_t i = 0; i < p.bind_pools.size() && i < kTopBindPools; ++i) {
    const BindPoolStat& b = p.bind_pools[i];
    pools.push_back({{"address", b.address.to_string()},
                     {"ports_in_use", b.in_use},
                     {"own_ports", b.own_ports},
                     {"usable", b.usable},
                     {"utilization", num(b.utilization, 4)},
                     {"sockets", b.sockets},
                     {"bound_inactive", b.bound_inactive},
                     {"bind_parity_sockets", b.bind_parity_sockets}});
  }
  j["bind_pools"] = std::move(pools);
  j["bind_pools_total"] = p.bind_pools.size();
  j["bind_pools_untracked_sockets"] = p.bind_pool_untracked_sockets;
  return j;
}

std::optional<double> fd_utilization(const ProcessInfo& p) {
  if (!p.open_fds || !p.fd_soft_limit || *p.fd_soft_limit == 0) return std::nullopt;
  return double(*p.open_fds) / double(*p.fd_soft_limit);
}

json fds_json(const Reading& r) {
  std::optional<int64_t> max = r.file_nr.max ? r.file_nr.max : r.sysctls.file_max;
  json j;
  j["system"] = {{"allocated", opt(r.file_nr.allocated)},
                 {"max", opt(max)},
                 {"utilization", ratio(r.file_nr.allocated, max)},
                 {"nr_open", opt(r.sysctls.nr_open)}};
  // Each process against its own soft limit, fullest first; unknown ratios last, by size.
  std::vector<const ProcessInfo*> procs;
  for (const ProcessInfo& p : r.processes) procs.push_back(&p);
  std::stable_sort(procs.begin(), procs.end(), [](const ProcessInfo* x, const ProcessInfo* y) {
    auto ux = fd_utilization(*x), uy = fd_utilization(*y);
    if (ux.has_value() != uy.has_value()) return ux.has_value();
    if (ux && *ux != *uy) return *ux > *uy;
    uint64_t ox = x->open_fds.value_or(0), oy = y->open_fds.value_or(0);
    if (ox != oy) return ox > oy;
    return x->pid < y->pid;
  });
  json list = json::array();
  for (std::size_t i = 0; i < procs.size() && i < kTopProcesses; ++i) {
    const ProcessInfo& p = *procs[i];
    json e = {{"pid", p.pid},
              {"comm", p.comm},
              {"pod", nullptr},
              {"pod_namespace", nullptr},
              {"container", nullptr},
              {"container_id", nullptr},
              {"open", opt(p.open_fds)},
              {"limit", opt(p.fd_soft_limit)},
              {"hard_limit", opt(p.fd_hard_limit)},
              {"utilization", num(fd_utilization(p), 4)}};
    put_identity(e, &p);  // fills the four keys in place
    list.push_back(std::move(e));
  }
  j["processes"] = std::move(list);
  j["processes_total"] = r.processes.size();
  j["fd_scan"] = r.fd_scan.empty() ? json(nullptr) : json(r.fd_scan);
  return j;
}

// The listening AF_UNIX sockets, fullest first (null when unknown: docs/json-schema.md).
void unix_accept_json(const Reading& r, json& j) {
  if (!r.unix_listeners) {
    j["unix_listeners"] = nullptr;
    j["unix_listeners_total"] = nullptr;
    return;
  }
  std::vector<const UnixListener*> ls;
  for (const UnixListener& l : *r.unix_listeners) ls.push_back(&l);
  auto fill = [](const UnixListener* l) {
    return l->queue_limit ? double(l->queue_len) / l->queue_limit : (l->queue_len ? 1.0 : 0.0);
  };
  std::stable_sort(ls.begin(), ls.end(), [&](const UnixListener* x, const UnixListener* y) {
    if (fill(x) != fill(y)) return fill(x) > fill(y);
    return x->queue_len > y->queue_len;
  });
  json list = json::array();
  for (std::size_t i = 0; i < ls.size() && i < kTopListeners; ++i) {
    const UnixListener& l = *ls[i];
    json pid = nullptr, comm = nullptr;
    if (auto it = r.listener_owner.find(l.inode); l.inode != 0 && it != r.listener_owner.end()) {
      pid = it->second;
      if (const ProcessInfo* p = process_of(r, it->second)) comm = p->comm;
    }
    list.push_back({{"path", l.path},
                    {"type", l.seqpacket ? "seqpacket" : "stream"},
                    {"queue", l.queue_len},
                    {"limit", l.queue_limit},
                    {"pid", std::move(pid)},
                    {"comm", std::move(comm)}});
  }
  j["unix_listeners"] = std::move(list);
  j["unix_listeners_total"] = r.unix_listeners->size();
}

json accept_json(const Snapshot& snap, const Reading& r) {
  std::vector<const Listener*> ls;
  for (const Listener& l : r.sockets.listeners) ls.push_back(&l);
  auto fill = [](const Listener* l) {
    return l->queue_limit ? double(l->queue_len) / l->queue_limit : (l->queue_len ? 1.0 : 0.0);
  };
  std::stable_sort(ls.begin(), ls.end(), [&](const Listener* x, const Listener* y) {
    if (fill(x) != fill(y)) return fill(x) > fill(y);
    return x->queue_len > y->queue_len;
  });
  json list = json::array();
  for (std::size_t i = 0; i < ls.size() && i < kTopListeners; ++i) {
    const Listener& l = *ls[i];
    json pid = nullptr, comm = nullptr;
    if (auto it = r.listener_owner.find(l.inode); it != r.listener_owner.end()) {
      pid = it->second;
      if (const ProcessInfo* p = process_of(r, it->second)) comm = p->comm;
    }
    list.push_back({{"listen", l.local.to_string()},
                    {"queue", l.queue_len},
                    {"limit", l.queue_limit},
                    {"syn_recv", l.syn_recv},
                    {"pid", std::move(pid)},
                    {"comm", std::move(comm)}});
  }
  json j;
  j["listeners"] = std::move(list);
  j["listeners_total"] = r.sockets.complete ? json(r.sockets.listeners.size()) : json(nullptr);
  unix_accept_json(r, j);
  j["overflows_per_s"] = num(snap.counter_rate("TcpExt.ListenOverflows"), 2);
  j["drops_per_s"] = num(snap.counter_rate("TcpExt.ListenDrops"), 2);
  j["somaxconn"] = opt(r.sysctls.somaxconn);
  j["req_q_full_drop_per_s"] = num(snap.counter_rate("TcpExt.TCPReqQFullDrop"), 2);
  j["tcp_syncookies"] = opt(r.sysctls.tcp_syncookies);
  j["tcp_max_syn_backlog"] = opt(r.sysctls.tcp_max_syn_backlog);
  return j;
}

json conntrack_json(const Snapshot& snap, const Reading& r) {
  const ConntrackStats& c = r.conntrack;
  json j;
  j["available"] = c.available;
  j["count"] = opt(c.count);
  j["max"] = opt(c.max);
  j["utilization"] = ratio(c.count, c.max);
  j["buckets"] = opt(c.buckets);
  j["stats"] = c.stats.empty() ? json(nullptr) : json(c.stats);
  j["stats_source"] = c.stats_source.empty() ? json(nullptr) : json(c.stats_source);
  for (const char* name : {"drop", "early_drop", "insert_failed"})
    j[std::string(name) + "_per_s"] = num(snap.conntrack_stat_rate(name), 2);
  j["table"] = conntrack_table_json(r.conntrack_table);  // null unless dumped over ctnetlink
  return j;
}

json time_wait_json(const Snapshot& snap, const Reading& r) {
  // sockstat's tw is the namespace's death-row count, the figure tcp_max_tw_buckets caps;
  // the dump's count is the fallback.
  std::optional<int64_t> count = r.sockstat.tcp_tw;
  if (!count && r.sockets.complete) count = int64_t(r.sockets.by_state[int(TcpState::kTimeWait)]);
  json j;
  j["count"] = opt(count);
  j["max_buckets"] = opt(r.sysctls.tcp_max_tw_buckets);
  j["utilization"] = ratio(count, r.sysctls.tcp_max_tw_buckets);
  j["overflow_per_s"] = num(snap.counter_rate("TcpExt.TCPTimeWaitOverflow"), 2);
  j["client"] = r.sockets.complete ? json(r.sockets.time_wait_client) : json(nullptr);
  j["server"] = r.sockets.complete ? json(r.sockets.time_wait_server) : json(nullptr);
  return j;
}

json tcp_memory_json(const Snapshot& snap, const Reading& r) {
  const auto& mem = r.sysctls.tcp_mem;
  return {{"pages", opt(r.sockstat.tcp_mem_pages)},
          {"min", mem ? json((*mem)[0]) : json(nullptr)},
          {"pressure", mem ? json((*mem)[1]) : json(nullptr)},
          {"max", mem ? json((*mem)[2]) : json(nullptr)},
          {"pressures_per_s", num(snap.counter_rate("TcpExt.TCPMemoryPressures"), 2)}};
}

json sysctls_json(const Sysctls& s) {
  json j;
  const auto& range = s.ip_local_port_range;
  j["net.ipv4.ip_local_port_range"] = range ? json::array({range->lo, range->hi}) : json(nullptr);
  j["net.ipv4.ip_local_reserved_ports"] =
      s.ip_local_reserved_ports ? json(reserved_ports_text(*s.ip_local_reserved_ports))
                                : json(nullptr);
  j["net.ipv4.tcp_tw_reuse"] = opt(s.tcp_tw_reuse);
  j["net.ipv4.tcp_tw_reuse_delay"] = opt(s.tcp_tw_reuse_delay_ms);
  j["net.ipv4.tcp_timestamps"] = opt(s.tcp_timestamps);
  j["net.ipv4.tcp_max_tw_buckets"] = opt(s.tcp_max_tw_buckets);
  j["net.ipv4.tcp_fin_timeout"] = opt(s.tcp_fin_timeout);
  j["net.core.somaxconn"] = opt(s.somaxconn);
  j["net.ipv4.tcp_max_syn_backlog"] = opt(s.tcp_max_syn_backlog);
  j["net.ipv4.tcp_syncookies"] = opt(s.tcp_syncookies);
  j["net.ipv4.tcp_max_orphans"] = opt(s.tcp_max_orphans);
  j["net.ipv4.tcp_mem"] = s.tcp_mem ? json(*s.tcp_mem) : json(nullptr);
  j["fs.file-max"] = opt(s.file_max);
  j["fs.nr_open"] = opt(s.nr_open);
  j["net.netfilter.nf_conntrack_max"] = opt(s.nf_conntrack_max);
  j["net.netfilter.nf_conntrack_buckets"] = opt(s.nf_conntrack_buckets);
  j["net.netfilter.nf_conntrack_count"] = opt(s.nf_conntrack_count);
  for (const auto& [key, value] : s.conntrack_timeouts)
    j["net.netfilter.nf_conntrack_" + key] = value;
  return j;
}

// Every string valid UTF-8: comm and paths are bytes, and dump() would throw on the document.
void make_valid_utf8(json& j) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    std::string v = valid_utf8(s);
    if (v != s) j = std::move(v);
  } else if (j.is_array()) {
    for (json& e : j) make_valid_utf8(e);
  } else if (j.is_object()) {
    bool bad_key = false;
    for (auto& [k, v] : j.items()) {
      make_valid_utf8(v);
      bad_key = bad_key || valid_utf8(k) != k;
    }
    if (bad_key) {
      json copy = json::object();
      for (auto& [k, v] : j.items()) copy[valid_utf8(k)] = std::move(v);
      j = std::move(copy);
    }
  }
}

}  // namespace

nlohmann::ordered_json report_json(const Snapshot& snap, const Analysis& a) {
  const Reading& r = snap.now();
  json res;
  res["sockets"] = sockets_json(r.sockets);
  res["ephemeral_ports"] = ports_json(r, a.ports);
  res["file_descriptors"] = fds_json(r);
  res["accept_queue"] = accept_json(snap, r);
  res["conntrack"] = conntrack_json(snap, r);
  res["time_wait"] = time_wait_json(snap, r);
  res["orphans"] = {
      {"count", opt(r.sockstat.tcp_orphan)},
      {"max", opt(r.sysctls.tcp_max_orphans)},
      {"abort_on_memory_per_s", num(snap.counter_rate("TcpExt.TCPAbortOnMemory"), 2)}};
  res["tcp_memory"] = tcp_memory_json(snap, r);
  res["sysctls"] = sysctls_json(r.sysctls);
  res["interval_s"] = num(snap.interval_s(), 3);
  res["readings"] = snap.second ? 2 : 1;
  res["netns"] = snap.netns.empty() ? json(nullptr) : json(snap.netns);

  json j;
  j["schema"] = kReportSchema;
  j["status"] = to_string(a.status);
  j["summary"] = a.summary;
  j["findings"] = findings_json(a);
  j["resources"] = std::move(res);
  j["missing"] = snap.missing;
  make_valid_utf8(j);
  return j;
}

}  // namespace cd
