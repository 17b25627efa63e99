// Builds Snapshots for rule tests: a healthy host by default (default sysctls, nothing near a
// limit), then exactly the numbers a test is about. Tuples are described by their states and
// TIME_WAIT ages; build() derives the socket totals from them as the aggregator would.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "analyse/analysis.h"
#include "analyse/finding.h"
#include "analyse/port_pool.h"
#include "analyse/rules.h"
#include "snapshot/snapshot.h"

namespace cd::test {

inline IpAddr ip(std::string_view text) {
  return *IpAddr::parse(text);
}
inline Endpoint ep(std::string_view text, uint16_t port) {
  return Endpoint{ip(text), port};
}
inline TupleKey tuple_key(std::string_view src, std::string_view dst, uint16_t dport) {
  return TupleKey{ip(src), ip(dst), dport};
}

// Sockets of one destination tuple, by state; TIME_WAIT ages as the aggregator counts them.
struct TupleSpec {
  uint32_t established = 0;
  uint32_t syn_sent = 0;
  uint32_t syn_unanswered = 0;  // of syn_sent: SYN retransmitted (idiag_retrans > 0)
  uint32_t close_wait = 0;
  uint32_t fin_wait = 0;
  uint32_t time_wait = 0;
  uint32_t tw_past_delay = 0;  // of time_wait: older than tcp_tw_reuse_delay
  uint32_t tw_recent = 0;      // of time_wait: entered it within kRateWindowS
  uint32_t tw_expiring = 0;    // of time_wait: leave it within kRateWindowS
  uint32_t bind_parity = 0;    // sockets on the parity bind(0) prefers
};

class SnapshotBuilder {
 public:
  SnapshotBuilder() {
    Reading& r = snap_.first;
    r.taken_at_s = 1000.0;
    Sysctls& s = r.sysctls;
    s.ip_local_port_range = PortRange{32768, 60999};
    s.ip_local_reserved_ports = std::vector<PortRange>{};
    s.tcp_tw_reuse = 2;
    s.tcp_tw_reuse_delay_ms = 1000;
    s.tcp_timestamps = 1;
    s.tcp_max_tw_buckets = 131072;
    s.tcp_fin_timeout = 60;
    s.somaxconn = 4096;
    s.tcp_max_syn_backlog = 4096;
    s.tcp_max_orphans = 131072;
    s.tcp_mem = std::array<int64_t, 3>{382185, 509580, 764370};
    s.tcp_syncookies = 1;
    s.file_max = 9223372036854775807LL;
    s.nr_open = 1048576;
    r.sockstat.sockets_used = 100;
    r.sockstat.tcp_inuse = 10;
    r.sockstat.tcp_orphan = 0;
    r.sockstat.tcp_alloc = 12;
    r.sockstat.tcp_mem_pages = 5;
    r.file_nr.allocated = 2000;
    r.file_nr.max = s.file_max;
    r.counters = {{"Tcp.ActiveOpens", 1000},         {"Tcp.PassiveOpens", 500},
                  {"TcpExt.ListenOverflows", 0},     {"TcpExt.ListenDrops", 0},
                  {"TcpExt.TCPTimeWaitOverflow", 0}, {"TcpExt.TCPAbortOnMemory", 0},
                  {"TcpExt.TCPMemoryPressures", 0},  {"TcpExt.PAWSActive", 0},
                  {"TcpExt.PAWSEstab", 0},           {"TcpExt.TWRecycled", 0}};
    r.sockets.complete = true;
    r.sockets.udp_complete = true;
  }

  // The reading being built: the second one once then() was called.
  Reading& now() { return snap_.second ? *snap_.second : snap_.first; }
  Sysctls& sysctls() { return now().sysctls; }
  Snapshot& snapshot() { return snap_; }

