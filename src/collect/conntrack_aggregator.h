// Folds a stream of conntrack entries into a ConntrackTable while the dump runs: counts by
// protocol and state, stale entries, top destinations and SNAT groups. Memory grows with
// destinations and NAT groups, never with entries.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collect/conntrack_source.h"
#include "snapshot/conntrack_table.h"

namespace cd {

struct ConntrackAggregatorConfig {
  // nf_conntrack_tcp_timeout_established: idle time = this - the entry's time left.
  std::optional<int64_t> established_timeout_s;
  // The shorter timeout tcp_packet() gives an ESTABLISHED entry while data is unacknowledged
  // or the window is zero: min(established, max(nf_conntrack_tcp_timeout_unacknowledged,
  // ..._max_retrans)), 300 s by default. A time left within it says nothing about idleness.
  int64_t capped_timeout_s = 300;
  std::vector<NatRule> nat_rules;  // the namespace's SNAT rules (port ranges)
  bool nat_rules_read = false;
  std::optional<PortRange> snat_ports_override;  // --snat-port-range: wins over the rules
};

// The pool one NAT IP draws from: the override, else the widest range of the rules that can
// produce that IP (masquerade: any of its family; snat to A-B: A <= ip <= B), else 1024-65535.
// The widest is chosen when several rules match, so a warning is never raised on a guess.
struct SnatRange {
  PortRange ports = kDefaultSnatPorts;
  std::string source = "default";  // "default", "nftables", "user"
  std::string rule;
  bool random_fully = false;
};
SnatRange choose_snat_range(const IpAddr& nat_ip, const std::vector<NatRule>& rules,
                            const std::optional<PortRange>& override_ports);

class ConntrackAggregator : public ConntrackSink {
 public:
  explicit ConntrackAggregator(ConntrackAggregatorConfig cfg);
  ~ConntrackAggregator() override;
  void on_entry(const CtEntry& e) override;
  // Moves the result out; the aggregator is spent afterwards.
  ConntrackTable finish(bool dumped, bool interrupted);

 private:
  struct State;
  ConntrackAggregatorConfig cfg_;
  std::unique_ptr<State> st_;
};

}  // namespace cd
