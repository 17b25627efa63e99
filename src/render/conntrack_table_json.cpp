// resources.conntrack.table: counts by protocol and state, stale entries, top destinations and
// SNAT port pools, as the streaming aggregation left them.
#include "render/conntrack_table_json.h"

#include <cmath>

namespace cd {

nlohmann::ordered_json conntrack_table_json(const ConntrackTable& t) {
  using json = nlohmann::ordered_json;
  if (!t.dumped) return nullptr;
  json j;
  j["entries"] = t.entries;
  j["interrupted"] = t.interrupted;
  j["by_protocol"] = json(t.by_protocol);
  j["tcp_by_state"] = json(t.tcp_by_state);
  j["assured"] = t.assured;
  j["assured_evictable"] = t.assured_evictable;
  j["unreplied"] = t.unreplied;
  j["snat_entries"] = t.snat_entries;
  j["dnat_entries"] = t.dnat_entries;
  json stale;
  stale["tcp_time_wait"] = t.stale.tcp_time_wait;
  stale["tcp_close"] = t.stale.tcp_close;
  stale["tcp_close_wait"] = t.stale.tcp_close_wait;
  stale["tcp_fin_wait_last_ack"] = t.stale.tcp_fin_wait;
  stale["established_idle_over_1h"] = t.stale.established_idle_1h;
  stale["established_idle_over_1d"] = t.stale.established_idle_1d;
  stale["established_idle_max_s"] = t.stale.established_idle_max_s;
  stale["established_capped"] = t.stale.established_capped;
  stale["udp_unreplied"] = t.stale.udp_unreplied;
  j["stale"] = std::move(stale);
  json dns;
  dns["entries"] = t.dns.entries;
  dns["unreplied"] = t.dns.unreplied;
  dns["assured"] = t.dns.assured;
  dns["destinations_total"] = t.dns.destinations_total;
  json dns_dests = json::array();
  for (const ConntrackDnsDestination& d : t.dns.destinations)
    dns_dests.push_back(
        {{"destination", d.dst.to_string()}, {"entries", d.entries}, {"unreplied", d.unreplied}});
  dns["destinations"] = std::move(dns_dests);
  j["dns"] = std::move(dns);
  j["tcp_timeout_established"] =
      t.established_timeout_s ? json(*t.established_timeout_s) : json(nullptr);
  j["destinations_total"] = t.destinations_total;
  json dests = json::array();
  for (const ConntrackDestination& d : t.top_destinations)
    dests.push_back({{"destination", d.dst.to_string()},
                     {"protocol", ct_protocol_name(d.protocol)},
                     {"entries", d.entries},
                     {"assured", d.assured},
                     {"unreplied", d.unreplied}});
  j["top_destinations"] = std::move(dests);
  j["snat_groups_total"] = t.snat_groups_total;
  json groups = json::array();
  for (const SnatGroup& g : t.snat)
    groups.push_back({{"nat_ip", g.nat_ip.to_string()},
                      {"destination", g.dst.to_string()},
                      {"protocol", ct_protocol_name(g.protocol)},
                      {"in_use", g.entries},
                      {"usable", g.port_range.size()},
                      {"utilization", std::round(g.utilization() * 10000) / 10000},
                      {"port_range", json::array({g.port_range.lo, g.port_range.hi})},
                      {"range_source", g.range_source},
                      {"random_fully", g.random_fully},
                      {"closing", g.closing}});
  j["snat"] = std::move(groups);
  j["nat_rules_read"] = t.nat_rules_read;
  json rules = json::array();
  for (const NatRule& r : t.nat_rules) {
    json jr;
    jr["rule"] = r.where;
    jr["masquerade"] = r.masquerade;
    jr["addresses"] = r.addr_min
                          ? json::array({r.addr_min->to_string(),
                                         (r.addr_max ? *r.addr_max : *r.addr_min).to_string()})
                          : json(nullptr);
    jr["ports"] = r.ports ? json::array({r.ports->lo, r.ports->hi}) : json(nullptr);
    jr["ports_from_map"] = r.ports_from_map;
    jr["random_fully"] = r.random_fully;
    rules.push_back(std::move(jr));
  }
  j["nat_rules"] = std::move(rules);
  return j;
}

}  // namespace cd
