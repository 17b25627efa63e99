// The ctnetlink wire format: requests, conntrack entries, per-CPU and global stats. Every
// length is checked before a byte is read, because the same code parses untrusted transcript
// files (fuzzed: fuzz/conntrack_decode_fuzz.cpp). Source-NAT rules: nftables_nat_decode.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "collect/conntrack_source.h"
#include "util/error.h"

namespace cd {

// nlmsghdr + nfgenmsg asking `q`; NLM_F_DUMP for the dumps, NLM_F_ACK for the global stats.
std::vector<uint8_t> encode_query(NfQuery q, uint32_t seq);

// Whole messages (nlmsghdr included). A message of another kind is skipped (false); a
// malformed one is an Error naming the problem.
Result<bool> decode_ct_entry(std::span<const uint8_t> msg, CtEntry& out);
Result<void> add_cpu_stats(std::span<const uint8_t> msg, CtCpuStats& out);
Result<void> decode_global_stats(std::span<const uint8_t> msg, CtGlobalStats& out);

}  // namespace cd
