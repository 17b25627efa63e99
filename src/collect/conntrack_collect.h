// Conntrack figures over netlink for one reading: per-CPU stats when procfs lacks them, the
// table streamed into a ConntrackTable, and the SNAT rules that size its NAT port pools. Every
// refusal (no CAP_NET_ADMIN, module not loaded) becomes one `missing` line that names the
// figures it costs; the rest of the reading is unaffected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collect/conntrack_source.h"
#include "snapshot/snapshot.h"

namespace cd {

struct ConntrackCollectOptions {
  bool table = true;                    // dump the table (one reading of a snapshot is enough)
  std::optional<PortRange> snat_ports;  // --snat-port-range: overrides the ruleset
};

// How many times the table is dumped when it changes under each dump (NLM_F_DUMP_INTR, or
// emptied meanwhile) before it is named in `missing` instead of counted.
inline constexpr int kCtDumpAttempts = 3;
// The table counts as emptied during a dump (a flush, `conntrack -F`, which ctnetlink does
// not flag) when its entry count fell by more than half and by at least this many entries
// between just before and just after the dump. Churn does not halve a table in a dump's
// time; a few entries of a tiny table are not worth a retry.
inline constexpr int64_t kCtFlushMinEntries = 16;
bool table_emptied(int64_t entries_before, int64_t entries_after);

// Reads r.sysctls (timeouts) and r.conntrack (what procfs gave); fills r.conntrack.stats when
// stats_source is empty, and r.conntrack_table.
void collect_conntrack(ConntrackSource& src, const ConntrackCollectOptions& opt, Reading& r,
                       std::vector<std::string>& missing);

// "1024-65535" -> range (lo <= hi, lo >= 1); for --snat-port-range.
Result<PortRange> parse_snat_port_range(std::string_view text);

}  // namespace cd
