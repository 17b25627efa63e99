// Rule tcp_memory (per cgroup): a memory cgroup's socket memory against its own limit. The
// kernel charges a socket to the memory cgroup of the task that created or accepted it
// (sk->sk_memcg) before it looks at tcp_mem; a failed charge suppresses the allocation there
// (__sk_mem_raise_allocated() [net/core/sock.c]) and puts that cgroup's sockets under memory
// pressure, while the host's tcp_mem and TCPMemoryPressures stay quiet:
//   v1: memory.kmem.tcp.* (memcg1_charge_skmem() [mm/memcontrol-v1.c]: failcnt counts the
//       failed charges, tcpmem_pressure is set until a charge succeeds);
//   v2: the cgroup's ordinary memory (memory.stat "sock" in memory.current, against memory.max;
//       memory.events "max" counts the charges that hit it).
#include <fmt/format.h>

#include <algorithm>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kNearLimit = 0.90;         // usage at or above 90 % of the limit
constexpr double kSubstantialShare = 0.25;  // v2: sockets hold at least a quarter of the memory
// The layer: when the data queued in sockets (unread Recv-Q, unacknowledged Send-Q) is at least
// this share of the socket memory charged, the process is what holds it (application).
constexpr double kQueuedShare = 1.0 / 3.0;
constexpr uint64_t kManySockets = 10000;  // more sockets than a process usually needs
constexpr std::size_t kMaxFindings = 5;
constexpr int64_t kSegmentBytes = 64 << 10;  // one GSO segment's worth of receive memory

std::string mib(int64_t bytes) {
  return fmt_num(double(bytes) / (1024.0 * 1024.0), 1) + " MiB";
}

const CgroupSockMemory* before_of(const Snapshot& snap, const CgroupSockMemory& g) {
  const Reading* b = snap.before();
  if (!b) return nullptr;
  for (const CgroupSockMemory& o : b->cgroup_memory.groups)
    if (o.version == g.version && o.path == g.path) return &o;
  return nullptr;
}

// How much a cumulative counter rose between the readings; a decrease is a reset (failcnt can
// be written 0): what it counted since. nullopt with one reading or an unknown value.
std::optional<int64_t> rise(std::optional<int64_t> before, std::optional<int64_t> now) {
  if (!before || !now) return std::nullopt;
  return *now >= *before ? *now - *before : *now;
}

std::optional<int64_t> event(const CgroupSockMemory& g, const char* name) {
  auto it = g.events.find(name);
  if (it == g.events.end()) return std::nullopt;
  return it->second;
}

// The container identity of the cgroup: that of a member process in a container. A cgroup
// above the container's own (the pod's) keeps the pod and drops the container.
void put_cgroup_identity(Evidence& ev, const Reading& r, const CgroupSockMemory& g) {
  const ProcessInfo* p = nullptr;
  for (int32_t pid : g.pids) {
    const ProcessInfo* q = find_process(r, pid);
    if (q && q->container) {
      p = q;
      break;
    }
  }
  put_identity(ev, p);
  if (p && g.path.find(p->container->container_id) == std::string::npos) {
    ev["container"] = nullptr;
    ev["container_id"] = nullptr;
  }
}

struct Layering {
  Layer layer = Layer::kSystem;
  std::string reason;
};

Layering decide_layer(const Reading& r, const CgroupSockMemory& g, int64_t sock_bytes) {
  const uint64_t queued = r.sockets.recv_q_bytes + r.sockets.send_q_bytes;
  if (sock_bytes > 0 && double(queued) >= kQueuedShare * double(sock_bytes))
    return {Layer::kApplication,
            _f("{0} of data wait in the namespace's sockets ({1} received and not read, {2} not "
               "yet acknowledged by the peers) against {3} of socket memory charged: the "
               "processes hold it",
               mib(int64_t(queued)), mib(int64_t(r.sockets.recv_q_bytes)),
               mib(int64_t(r.sockets.send_q_bytes)), mib(sock_bytes))};
  if (g.sockets >= kManySockets)
    return {Layer::kApplication,
            _f("sockets held by its processes: {0}, too many connections for the limit",
               with_commas(g.sockets))};
  return {
      Layer::kSystem,
      _f("little data waits in the sockets ({0} queued against {1} charged; sockets held by its "
         "processes: {2}): the limit is small for what they normally need",
         mib(int64_t(queued)), mib(sock_bytes), with_commas(g.sockets))};
}

