// Rule accept_queue: TCP listeners whose accept queue is at its limit, and the namespace's
// ListenOverflows/ListenDrops rates (unix listeners: rule_accept_queue_unix.cpp). The cause is the
// application that does not accept().
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kWarnFill = 0.80;
constexpr double kOwnerAtLimit = 0.95;  // close enough to EMFILE (at 100 %) to be the cause
constexpr std::size_t kMaxFindings = 5;

// sk_acceptq_is_full() [include/net/sock.h] is `sk_ack_backlog > sk_max_ack_backlog`: a queue
// at its limit still takes one more completed handshake, so it holds limit + 1 before
// tcp_v4_syn_recv_sock() and tcp_conn_request() drop (ListenOverflows). Full = over the limit.
bool full(const Listener& l) {
  return l.queue_len > l.queue_limit;
}

// At the limit: the next completed handshake is the last one that fits.
bool at_limit(const Listener& l) {
  return l.queue_len > 0 && l.queue_len == l.queue_limit;
}

double fill(const Listener& l) {
  if (l.queue_limit == 0) return l.queue_len > 0 ? 1.0 : 0.0;
  return double(l.queue_len) / double(l.queue_limit);
}

struct Rates {
  std::optional<double> overflows, drops;
  std::optional<double> req_q_full_drop;     // SYN queue full, no cookies: SYN dropped
  std::optional<double> req_q_full_cookies;  // SYN queue full, answered with a cookie
  bool rising() const { return (overflows && *overflows > 0) || (drops && *drops > 0); }
  // ListenDrops counts every drop of tcp_listendrop() [include/net/tcp.h], ListenOverflows only
  // the accept-queue ones: the rest are SYN-queue drops (no syncookies, tcp_max_syn_backlog),
  // memory or other refusals.
  std::optional<double> beyond_overflows() const {
    if (!overflows || !drops) return std::nullopt;
    return std::max(0.0, *drops - *overflows);
  }
};

Rates read_rates(const Snapshot& snap) {
  return Rates{snap.counter_rate("TcpExt.ListenOverflows"), snap.counter_rate("TcpExt.ListenDrops"),
               snap.counter_rate("TcpExt.TCPReqQFullDrop"),
               snap.counter_rate("TcpExt.TCPReqQFullDoCookies")};
}

void put_rates(Evidence& ev, const Snapshot& snap, const Rates& rates) {
  put_rate(ev, "overflows_per_s", snap, rates.overflows);
  put_rate(ev, "drops_per_s", snap, rates.drops);
  put_rate(ev, "drops_beyond_overflows_per_s", snap, rates.beyond_overflows());
  put_rate(ev, "req_q_full_drop_per_s", snap, rates.req_q_full_drop);
  put_rate(ev, "req_q_full_cookies_per_s", snap, rates.req_q_full_cookies);
}

void put_syn_settings(Evidence& ev, const Reading& r) {
  ev["tcp_syncookies"] = or_null(r.sysctls.tcp_syncookies);
  ev["tcp_max_syn_backlog"] = or_null(r.sysctls.tcp_max_syn_backlog);
}

// The listener's owner and whether it sits at its own fd limit: accept() then fails with
// EMFILE and the queue fills although the loop runs (one cause, two symptoms).
bool put_owner(Evidence& ev, const Reading& r, std::optional<int32_t> pid) {
  put_process(ev, r, pid);
  const ProcessInfo* p = pid ? find_process(r, *pid) : nullptr;
  bool at_limit = p && p->open_fds && p->fd_soft_limit && *p->fd_soft_limit > 0 &&
                  double(*p->open_fds) >= kOwnerAtLimit * double(*p->fd_soft_limit);
  ev["owner_open_fds"] = p ? or_null(p->open_fds) : Evidence(nullptr);
  ev["owner_fd_soft_limit"] = p ? or_null(p->fd_soft_limit) : Evidence(nullptr);
  ev["owner_at_fd_limit"] = p ? Evidence(at_limit) : Evidence(nullptr);
  if (at_limit) ev["see_also"] = "file_descriptors.process";
  return at_limit;
}

Finding listener_finding(const RuleInput& in, const Listener& l, Severity sev, const Rates& rates) {
  const Reading& r = in.snap.now();
  Finding f;
  f.id = "accept_queue.listener";
  f.resource = Resource::kAcceptQueue;
  f.severity = sev;
  f.layer = Layer::kApplication;
  std::string tail;
  if (full(l))
    tail = _(", full: new connections are dropped");
  else if (at_limit(l))
    tail = _(", at its limit: one more handshake fits, then new connections are dropped");
  if (rates.overflows && *rates.overflows > 0)
    tail += _f(", overflowing at {0}", per_second(*rates.overflows));
  f.title = _f("accept queue of {0}: {1} of {2} queued ({3}){4}", l.local.to_string(), l.queue_len,
               l.queue_limit, percent(fill(l)), tail);
  Evidence& ev = f.evidence;
  ev["destination"] = l.local.to_string();
  ev["queue"] = l.queue_len;
  ev["limit"] = l.queue_limit;
  ev["utilization"] = rounded(fill(l), 4);
  ev["somaxconn"] = or_null(r.sysctls.somaxconn);
  ev["syn_recv"] = l.syn_recv;
  put_syn_settings(ev, r);
  put_rates(ev, in.snap, rates);
  auto pid = listener_pid(r, l);
  bool at_limit = put_owner(ev, r, pid);
  f.remediation = {step_fix_accept_loop(l, pid, at_limit),
                   step_raise_backlog(&l, r.sysctls.somaxconn)};
  return f;
}

}  // namespace

