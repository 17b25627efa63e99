// The network-layer lab scenarios: a conntrack table filled with flows early_drop() cannot
// evict (conntrack-full), and a NAT router whose masquerade port range runs out for one
// destination (snat-exhaustion), and a peer that sends no TCP timestamps, so tcp_tw_reuse
// cannot reuse (no-timestamps-peer). Rows for the table in lab/scenarios.cpp.
#pragma once

#include "lab/load.h"
#include "lab/scenarios.h"

namespace cd {

ScenarioInfo conntrack_full_scenario();
ScenarioInfo snat_exhaustion_scenario();
ScenarioInfo no_timestamps_peer_scenario();
ScenarioInfo dns_conntrack_scenario();  // lab/scenario_dns.cpp

// Worker side of the multi-namespace scenarios: a worker unshare()s its own network namespace
// (an error is reported to the lab), then waits (bounded) until the lab has wired it up to its
// default route; false when stop came first or the route never did (reported).
Result<void> enter_own_netns(WorkerLink& link);
bool wait_default_route(WorkerLink& link);

// The most entries conntrack-full will create: nf_conntrack_max is global and read-only in
// the lab's namespace, so the lab fills up to it; above this the kernel memory (~320 B an
// entry) and the time are out of a lab's bounds, and the scenario refuses.
inline constexpr int64_t kConntrackFullMaxEntries = 1 << 20;

}  // namespace cd