std::string pid_list(const CgroupSockMemory& g, const Reading& r) {
  std::string out;
  for (std::size_t i = 0; i < g.pids.size() && i < 3; ++i) {
    const ProcessInfo* p = find_process(r, g.pids[i]);
    if (!out.empty()) out += ", ";
    out += p ? process_title(*p) : fmt::format("pid {}", g.pids[i]);
  }
  if (g.pid_count > 3) out += _f(" and {0} more", g.pid_count - 3);
  return out;
}

void common_evidence(Evidence& ev, const Reading& r, const CgroupSockMemory& g) {
  ev["cgroup"] = g.path;
  ev["cgroup_dir"] = g.dir;
  ev["cgroup_version"] = g.version;
  Evidence pids = Evidence::array();
  for (int32_t pid : g.pids) pids.push_back(pid);
  ev["pids"] = std::move(pids);
  ev["pid_count"] = g.pid_count;
  ev["sockets"] = g.sockets;
  ev["recv_q_bytes"] = r.sockets.recv_q_bytes;
  ev["send_q_bytes"] = r.sockets.send_q_bytes;
  put_cgroup_identity(ev, r, g);
}

// Appends the finding of cgroup `g` to `kept`, if it is one.
void v1_finding(const RuleInput& in, const CgroupSockMemory& g, std::vector<Finding>& kept) {
  if (!g.tcp_limit || g.tcp_limit_unlimited || *g.tcp_limit <= 0 || !g.tcp_usage) return;
  const Reading& r = in.snap.now();
  const double util = double(*g.tcp_usage) / double(*g.tcp_limit);
  const CgroupSockMemory* b = before_of(in.snap, g);
  const std::optional<int64_t> failed = b ? rise(b->tcp_failcnt, g.tcp_failcnt) : std::nullopt;
  // Within one 64 KiB segment of the limit the next charge of that size fails. Usage above the
  // limit is forced: a segment on an empty receive queue (sk_forced_mem_schedule()) and what
  // accept() charges for data that arrived before it (__GFP_NOFAIL).
  const bool at_limit = *g.tcp_usage + kSegmentBytes >= *g.tcp_limit;
  // Received segments the namespace dropped for want of receive memory (tcp_data_queue()):
  // what a refused charge does. failcnt tells the same on older kernels only: since the page
  // counters track failcnt for the v1 memory counter alone, memory.kmem.tcp.failcnt stays 0.
  const std::optional<double> rcvq_drops = in.snap.counter_rate("TcpExt.TCPRcvQDrop");
  std::optional<Severity> sev;
  if (util >= kNearLimit) sev = Severity::kWarning;
  if (at_limit || (failed && *failed > 0) || (util >= kNearLimit && rcvq_drops && *rcvq_drops > 0))
    sev = Severity::kCritical;
  if (!sev) return;

  Finding f;
  f.id = "tcp_memory.cgroup";
  f.resource = Resource::kTcpMemory;
  f.severity = *sev;
  const Layering lay = decide_layer(r, g, *g.tcp_usage);
  f.layer = lay.layer;
  std::string what = failed && *failed > 0
                         ? _f("{0} socket allocations refused between the readings",
                              with_commas(uint64_t(*failed)))
                         : (at_limit ? _("at the limit: socket allocations are refused")
                                     : (rcvq_drops && *rcvq_drops > 0
                                            ? _("received data dropped for want of memory")
                                            : _("near the limit")));
  f.title = _f("Socket memory of cgroup {0}: {1} of its {2} TCP limit ({3}), {4}; {5}", g.path,
               mib(*g.tcp_usage), mib(*g.tcp_limit), percent(util), what, pid_list(g, r));
  Evidence& ev = f.evidence;
  common_evidence(ev, r, g);
  ev["tcp_usage_bytes"] = *g.tcp_usage;
  ev["tcp_limit_bytes"] = *g.tcp_limit;
  ev["utilization"] = rounded(util, 4);
  ev["tcp_max_usage_bytes"] = or_null(g.tcp_max_usage);
  ev["failcnt"] = or_null(g.tcp_failcnt);
  ev["failcnt_rise"] = or_null(failed);
  put_rate(ev, "rcvq_drop_per_s", in.snap, rcvq_drops);
  if (!failed)
    ev["rate_note"] = in.snap.second ? _("rate unknown (counter not readable in both readings)")
                                     : _("rate unknown (one reading)");
  ev["layer_reason"] = lay.reason;
  ev["note"] =
      _("cgroup v1 charges TCP memory to memory.kmem.tcp.* once its limit was written; a refused "
        "charge drops received data and shrinks windows for this cgroup's sockets only, while "
        "the host's tcp_mem stays below pressure");
  f.remediation = {step_drain_cgroup_sockets(g.pids)};
  f.remediation.push_back(step_raise_cgroup_limit(
      g,
      ev["pod_namespace"].is_string() ? std::optional(ev["pod_namespace"].get<std::string>())
                                      : std::nullopt,
      ev["pod"].is_string() ? std::optional(ev["pod"].get<std::string>()) : std::nullopt,
      ev["container"].is_string() ? std::optional(ev["container"].get<std::string>())
                                  : std::nullopt));
  kept.push_back(std::move(f));
}

