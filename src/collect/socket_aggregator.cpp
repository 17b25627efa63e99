// Streaming aggregation of a sock_diag dump into a SocketSummary: one pass, constant work per
// socket, memory per destination tuple (plus the optional inode index for attribution).
#include "collect/socket_aggregator.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <initializer_list>
#include <map>
#include <numeric>

namespace cd {

namespace {

constexpr std::size_t kSamplePeers = 4;
constexpr uint32_t kTimeWaitLenMs = 60'000;  // TCP_TIMEWAIT_LEN: fixed, no sysctl changes it
constexpr uint32_t kListenBit = 1u << int(TcpState::kListen);

// One bit per port: 8 KiB, and counting a range is a popcount per word.
class PortBits {
 public:
  void set(uint16_t p) { w_[p >> 6] |= uint64_t(1) << (p & 63); }
  bool test(uint16_t p) const { return (w_[p >> 6] >> (p & 63)) & 1; }
  uint32_t count_in(PortRange r) const { return count_union_in(r, {}); }
  // Ports in the range set here or in any of `others`: a popcount per word of their union.
  uint32_t count_union_in(PortRange r, std::initializer_list<const PortBits*> others) const {
    uint32_t n = 0;
    for (uint32_t p = r.lo; p <= r.hi && r.hi >= r.lo;) {
      if ((p & 63) == 0 && p + 63 <= r.hi) {
        uint64_t w = w_[p >> 6];
        for (const PortBits* o : others) w |= o->w_[p >> 6];
        n += uint32_t(std::popcount(w));
        p += 64;
      } else {
        bool set = test(uint16_t(p));
        for (const PortBits* o : others) set = set || o->test(uint16_t(p));
        n += set;
        ++p;
      }
    }
    return n;
  }

 private:
  std::array<uint64_t, 65536 / 64> w_{};
};

// TupleKeyHash hashes byte by byte; this runs once per client socket of a million-socket dump,
// so mix whole 64-bit words instead.
struct FastTupleHash {
  static uint64_t word(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  std::size_t operator()(const TupleKey& k) const noexcept {
    uint64_t h = (uint64_t(k.dport) << 8 | k.src.family) * 0x9E3779B97F4A7C15ull;
    for (const auto* a : {&k.src, &k.dst})
      for (int i = 0; i < 16; i += 8) {
        h ^= word(a->bytes.data() + i);
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
      }
    return h;
  }
};

// A local address as two words and a family, IPv4-mapped IPv6 folded into IPv4 (as
// IpAddr::unmapped() does), so that the per-socket lookup compares integers.
struct AddrKey {
  uint64_t w0 = 0, w1 = 0;
  uint8_t family = 0;
  bool operator==(const AddrKey&) const = default;

  static AddrKey of(const IpAddr& a) {
    AddrKey k;
    k.w0 = FastTupleHash::word(a.bytes.data());
    k.w1 = FastTupleHash::word(a.bytes.data() + 8);
    k.family = a.family;
    // ::ffff:a.b.c.d (bytes 0-9 zero, 10-11 0xff): rare, dual-stack sockets only.
    const auto& b = a.bytes;
    if (a.family == AF_INET6 && k.w0 == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0xff &&
        b[11] == 0xff)
      return of(a.unmapped());
    return k;
  }
  uint64_t hash() const {
    uint64_t h = (w0 ^ (w1 * 0x9E3779B97F4A7C15ull) ^ family) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
  }
};

// Ports held on one local address (bind(addr, 0)'s view): 8 KiB each, at most kMaxBindPools.
struct AddrPorts {
  AddrKey key;
  IpAddr addr;
  PortBits ports;
  uint64_t sockets = 0;
  uint64_t bound_inactive = 0;
};

// Open addressing, 2 slots per tracked address at most: no allocation per lookup.
class AddrTable {
 public:
  AddrPorts* find_or_add(const AddrKey& k, const IpAddr& a) {
    if (last_ && last_->key == k) return last_;
    for (std::size_t i = k.hash() & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (slot_[i] < 0) {
        if (pools_.size() >= kMaxBindPools) return nullptr;
        slot_[i] = int32_t(pools_.size());
        pools_.push_back(std::make_unique<AddrPorts>());
        pools_.back()->key = k;
        pools_.back()->addr = a.unmapped();
        return last_ = pools_.back().get();
      }
      if (pools_[slot_[i]]->key == k) return last_ = pools_[slot_[i]].get();
    }
  }
  const std::vector<std::unique_ptr<AddrPorts>>& pools() const { return pools_; }
  void clear() {
    pools_.clear();
    slot_.fill(-1);
    last_ = nullptr;
  }
  AddrTable() { slot_.fill(-1); }

