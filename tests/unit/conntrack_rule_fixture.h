// Test helper for the conntrack rules: a snapshot whose conntrack table comes from entries fed
// through the real streaming aggregator, as a dump would produce it.
#pragma once

#include <netinet/in.h>

#include <string>
#include <vector>

#include "analyse/finding.h"
#include "analyse/port_pool.h"
#include "analyse/rules.h"
#include "collect/conntrack_aggregator.h"
#include "snapshot/snapshot.h"

namespace cd::test {

inline constexpr uint32_t kCtSeenReply = 1u << 1;
inline constexpr uint32_t kCtAssured = 1u << 2;
inline constexpr uint32_t kCtSrcNat = 1u << 4;

inline CtEntry ct_tcp(const std::string& src, uint16_t sport, const std::string& dst,
                      uint16_t dport, CtTcpState st, uint32_t status = kCtSeenReply | kCtAssured,
                      uint32_t timeout = 431999) {
  CtEntry e;
  e.family = AF_INET;
  e.protocol = IPPROTO_TCP;
  e.tcp_state = uint8_t(st);
  e.orig_src = Endpoint{*IpAddr::parse(src), sport};
  e.orig_dst = Endpoint{*IpAddr::parse(dst), dport};
  e.reply_src = e.orig_dst;
  e.reply_dst = e.orig_src;
  e.status = status;
  e.timeout_s = timeout;
  return e;
}

inline CtEntry ct_snat(CtEntry e, const std::string& nat_ip, uint16_t nat_port) {
  e.reply_dst = Endpoint{*IpAddr::parse(nat_ip), nat_port};
  e.status |= kCtSrcNat;
  return e;
}

// A snapshot of a namespace with `count` entries of `max`, the table aggregated from `entries`.
class ConntrackSnapshot {
 public:
  ConntrackSnapshot(int64_t count, int64_t max, ConntrackAggregatorConfig cfg = {})
      : agg_(with_default_timeout(std::move(cfg))) {
    Reading& r = snap_.first;
    r.taken_at_s = 1000;
    r.conntrack.available = true;
    r.conntrack.count = count;
    r.conntrack.max = max;
    r.conntrack.buckets = max;
    r.sysctls.nf_conntrack_count = count;
    r.sysctls.nf_conntrack_max = max;
    r.sysctls.nf_conntrack_buckets = max;
    r.sysctls.conntrack_timeouts = {{"tcp_timeout_established", 432000},
                                    {"tcp_timeout_time_wait", 120},
                                    {"tcp_timeout_fin_wait", 120}};
    r.conntrack.stats = {{"drop", 0}, {"insert_failed", 0}, {"chainlength", 0}};
    r.conntrack.stats_source = "procfs";
  }
  void add(const CtEntry& e, int times = 1) {
    for (int i = 0; i < times; ++i) agg_.on_entry(e);
  }
  // A second reading `dt` seconds later whose stats moved by `deltas`.
  void second_reading(double dt, const std::map<std::string, int64_t>& deltas) {
    Reading r2 = snap_.first;
    r2.taken_at_s += dt;
    for (auto& [k, v] : deltas) r2.conntrack.stats[k] += v;
    snap_.second = std::move(r2);
  }
  Snapshot& finish() {
    ConntrackTable t = agg_.finish(true, false);
    snap_.first.conntrack_table = t;
    if (snap_.second) snap_.second->conntrack_table = t;
    return snap_;
  }
  Snapshot& snapshot() { return snap_; }

 private:
  static ConntrackAggregatorConfig with_default_timeout(ConntrackAggregatorConfig c) {
    if (!c.established_timeout_s) c.established_timeout_s = 432000;
    return c;
  }
  Snapshot snap_;
  ConntrackAggregator agg_;
};

inline std::vector<Finding> run_rule(RuleFn fn, const Snapshot& snap) {
  PortAnalysis ports;
  RuleInput in{snap, ports};
  std::vector<Finding> out;
  fn(in, out);
  return out;
}

inline bool has_step(const Finding& f, char priority, const std::string& words) {
  for (const auto& s : f.remediation)
    if (s.priority == priority && s.action.find(words) != std::string::npos) return true;
  return false;
}

}  // namespace cd::test
