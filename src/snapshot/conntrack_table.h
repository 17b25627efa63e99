// What a ctnetlink dump of the namespace's conntrack table shows, aggregated while it
// streams: memory grows with destinations and NAT groups, not with entries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/net_types.h"

namespace cd {

// NAT keeps the source port when it can; otherwise nf_nat_l4proto_unique_tuple() picks from
// 1024-65535 (64,512 ports) unless the rule says --to-ports / `masquerade to :LO-HI`.
inline constexpr PortRange kDefaultSnatPorts{1024, 65535};
// Kernel memory per conntrack entry: sizeof(struct nf_conn) plus extensions is ~300-400 B on
// 64-bit kernels; 320 B is the figure the plans quote (entries x 320 B).
inline constexpr uint64_t kConntrackEntryBytes = 320;

struct ConntrackDestination {
  Endpoint dst;
  uint8_t protocol = 0;  // IPPROTO_*
  uint64_t entries = 0;
  uint64_t assured = 0;    // IPS_ASSURED: early_drop() will not evict them
  uint64_t unreplied = 0;  // no reply seen (IPS_SEEN_REPLY clear)
};

// A source-NAT rule read from the namespace's nf_tables ruleset (nft `snat`/`masquerade`
// expressions, or iptables-nft's xt SNAT/MASQUERADE targets), or given by the user.
struct NatRule {
  uint8_t family = 0;              // NFPROTO_IPV4 / NFPROTO_IPV6 / NFPROTO_INET (0: any)
  bool masquerade = false;         // NAT IP = the outgoing interface's address
  std::optional<IpAddr> addr_min;  // snat to ADDR[-ADDR]; unset for masquerade
  std::optional<IpAddr> addr_max;
  std::optional<PortRange> ports;  // unset: kDefaultSnatPorts
  bool ports_from_map = false;     // the range is loaded from a map or packet field: unknown
  bool random_fully = false;       // NF_NAT_RANGE_PROTO_RANDOM_FULLY
  std::string where;               // "nft table ip nat chain postrouting", for the report
};

// Entries whose reply tuple shows source NAT, grouped the way SNAT ports are exhausted:
// per (NAT IP, destination IP, destination port, protocol) (nf_nat_l4proto_unique_tuple()).
struct SnatGroup {
  IpAddr nat_ip;
  Endpoint dst;
  uint8_t protocol = 0;
  uint64_t entries = 0;      // each holds one NAT source port of the group
  uint64_t closing = 0;      // TCP entries past ESTABLISHED (TIME_WAIT, CLOSE, FIN_WAIT...): churn
  uint16_t nat_port_lo = 0;  // lowest and highest NAT source port seen
  uint16_t nat_port_hi = 0;
  PortRange port_range = kDefaultSnatPorts;  // the pool the rule allows
  std::string range_source = "default";      // "default", "nftables", "user"
  std::string rule;                          // NatRule::where of the rule that set the range
  bool random_fully = false;
  // Distinct original sources behind the group, counted up to kSnatSourcesCounted
  // (more_sources: there were more). nf_nat picks the NAT IP by a hash of (source,
  // destination) (find_best_ips_proto()), so more NAT IPs help only with several sources.
  uint32_t sources = 0;
  bool more_sources = false;
  double utilization() const {
    return port_range.size() ? double(entries) / port_range.size() : 0.0;
  }
};

// Entries that hold a slot longer than the traffic needs.
struct ConntrackStale {
  uint64_t tcp_time_wait = 0;  // closed connections kept for tcp_timeout_time_wait (120 s)
  uint64_t tcp_close = 0;      // RST-closed, kept for tcp_timeout_close (10 s)
  uint64_t tcp_close_wait = 0;
  uint64_t tcp_fin_wait = 0;  // FIN_WAIT + LAST_ACK
  // ESTABLISHED entries idle (no packet) for long: idle = tcp_timeout_established - time
  // left, as every packet refreshes the timeout. A peer that vanished without FIN/RST keeps
  // its entry for the whole 5-day default.
  uint64_t established_idle_1h = 0;
  uint64_t established_idle_1d = 0;
  uint64_t established_idle_max_s = 0;
  // ESTABLISHED entries whose time left is within the capped timeout (300 s): busy flows with
  // unacknowledged data or a zero window get that shorter timeout on every packet, so their
  // idle time cannot be told; never counted as idle.
  uint64_t established_capped = 0;
  uint64_t udp_unreplied = 0;  // one-way UDP (dead DNS servers, scans)
};

// UDP entries to port 53: DNS lookups (each glibc lookup opens one socket and sends its A and
// AAAA queries over it, one entry). Keyed by the original destination (the resolver or the
// service address the client asked, before any DNAT).
struct ConntrackDnsDestination {
  Endpoint dst;
  uint64_t entries = 0;
  uint64_t unreplied = 0;  // no reply seen (IPS_SEEN_REPLY clear)
};

struct ConntrackDns {
  uint64_t entries = 0;
  uint64_t unreplied = 0;
  uint64_t assured = 0;  // a reply seen and traffic again after 2 s: udp_timeout_stream applies
  uint64_t destinations_total = 0;
  std::vector<ConntrackDnsDestination>
      destinations;  // most entries first (top kDnsDestinationsKept)
};

inline constexpr uint16_t kDnsPort = 53;

struct ConntrackTable {
  bool dumped = false;       // the ctnetlink dump ran to completion
  bool interrupted = false;  // NLM_F_DUMP_INTR: the table changed during the dump
  uint64_t entries = 0;
  std::map<std::string, uint64_t> by_protocol;   // "tcp", "udp", "icmp", ...
  std::map<std::string, uint64_t> tcp_by_state;  // "ESTABLISHED", "TIME_WAIT", ...
  uint64_t assured = 0;
  // Of the ASSURED ones, TCP entries in FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT or CLOSE:
  // early_drop() skips them, but gc_worker() evicts them once the table is over 95 % full
  // (gc_worker_can_early_drop() -> tcp_can_early_drop()). The rest cannot be evicted at all.
  uint64_t assured_evictable = 0;
  uint64_t unreplied = 0;
  uint64_t snat_entries = 0;
  uint64_t dnat_entries = 0;
  ConntrackStale stale;
  ConntrackDns dns;                                    // UDP entries to port 53
  std::optional<int64_t> established_timeout_s;        // the timeout the idle times were taken from
  uint64_t destinations_total = 0;                     // distinct (destination, protocol)
  std::vector<ConntrackDestination> top_destinations;  // most entries first
  uint64_t snat_groups_total = 0;
  std::vector<SnatGroup> snat;  // most utilised first (top kSnatGroupsKept)
  bool nat_rules_read = false;  // the nf_tables ruleset could be read
  std::vector<NatRule> nat_rules;
};

// "tcp", "udp", "icmp", "icmpv6", ...; other protocols by number.
std::string ct_protocol_name(uint8_t protocol);

inline constexpr std::size_t kTopDestinationsKept = 20;
inline constexpr std::size_t kSnatGroupsKept = 50;
inline constexpr std::size_t kSnatSourcesCounted = 8;
inline constexpr std::size_t kDnsDestinationsKept = 10;

}  // namespace cd