 private:
  static constexpr std::size_t kSlots = 2 * kMaxBindPools;
  static_assert((kSlots & (kSlots - 1)) == 0);
  std::array<int32_t, kSlots> slot_;
  std::vector<std::unique_ptr<AddrPorts>> pools_;  // in order of first sight
  AddrPorts* last_ = nullptr;  // most sockets share the address of the one before
};

}  // namespace

struct SocketAggregator::State {
  SocketSummary sum;
  std::vector<TupleUsage> tuples;  // in order of first sight
  std::unordered_map<TupleKey, uint32_t, FastTupleHash> tuple_index;
  std::map<Endpoint, uint32_t> close_wait_index;  // local endpoint (port 0 = client side)
  PortBits listening;
  PortBits bound_inactive;
  PortBits tcp_ports;
  PortBits udp_ports;
  std::unordered_map<uint16_t, uint32_t> syn_recv_by_port;  // listening port -> SYN_RECV
  AddrTable addrs;                 // per local address, for the bind(addr, 0) pools
  std::vector<InodeEntry> inodes;  // tuple numbers in order of first sight until taken
  std::vector<uint32_t> order;     // tuple indices, busiest first; computed once
  bool ordered = false;

  void ensure_order() {
    if (ordered) return;
    order.resize(tuples.size());
    std::iota(order.begin(), order.end(), 0u);
    std::vector<uint32_t> in_use(tuples.size());
    for (std::size_t i = 0; i < tuples.size(); ++i) in_use[i] = tuples[i].in_use();
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      if (in_use[a] != in_use[b]) return in_use[a] > in_use[b];
      return tuples[a].key < tuples[b].key;
    });
    ordered = true;
  }
};

SocketAggregator::SocketAggregator(const AggregatorConfig& cfg)
    : cfg_(cfg), st_(std::make_unique<State>()) {
  // Reserved once from the caller's estimate: growing by doubling would hold the old and the
  // new array at once (12 MB at 1M sockets). Pages of the reserve never written are never
  // resident, so a generous estimate costs address space, not memory.
  if (cfg_.index_inodes && cfg_.expected_inodes > 0) st_->inodes.reserve(cfg_.expected_inodes);
}

SocketAggregator::~SocketAggregator() = default;

void SocketAggregator::mark_complete(bool tcp, bool udp) {
  st_->sum.complete = tcp;
  st_->sum.udp_complete = udp;
}

