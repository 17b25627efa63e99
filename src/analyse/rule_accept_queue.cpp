// Rule accept_queue: listeners whose accept queue is at its limit, and the namespace's
// ListenOverflows/ListenDrops rates. The cause is the application that does not accept().
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"

namespace cd {

namespace {

constexpr double kWarnFill = 0.80;
constexpr double kOwnerAtLimit = 0.95;  // the file_descriptors rule's critical threshold
constexpr std::size_t kMaxFindings = 5;

// sk_acceptq_is_full() [include/net/sock.h] is `sk_ack_backlog > sk_max_ack_backlog`: the queue
// holds limit + 1 and the next completed handshake overflows. So queue >= limit is "full".
bool full(const Listener& l) {
  return l.queue_len > 0 && l.queue_len >= l.queue_limit;
}

double fill(const Listener& l) {
  if (l.queue_limit == 0) return l.queue_len > 0 ? 1.0 : 0.0;
  return double(l.queue_len) / double(l.queue_limit);
}

struct Rates {
  std::optional<double> overflows, drops;
  bool rising() const { return (overflows && *overflows > 0) || (drops && *drops > 0); }
};

void put_rates(Evidence& ev, const Snapshot& snap, const Rates& rates) {
  put_rate(ev, "overflows_per_s", snap, rates.overflows);
  put_rate(ev, "drops_per_s", snap, rates.drops);
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
  if (full(l)) tail = ", full: new connections are dropped";
  if (rates.overflows && *rates.overflows > 0)
    tail += fmt::format(", overflowing at {}", per_second(*rates.overflows));
  f.title = fmt::format("accept queue of {}: {} of {} queued ({}){}", l.local.to_string(),
                        l.queue_len, l.queue_limit, percent(fill(l)), tail);
  Evidence& ev = f.evidence;
  ev["destination"] = l.local.to_string();
  ev["queue"] = l.queue_len;
  ev["limit"] = l.queue_limit;
  ev["utilization"] = rounded(fill(l), 4);
  ev["somaxconn"] = or_null(r.sysctls.somaxconn);
  put_rates(ev, in.snap, rates);
  auto pid = listener_pid(r, l);
  bool at_limit = put_owner(ev, r, pid);
  f.remediation = {step_fix_accept_loop(l, pid, at_limit),
                   step_raise_backlog(l, r.sysctls.somaxconn)};
  return f;
}

}  // namespace

void rule_accept_queue(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  Rates rates{in.snap.counter_rate("TcpExt.ListenOverflows"),
              in.snap.counter_rate("TcpExt.ListenDrops")};
  std::vector<Finding> found;
  for (const Listener& l : r.sockets.listeners) {
    if (full(l)) {
      found.push_back(listener_finding(in, l, Severity::kCritical, rates));
    } else if (l.queue_limit > 0 && fill(l) >= kWarnFill) {
      found.push_back(listener_finding(in, l, Severity::kWarning, rates));
    }
  }
  if (!found.empty()) {
    append_capped(found, out, kMaxFindings, "listeners");
    return;
  }
  if (!rates.rising()) return;
  // Drops without a full queue in this reading: the queue fills in bursts between readings.
  Finding f;
  f.id = "accept_queue.overflows";
  f.resource = Resource::kAcceptQueue;
  f.severity = Severity::kWarning;
  f.layer = Layer::kApplication;
  f.title = fmt::format(
      "listen queues overflow: {} overflows, {} drops (no queue is full in this reading: it "
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
                     step_raise_backlog(*fullest, r.sysctls.somaxconn)};
  }
  out.push_back(std::move(f));
}

}  // namespace cd
