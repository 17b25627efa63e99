// Rule ephemeral_ports: each destination tuple against its own pool (exhaustion is per
// (source IP, destination IP, destination port)), and the host-wide pool that bind() before
// connect() and UDP draw from.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kWarnUtil = 0.70;
constexpr double kCritUtil = 0.90;
constexpr double kWarnSeconds = 600;  // runs out within 10 minutes
constexpr double kCritSeconds = 60;   // runs out within a minute
// Past half of a tuple's pool connect() scans ports it cannot use before it finds one: an info
// finding (the latency comes before the errors), and a count on the first hot finding.
constexpr double kWarmUtil = 0.50;
constexpr std::size_t kMaxTupleFindings = 5;

// bind(ip, 0) takes a port no other socket of the host holds; connect() shares a port across
// destinations. When the client sockets are hardly more numerous than the distinct ports
// they hold, the ports are not being shared: something binds before connecting.
constexpr double kExclusiveShare = 1.2;

// Ports held by sockets bound and not connected matter to a tuple's verdict once they take a
// tenth of the range: below that they are the usual handful of bind-before-connect clients.
constexpr double kBoundInactiveShare = 0.10;

bool bound_inactive_matter(const PortAnalysis& pa) {
  return pa.bound_inactive_in_range > 0 &&
         double(pa.bound_inactive_in_range) >= kBoundInactiveShare * double(pa.range.size());
}

// The process holding the most bound-but-inactive sockets (state CLOSE in its fds), if any
// attribution ran.
const ProcessInfo* bound_inactive_holder(const Reading& r) {
  const ProcessInfo* best = nullptr;
  uint32_t most = 0;
  for (const ProcessInfo& p : r.processes) {
    if (!p.sockets) continue;
    const uint32_t n = p.sockets->by_state[int(TcpState::kClose)];
    if (n > most) {
      most = n;
      best = &p;
    }
  }
  return best;
}

std::optional<Severity> tuple_severity(const TupleStat& t) {
  const auto& ste = t.seconds_to_exhaustion;
  if ((ste && *ste <= kCritSeconds) || t.utilization >= kCritUtil) return Severity::kCritical;
  if ((ste && *ste <= kWarnSeconds) || t.utilization >= kWarnUtil) return Severity::kWarning;
  return std::nullopt;
}

std::string forecast_text(const TupleStat& t) {
  if (!t.seconds_to_exhaustion) {
    // Not growing, yet the churn needs more ports than the pool has: connect() takes every
    // port the moment it is freed (or fails). That is saturation, not "stable".
    if (t.steady_state_demand && t.new_per_s && *t.steady_state_demand > double(t.usable))
      return _f("saturated: needs ~{0} at {1}", with_commas(uint64_t(*t.steady_state_demand)),
                per_second(*t.new_per_s));
    return _("stable");
  }
  if (*t.seconds_to_exhaustion <= 0) return _("exhausted");
  return _f("runs out in ~{0:.0f} s", *t.seconds_to_exhaustion);
}