void SocketAggregator::on_socket(const SockRecord& s) {
  State& st = *st_;
  SocketSummary& sum = st.sum;
  const uint16_t port = s.local.port;
  const bool in_range = cfg_.ephemeral.contains(port);

  if (s.protocol == IPPROTO_UDP || s.protocol == IPPROTO_UDPLITE) {
    // UDP only matters for the host-wide pool: auto-bind draws from the same range.
    ++sum.udp_sockets;
    if (in_range) st.udp_ports.set(port);
    return;
  }

  const uint8_t state = s.state < kTcpStateSlots ? s.state : 0;
  ++sum.total;
  ++sum.by_state[state];
  // Bound, not connected, not listening: state CLOSE and no peer (see SocketSummary).
  const bool bound_inactive =
      state == uint8_t(TcpState::kClose) && s.remote.port == 0 && s.remote.addr.is_unspecified();
  if (in_range) {
    st.tcp_ports.set(port);
    if (AddrPorts* a = st.addrs.find_or_add(AddrKey::of(s.local.addr), s.local.addr)) {
      a->ports.set(port);
      ++a->sockets;
      a->bound_inactive += bound_inactive;
    } else {
      ++sum.bind_pool_untracked_sockets;
    }
  }

  if (state == uint8_t(TcpState::kListen)) {
    sum.listeners.push_back(Listener{s.local, s.rqueue, s.wqueue, s.inode});
    st.listening.set(port);
    if (cfg_.index_inodes && s.inode != 0) st.inodes.emplace_back(s.inode, state, kNoTuple);
    return;
  }

  // Not a client socket of any tuple; its port is held by bind() for every destination.
  if (bound_inactive) {
    ++sum.bound_inactive;
    if (in_range) st.bound_inactive.set(port);
    if (cfg_.index_inodes && s.inode != 0) st.inodes.emplace_back(s.inode, state, kNoTuple);
    return;
  }

  const bool listening_port = st.listening.test(port);
  const bool time_wait = state == uint8_t(TcpState::kTimeWait);
  // Request sockets have no queues; TIME_WAIT reports none.
  if (!time_wait && state != uint8_t(TcpState::kSynRecv)) {
    sum.recv_q_bytes += s.rqueue;
    sum.send_q_bytes += s.wqueue;
    if (s.rqueue > 0) ++sum.sockets_with_recv_q;
  }
  // Request sockets (TCP_NEW_SYN_RECV, reported as SYN_RECV by inet_req_diag_fill()) sit on
  // the listener's port: its SYN queue.
  if (listening_port && state == uint8_t(TcpState::kSynRecv)) ++st.syn_recv_by_port[port];
  uint32_t tuple = kNoTuple;
  if (in_range && !listening_port) {
    // A client socket: its local port came from the ephemeral range towards this destination.
    TupleKey key{s.local.addr.unmapped(), s.remote.addr.unmapped(), s.remote.port};
    auto [it, fresh] = st.tuple_index.try_emplace(key, uint32_t(st.tuples.size()));
    if (fresh) {
      st.tuples.emplace_back();
      st.tuples.back().key = key;
    }
    tuple = it->second;
    TupleUsage& t = st.tuples[tuple];
    ++t.by_state[state];
    t.bind_parity += (port - cfg_.ephemeral.lo) & 1;
    if (time_wait) {
      // idiag_expires is the time left (inet_twsk_diag_fill()); TIME_WAIT always starts at 60 s.
      const uint32_t left = std::min(s.expires_ms, kTimeWaitLenMs);
      const uint32_t age = kTimeWaitLenMs - left;
      ++t.time_wait;
      if (age >= cfg_.tw_reuse_delay_ms) ++t.tw_past_reuse_delay;
      if (age <= uint32_t(kRateWindowS) * 1000) ++t.tw_recent;
      if (left <= uint32_t(kRateWindowS) * 1000) ++t.tw_expiring;
    } else {
      // A SYN retransmitted at least once went unanswered for the initial RTO (1 s,
      // tcp_retransmit_timer()): the destination or the path drops it.
      if (state == uint8_t(TcpState::kSynSent) && s.retrans > 0) ++t.syn_unanswered;
      if (s.inode != 0 && t.sample_inodes.size() < kSampleInodes)
        t.sample_inodes.push_back(s.inode);
    }
  }

  if (time_wait) {
    // Only the state counts here: a FIN_WAIT2 socket from the timewait table (orphaned,
    // tw_substate = FIN_WAIT2, see tcp_time_wait()) also has inode 0 but is not TIME_WAIT.
    if (tuple != kNoTuple)
      ++sum.time_wait_client;
    else if (listening_port)
      ++sum.time_wait_server;
    else
      ++sum.time_wait_other;
  }

  if (state == uint8_t(TcpState::kCloseWait)) {
    const Endpoint local{s.local.addr, listening_port ? port : uint16_t(0)};
    auto [it, fresh] = st.close_wait_index.try_emplace(local, uint32_t(sum.close_wait.size()));
    if (fresh) sum.close_wait.push_back(CloseWaitGroup{local, listening_port, 0, {}});
    CloseWaitGroup& g = sum.close_wait[it->second];
    ++g.count;
    if (g.sample_peers.size() < kSamplePeers) g.sample_peers.push_back(s.remote);
  }

  if (cfg_.index_inodes && s.inode != 0) st.inodes.emplace_back(s.inode, state, tuple);
}

SocketSummary SocketAggregator::finish() {
  State& st = *st_;
  SocketSummary sum = std::move(st.sum);
  st.ensure_order();
  sum.tuples.reserve(st.tuples.size());
  for (uint32_t i : st.order) sum.tuples.push_back(std::move(st.tuples[i]));
  st.tuples.clear();
  st.tuple_index.clear();
  std::sort(sum.listeners.begin(), sum.listeners.end(),
            [](const Listener& a, const Listener& b) { return a.local < b.local; });
  for (Listener& l : sum.listeners)
    if (auto it = st.syn_recv_by_port.find(l.local.port); it != st.syn_recv_by_port.end())
      l.syn_recv = it->second;
  std::stable_sort(sum.close_wait.begin(), sum.close_wait.end(),
                   [](const CloseWaitGroup& a, const CloseWaitGroup& b) {
                     if (a.count != b.count) return a.count > b.count;
                     return a.local < b.local;
                   });
  sum.tcp_ports_in_range = st.tcp_ports.count_in(cfg_.ephemeral);
  sum.udp_ports_in_range = st.udp_ports.count_in(cfg_.ephemeral);
  for (uint32_t p = cfg_.ephemeral.lo; p <= cfg_.ephemeral.hi && p <= 65535; ++p)
    if (st.bound_inactive.test(uint16_t(p))) sum.bound_inactive_ports.push_back(uint16_t(p));
  finish_bind_pools(sum);
  return sum;
}

