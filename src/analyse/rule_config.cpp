// Rule config: settings that are wrong before anything runs out: a service port inside the
// ephemeral range, tcp_max_tw_buckets cut down; and what tcp_tw_reuse really costs (SYN
// retries when a reused port meets a peer still in LAST_ACK), said as information only.
#include <fmt/format.h>

#include <map>

#include "analyse/evidence.h"
#include "analyse/limits.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

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
    f.title =
        _f("listening port {0} ({1}) is inside ip_local_port_range {2}-{3} and not reserved: an "
           "outbound connect() can take it",
           port, l->local.to_string(), range.lo, range.hi);
    Evidence& ev = f.evidence;
    ev["destination"] = l->local.to_string();
    ev["port"] = port;
    ev["ip_local_port_range"] = {range.lo, range.hi};
    put_process(ev, r, listener_pid(r, *l));
    // bind(0) listeners need no reservation, but sock_diag cannot tell them from configured
    // ones: __inet_bind() keeps that in sk_userlocks (SOCK_BINDPORT_LOCK), not exported.
    ev["port_origin"] = nullptr;
    ev["port_origin_note"] =
        _("unknown: the socket dump does not say whether the port was configured or chosen by "
          "bind(0); a kernel-chosen port needs no reservation");
    f.remediation = {step_reserve_ports(r.sysctls, {port})};
    found.push_back(std::move(f));
  }
  append_capped(found, out, kMaxPortFindings, "ports");
}

// The observable cost of tcp_tw_reuse: a reused port whose peer is still in LAST_ACK (its last
// ACK was lost) answers the new SYN with a challenge ACK (tcp_send_challenge_ack()), this side
// resets and tcp_retransmit_timer() resends the SYN ~1 s later. Both counters are host-wide and
// SYN retransmits have other causes, so this is information, never advice to turn reuse off
// (that would bring the port exhaustion back). PAWS counters say nothing about reuse: without
// the peer's timestamps tcp_twsk_unique() does not reuse at all.
void tw_reuse_syn_retrans(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  if (r.sysctls.tcp_tw_reuse.value_or(0) == 0) return;
  auto recycled = in.snap.counter_rate("TcpExt.TWRecycled");
  auto retrans = in.snap.counter_rate("TcpExt.TCPSynRetrans");
  if (!recycled || *recycled <= 0 || !retrans || *retrans <= 0) return;
  Finding f;
  f.id = "config.tw_reuse_syn_retrans";
  f.resource = Resource::kConfig;
  f.severity = Severity::kInfo;
  f.layer = Layer::kNetwork;
  f.title =
      _f("tcp_tw_reuse={0} reuses TIME_WAIT ports at {1} while SYNs are retransmitted at {2}: a "
         "reused "
         "port that meets a peer still in LAST_ACK costs a ~1 s retry",
         *r.sysctls.tcp_tw_reuse, per_second(*recycled), per_second(*retrans));
  Evidence& ev = f.evidence;
  ev["tcp_tw_reuse"] = *r.sysctls.tcp_tw_reuse;
  put_rate(ev, "tw_recycled_per_s", in.snap, recycled);
  put_rate(ev, "syn_retrans_per_s", in.snap, retrans);
  ev["note"] =
      _("host-wide counters: SYN retransmits also come from destinations that do not answer "
        "(see unanswered_connects); keep tcp_tw_reuse while the churn needs it");
  f.remediation = {step_client_reuse()};
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
  f.title =
      _f("tcp_max_tw_buckets lowered to {0}{1}: closing sockets skip TIME_WAIT once it is reached",
         with_commas(uint64_t(std::max<int64_t>(max, 0))),
         s.tcp_max_orphans ? _f(" (default ehash/2, like tcp_max_orphans = {0})",
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
  tw_reuse_syn_retrans(in, out);
  tw_buckets_cut(in, out);
}

}  // namespace cd
