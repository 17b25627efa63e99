// Streaming aggregation of conntrack entries: fixed-size counters plus one hash map per
// destination and per SNAT group; nothing per entry survives on_entry().
#include "collect/conntrack_aggregator.h"

// glibc's netinet/in.h must come before the kernel headers that would define in_addr again.
#include <netinet/in.h>

#include <linux/netfilter.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

namespace cd {

namespace {

// tcp_can_early_drop() [net/netfilter/nf_conntrack_proto_tcp.c]: the closing states gc_worker()
// may evict even when ASSURED, once the table is over 95 % full.
bool tcp_can_early_drop(CtTcpState st) {
  switch (st) {
    case CtTcpState::kFinWait:
    case CtTcpState::kCloseWait:
    case CtTcpState::kLastAck:
    case CtTcpState::kTimeWait:
    case CtTcpState::kClose:
      return true;
    default:
      return false;
  }
}

constexpr uint32_t kIpsSeenReply = 1u << 1;
constexpr uint32_t kIpsAssured = 1u << 2;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

// (address, port, protocol) and optionally a NAT address: fixed-size keys, hashed over the
// bytes that matter.
struct DestKey {
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  uint8_t family = 0;
  uint8_t proto = 0;
  bool operator==(const DestKey&) const = default;
};

struct SnatKey {
  DestKey dst;
  std::array<uint8_t, 16> nat{};
  bool operator==(const SnatKey&) const = default;
};

uint64_t mix(uint64_t h, const uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t hash_dest(const DestKey& k, uint64_t h = 1469598103934665603ull) {
  h = mix(h, k.addr.data(), k.family == AF_INET6 ? 16 : 4);
  const uint8_t extra[4] = {uint8_t(k.port >> 8), uint8_t(k.port), k.family, k.proto};
  return mix(h, extra, 4);
}

struct DestKeyHash {
  std::size_t operator()(const DestKey& k) const noexcept { return hash_dest(k); }
};
struct SnatKeyHash {
  std::size_t operator()(const SnatKey& k) const noexcept {
    return hash_dest(k.dst, mix(1469598103934665603ull, k.nat.data(), 16));
  }
};

struct DestCount {
  uint64_t entries = 0;
  uint64_t assured = 0;
  uint64_t unreplied = 0;
};

struct SnatCount {
  uint64_t entries = 0;
  uint64_t closing = 0;
  uint16_t lo = UINT16_MAX;
  uint16_t hi = 0;
  // The first kSnatSourcesCounted distinct original sources: whether more NAT IPs can help
  // depends on how many (source, destination) pairs the hash spreads (SnatGroup::sources).
  std::vector<std::array<uint8_t, 16>> sources;
  bool more_sources = false;
};

DestKey key_of(const Endpoint& e, uint8_t proto) {
  DestKey k;
  k.addr = e.addr.bytes;
  k.port = e.port;
  k.family = e.addr.family;
  k.proto = proto;
  return k;
}

IpAddr addr_of(const std::array<uint8_t, 16>& b, uint8_t family) {
  IpAddr a;
  a.family = family;
  a.bytes = b;
  return a;
}

bool family_matches(uint8_t nfproto, uint8_t af) {
  if (nfproto == 0 || nfproto == NFPROTO_INET) return true;
  return (nfproto == NFPROTO_IPV4 && af == AF_INET) || (nfproto == NFPROTO_IPV6 && af == AF_INET6);
}

bool in_addr_range(const IpAddr& ip, const NatRule& r) {
  if (!r.addr_min) return true;  // address from a map: it may be this one
  const IpAddr& lo = *r.addr_min;
  const IpAddr& hi = r.addr_max ? *r.addr_max : lo;
  if (lo.family != ip.family) return false;
  const std::size_t n = ip.family == AF_INET6 ? 16 : 4;
  return std::memcmp(lo.bytes.data(), ip.bytes.data(), n) <= 0 &&
         std::memcmp(ip.bytes.data(), hi.bytes.data(), n) <= 0;
}

}  // namespace

SnatRange choose_snat_range(const IpAddr& nat_ip, const std::vector<NatRule>& rules,
                            const std::optional<PortRange>& override_ports) {
  SnatRange out;
  if (override_ports) {
    out.ports = *override_ports;
    out.source = "user";
    out.rule = "--snat-port-range";
    return out;
  }
  bool found = false;
  for (const NatRule& r : rules) {
    if (!family_matches(r.family, nat_ip.family)) continue;
    if (!r.masquerade && !in_addr_range(nat_ip, r)) continue;
    // A range loaded from a map is unknown: assume the default so as not to cry wolf.
    const PortRange p = r.ports && !r.ports_from_map ? *r.ports : kDefaultSnatPorts;
    if (!found || p.size() > out.ports.size()) {
      out.ports = p;
      out.source = "nftables";
      out.rule = r.where;
      out.random_fully = r.random_fully;
      found = true;
    }
  }
  return out;
}

struct ConntrackAggregator::State {
  uint64_t entries = 0;
  std::array<uint64_t, 256> by_proto{};
  std::array<uint64_t, kCtTcpStates + 1> tcp_states{};  // last slot: out of range
  uint64_t assured = 0;
  uint64_t assured_evictable = 0;
  uint64_t unreplied = 0;
  uint64_t snat = 0;
  uint64_t dnat = 0;
  ConntrackStale stale;
  uint64_t dns_entries = 0;
  uint64_t dns_unreplied = 0;
  uint64_t dns_assured = 0;
  std::unordered_map<DestKey, DestCount, DestKeyHash> dns_dests;
  std::unordered_map<DestKey, DestCount, DestKeyHash> dests;
  std::unordered_map<SnatKey, SnatCount, SnatKeyHash> snat_groups;
};

ConntrackAggregator::ConntrackAggregator(ConntrackAggregatorConfig cfg)
    : cfg_(std::move(cfg)), st_(std::make_unique<State>()) {}

ConntrackAggregator::~ConntrackAggregator() = default;

void ConntrackAggregator::on_entry(const CtEntry& e) {
  State& s = *st_;
  ++s.entries;
  ++s.by_proto[e.protocol];
  const bool assured = e.status & kIpsAssured;
  const bool unreplied = !(e.status & kIpsSeenReply);
  s.assured += assured;
  s.unreplied += unreplied;

  if (e.protocol == IPPROTO_TCP && e.tcp_state) {
    const uint8_t st = *e.tcp_state;
    ++s.tcp_states[std::min<int>(st, kCtTcpStates)];
    if (assured && tcp_can_early_drop(CtTcpState(st))) ++s.assured_evictable;
    switch (CtTcpState(st)) {
      case CtTcpState::kTimeWait:
        ++s.stale.tcp_time_wait;
        break;
      case CtTcpState::kClose:
        ++s.stale.tcp_close;
        break;
      case CtTcpState::kCloseWait:
        ++s.stale.tcp_close_wait;
        break;
      case CtTcpState::kFinWait:
      case CtTcpState::kLastAck:
        ++s.stale.tcp_fin_wait;
        break;
      case CtTcpState::kEstablished:
        // Every packet resets the timeout to tcp_timeout_established (tcp_packet() ->
        // nf_ct_refresh_acct()), so the time since the last packet is the difference -- except
        // while data is unacknowledged or the window is zero: tcp_packet() then refreshes it
        // to the 300 s cap (timeouts[TCP_CONNTRACK_UNACK/RETRANS]), and "established - left"
        // would call a busy flow idle for ~5 days. Within the cap idleness is unknown.
        if (e.timeout_s && int64_t(*e.timeout_s) <= cfg_.capped_timeout_s) {
          ++s.stale.established_capped;
        } else if (e.timeout_s && cfg_.established_timeout_s &&
                   *cfg_.established_timeout_s > int64_t(*e.timeout_s)) {
          const uint64_t idle = uint64_t(*cfg_.established_timeout_s - int64_t(*e.timeout_s));
          if (int64_t(idle) >= kHour) ++s.stale.established_idle_1h;
          if (int64_t(idle) >= kDay) ++s.stale.established_idle_1d;
          s.stale.established_idle_max_s = std::max(s.stale.established_idle_max_s, idle);
        }
        break;
      default:
        break;
    }
  }
  if (e.protocol == IPPROTO_UDP && unreplied) ++s.stale.udp_unreplied;
  if (e.protocol == IPPROTO_UDP && e.orig_dst.port == kDnsPort) {
    ++s.dns_entries;
    s.dns_unreplied += unreplied;
    s.dns_assured += assured;
    DestCount& d = s.dns_dests[key_of(e.orig_dst, e.protocol)];
    ++d.entries;
    d.unreplied += unreplied;
  }

  DestCount& d = s.dests[key_of(e.orig_dst, e.protocol)];
  ++d.entries;
  d.assured += assured;
  d.unreplied += unreplied;

  if (e.status & (1u << 5)) ++s.dnat;  // IPS_DST_NAT
  if (e.source_nat()) {
    ++s.snat;
    // The NAT port must keep the reply tuple unique (nf_nat_used_tuple()): the reply tuple's
    // source is the real destination (after any DNAT), its destination the NAT IP and port.
    SnatKey k;
    k.dst = key_of(e.reply_src, e.protocol);
    k.nat = e.reply_dst.addr.bytes;
    SnatCount& g = s.snat_groups[k];
    ++g.entries;
    if (e.tcp_state && *e.tcp_state > uint8_t(CtTcpState::kEstablished) &&
        *e.tcp_state <= uint8_t(CtTcpState::kClose))
      ++g.closing;
    g.lo = std::min(g.lo, e.reply_dst.port);
    g.hi = std::max(g.hi, e.reply_dst.port);
    if (!g.more_sources &&
        std::find(g.sources.begin(), g.sources.end(), e.orig_src.addr.bytes) == g.sources.end()) {
      if (g.sources.size() < kSnatSourcesCounted)
        g.sources.push_back(e.orig_src.addr.bytes);
      else
        g.more_sources = true;
    }
  }
}

ConntrackTable ConntrackAggregator::finish(bool dumped, bool interrupted) {
  State& s = *st_;
  ConntrackTable t;
  t.dumped = dumped;
  t.interrupted = interrupted;
  t.entries = s.entries;
  for (int p = 0; p < 256; ++p)
    if (s.by_proto[p]) t.by_protocol[ct_protocol_name(uint8_t(p))] += s.by_proto[p];
  for (int st = 0; st <= kCtTcpStates; ++st)
    if (s.tcp_states[st])
      t.tcp_by_state[std::string(ct_tcp_state_name(uint8_t(st)))] += s.tcp_states[st];
  t.assured = s.assured;
  t.assured_evictable = s.assured_evictable;
  t.unreplied = s.unreplied;
  t.snat_entries = s.snat;
  t.dnat_entries = s.dnat;
  t.stale = s.stale;
  t.established_timeout_s = cfg_.established_timeout_s;

  t.dns.entries = s.dns_entries;
  t.dns.unreplied = s.dns_unreplied;
  t.dns.assured = s.dns_assured;
  t.dns.destinations_total = s.dns_dests.size();
  for (const auto& [k, c] : s.dns_dests)
    t.dns.destinations.push_back(
        {Endpoint{addr_of(k.addr, k.family), k.port}, c.entries, c.unreplied});
  const std::size_t dns_keep = std::min(t.dns.destinations.size(), kDnsDestinationsKept);
  std::partial_sort(t.dns.destinations.begin(), t.dns.destinations.begin() + dns_keep,
                    t.dns.destinations.end(),
                    [](const ConntrackDnsDestination& a, const ConntrackDnsDestination& b) {
                      return a.entries != b.entries ? a.entries > b.entries : a.dst < b.dst;
                    });
  t.dns.destinations.resize(dns_keep);

  t.destinations_total = s.dests.size();
  std::vector<ConntrackDestination> dests;
  dests.reserve(s.dests.size());
  for (const auto& [k, c] : s.dests)
    dests.push_back(
        {Endpoint{addr_of(k.addr, k.family), k.port}, k.proto, c.entries, c.assured, c.unreplied});
  const std::size_t keep = std::min(dests.size(), kTopDestinationsKept);
  std::partial_sort(dests.begin(), dests.begin() + keep, dests.end(),
                    [](const ConntrackDestination& a, const ConntrackDestination& b) {
                      return a.entries != b.entries ? a.entries > b.entries : a.dst < b.dst;
                    });
  dests.resize(keep);
  t.top_destinations = std::move(dests);

  t.snat_groups_total = s.snat_groups.size();
  std::vector<SnatGroup> groups;
  groups.reserve(s.snat_groups.size());
  for (const auto& [k, c] : s.snat_groups) {
    SnatGroup g;
    g.nat_ip = addr_of(k.nat, k.dst.family);
    g.dst = Endpoint{addr_of(k.dst.addr, k.dst.family), k.dst.port};
    g.protocol = k.dst.proto;
    g.entries = c.entries;
    g.closing = c.closing;
    g.nat_port_lo = c.lo;
    g.nat_port_hi = c.hi;
    g.sources = uint32_t(c.sources.size());
    g.more_sources = c.more_sources;
    const SnatRange r = choose_snat_range(g.nat_ip, cfg_.nat_rules, cfg_.snat_ports_override);
    g.port_range = r.ports;
    g.range_source = r.source;
    g.rule = r.rule;
    g.random_fully = r.random_fully;
    groups.push_back(std::move(g));
  }
  const std::size_t gkeep = std::min(groups.size(), kSnatGroupsKept);
  std::partial_sort(groups.begin(), groups.begin() + gkeep, groups.end(),
                    [](const SnatGroup& a, const SnatGroup& b) {
                      if (a.utilization() != b.utilization())
                        return a.utilization() > b.utilization();
                      return a.entries != b.entries ? a.entries > b.entries : a.dst < b.dst;
                    });
  groups.resize(gkeep);
  t.snat = std::move(groups);
  t.nat_rules_read = cfg_.nat_rules_read;
  t.nat_rules = cfg_.nat_rules;
  st_ = std::make_unique<State>();
  return t;
}

}  // namespace cd