Finding tuple_finding(const RuleInput& in, const TupleStat& t, Severity sev) {
  const Reading& r = in.snap.now();
  // Mostly TIME_WAIT: short connections that the client closes first (no reuse). Mostly live:
  // a big pool of legitimately open connections.
  bool churn = uint64_t(t.time_wait) * 2 > t.in_use;
  Finding f;
  f.id = "ephemeral_ports.tuple";
  f.resource = Resource::kEphemeralPorts;
  f.severity = sev;
  f.layer = churn ? Layer::kApplication : Layer::kSystem;
  f.title = _f("ephemeral ports to {0}: {1} of {2} usable in use ({3}), {4}",
               t.key.destination().to_string(), with_commas(t.effective_in_use),
               with_commas(t.usable), percent(t.utilization), forecast_text(t));
  Evidence& ev = f.evidence;
  ev["destination"] = t.key.destination().to_string();
  ev["source"] = t.key.src.to_string();
  ev["in_use"] = t.in_use;
  ev["live"] = t.live;
  ev["time_wait"] = t.time_wait;
  ev["tw_reusable"] = t.tw_reusable;
  ev["effective_in_use"] = t.effective_in_use;
  ev["usable"] = t.usable;
  ev["bound_in_range"] = in.ports.bound_in_range;
  ev["bound_inactive_in_range"] = in.ports.bound_inactive_in_range;
  ev["utilization"] = rounded(t.utilization, 4);
  ev["new_per_s"] = rounded(t.new_per_s, 2);
  ev["steady_state_demand"] = rounded(t.steady_state_demand, 0);
  ev["seconds_to_exhaustion"] = rounded(t.seconds_to_exhaustion, 1);
  ev["forecast"] = forecast_text(t);
  ev["tcp_tw_reuse"] = or_null(r.sysctls.tcp_tw_reuse);
  ev["tcp_timestamps"] = or_null(r.sysctls.tcp_timestamps);
  // Whether the TIME_WAIT credit rests on the sysctls alone or on TWRecycled (port_pool.h).
  ev["tw_reuse_basis"] = std::string(tw_reuse_basis_name(t.tw_reuse_basis));
  put_rate(ev, "tw_recycled_per_s", in.snap, in.snap.counter_rate("TcpExt.TWRecycled"));
  ev["tw_reuses_expected"] = rounded(t.tw_reuses_expected, 1);
  ev["cause"] = churn ? _("short connections closed by this client first: each holds its port "
                          "for its lifetime plus 60 s of TIME_WAIT")
                      : _("many connections open at once to one destination");
  put_tuple_owner(ev, r, t.key);
  const bool bound_held = bound_inactive_matter(in.ports);
  if (bound_held) {
    // __inet_hash_connect() skips a port whose bind bucket bind() made (fastreuse >= 0).
    ev["cause"] = ev["cause"].get<std::string>() +
                  _f("; {0} ports of the range are held by sockets bound and not connected "
                     "(bind() before connect()): connect() skips them for every destination",
                     with_commas(in.ports.bound_inactive_in_range));
    const ProcessInfo* h = bound_inactive_holder(r);
    ev["bound_inactive_pid"] = h ? Evidence(h->pid) : Evidence(nullptr);
    ev["bound_inactive_comm"] = h ? Evidence(h->comm) : Evidence(nullptr);
    ev["bound_inactive_sockets"] =
        h ? Evidence(h->sockets->by_state[int(TcpState::kClose)]) : Evidence(nullptr);
  }

  bool loopback = t.key.src.is_loopback() || t.key.dst.is_loopback();
  const Endpoint dst = t.key.destination();
  const Endpoint* refused_to = t.tw_reuse_basis == TwReuseBasis::kRefused ? &dst : nullptr;
  if (churn) {
    const auto owner = tuple_owner_pid(r, t.key);
    const ProcessInfo* p = owner ? find_process(r, *owner) : nullptr;
    const RuntimeInfo* rt = p && p->runtime ? &*p->runtime : nullptr;
    put_runtime(ev, rt);
    f.remediation = {step_client_reuse({.runtime = rt, .port = t.key.dport})};
    if (bound_held) f.remediation.push_back(step_bind_no_port());
    f.remediation.push_back(step_widen_port_range(r));
    f.remediation.push_back(step_tw_reuse(r.sysctls, loopback, refused_to));
  } else {
    f.remediation = {};
    if (bound_held) f.remediation.push_back(step_bind_no_port());
    f.remediation.push_back(step_widen_port_range(r));
    f.remediation.push_back(step_more_source_addresses());
  }
  return f;
}

// __inet_hash_connect() walks the ports of the range start's parity first (bind(0) prefers the
// other), then the other parity. Past half the range the first parity is all taken: every
// connect() walks its ~usable/2 bind buckets, taking each bucket's lock, before it finds a
// free port, so connect() latency and %sys climb well before the first EADDRNOTAVAIL.
Finding port_search_finding(const RuleInput& in, const TupleStat& t) {
  Finding f = tuple_finding(in, t, Severity::kInfo);
  const uint64_t first_parity = (t.usable + 1) / 2;
  f.id = "ephemeral_ports.port_search";
  f.title =
      _f("ephemeral ports to {0}: {1} of {2} usable in use ({3}): past half the range, each "
         "connect() first walks ~{4} taken ports of one parity",
         t.key.destination().to_string(), with_commas(t.effective_in_use), with_commas(t.usable),
         percent(t.utilization), with_commas(first_parity));
  f.evidence["first_parity_ports"] = first_parity;
  f.evidence["cause"] =
      _("connect() tries the ports of the range start's parity first, then the other parity: "
        "past half the range the first parity is taken, and every connect() scans its bind "
        "buckets under their locks before it finds a free port (latency and %sys climb before "
        "the first EADDRNOTAVAIL)");
  return f;
}

// Ports held by listeners inside the range: they are part of the host-wide count but are not
// client sockets.
uint32_t listening_ports_in_range(const Reading& r, PortRange range) {
  std::set<uint16_t> ports;
  for (const Listener& l : r.sockets.listeners)
    if (range.contains(l.local.port)) ports.insert(l.local.port);
  return uint32_t(ports.size());
}

std::optional<Severity> pool_severity(double util) {
  if (util >= kCritUtil) return Severity::kCritical;
  if (util >= kWarnUtil) return Severity::kWarning;
  return std::nullopt;
}

