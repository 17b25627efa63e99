// Rule accept_queue, AF_UNIX part: unix stream (and seqpacket) listeners whose accept queue is
// at its limit. PHP-FPM, uwsgi and gunicorn listen on such sockets behind nginx; when every
// worker is busy the queue fills and clients get EAGAIN from connect(). No kernel counter
// moves for it (there is no ListenOverflows for AF_UNIX): the queue itself is the evidence,
// and with two readings a queue that stays at its limit shows it is not a passing burst.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kWarnFill = 0.80;
constexpr double kOwnerAtLimit = 0.95;
constexpr std::size_t kMaxFindings = 5;

// unix_recvq_full() [net/unix/af_unix.c] is `skb_queue_len(&sk->sk_receive_queue) >
// sk->sk_max_ack_backlog`, checked by unix_stream_connect() before it queues the new
// connection: like TCP, the queue holds limit + 1 and connect() fails beyond (EAGAIN when
// non-blocking, a wait of SO_SNDTIMEO otherwise).
bool full(const UnixListener& l) {
  return l.queue_len > l.queue_limit;
}

bool at_limit(const UnixListener& l) {
  return l.queue_len > 0 && l.queue_len == l.queue_limit;
}

// At or over the limit: what "stayed full" means between two readings.
bool at_or_over(const UnixListener& l) {
  return l.queue_len > 0 && l.queue_len >= l.queue_limit;
}

double fill(const UnixListener& l) {
  if (l.queue_limit == 0) return l.queue_len > 0 ? 1.0 : 0.0;
  return double(l.queue_len) / double(l.queue_limit);
}

// The same listener in the first reading: by inode (a restarted server has a new socket on the
// same path, which is not the same queue).
const UnixListener* before_of(const Snapshot& snap, const UnixListener& l) {
  const Reading* b = snap.before();
  if (!b || !b->unix_listeners || l.inode == 0) return nullptr;
  for (const UnixListener& x : *b->unix_listeners)
    if (x.inode == l.inode) return &x;
  return nullptr;
}

Finding unix_finding(const RuleInput& in, const UnixListener& l, Severity sev) {
  const Reading& r = in.snap.now();
  const UnixListener* before = before_of(in.snap, l);
  const bool stayed = before && at_or_over(*before) && at_or_over(l);
  Finding f;
  f.id = "accept_queue.unix_listener";
  f.resource = Resource::kAcceptQueue;
  f.severity = sev;
  f.layer = Layer::kApplication;
  std::string tail;
  if (full(l))
    tail = _(", full: connect() fails with EAGAIN (Resource temporarily unavailable)");
  else if (at_limit(l))
    tail = _(", at its limit: one more connect() fits, then connect() fails with EAGAIN");
  if (stayed) {
    auto dt = in.snap.interval_s();
    tail += _f(", in both readings {0} s apart", fmt::format("{0:.0f}", dt.value_or(0)));
  }
  f.title = _f("accept queue of unix socket {0}: {1} of {2} queued ({3}){4}", l.path, l.queue_len,
               l.queue_limit, percent(fill(l)), tail);
  Evidence& ev = f.evidence;
  ev["destination"] = l.path;  // the subject, as a TCP listener's endpoint is
  ev["path"] = l.path;
  ev["socket_type"] = l.seqpacket ? "seqpacket" : "stream";
  ev["queue"] = l.queue_len;
  ev["limit"] = l.queue_limit;
  ev["utilization"] = rounded(fill(l), 4);
  ev["somaxconn"] = or_null(r.sysctls.somaxconn);
  // With one reading (a recording) persistence is unknown, not false.
  ev["queue_before"] = before ? Evidence(before->queue_len) : Evidence(nullptr);
  ev["at_limit_in_both_readings"] = in.snap.before() ? Evidence(stayed) : Evidence(nullptr);
  ev["interval_s"] = rounded(in.snap.interval_s(), 2);
  auto pid = listener_pid(r, l);
  put_process(ev, r, pid);
  const ProcessInfo* p = pid ? find_process(r, *pid) : nullptr;
  bool owner_at_limit = p && p->open_fds && p->fd_soft_limit && *p->fd_soft_limit > 0 &&
                        double(*p->open_fds) >= kOwnerAtLimit * double(*p->fd_soft_limit);
  ev["owner_open_fds"] = p ? or_null(p->open_fds) : Evidence(nullptr);
  ev["owner_fd_soft_limit"] = p ? or_null(p->fd_soft_limit) : Evidence(nullptr);
  ev["owner_at_fd_limit"] = p ? Evidence(owner_at_limit) : Evidence(nullptr);
  if (owner_at_limit) ev["see_also"] = "file_descriptors.process";
  f.remediation = {step_fix_unix_accept_loop(l, pid, owner_at_limit),
                   step_raise_unix_backlog(l, r.sysctls.somaxconn)};
  return f;
}

}  // namespace

void accept_queue_unix(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  if (!r.unix_listeners) return;  // unknown: `missing` says why when it was not just absent
  std::vector<Finding> found;
  for (const UnixListener& l : *r.unix_listeners) {
    if (full(l))
      found.push_back(unix_finding(in, l, Severity::kCritical));
    else if (at_limit(l) || (l.queue_limit > 0 && fill(l) >= kWarnFill))
      found.push_back(unix_finding(in, l, Severity::kWarning));
  }
  if (!found.empty()) append_capped(found, out, kMaxFindings, "unix_listeners");
}

}  // namespace cd
