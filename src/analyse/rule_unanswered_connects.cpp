// Rule unanswered_connects: SYN_SENT sockets piling up towards one destination whose SYNs got no
// SYN-ACK. The cause is the path or the destination (a firewall that drops, a full listen queue
// there, conntrack/SNAT on the way), not the local port range, although each such connect holds
// its port for as long as the kernel retries the SYN.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr uint32_t kCritUnanswered = 100;
constexpr double kCritPoolUtil = 0.90;  // the ephemeral_ports rule's critical threshold
constexpr std::size_t kMaxFindings = 5;

// A listener of this namespace that serves `dst` and is overflowing: its SYNs are dropped by
// tcp_conn_request()/tcp_v4_syn_recv_sock() (sk_acceptq_is_full()), which the accept_queue rule
// reports with the listener's owner and the fix; a second finding would only repeat it.
bool local_listener_overflowing(const RuleInput& in, const Endpoint& dst) {
  const Reading& r = in.snap.now();
  auto overflows = in.snap.counter_rate("TcpExt.ListenOverflows");
  bool rising = overflows && *overflows > 0;
  for (const Listener& l : r.sockets.listeners) {
    if (l.local.port != dst.port) continue;
    if (!(l.local.addr.unmapped() == dst.addr || l.local.addr.is_unspecified())) continue;
    if (rising || (l.queue_len > 0 && l.queue_len > l.queue_limit)) return true;
  }
  return false;
}

Finding unanswered_finding(const RuleInput& in, const TupleStat& t) {
  const Reading& r = in.snap.now();
  auto syn_retrans = in.snap.counter_rate("TcpExt.TCPSynRetrans");
  auto aborts = in.snap.counter_rate("TcpExt.TCPAbortOnTimeout");
  bool aborting = aborts && *aborts > 0;
  Finding f;
  f.id = "unanswered_connects.destination";
  f.resource = Resource::kUnansweredConnects;
  f.severity = (t.syn_unanswered >= kCritUnanswered || t.utilization >= kCritPoolUtil || aborting)
                   ? Severity::kCritical
                   : Severity::kWarning;
  f.layer = Layer::kNetwork;
  std::string dst = t.key.destination().to_string();
  std::string tail;
  if (syn_retrans) tail = _f(", SYN retransmits at {0}", per_second(*syn_retrans));
  if (aborting) tail += _f(", connects timing out at {0}", per_second(*aborts));
  f.title =
      _f("connects to {0} go unanswered: {1} SYNs without a SYN-ACK for over 1 s ({2} in SYN_SENT, "
         "holding {3} of {4} ports){5}",
         dst, with_commas(t.syn_unanswered), with_commas(t.syn_sent),
         with_commas(t.effective_in_use), with_commas(t.usable), tail);
  Evidence& ev = f.evidence;
  ev["destination"] = dst;
  ev["source"] = t.key.src.to_string();
  ev["syn_sent"] = t.syn_sent;
  ev["syn_unanswered"] = t.syn_unanswered;
  ev["other_live"] = t.live - t.syn_sent;
  ev["in_use"] = t.in_use;
  ev["usable"] = t.usable;
  ev["utilization"] = rounded(t.utilization, 4);
  put_rate(ev, "syn_retrans_per_s", in.snap, syn_retrans);
  put_rate(ev, "abort_on_timeout_per_s", in.snap, aborts);
  ev["cause"] =
      _("the destination or the path drops the SYNs silently (no SYN-ACK, no RST): each connect is "
        "retried for up to ~127 s with tcp_syn_retries=6 (1+2+...+64 s), holding its local port "
        "and the request that waits for it, then fails with ETIMEDOUT");
  put_tuple_owner(ev, r, t.key);
  Endpoint d = t.key.destination();
  f.remediation = {step_trace_unanswered_syns(d), step_destination_listener(d),
                   step_conntrack_on_path(), step_connect_timeout()};
  return f;
}

}  // namespace

void rule_unanswered_connects(const RuleInput& in, std::vector<Finding>& out) {
  if (!in.ports.known) return;
  std::vector<Finding> found;
  for (const TupleStat& t : in.ports.tuples) {
    if (!connects_unanswered(t)) continue;
    if (local_listener_overflowing(in, t.key.destination())) continue;
    found.push_back(unanswered_finding(in, t));
  }
  append_capped(found, out, kMaxFindings, "destinations");
}

}  // namespace cd