void host_wide_tcp(const RuleInput& in, std::vector<Finding>& out) {
  const PortAnalysis& pa = in.ports;
  const Reading& r = in.snap.now();
  if (pa.host_usable == 0) return;
  double util = double(pa.host_tcp_ports_in_use) / pa.host_usable;
  auto sev = pool_severity(util);
  if (!sev) return;
  uint32_t listening = listening_ports_in_range(r, pa.range);
  uint64_t client_ports =
      pa.host_tcp_ports_in_use > listening ? pa.host_tcp_ports_in_use - listening : 0;
  uint64_t client_sockets = 0, hottest = 0;
  for (const TupleStat& t : pa.tuples) {
    client_sockets += t.in_use;
    hottest = std::max<uint64_t>(hottest, t.in_use);
  }
  // A pool filled by listeners is the config rule's and the per-tuple pool's business; a few
  // client sockets on distinct ports are no evidence of anything.
  if (client_ports * 2 < pa.host_usable) return;
  // connect() shares ports across destinations: a full host-wide count with shared ports does
  // not stop connect(). And when one tuple holds most ports, its own finding says it all.
  if (double(client_sockets) > kExclusiveShare * double(client_ports)) return;
  if (hottest * 2 >= client_ports) return;
  Finding f;
  f.id = "ephemeral_ports.host_wide";
  f.resource = Resource::kEphemeralPorts;
  f.severity = *sev;
  f.layer = Layer::kApplication;
  f.title =
      _f("host-wide ephemeral ports: {0} of {1} in use ({2}) and not shared across destinations "
         "(bind() before connect()?)",
         with_commas(pa.host_tcp_ports_in_use), with_commas(pa.host_usable), percent(util));
  Evidence& ev = f.evidence;
  ev["protocol"] = "tcp";
  ev["ports_in_use"] = pa.host_tcp_ports_in_use;
  ev["usable"] = pa.host_usable;
  ev["utilization"] = rounded(util, 4);
  ev["client_sockets"] = client_sockets;
  ev["sockets_per_port"] = rounded(double(client_sockets) / double(client_ports), 2);
  ev["tuples"] = pa.tuples.size();
  ev["cause"] =
      _("ports held exclusively (about one socket per port over many destinations): bind(ip, 0) "
        "allocates the port before connect() and it is then taken for every destination; the next "
        "bind() fails with EADDRINUSE");
  f.remediation = {step_bind_no_port(), step_widen_port_range(r)};
  out.push_back(std::move(f));
}

void host_wide_udp(const RuleInput& in, std::vector<Finding>& out) {
  const PortAnalysis& pa = in.ports;
  const Reading& r = in.snap.now();
  if (!r.sockets.udp_complete || pa.host_usable == 0) return;
  // UDP auto-bind (udp_lib_get_port()) never shares a port: the pool is the whole host's.
  double util = double(pa.host_udp_ports_in_use) / pa.host_usable;
  auto sev = pool_severity(util);
  if (!sev) return;
  Finding f;
  f.id = "ephemeral_ports.udp";
  f.resource = Resource::kEphemeralPorts;
  f.severity = *sev;
  f.layer = Layer::kApplication;
  f.title = _f("UDP ephemeral ports: {0} of {1} in use ({2}) host-wide",
               with_commas(pa.host_udp_ports_in_use), with_commas(pa.host_usable), percent(util));
  Evidence& ev = f.evidence;
  ev["protocol"] = "udp";
  ev["ports_in_use"] = pa.host_udp_ports_in_use;
  ev["usable"] = pa.host_usable;
  ev["utilization"] = rounded(util, 4);
  ev["udp_sockets"] = r.sockets.udp_sockets;
  ev["cause"] =
      _("each open UDP socket holds a port of the whole host; auto-bind fails with EAGAIN");
  f.remediation = {step_udp_socket_reuse(), step_widen_port_range(r)};
  out.push_back(std::move(f));
}

}  // namespace

void rule_ephemeral_ports(const RuleInput& in, std::vector<Finding>& out) {
  // Without the range or a complete dump the pools cannot be sized: `missing` says why.
  if (!in.ports.known) return;
  std::vector<Finding> hot, searching;
  uint64_t warm = 0;
  for (const TupleStat& t : in.ports.tuples) {
    if (pool_held_by_unanswered(t)) continue;  // unanswered_connects reports it, pool included
    if (auto sev = tuple_severity(t)) {
      hot.push_back(tuple_finding(in, t, *sev));
    } else if (t.utilization >= kWarmUtil) {
      ++warm;
      searching.push_back(port_search_finding(in, t));
    }
  }
  std::size_t first = out.size();
  append_capped(hot, out, kMaxTupleFindings, "hot_tuples");
  if (out.size() > first) out[first].evidence["other_warm_tuples"] = warm;
  append_capped(searching, out, kMaxTupleFindings, "port_search_tuples");
  host_wide_tcp(in, out);
  host_wide_udp(in, out);
}

}  // namespace cd