// SYN-queue drops: the SYN queue (request sockets) is full and syncookies are off
// (TCPReqQFullDrop, tcp_syn_flood_action()), or with syncookies off tcp_conn_request() refuses
// SYNs once the queue passes 3/4 of tcp_max_syn_backlog (ListenDrops only).
bool syn_queue_finding(const RuleInput& in, const Rates& rates, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  bool full_drops = rates.req_q_full_drop && *rates.req_q_full_drop > 0;
  auto beyond = rates.beyond_overflows();
  bool cookies_off = r.sysctls.tcp_syncookies && *r.sysctls.tcp_syncookies == 0;
  bool backlog_drops = beyond && *beyond > 0 && cookies_off;
  if (!full_drops && !backlog_drops) return false;
  Finding f;
  f.id = "accept_queue.syn_queue";
  f.resource = Resource::kAcceptQueue;
  f.severity = Severity::kWarning;
  f.layer = Layer::kSystem;
  f.title =
      _f("SYN queue drops: {0} SYNs dropped a second before the handshake (tcp_syncookies={1}): "
         "clients retry after 1 s, 3 s, 7 s",
         per_second(full_drops ? *rates.req_q_full_drop : *beyond),
         r.sysctls.tcp_syncookies ? std::to_string(*r.sysctls.tcp_syncookies) : std::string("?"));
  Evidence& ev = f.evidence;
  put_syn_settings(ev, r);
  put_rates(ev, in.snap, rates);
  const Listener* busiest = nullptr;
  for (const Listener& l : r.sockets.listeners)
    if (!busiest || l.syn_recv > busiest->syn_recv) busiest = &l;
  if (busiest && busiest->syn_recv > 0) {
    ev["busiest_syn_queue"] = busiest->local.to_string();
    ev["syn_recv"] = busiest->syn_recv;
    ev["limit"] = busiest->queue_limit;
  } else {
    ev["busiest_syn_queue"] = nullptr;
    ev["syn_recv"] = nullptr;
  }
  ev["cause"] = full_drops ? _("the SYN queue of a listener is full (its listen backlog) and "
                               "syncookies are off, so tcp_conn_request() drops new SYNs")
                           : _("syncookies are off and a SYN queue passed 3/4 of "
                               "tcp_max_syn_backlog: tcp_conn_request() drops new SYNs");
  f.remediation = {step_syncookies_on(r.sysctls)};
  // No handshake in progress anywhere: no listener to name, whichever one comes first.
  f.remediation.push_back(step_raise_backlog(busiest && busiest->syn_recv > 0 ? busiest : nullptr,
                                             r.sysctls.somaxconn));
  out.push_back(std::move(f));
  return true;
}

namespace {

void accept_queue_tcp(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  Rates rates = read_rates(in.snap);
  bool syn_queue = syn_queue_finding(in, rates, out);
  std::vector<Finding> found;
  for (const Listener& l : r.sockets.listeners) {
    if (full(l)) {
      found.push_back(listener_finding(in, l, Severity::kCritical, rates));
    } else if (at_limit(l) || (l.queue_limit > 0 && fill(l) >= kWarnFill)) {
      found.push_back(listener_finding(in, l, Severity::kWarning, rates));
    }
  }
  if (!found.empty()) {
    append_capped(found, out, kMaxFindings, "listeners");
    return;
  }
  // Drops the SYN-queue finding already explains are not accept-queue overflows.
  bool overflowing = rates.overflows && *rates.overflows > 0;
  if (!rates.rising() || (syn_queue && !overflowing)) return;
  // Drops without a full queue in this reading: the queue fills in bursts between readings.
  Finding f;
  f.id = "accept_queue.overflows";
  f.resource = Resource::kAcceptQueue;
  f.severity = Severity::kWarning;
  f.layer = Layer::kApplication;
  f.title =
      _f("listen queues overflow: {0} overflows, {1} drops (no queue is full in this reading: it "
         "fills in bursts)",
         rates.overflows ? per_second(*rates.overflows) : std::string("?"),
         rates.drops ? per_second(*rates.drops) : std::string("?"));
  Evidence& ev = f.evidence;
  put_rates(ev, in.snap, rates);
  const Listener* fullest = nullptr;
  for (const Listener& l : r.sockets.listeners)
    if (!fullest || fill(l) > fill(*fullest)) fullest = &l;
  if (fullest) {
    // Only a likely suspect: the counters do not say which listener dropped.
    ev["fullest_listener"] = fullest->local.to_string();
    ev["queue"] = fullest->queue_len;
    ev["limit"] = fullest->queue_limit;
    auto pid = listener_pid(r, *fullest);
    bool at_limit = put_owner(ev, r, pid);
    f.remediation = {step_fix_accept_loop(*fullest, pid, at_limit),
                     step_raise_backlog(fullest, r.sysctls.somaxconn)};
  } else {
    // No TCP listener in this reading: which one overflowed is unknown.
    f.remediation = {step_find_overflowing_listener(),
                     step_raise_backlog(nullptr, r.sysctls.somaxconn)};
  }
  out.push_back(std::move(f));
}

}  // namespace

void rule_accept_queue(const RuleInput& in, std::vector<Finding>& out) {
  accept_queue_tcp(in, out);
  accept_queue_unix(in, out);
}

}  // namespace cd