// Appends the finding of cgroup `g` to `kept`, if it is one.
void v2_finding(const RuleInput& in, const CgroupSockMemory& g, std::vector<Finding>& kept) {
  if (!g.current || !g.sock || *g.current <= 0) return;
  // The lower of memory.max and memory.high: above high the kernel reclaims and throttles.
  std::optional<int64_t> limit;
  if (g.max && !g.max_unlimited) limit = *g.max;
  if (g.high && !g.high_unlimited && (!limit || *g.high < *limit)) limit = *g.high;
  if (!limit || *limit <= 0) return;
  const Reading& r = in.snap.now();
  const double util = double(*g.current) / double(*limit);
  const double share = double(*g.sock) / double(*g.current);
  const CgroupSockMemory* b = before_of(in.snap, g);
  const std::optional<int64_t> max_events =
      b ? rise(event(*b, "max"), event(g, "max")) : std::nullopt;
  const std::optional<int64_t> high_events =
      b ? rise(event(*b, "high"), event(g, "high")) : std::nullopt;
  if (share < kSubstantialShare) return;
  std::optional<Severity> sev;
  if (util >= kNearLimit || (high_events && *high_events > 0)) sev = Severity::kWarning;
  if (max_events && *max_events > 0) sev = Severity::kCritical;
  if (!sev) return;

  Finding f;
  f.id = "tcp_memory.cgroup";
  f.resource = Resource::kTcpMemory;
  f.severity = *sev;
  const Layering lay = decide_layer(r, g, *g.sock);
  f.layer = lay.layer;
  std::string what =
      max_events && *max_events > 0
          ? _f("memory.max hit {0} times between the readings", with_commas(uint64_t(*max_events)))
          : _("near the limit");
  f.title =
      _f("Socket memory of cgroup {0}: {1} of its {2} in use ({3} of the limit) are socket "
         "buffers, {4}; {5}",
         g.path, mib(*g.sock), mib(*g.current), percent(util), what, pid_list(g, r));
  Evidence& ev = f.evidence;
  common_evidence(ev, r, g);
  ev["sock_bytes"] = *g.sock;
  ev["memory_current_bytes"] = *g.current;
  ev["memory_max_bytes"] = g.max_unlimited ? Evidence(nullptr) : or_null(g.max);
  ev["memory_high_bytes"] = g.high_unlimited ? Evidence(nullptr) : or_null(g.high);
  ev["utilization"] = rounded(util, 4);
  ev["sock_share"] = rounded(share, 4);
  ev["events_max"] = or_null(event(g, "max"));
  ev["events_max_rise"] = or_null(max_events);
  ev["events_high_rise"] = or_null(high_events);
  ev["events_oom_kill"] = or_null(event(g, "oom_kill"));
  if (!max_events || !high_events)
    ev["rate_note"] = in.snap.second ? _("rate unknown (counter not readable in both readings)")
                                     : _("rate unknown (one reading)");
  ev["layer_reason"] = lay.reason;
  ev["note"] =
      _("cgroup v2 charges socket buffers to the cgroup's own memory (memory.stat sock), with no "
        "separate TCP limit: received data is charged even over memory.max, and the cgroup's "
        "other allocations then reclaim its memory or end in its OOM killer");
  f.remediation = {step_drain_cgroup_sockets(g.pids)};
  f.remediation.push_back(step_raise_cgroup_limit(
      g,
      ev["pod_namespace"].is_string() ? std::optional(ev["pod_namespace"].get<std::string>())
                                      : std::nullopt,
      ev["pod"].is_string() ? std::optional(ev["pod"].get<std::string>()) : std::nullopt,
      ev["container"].is_string() ? std::optional(ev["container"].get<std::string>())
                                  : std::nullopt));
  kept.push_back(std::move(f));
}

}  // namespace

void rule_tcp_memory_cgroup(const RuleInput& in, std::vector<Finding>& out) {
  std::vector<Finding> kept;
  for (const CgroupSockMemory& g : in.snap.now().cgroup_memory.groups) {
    if (g.version == 1)
      v1_finding(in, g, kept);
    else
      v2_finding(in, g, kept);
  }
  append_capped(kept, out, kMaxFindings, "cgroups");
}

}  // namespace cd
