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

  if (raw.conns_stale > 0)
    r.missing.push_back(std::to_string(raw.conns_stale) +
                        " traced connects closed without the kernel telling us (their socket "
                        "was reused before its CLOSE was seen): missing from churn");

  for (const auto& [prog, n] : raw.prog_misses)
    if (n > 0)
      r.missing.push_back("the kernel skipped " + std::to_string(n) + " runs of " + prog +
                          " (it was already running on that CPU: recursion_misses); their "
                          "events are not counted");

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
