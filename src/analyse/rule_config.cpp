// Rule config: settings that are wrong before anything runs out: a service port inside the
// ephemeral range, tcp_tw_reuse=1 with PAWS rejects rising, tcp_max_tw_buckets cut down.
#include <fmt/format.h>

#include <map>

#include "analyse/evidence.h"
#include "analyse/limits.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"

namespace cd {

namespace {

constexpr std::size_t kMaxPortFindings = 5;

bool reserved(const Sysctls& s, uint16_t port) {
  if (!s.ip_local_reserved_ports) return false;
  for (const PortRange& r : *s.ip_local_reserved_ports)
    if (r.contains(port)) return true;
  return false;
}

// __inet_hash_connect() may hand a port of the range to any outbound connect() while nothing
// is bound to it: a service that restarts (or starts late) then fails with EADDRINUSE.
void listening_ports(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  if (!r.sysctls.ip_local_port_range) return;
  PortRange range = *r.sysctls.ip_local_port_range;
  std::map<uint16_t, const Listener*> ports;  // one finding per port (v4 and v6 listeners)
  for (const Listener& l : r.sockets.listeners)
    if (range.contains(l.local.port) && !reserved(r.sysctls, l.local.port))
      ports.emplace(l.local.port, &l);
  std::vector<Finding> found;
  for (const auto& [port, l] : ports) {
    Finding f;
    f.id = "config.listen_port_in_range";
    f.resource = Resource::kConfig;
    f.severity = Severity::kWarning;
    f.layer = Layer::kSystem;
    f.title = fmt::format(
        "listening port {} ({}) is inside ip_local_port_range {}-{} and not reserved: an "
        "outbound connect() can take it",
        port, l->local.to_string(), range.lo, range.hi);
    Evidence& ev = f.evidence;
    ev["destination"] = l->local.to_string();
    ev["port"] = port;
    ev["ip_local_port_range"] = {range.lo, range.hi};
    put_process(ev, r, listener_pid(r, *l));
    f.remediation = {step_reserve_ports(r.sysctls, {port})};
    found.push_back(std::move(f));
  }
  append_capped(found, out, kMaxPortFindings, "ports");
}

void tw_reuse_paws(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  if (r.sysctls.tcp_tw_reuse.value_or(0) != 1) return;
  auto active = in.snap.counter_rate("TcpExt.PAWSActive");
  auto estab = in.snap.counter_rate("TcpExt.PAWSEstab");
  bool rising = (active && *active > 0) || (estab && *estab > 0);
  if (!rising) return;
  Finding f;
  f.id = "config.tw_reuse_paws";
  f.resource = Resource::kConfig;
  f.severity = Severity::kWarning;
  f.layer = Layer::kNetwork;
  f.title = fmt::format(
      "tcp_tw_reuse=1 while PAWS rejects rise (PAWSActive {}, PAWSEstab {}): a NAT or load "
      "balancer rewrites or strips TCP timestamps",
      active ? per_second(*active) : std::string("?"),
      estab ? per_second(*estab) : std::string("?"));
  Evidence& ev = f.evidence;
  ev["tcp_tw_reuse"] = 1;
  put_rate(ev, "paws_active_per_s", in.snap, active);
  put_rate(ev, "paws_estab_per_s", in.snap, estab);
  f.remediation = {step_tw_reuse_back_to_loopback()};
  out.push_back(std::move(f));
}

void tw_buckets_cut(const RuleInput& in, std::vector<Finding>& out) {
  const Sysctls& s = in.snap.now().sysctls;
  if (!s.tcp_max_tw_buckets) return;
  // Both defaults are ehash/2, and tcp_max_orphans keeps its default far more often.
  if (!tw_buckets_lowered(s)) return;
  int64_t max = *s.tcp_max_tw_buckets;
  Finding f;
  f.id = "config.tw_buckets_lowered";
  f.resource = Resource::kConfig;
  f.severity = Severity::kWarning;
  f.layer = Layer::kSystem;
  f.title = fmt::format(
      "tcp_max_tw_buckets lowered to {}{}: closing sockets skip TIME_WAIT once it is reached",
      with_commas(uint64_t(std::max<int64_t>(max, 0))),
      s.tcp_max_orphans ? fmt::format(" (default ehash/2, like tcp_max_orphans = {})",
                                      with_commas(uint64_t(*s.tcp_max_orphans)))
                        : std::string());
  Evidence& ev = f.evidence;
  ev["tcp_max_tw_buckets"] = max;
  ev["tcp_max_orphans"] = or_null(s.tcp_max_orphans);
  f.remediation = {step_raise_tw_buckets(s, in.snap.now().sockstat.tcp_tw)};
  out.push_back(std::move(f));
}

}  // namespace

void rule_config(const RuleInput& in, std::vector<Finding>& out) {
  listening_ports(in, out);
  tw_reuse_paws(in, out);
  tw_buckets_cut(in, out);
}

}  // namespace cd
