// The nf_tables wire format of source-NAT rules: `masq` and `snat` expressions of nft, and the
// SNAT / MASQUERADE targets iptables-nft stores, with the NAT port range they give. Every length
// is checked before a byte is read (transcripts are untrusted input).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "collect/conntrack_source.h"
#include "util/error.h"

namespace cd {

// Appends the source-NAT rules one nf_tables rule message carries (usually 0 or 1); a message
// of another kind adds nothing.
Result<void> decode_nat_rules(std::span<const uint8_t> msg, std::vector<NatRule>& out);

}  // namespace cd
