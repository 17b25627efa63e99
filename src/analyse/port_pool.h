// Derived view of the ephemeral port pools: per destination tuple and host-wide. Shared by
// the ephemeral_ports rule and the report's "resources" section, computed once.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "snapshot/snapshot.h"

namespace cd {

// Why TIME_WAIT ports of a tuple are or are not credited as reusable (tcp_tw_reuse).
// tcp_twsk_unique() [net/ipv4/tcp_ipv4.c] takes over a TIME_WAIT port only when the old
// connection carried timestamps (tw_ts_recent_stamp), which the sysctls alone cannot tell.
enum class TwReuseBasis : uint8_t {
  kOff,       // the sysctls rule reuse out for this tuple: nothing credited
  kSysctls,   // the sysctls allow it, not measured (one reading, or too few connects): credited
  kObserved,  // TcpExt.TWRecycled rose between the readings: credited
  kRefused,   // allowed, but TWRecycled stayed flat while enough connects met aged TIME_WAIT
              // ports: the connections carry no timestamps; nothing credited
};
std::string_view tw_reuse_basis_name(TwReuseBasis b);

struct TupleStat {
  TupleKey key;
  uint32_t in_use = 0;  // sockets holding a port of this tuple, TIME_WAIT included
  uint32_t live = 0;    // not TIME_WAIT
  uint32_t time_wait = 0;
  uint32_t tw_reusable = 0;         // TIME_WAIT that tcp_tw_reuse lets connect() take over now
  uint32_t usable = 0;              // pool of this tuple: range - reserved - bound ports in range
  uint32_t effective_in_use = 0;    // in_use - tw_reusable: what actually blocks connect()
  double utilization = 0;           // effective_in_use / usable
  std::optional<double> new_per_s;  // connections started per second to this tuple
  std::optional<double> steady_state_demand;    // ports needed at this rate: live + rate x 60 s
  std::optional<double> seconds_to_exhaustion;  // 0 = exhausted now; nullopt = stable/unknown
  bool tw_reuse_applies = false;  // TIME_WAIT credited as reusable (basis kSysctls or kObserved)
  TwReuseBasis tw_reuse_basis = TwReuseBasis::kOff;
  std::optional<double> tw_reuses_expected;  // kRefused/kObserved: reuses a working reuse makes
  uint32_t syn_sent = 0;                     // live sockets still waiting for a SYN-ACK
  uint32_t syn_unanswered = 0;               // of those, SYN retransmitted: unanswered for >= 1 s
  uint32_t bind_parity = 0;  // sockets on the parity bind(0) prefers (TupleUsage::bind_parity)
};

// Unanswered connects to one tuple that make a finding of their own (unanswered_connects).
inline constexpr uint32_t kUnansweredMin = 10;
inline bool connects_unanswered(const TupleStat& t) {
  return t.syn_unanswered >= kUnansweredMin;
}
// When those connects are most of the tuple's live sockets, its port figures describe a
// destination that does not answer, not "many connections open": the ephemeral_ports rule leaves
// the tuple to unanswered_connects (widening the range would only let more SYNs wait).
inline bool pool_held_by_unanswered(const TupleStat& t) {
  return connects_unanswered(t) && uint64_t(t.syn_sent) * 2 > t.live;
}

// The pool of bind(address, 0) (SocketSummary::bind_pools) with what the rule needs to judge it.
struct BindPoolStat {
  IpAddr address;          // unmapped; 0.0.0.0 or :: for the wildcard's own pool
  uint32_t in_use = 0;     // ports of the range a bind(address, 0) cannot take
  uint32_t own_ports = 0;  // held on the address itself
  uint32_t usable = 0;     // range - reserved (PortAnalysis::host_usable)
  double utilization = 0;  // in_use / usable, at most 1
  uint64_t sockets = 0;    // sockets on the address with a port in the range
  uint64_t bound_inactive = 0;
  uint32_t listening_ports = 0;  // listening ports in the range on the address or a wildcard
  uint64_t client_sockets = 0;   // sockets of the tuples from this address
  uint32_t tuples = 0;           // tuples from this address
  std::optional<std::size_t> hottest_tuple;  // index into PortAnalysis::tuples
  // Sockets on bind()'s parity in tuples that hold less than half their pool: connect() never
  // needed that parity for them, so their ports came from bind(address, 0) (SocketSummary).
  uint64_t bind_parity_sockets = 0;
  std::optional<std::size_t> bind_parity_tuple;  // the tuple with most of them
};

struct PortAnalysis {
  bool known = false;  // range known and dump complete
  PortRange range;
  uint32_t reserved_in_range = 0;
  // Ports held by bind() inside the range, excluded for every destination: listening ports
  // and those of bound-but-inactive sockets (SocketSummary::bound_inactive_ports), each once.
  uint32_t bound_in_range = 0;
  uint32_t bound_inactive_in_range = 0;  // of those, held by bound-inactive sockets only
  uint32_t usable_per_tuple = 0;
  std::vector<TupleStat> tuples;  // hottest first (by utilization), all tuples
  // Host-wide pool (bind-before-connect, UDP): distinct ports in use vs usable.
  uint32_t host_tcp_ports_in_use = 0;
  uint32_t host_udp_ports_in_use = 0;
  uint32_t host_usable = 0;
  std::vector<BindPoolStat> bind_pools;  // fullest first, as the aggregator tracked them
  uint64_t bind_pool_untracked_sockets = 0;
};

PortAnalysis analyse_ports(const Snapshot& snap);

}  // namespace cd
