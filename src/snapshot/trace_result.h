// What `conndoctor trace` counted, as plain data: failed calls, connection churn, resource
// drops and SYN retransmits, each aggregated by key in the kernel (trace/bpf/trace.bpf.c) and
// decoded by trace_decode. Renderers and the diagnosis read this; nothing here reads the system.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/net_types.h"

namespace cd {

struct TraceFailure {
  std::string op;   // "connect", "bind", "accept4", "socket", "openat", ...; "other": map full
  int err = 0;      // positive errno (0 for "other")
  int32_t pid = 0;  // 0: unknown (a connection opened before tracing began)
  std::string comm;
  uint32_t netns = 0;
  std::optional<Endpoint> destination;  // connect: the peer; bind: the local address asked for
  uint64_t count = 0;
};

inline constexpr int kLifetimeBuckets = 28;  // CD_LIFETIME_BUCKETS in trace/bpf/trace_maps.h

struct TraceChurn {
  int32_t pid = 0;
  std::string comm;
  uint32_t netns = 0;
  std::optional<Endpoint> destination;  // nullopt: the overflow ("other") entry
  uint64_t opened = 0;                  // connects that reached ESTABLISHED while tracing
  uint64_t closed = 0;                  // of those, how many closed while tracing
  uint64_t local_closed_first = 0;      // ESTABLISHED -> FIN_WAIT1: this side ends in TIME_WAIT
  uint64_t remote_closed_first = 0;     // ESTABLISHED -> CLOSE_WAIT
  std::array<uint64_t, kLifetimeBuckets> lifetime_log2_us{};  // [2^i, 2^(i+1)) µs
  // Upper bound of the log2 bucket that holds quantile q of the lifetimes, in ms; nullopt
  // when nothing closed.
  std::optional<double> lifetime_ms(double q) const;
};

struct TraceDrop {
  std::string reason;  // "TCP_LISTEN_OVERFLOW", "NETFILTER_DROP", ...; "other": map full
  uint32_t netns = 0;
  std::optional<Endpoint> where;  // the dropped packet's destination (the listener, the flow)
  uint64_t count = 0;
};

struct TraceSynRetransmit {
  int32_t pid = 0;
  std::string comm;
  uint32_t netns = 0;
  std::optional<Endpoint> destination;
  uint64_t count = 0;
};

struct TraceResult {
  double duration_s = 0;
  std::vector<TraceFailure> failures;  // largest count first
  std::vector<TraceChurn> churn;       // most opened first
  std::vector<TraceDrop> drops;
  std::vector<TraceSynRetransmit> syn_retransmits;
  std::vector<std::string> missing;  // what could not be traced or keyed, and why

  // Sum of failures with this op ("connect") and errno; pid 0 = every process.
  uint64_t failures_of(std::string_view op, int err, int32_t pid = 0) const;
};

// What was counted between two reads of the same tracer (the kernel's maps only grow): every
// count of `now` minus the same key's count in `before`, keys whose difference is 0 left out.
// A key `before` lacks is new (all of its count); `duration_s` is the time between the reads.
// The recorder stores one of these per sample, so a sample says what failed since the last.
TraceResult trace_since(const TraceResult& now, const TraceResult& before, double duration_s);

// "accept4" for an x86-64 syscall number; "syscall N" when unknown.
std::string syscall_name(uint32_t nr);
// "EADDRNOTAVAIL"; "errno N" when unknown.
std::string errno_label(int err);
// Inverse of errno_label for the names trace uses; 0 when unknown.
int errno_from_label(std::string_view name);

}  // namespace cd
