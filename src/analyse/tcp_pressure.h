// What the orphans and tcp_memory rules both need: TCPAbortOnMemory is bumped by
// tcp_out_of_resources() [net/ipv4/tcp_timer.c] for too many orphans AND for tcp_mem
// exhaustion, so each rule must know whether the other explains the aborts.
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

}  // namespace cd
