// Decodes the trace maps' raw contents (key and value bytes, as bpf_map_lookup_elem returns
// them) into a TraceResult. Separate from the loader so that it is tested and fuzzed on bytes:
// a record of the wrong size is reported in `missing`, never read past.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/trace_result.h"

namespace cd {

using RawEntry = std::pair<std::vector<uint8_t>, std::vector<uint8_t>>;  // key, value

struct RawTraceMaps {
  std::vector<RawEntry> failures;         // struct cd_failure_key -> u64
  std::vector<RawEntry> churn;            // struct cd_dest_key -> struct cd_churn
  std::vector<RawEntry> drops;            // struct cd_drop_key -> u64
  std::vector<RawEntry> syn_retransmits;  // struct cd_dest_key -> u64
  uint64_t conns_untracked = 0;           // active opens the connection table had no room for
  uint64_t conns_stale = 0;  // tracked sockets whose CLOSE was not seen (address since reused)
  // Program runs the kernel skipped (bpf_prog_info.recursion_misses: the program was already
  // running on that CPU, e.g. interrupted by a softirq that hit the same tracepoint), by name.
  std::map<std::string, uint64_t> prog_misses;
  std::map<uint32_t, std::string> drop_reason_names;  // the running kernel's skb_drop_reason
};

TraceResult decode_trace(const RawTraceMaps& raw, double duration_s);

}  // namespace cd
