// Raw trace map entries -> TraceResult. The layouts are those of bpf/trace_maps.h; each
// record is copied out with memcpy after its size is checked (map values come from the
// kernel, but the fuzz target and the tests hand in arbitrary bytes).
#include "trace/trace_decode.h"

#include <linux/types.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <tuple>

#include "trace/bpf/trace_maps.h"

namespace cd {

namespace {

static_assert(CD_LIFETIME_BUCKETS == kLifetimeBuckets);
static_assert(sizeof(cd_failure_key) == 52);
static_assert(sizeof(cd_dest_key) == 44);
static_assert(sizeof(cd_drop_key) == 28);
static_assert(sizeof(cd_churn) == 8 * (4 + CD_LIFETIME_BUCKETS));

template <typename T>
bool read_as(const std::vector<uint8_t>& bytes, T& out) {
  if (bytes.size() != sizeof(T)) return false;
  std::memcpy(&out, bytes.data(), sizeof(T));
  return true;
}

bool all_zero(const std::vector<uint8_t>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// A task's comm is whatever bytes it set with prctl(PR_SET_NAME): keep printable ASCII only,
// so that the JSON stays valid UTF-8 and the text one line.
std::string comm_of(const char (&c)[16]) {
  std::string s(c, strnlen(c, sizeof c));
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '?';
  return s;
}

std::optional<Endpoint> endpoint_of(uint16_t family, uint16_t port_be, const uint8_t (&a)[16]) {
  Endpoint e;
  if (family == AF_INET) {
    uint32_t v4;
    std::memcpy(&v4, a, 4);
    e.addr = IpAddr::v4(v4);
  } else if (family == AF_INET6) {
    e.addr = IpAddr::v6(a);
  } else {
    return std::nullopt;
  }
  e.port = uint16_t((port_be >> 8) | (port_be << 8));
  return e;
}

void wrong_size(TraceResult& r, std::string_view map, std::size_t n) {
  r.missing.push_back("trace map " + std::string(map) + ": " + std::to_string(n) +
                      " entries of an unexpected size were skipped (conndoctor and its BPF "
                      "object disagree)");
}

void overflowed(TraceResult& r, std::string_view map, int capacity, uint64_t count,
                std::string_view what) {
  r.missing.push_back("trace map " + std::string(map) + " was full (" + std::to_string(capacity) +
                      " keys): " + std::to_string(count) + " further " + std::string(what) +
                      " are counted under \"other\" without their key");
}

}  // namespace

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

TraceResult decode_trace(const RawTraceMaps& raw, double duration_s) {
  TraceResult r;
  r.duration_s = duration_s;

  std::size_t bad = 0;
  for (const auto& [kb, vb] : raw.failures) {
    cd_failure_key k;
    uint64_t n;
    if (!read_as(kb, k) || !read_as(vb, n)) {
      ++bad;
      continue;
    }
    if (n == 0) continue;
    TraceFailure f;
    f.count = n;
    if (all_zero(kb)) {
      f.op = "other";
      overflowed(r, "failures", CD_FAILURES_MAX, n, "failed calls");
    } else {
      f.op = k.op == CD_OP_CONNECT   ? "connect"
             : k.op == CD_OP_BIND    ? "bind"
             : k.op == CD_OP_SYSCALL ? syscall_name(k.call)
                                     : "op " + std::to_string(k.op);
      f.err = k.err;
      f.pid = int32_t(k.pid);
      f.comm = comm_of(k.comm);
      f.netns = k.netns;
      f.destination = endpoint_of(k.family, k.port, k.addr);
    }
    r.failures.push_back(std::move(f));
  }
  if (bad) wrong_size(r, "failures", bad);

  bad = 0;
  for (const auto& [kb, vb] : raw.churn) {
    cd_dest_key k;
    cd_churn v;
    if (!read_as(kb, k) || !read_as(vb, v)) {
      ++bad;
      continue;
    }
    if (v.opened == 0 && v.closed == 0 && v.local_closed_first == 0 && v.remote_closed_first == 0)
      continue;
    TraceChurn c;
    if (all_zero(kb)) {
      overflowed(r, "churn", CD_CHURN_MAX, v.opened + v.closed, "connection opens and closes");
    } else {
      c.pid = int32_t(k.pid);
      c.comm = comm_of(k.comm);
      c.netns = k.netns;
      c.destination = endpoint_of(k.family, k.port, k.addr);
    }
    c.opened = v.opened;
    c.closed = v.closed;
    c.local_closed_first = v.local_closed_first;
    c.remote_closed_first = v.remote_closed_first;
    std::copy(std::begin(v.lifetime_log2_us), std::end(v.lifetime_log2_us),
              c.lifetime_log2_us.begin());
    r.churn.push_back(std::move(c));
  }
  if (bad) wrong_size(r, "churn", bad);

  bad = 0;
  for (const auto& [kb, vb] : raw.drops) {
    cd_drop_key k;
    uint64_t n;
    if (!read_as(kb, k) || !read_as(vb, n)) {
      ++bad;
      continue;
    }
    if (n == 0) continue;
    TraceDrop d;
    d.count = n;
    if (all_zero(kb)) {
      d.reason = "other";
      overflowed(r, "drops", CD_DROPS_MAX, n, "drops");
    } else {
      auto it = raw.drop_reason_names.find(k.reason);
      d.reason =
          it != raw.drop_reason_names.end() ? it->second : "reason " + std::to_string(k.reason);
      d.netns = k.netns;
      d.where = endpoint_of(k.family, k.port, k.addr);
    }
    r.drops.push_back(std::move(d));
  }
  if (bad) wrong_size(r, "drops", bad);

  bad = 0;
  for (const auto& [kb, vb] : raw.syn_retransmits) {
    cd_dest_key k;
    uint64_t n;
    if (!read_as(kb, k) || !read_as(vb, n)) {
      ++bad;
      continue;
    }
    if (n == 0) continue;
    TraceSynRetransmit s;
    s.count = n;
    if (all_zero(kb)) {
      overflowed(r, "syn_retransmits", CD_RETRANS_MAX, n, "SYN retransmits");
    } else {
      s.pid = int32_t(k.pid);
      s.comm = comm_of(k.comm);
      s.netns = k.netns;
      s.destination = endpoint_of(k.family, k.port, k.addr);
    }
    r.syn_retransmits.push_back(std::move(s));
  }
  if (bad) wrong_size(r, "syn_retransmits", bad);

  if (raw.conns_untracked > 0)
    r.missing.push_back("the connection table was full (" + std::to_string(CD_CONNS_MAX) +
                        " connects in flight or open): " + std::to_string(raw.conns_untracked) +
                        " connects are missing from churn and from asynchronous failures");

  // Largest first; ties in a stable, readable order.
  std::sort(r.failures.begin(), r.failures.end(), [](const auto& a, const auto& b) {
    return std::tie(b.count, a.op, a.err, a.pid) < std::tie(a.count, b.op, b.err, b.pid);
  });
  std::sort(r.churn.begin(), r.churn.end(), [](const auto& a, const auto& b) {
    return std::tie(b.opened, b.closed, a.pid) < std::tie(a.opened, a.closed, b.pid);
  });
  std::sort(r.drops.begin(), r.drops.end(), [](const auto& a, const auto& b) {
    return std::tie(b.count, a.reason) < std::tie(a.count, b.reason);
  });
  std::sort(r.syn_retransmits.begin(), r.syn_retransmits.end(),
            [](const auto& a, const auto& b) { return b.count < a.count; });
  return r;
}

}  // namespace cd