  SnapshotBuilder& port_range(uint16_t lo, uint16_t hi) {
    now().sysctls.ip_local_port_range = PortRange{lo, hi};
    return *this;
  }
  SnapshotBuilder& reserved(std::vector<PortRange> r) {
    now().sysctls.ip_local_reserved_ports = std::move(r);
    return *this;
  }
  SnapshotBuilder& tw_reuse(int64_t v) {
    now().sysctls.tcp_tw_reuse = v;
    return *this;
  }
  SnapshotBuilder& timestamps(int64_t v) {
    now().sysctls.tcp_timestamps = v;
    return *this;
  }
  SnapshotBuilder& counter(const std::string& name, int64_t v) {
    now().counters[name] = v;
    return *this;
  }
  // Sets (or replaces) the sockets of one destination tuple in the current reading.
  SnapshotBuilder& tuple(const TupleKey& key, const TupleSpec& spec) {
    tuples_[reading_index()][key] = spec;
    return *this;
  }
  SnapshotBuilder& listener(const Endpoint& local, uint32_t queue = 0, uint32_t limit = 4096,
                            uint32_t inode = 0) {
    now().sockets.listeners.push_back(Listener{local, queue, limit, inode});
    now().sockets.by_state[int(TcpState::kListen)] += 1;
    return *this;
  }
  // TIME_WAIT whose local port is a listening port: the server closed first.
  SnapshotBuilder& server_time_wait(uint64_t n) {
    now().sockets.time_wait_server += n;
    now().sockets.by_state[int(TcpState::kTimeWait)] += n;
    return *this;
  }
  // Distinct local ports in the range, as the aggregator's bitmaps count them.
  SnapshotBuilder& host_ports(uint32_t tcp, uint32_t udp = 0) {
    now().sockets.tcp_ports_in_range = tcp;
    now().sockets.udp_ports_in_range = udp;
    return *this;
  }
  // The bind(addr, 0) pool of a local address, as the aggregator counts it: `ports` held on the
  // address or an overlapping wildcard (own: on the address itself; 0 = all of them).
  SnapshotBuilder& bind_pool(std::string_view addr, uint32_t ports, uint64_t sockets,
                             uint64_t bound_inactive = 0, uint32_t own = 0) {
    BindPool b;
    b.address = *IpAddr::parse(addr);
    b.ports_in_range = ports;
    b.own_ports_in_range = own ? own : ports;
    b.sockets = sockets;
    b.bound_inactive = bound_inactive;
    now().sockets.bind_pools.push_back(b);
    return *this;
  }
  ProcessInfo& process(int32_t pid, std::string comm, uint64_t open, std::optional<uint64_t> soft,
                       std::optional<uint64_t> hard = 1048576) {
    ProcessInfo p;
    p.pid = pid;
    p.comm = std::move(comm);
    p.open_fds = open;
    p.fd_soft_limit = soft;
    p.fd_hard_limit = hard;
    now().processes.push_back(std::move(p));
    return now().processes.back();
  }
  // The second reading: a copy of the first, `dt` seconds later. Later calls change it.
  SnapshotBuilder& then(double dt) {
    snap_.second = snap_.first;
    snap_.second->taken_at_s = snap_.first.taken_at_s + dt;
    tuples_[1] = tuples_[0];
    return *this;
  }

  Snapshot build() const {
    Snapshot s = snap_;
    fill(s.first, tuples_[0]);
    if (s.second) fill(*s.second, tuples_[1]);
    return s;
  }

 private:
  int reading_index() const { return snap_.second ? 1 : 0; }

  // Folds the tuple specs into the summary the way the aggregator does: every socket counts in
  // by_state and the total, a client TIME_WAIT in time_wait_client, sockstat's tw sees all.
  static void fill(Reading& r, const std::map<TupleKey, TupleSpec>& specs) {
    SocketSummary& s = r.sockets;
    for (const auto& [key, t] : specs) {
      TupleUsage u;
      u.key = key;
      u.by_state[int(TcpState::kEstablished)] = t.established;
      u.by_state[int(TcpState::kSynSent)] = t.syn_sent;
      u.by_state[int(TcpState::kCloseWait)] = t.close_wait;
      u.by_state[int(TcpState::kFinWait2)] = t.fin_wait;
      u.by_state[int(TcpState::kTimeWait)] = t.time_wait;
      u.time_wait = t.time_wait;
      u.tw_past_reuse_delay = t.tw_past_delay;
      u.tw_recent = t.tw_recent;
      u.tw_expiring = t.tw_expiring;
      u.syn_unanswered = t.syn_unanswered;
      u.bind_parity = t.bind_parity;
      for (int st = 0; st < kTcpStateSlots; ++st) s.by_state[st] += u.by_state[st];
      s.time_wait_client += t.time_wait;
      s.tuples.push_back(u);
    }
    s.total = 0;
    for (uint64_t n : s.by_state) s.total += n;
    if (!r.sockstat.tcp_tw) r.sockstat.tcp_tw = int64_t(s.by_state[int(TcpState::kTimeWait)]);
  }

  Snapshot snap_;
  std::map<TupleKey, TupleSpec> tuples_[2];
};

// Runs one rule on a snapshot, as analyse() does.
inline std::vector<Finding> run_rule(RuleFn fn, const Snapshot& snap) {
  PortAnalysis pa = analyse_ports(snap);
  std::vector<Finding> out;
  fn(RuleInput{snap, pa}, out);
  return out;
}

// Findings of one resource / with one id.
inline std::vector<const Finding*> findings_of(const std::vector<Finding>& all, Resource r) {
  std::vector<const Finding*> out;
  for (const Finding& f : all)
    if (f.resource == r) out.push_back(&f);
  return out;
}
inline std::vector<const Finding*> findings_with_id(const std::vector<Finding>& all,
                                                    std::string_view id) {
  std::vector<const Finding*> out;
  for (const Finding& f : all)
    if (f.id == id) out.push_back(&f);
  return out;
}
// The pointers would dangle: keep the findings in a variable first.
std::vector<const Finding*> findings_of(std::vector<Finding>&&, Resource) = delete;
std::vector<const Finding*> findings_with_id(std::vector<Finding>&&, std::string_view) = delete;

// Every piece of text a finding carries (title, evidence, plan), for "never says X" checks.
inline std::string all_text(const Finding& f) {
  std::string t = f.id + "\n" + f.title + "\n" + f.evidence.dump() + "\n";
  for (const RemediationStep& s : f.remediation) {
    t += std::string(1, s.priority) + " " + s.action + "\n" + s.risk + "\n";
    for (const std::string& c : s.commands) t += c + "\n";
  }
  return t;
}

inline std::string priorities(const Finding& f) {
  std::string p;
  for (const RemediationStep& s : f.remediation) p.push_back(s.priority);
  return p;
}

}  // namespace cd::test
