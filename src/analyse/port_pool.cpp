// The ephemeral port pools: usable ports per destination tuple, what tcp_tw_reuse frees,
// churn rates, steady-state demand and the forecast; plus the host-wide pool.
#include "analyse/port_pool.h"

#include <algorithm>
#include <map>
#include <set>

namespace cd {

namespace {

constexpr PortRange kDefaultRange{32768, 60999};
constexpr double kTimeWaitS = 60.0;  // TCP_TIMEWAIT_LEN: fixed, no sysctl changes it

// Whether connect() may take over this tuple's TIME_WAIT ports now. tcp_twsk_unique()
// [net/ipv4/tcp_ipv4.c]: needs a timestamp on the old connection (tw_ts_recent_stamp, so
// tcp_timestamps on), and tcp_tw_reuse = 1, or = 2 when the source or the destination is a
// loopback address. Unknown sysctls count as "no": the conservative answer.
bool tw_reuse_applies(const Sysctls& s, const TupleKey& k) {
  if (!s.tcp_timestamps || *s.tcp_timestamps == 0 || !s.tcp_tw_reuse) return false;
  if (*s.tcp_tw_reuse == 1) return true;
  return *s.tcp_tw_reuse == 2 && (k.src.is_loopback() || k.dst.is_loopback());
}

uint32_t reusable(const TupleUsage& t, bool applies) {
  return applies ? std::min(t.tw_past_reuse_delay, t.time_wait) : 0;
}

// A connect() to a tuple walks the range and takes the first port that is free or, with reuse,
// a TIME_WAIT port past tcp_tw_reuse_delay (__inet_hash_connect() -> __inet_check_established()
// -> tcp_twsk_unique()). So each connect reuses with a probability of about
// aged / (free + aged), and `connects` connects that met this tuple's TIME_WAIT make
// connects x that many reuses when reuse works. Below kMinExpectedReuses a flat TWRecycled
// proves nothing (P(no reuse) = e^-5 < 1 % at the threshold).
constexpr double kMinExpectedReuses = 5.0;

void judge_tw_reuse(TupleStat& s, const TupleUsage& t, const Sysctls& sc,
                    std::optional<double> recycled_per_s, std::optional<double> connects) {
  s.tw_reuse_basis = TwReuseBasis::kOff;
  s.tw_reuse_applies = false;
  if (!tw_reuse_applies(sc, t.key)) return;
  s.tw_reuse_applies = true;
  s.tw_reuse_basis = TwReuseBasis::kSysctls;
  if (!recycled_per_s || !connects) return;
  const double aged = std::min(t.tw_past_reuse_delay, s.time_wait);
  const double free = s.usable > s.in_use ? double(s.usable - s.in_use) : 0.0;
  if (aged <= 0) return;
  const double expected = *connects * aged / (free + aged);
  if (*recycled_per_s > 0) {
    s.tw_reuse_basis = TwReuseBasis::kObserved;
    s.tw_reuses_expected = expected;
  } else if (expected >= kMinExpectedReuses) {
    s.tw_reuse_basis = TwReuseBasis::kRefused;
    s.tw_reuses_expected = expected;
    s.tw_reuse_applies = false;
  }
}

// The bind(0) pools with the tuples and listeners of their address. Runs after the tuples are
// sorted: indices point into pa.tuples.
void analyse_bind_pools(const SocketSummary& sum, PortAnalysis& pa) {
  pa.bind_pool_untracked_sockets = sum.bind_pool_untracked_sockets;
  std::map<IpAddr, std::size_t> index;
  for (const BindPool& b : sum.bind_pools) {
    BindPoolStat s;
    s.address = b.address;
    s.in_use = b.ports_in_range;
    s.own_ports = b.own_ports_in_range;
    s.usable = pa.host_usable;
    s.utilization = s.usable ? std::min(1.0, double(s.in_use) / s.usable) : 1.0;
    s.sockets = b.sockets;
    s.bound_inactive = b.bound_inactive;
    std::set<uint16_t> listening;
    for (const Listener& l : sum.listeners) {
      const IpAddr a = l.local.addr.unmapped();
      const bool overlaps =
          a == s.address || s.address.is_unspecified() ||
          (a.is_unspecified() && (a.family == AF_INET6 || s.address.family == AF_INET));
      if (overlaps && pa.range.contains(l.local.port)) listening.insert(l.local.port);
    }
    s.listening_ports = uint32_t(listening.size());
    index.emplace(s.address, pa.bind_pools.size());
    pa.bind_pools.push_back(s);
  }
  std::vector<uint32_t> parity_best(pa.bind_pools.size(), 0);
  for (std::size_t i = 0; i < pa.tuples.size(); ++i) {
    const TupleStat& t = pa.tuples[i];
    auto it = index.find(t.key.src);
    if (it == index.end()) continue;
    BindPoolStat& s = pa.bind_pools[it->second];
    s.client_sockets += t.in_use;
    ++s.tuples;
    if (!s.hottest_tuple) s.hottest_tuple = i;  // tuples are sorted hottest first
    if (uint64_t(t.in_use) * 2 < t.usable && t.bind_parity > 0) {
      s.bind_parity_sockets += t.bind_parity;
      if (t.bind_parity > parity_best[it->second]) {
        parity_best[it->second] = t.bind_parity;
        s.bind_parity_tuple = i;
      }
    }
  }
}

}  // namespace

std::string_view tw_reuse_basis_name(TwReuseBasis b) {
  switch (b) {
    case TwReuseBasis::kOff:
      return "off";
    case TwReuseBasis::kSysctls:
      return "sysctls";
    case TwReuseBasis::kObserved:
      return "reuse_seen";
    case TwReuseBasis::kRefused:
      return "refused";
  }
  return "off";
}

PortAnalysis analyse_ports(const Snapshot& snap) {
  const Reading& now = snap.now();
  const Sysctls& sc = now.sysctls;
  PortAnalysis pa;
  pa.range = sc.ip_local_port_range.value_or(kDefaultRange);
  pa.known = sc.ip_local_port_range.has_value() && now.sockets.complete;

  // Count every port once: a port both reserved and listened on is excluded once.
  // inet_is_local_reserved_port() and the bind bucket check in __inet_hash_connect()
  // [net/ipv4/inet_hashtables.c] each skip a port, for every destination.
  std::vector<uint8_t> excluded(pa.range.size(), 0);
  if (sc.ip_local_reserved_ports) {
    for (const PortRange& r : *sc.ip_local_reserved_ports) {
      uint32_t lo = std::max<uint32_t>(r.lo, pa.range.lo);
      uint32_t hi = std::min<uint32_t>(r.hi, pa.range.hi);
      for (uint32_t p = lo; p <= hi && r.hi >= r.lo; ++p) {
        uint8_t& e = excluded[p - pa.range.lo];
        if (!e) ++pa.reserved_in_range;
        e = 1;
      }
    }
  }
  for (const Listener& l : now.sockets.listeners) {
    if (!pa.range.contains(l.local.port)) continue;
    uint8_t& e = excluded[l.local.port - pa.range.lo];
    if (!e) ++pa.bound_in_range;
    e = 1;
  }
  // A port bound by bind() and not (yet) connected or listening: its bind bucket has
  // fastreuse >= 0, which __inet_hash_connect() skips for every destination.
  for (uint16_t p : now.sockets.bound_inactive_ports) {
    if (!pa.range.contains(p)) continue;
    uint8_t& e = excluded[p - pa.range.lo];
    if (!e) {
      ++pa.bound_in_range;
      ++pa.bound_inactive_in_range;
    }
    e = 1;
  }
  uint32_t size = pa.range.size();
  pa.usable_per_tuple = size - pa.reserved_in_range - pa.bound_in_range;
  pa.host_usable = size - pa.reserved_in_range;
  pa.host_tcp_ports_in_use = now.sockets.tcp_ports_in_range;
  pa.host_udp_ports_in_use = now.sockets.udp_ports_in_range;

  std::map<TupleKey, const TupleUsage*> before;
  if (const Reading* b = snap.before())
    for (const TupleUsage& t : b->sockets.tuples) before.emplace(t.key, &t);
  std::optional<double> dt = snap.interval_s();
  // Host-wide (per namespace): connect() taking over a TIME_WAIT port counts it once.
  const std::optional<double> recycled_per_s = snap.counter_rate("TcpExt.TWRecycled");
  // With tcp_tw_reuse a TIME_WAIT port is held only until it is tcp_tw_reuse_delay old.
  double reuse_hold_s = double(sc.tcp_tw_reuse_delay_ms.value_or(1000)) / 1000.0;

  pa.tuples.reserve(now.sockets.tuples.size());
  for (const TupleUsage& t : now.sockets.tuples) {
    TupleStat s;
    s.key = t.key;
    s.in_use = t.in_use();
    s.time_wait = std::min(t.time_wait, s.in_use);
    s.live = s.in_use - s.time_wait;
    s.syn_sent = t.by_state[int(TcpState::kSynSent)];
    s.syn_unanswered = std::min(t.syn_unanswered, s.syn_sent);
    s.bind_parity = std::min(t.bind_parity, s.in_use);
    s.usable = pa.usable_per_tuple;

    // Churn from the kernel's own clock: TIME_WAIT entries younger than the window entered it
    // within the window, so one reading already gives a rate of closed connections.
    const TupleUsage* b = nullptr;
    if (auto it = before.find(t.key); it != before.end()) b = it->second;
    double rate = double(t.tw_recent) / kRateWindowS;
    if (dt && s.live > (b ? b->live() : 0)) rate += double(s.live - (b ? b->live() : 0)) / *dt;

    judge_tw_reuse(s, t, sc, recycled_per_s, dt ? std::optional<double>(rate * *dt) : std::nullopt);
    s.tw_reusable = reusable(t, s.tw_reuse_applies);
    s.effective_in_use = s.in_use - s.tw_reusable;
    s.utilization = s.usable ? double(s.effective_in_use) / s.usable : 1.0;

    double growth = rate - double(t.tw_expiring) / kRateWindowS;
    if (dt) {
      double eff_before = b ? double(b->in_use() - reusable(*b, s.tw_reuse_applies)) : 0.0;
      growth = (double(s.effective_in_use) - eff_before) / *dt;
    }
    s.new_per_s = rate;
    // Little's law: ports held = rate x (lifetime + TIME_WAIT); the live sockets already are
    // rate x lifetime.
    double hold = s.tw_reuse_applies ? reuse_hold_s : kTimeWaitS;
    s.steady_state_demand = double(s.live) + rate * hold;

    if (s.effective_in_use >= s.usable) {
      s.seconds_to_exhaustion = 0.0;
    } else if (growth > 0 && *s.steady_state_demand > double(s.usable)) {
      s.seconds_to_exhaustion = double(s.usable - s.effective_in_use) / growth;
    }
    pa.tuples.push_back(s);
  }

  std::sort(pa.tuples.begin(), pa.tuples.end(), [](const TupleStat& a, const TupleStat& b) {
    if (a.utilization != b.utilization) return a.utilization > b.utilization;
    double ea = a.seconds_to_exhaustion.value_or(1e300);
    double eb = b.seconds_to_exhaustion.value_or(1e300);
    if (ea != eb) return ea < eb;
    if (a.in_use != b.in_use) return a.in_use > b.in_use;
    return a.key < b.key;
  });
  analyse_bind_pools(now.sockets, pa);
  return pa;
}

}  // namespace cd