// A specific IPv4 address overlaps 0.0.0.0 and [::] (a dual-stack wildcard;
// inet_bind2_bucket_match_addr_any()), a specific IPv6 address only [::]; a wildcard bind(0)
// conflicts with a socket on any address of the port (inet_rcv_saddr_equal() with
// match_wildcard). IPV6_V6ONLY is not in the dump: a v6-only [::] socket is counted as
// overlapping IPv4 addresses too (a listener in the range, rarely).
void SocketAggregator::finish_bind_pools(SocketSummary& sum) {
  State& st = *st_;
  const PortBits* any4 = nullptr;
  const PortBits* any6 = nullptr;
  for (const auto& a : st.addrs.pools())
    if (a->addr.is_unspecified()) (a->addr.family == AF_INET6 ? any6 : any4) = &a->ports;
  sum.bind_pools.reserve(st.addrs.pools().size());
  for (const auto& a : st.addrs.pools()) {
    BindPool b;
    b.address = a->addr;
    b.own_ports_in_range = a->ports.count_in(cfg_.ephemeral);
    b.sockets = a->sockets;
    b.bound_inactive = a->bound_inactive;
    if (a->addr.is_unspecified()) {
      b.ports_in_range = sum.tcp_ports_in_range;
    } else {
      const PortBits* w4 = a->addr.family == AF_INET ? any4 : nullptr;
      const PortBits* none = &a->ports;  // OR-ing the address with itself changes nothing
      b.ports_in_range =
          a->ports.count_union_in(cfg_.ephemeral, {w4 ? w4 : none, any6 ? any6 : none});
    }
    sum.bind_pools.push_back(b);
  }
  std::sort(sum.bind_pools.begin(), sum.bind_pools.end(), [](const BindPool& x, const BindPool& y) {
    if (x.ports_in_range != y.ports_in_range) return x.ports_in_range > y.ports_in_range;
    return x.address < y.address;
  });
  st.addrs.clear();
}

InodeIndex SocketAggregator::take_inode_index() {
  State& st = *st_;
  // Entries hold tuple numbers in order of first sight; the summary lists tuples busiest first.
  st.ensure_order();
  std::vector<uint32_t> position(st.order.size());
  for (uint32_t pos = 0; pos < st.order.size(); ++pos) position[st.order[pos]] = pos;
  // Renumbered in place and handed over: no second copy of the index.
  for (InodeEntry& e : st.inodes)
    if (const uint32_t t = e.tuple(); t != kNoTuple && t < position.size())
      e.set_tuple(position[t]);
  InodeIndex out(std::move(st.inodes));
  st.inodes = {};
  out.seal();
  return out;
}

Result<void> dump_all(SockSource& src, SocketAggregator& agg) {
  // LISTEN first, in its own requests, so that every later socket can be told server side
  // (local port = a listening port) from client side. A LISTEN-only request also skips the
  // ehash walk entirely (inet_diag_dump_icsk()), so it costs little.
  const uint32_t tcp_states[] = {kListenBit, ~kListenBit};
  const uint8_t families[] = {AF_INET, AF_INET6};
  for (uint32_t states : tcp_states)
    for (uint8_t family : families) {
      auto r = src.dump(DumpRequest{family, IPPROTO_TCP, states}, agg);
      if (!r) {
        agg.mark_complete(false, false);
        return r;
      }
    }
  // UDP only feeds the host-wide port pool: a failure (udp_diag not available) leaves that
  // figure incomplete but the TCP picture stands.
  // An interrupted one is not a missing figure but an inconsistent one: the caller takes the
  // whole dump again.
  bool udp_ok = true;
  for (uint8_t family : families)
    if (auto r = src.dump(DumpRequest{family, IPPROTO_UDP, ~0u}, agg); !r) {
      if (dump_interrupted(r.error())) {
        agg.mark_complete(true, false);
        return r;
      }
      udp_ok = false;
    }
  agg.mark_complete(true, udp_ok);
  return {};
}

}  // namespace cd
