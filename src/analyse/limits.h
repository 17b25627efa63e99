// Limit checks that more than one rule needs, written once. TCPAbortOnMemory is bumped by
// tcp_out_of_resources() [net/ipv4/tcp_timer.c] for too many orphans AND for tcp_mem
// exhaustion, so the orphans and tcp_memory rules must agree on who explains the aborts; the
// time_wait and config rules must agree on what a lowered tcp_max_tw_buckets is.
#pragma once

#include <optional>

#include "snapshot/snapshot.h"

namespace cd {

inline constexpr double kOrphansWarn = 0.25;
inline constexpr double kOrphansCrit = 0.50;

// tcp_orphan / tcp_max_orphans (nullopt when either is unknown).
std::optional<double> orphan_fill(const Reading& r);
// TCP memory at or above tcp_mem's pressure threshold.
bool tcp_memory_under_pressure(const Reading& r);
// tcp_max_tw_buckets far below its default (ehash/2, the same as tcp_max_orphans's default):
// below 4096, or below 1/8 of tcp_max_orphans.
bool tw_buckets_lowered(const Sysctls& s);

}  // namespace cd
