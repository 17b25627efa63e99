// What the plain trace data means: x86-64 syscall and errno names, and the derived figures.
#include "snapshot/trace_result.h"

#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>

namespace cd {

std::string syscall_name(uint32_t nr) {
  // The calls that create an fd (and so can fail with EMFILE or ENFILE), x86-64 numbering.
  switch (nr) {
#ifdef __x86_64__
    case SYS_open:
      return "open";
    case SYS_creat:
      return "creat";
    case SYS_socketpair:
      return "socketpair";
    case SYS_pipe:
      return "pipe";
    case SYS_accept:
      return "accept";
    case SYS_dup:
      return "dup";
    case SYS_dup2:
      return "dup2";
    case SYS_epoll_create:
      return "epoll_create";
    case SYS_signalfd:
      return "signalfd";
    case SYS_eventfd:
      return "eventfd";
    case SYS_inotify_init:
      return "inotify_init";
#endif
    case SYS_openat:
      return "openat";
    case SYS_openat2:
      return "openat2";
    case SYS_socket:
      return "socket";
    case SYS_accept4:
      return "accept4";
    case SYS_pipe2:
      return "pipe2";
    case SYS_dup3:
      return "dup3";
    case SYS_fcntl:
      return "fcntl";
    case SYS_epoll_create1:
      return "epoll_create1";
    case SYS_eventfd2:
      return "eventfd2";
    case SYS_signalfd4:
      return "signalfd4";
    case SYS_timerfd_create:
      return "timerfd_create";
    case SYS_inotify_init1:
      return "inotify_init1";
    case SYS_fanotify_init:
      return "fanotify_init";
    case SYS_memfd_create:
      return "memfd_create";
    case SYS_perf_event_open:
      return "perf_event_open";
    case SYS_bpf:
      return "bpf";
    case SYS_userfaultfd:
      return "userfaultfd";
    case SYS_open_by_handle_at:
      return "open_by_handle_at";
    case SYS_pidfd_open:
      return "pidfd_open";
    case SYS_pidfd_getfd:
      return "pidfd_getfd";
    case SYS_io_uring_setup:
      return "io_uring_setup";
    case SYS_io_uring_enter:
      return "io_uring_enter";
    case SYS_recvmsg:
      return "recvmsg";  // SCM_RIGHTS fds installed on receive
    case SYS_fsopen:
      return "fsopen";
    case SYS_open_tree:
      return "open_tree";
    case SYS_mq_open:
      return "mq_open";
    default:
      return "syscall " + std::to_string(nr);
  }
}

namespace {
struct ErrnoName {
  int err;
  std::string_view name;
};
constexpr ErrnoName kErrnoNames[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {EINTR, "EINTR"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {ENOSPC, "ENOSPC"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {ENETDOWN, "ENETDOWN"},
    {ENETUNREACH, "ENETUNREACH"},
    {ECONNABORTED, "ECONNABORTED"},
    {ECONNRESET, "ECONNRESET"},
    {ENOBUFS, "ENOBUFS"},
    {EISCONN, "EISCONN"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTDOWN, "EHOSTDOWN"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EALREADY, "EALREADY"},
    {EINPROGRESS, "EINPROGRESS"},
    {EPROTO, "EPROTO"},
    {ENOPROTOOPT, "ENOPROTOOPT"},
};
}  // namespace

std::string errno_label(int err) {
  for (const auto& e : kErrnoNames)
    if (e.err == err) return std::string(e.name);
  return "errno " + std::to_string(err);
}

int errno_from_label(std::string_view name) {
  for (const auto& e : kErrnoNames)
    if (e.name == name) return e.err;
  return 0;
}

std::optional<double> TraceChurn::lifetime_ms(double q) const {
  uint64_t total = 0;
  for (uint64_t n : lifetime_log2_us) total += n;
  if (total == 0) return std::nullopt;
  // The smallest bucket where the cumulative count reaches q of the total.
  const double want = q * double(total);
  uint64_t cum = 0;
  for (int i = 0; i < kLifetimeBuckets; ++i) {
    cum += lifetime_log2_us[i];
    if (double(cum) >= want && cum > 0) return double(uint64_t(1) << (i + 1)) / 1000.0;
  }
  return double(uint64_t(1) << kLifetimeBuckets) / 1000.0;
}

uint64_t TraceResult::failures_of(std::string_view op, int err, int32_t pid) const {
  uint64_t n = 0;
  for (const auto& f : failures)
    if (f.op == op && f.err == err && (pid == 0 || f.pid == pid)) n += f.count;
  return n;
}

namespace {

std::string ep_key(const std::optional<Endpoint>& e) {
  return e ? e->to_string() : std::string("-");
}
uint64_t minus(uint64_t a, uint64_t b) {
  return a > b ? a - b : 0;
}
// Counts of `before` by key, then `now`'s entries with what they gained.
template <typename T, typename Key, typename Sub>
std::vector<T> since(const std::vector<T>& now, const std::vector<T>& before, Key key, Sub sub) {
  std::map<std::string, const T*> old;
  for (const auto& e : before) old.emplace(key(e), &e);
  std::vector<T> out;
  for (const auto& e : now) {
    auto it = old.find(key(e));
    T d = e;
    static const T kNone{};
    if (!sub(d, it != old.end() ? *it->second : kNone)) continue;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

TraceResult trace_since(const TraceResult& now, const TraceResult& before, double duration_s) {
  TraceResult r;
  r.duration_s = duration_s;
  r.missing = now.missing;
  r.failures = since(
      now.failures, before.failures,
      [](const TraceFailure& f) {
        return f.op + "|" + std::to_string(f.err) + "|" + std::to_string(f.pid) + "|" + f.comm +
               "|" + std::to_string(f.netns) + "|" + ep_key(f.destination);
      },
      [](TraceFailure& d, const TraceFailure& b) {
        d.count = minus(d.count, b.count);
        return d.count > 0;
      });
  r.churn = since(
      now.churn, before.churn,
      [](const TraceChurn& c) {
        return std::to_string(c.pid) + "|" + c.comm + "|" + std::to_string(c.netns) + "|" +
               ep_key(c.destination);
      },
      [](TraceChurn& d, const TraceChurn& b) {
        d.opened = minus(d.opened, b.opened);
        d.closed = minus(d.closed, b.closed);
        d.local_closed_first = minus(d.local_closed_first, b.local_closed_first);
        d.remote_closed_first = minus(d.remote_closed_first, b.remote_closed_first);
        for (int i = 0; i < kLifetimeBuckets; ++i)
          d.lifetime_log2_us[i] = minus(d.lifetime_log2_us[i], b.lifetime_log2_us[i]);
        return d.opened > 0 || d.closed > 0;
      });
  r.drops = since(
      now.drops, before.drops,
      [](const TraceDrop& d) {
        return d.reason + "|" + std::to_string(d.netns) + "|" + ep_key(d.where);
      },
      [](TraceDrop& d, const TraceDrop& b) {
        d.count = minus(d.count, b.count);
        return d.count > 0;
      });
  r.syn_retransmits = since(
      now.syn_retransmits, before.syn_retransmits,
      [](const TraceSynRetransmit& s) {
        return std::to_string(s.pid) + "|" + s.comm + "|" + std::to_string(s.netns) + "|" +
               ep_key(s.destination);
      },
      [](TraceSynRetransmit& d, const TraceSynRetransmit& b) {
        d.count = minus(d.count, b.count);
        return d.count > 0;
      });
  // Largest first, as decode_trace orders them.
  std::stable_sort(r.failures.begin(), r.failures.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  std::stable_sort(r.churn.begin(), r.churn.end(),
                   [](const auto& a, const auto& b) { return a.opened > b.opened; });
  std::stable_sort(r.drops.begin(), r.drops.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  std::stable_sort(r.syn_retransmits.begin(), r.syn_retransmits.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  return r;
}

}  // namespace cd
