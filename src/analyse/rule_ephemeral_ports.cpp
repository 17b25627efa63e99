// Rule ephemeral_ports: each destination tuple against its own pool (exhaustion is per
// (source IP, destination IP, destination port)), and the host-wide pool that bind() before
// connect() and UDP draw from.
#include <fmt/format.h>

#include <algorithm>

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

std::optional<Severity> pool_severity(double util) {
  if (util >= kCritUtil) return Severity::kCritical;
  if (util >= kWarnUtil) return Severity::kWarning;
  return std::nullopt;
}

// Sockets on bind()'s parity in tuples below half their pool, enough to matter: a bind(ip, 0)
// before connect() took those ports (SocketSummary's TupleUsage::bind_parity).
constexpr uint64_t kBindParityMin = 10;
constexpr double kBindParityShare = 0.01;

// What says that something on this address binds before it connects; empty: nothing does (as
// far as one reading can tell), and a full pool then hurts no one yet.
std::vector<std::string> bind_evidence(const PortAnalysis& pa, const BindPoolStat& b,
                                       uint64_t client_ports) {
  std::vector<std::string> why;
  if (b.bound_inactive > 0) why.emplace_back("bound_inactive");
  if (b.bind_parity_sockets >= kBindParityMin &&
      double(b.bind_parity_sockets) >= kBindParityShare * double(pa.range.size()))
    why.emplace_back("bind_parity");
  // About one socket per port over many destinations: connect() would have shared them.
  const uint64_t hottest = b.hottest_tuple ? pa.tuples[*b.hottest_tuple].in_use : 0;
  if (!b.address.is_unspecified() && b.client_sockets > 0 &&
      double(b.client_sockets) <= kExclusiveShare * double(client_ports) &&
      hottest * 2 < client_ports)
    why.emplace_back("ports_not_shared");
  return why;
}

// The process to name: the owner of the tuple whose ports came from bind(), else the holder of
// the bound-but-inactive sockets (trace_merge replaces it with the process whose bind() failed).
std::pair<std::optional<int32_t>, const char*> bind_pool_owner(const RuleInput& in,
                                                               const BindPoolStat& b) {
  const Reading& r = in.snap.now();
  if (b.bind_parity_tuple)
    if (auto pid = tuple_owner_pid(r, in.ports.tuples[*b.bind_parity_tuple].key))
      return {pid, "bind_parity_tuple"};
  if (b.bound_inactive > 0)
    if (const ProcessInfo* h = bound_inactive_holder(r)) return {h->pid, "bound_inactive"};
  return {std::nullopt, nullptr};
}

// The pool of bind(A, 0), per local address as inet_csk_find_open_port() counts it: every port
// held on A or on a wildcard socket, connect()'s shared ports included. With evidence that
// something binds before connecting it is a warning or critical by utilization; without, an
// info: connect() still works, the next bind(A, 0) would not.
void host_wide_tcp(const RuleInput& in, std::vector<Finding>& out) {
  const PortAnalysis& pa = in.ports;
  const Reading& r = in.snap.now();
  if (pa.host_usable == 0) return;
  const BindPoolStat* hit = nullptr;
  std::vector<std::string> hit_why;
  const BindPoolStat* quiet = nullptr;
  uint64_t full = 0;
  for (const BindPoolStat& b : pa.bind_pools) {
    if (!pool_severity(b.utilization)) continue;
    // A pool filled by listeners is the config rule's and the per-tuple pool's business.
    const uint64_t client_ports = b.in_use > b.listening_ports ? b.in_use - b.listening_ports : 0;
    if (client_ports * 2 < pa.host_usable) continue;
    ++full;
    std::vector<std::string> why = bind_evidence(pa, b, client_ports);
    if (!why.empty()) {
      if (!hit || b.utilization > hit->utilization) {
        hit = &b;
        hit_why = std::move(why);
      }
      continue;
    }
    // The wildcard pool matters only to a wildcard bind(0), which only bound sockets show.
    if (b.address.is_unspecified()) continue;
    // When a tuple from A has a finding of its own, that finding says it all.
    if (b.hottest_tuple && tuple_severity(pa.tuples[*b.hottest_tuple])) continue;
    if (!quiet || b.utilization > quiet->utilization) quiet = &b;
  }
  const BindPoolStat* b = hit ? hit : quiet;
  if (!b) return;
  const std::string addr = b->address.to_string();
  const uint64_t client_ports = b->in_use > b->listening_ports ? b->in_use - b->listening_ports : 0;
  Finding f;
  f.id = "ephemeral_ports.host_wide";
  f.resource = Resource::kEphemeralPorts;
  f.severity = hit ? *pool_severity(b->utilization) : Severity::kInfo;
  f.layer = Layer::kApplication;
  f.title = hit ? _f("ports for bind({0}, 0): {1} of {2} held on {0} ({3}), and something binds "
                     "before connect(): the next bind() fails with EADDRINUSE when none is left",
                     addr, with_commas(b->in_use), with_commas(b->usable), percent(b->utilization))
                : _f("ports for bind({0}, 0): {1} of {2} held on {0} ({3}); connect() still "
                     "shares these ports; a bind({0}, 0) before connect() fails with EADDRINUSE",
                     addr, with_commas(b->in_use), with_commas(b->usable), percent(b->utilization));
  Evidence& ev = f.evidence;
  ev["protocol"] = "tcp";
  ev["local_address"] = addr;
  ev["ports_in_use"] = b->in_use;
  ev["usable"] = b->usable;
  ev["utilization"] = rounded(b->utilization, 4);
  ev["own_ports"] = b->own_ports;
  ev["listening_ports"] = b->listening_ports;
  ev["client_sockets"] = b->client_sockets;
  ev["sockets_per_port"] = client_ports
                               ? rounded(double(b->client_sockets) / double(client_ports), 2)
                               : Evidence(nullptr);
  ev["tuples"] = b->tuples;
  ev["hottest_tuple_utilization"] =
      b->hottest_tuple ? rounded(pa.tuples[*b->hottest_tuple].utilization, 4) : Evidence(nullptr);
  ev["bound_inactive"] = b->bound_inactive;
  ev["bind_parity_sockets"] = b->bind_parity_sockets;
  ev["bind_evidence"] = hit_why;
  ev["other_full_bind_pools"] = full - 1;
  ev["untracked_sockets"] = pa.bind_pool_untracked_sockets;
  auto [pid, basis] = bind_pool_owner(in, *b);
  put_process(ev, r, pid);
  ev["owner_basis"] = basis ? Evidence(basis) : Evidence(nullptr);
  ev["cause"] =
      hit ? _("bind(ip, 0) takes a port that no socket holds on that address, whatever the "
              "destination (inet_csk_find_open_port()); connect() shares ports across "
              "destinations but bind() cannot, so bind-before-connect clients run out first, "
              "with EADDRINUSE")
          : _("connect() shares a port across destinations, so its sockets can hold most ports "
              "of the range on one address while every destination has ports left; a bind() "
              "of that address to port 0 (a client that chooses its source address) cannot "
              "share them and fails with EADDRINUSE");
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
