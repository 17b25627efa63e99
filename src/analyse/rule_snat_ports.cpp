// Rule snat_ports: source-NAT port pools per (NAT IP, destination IP, destination port,
// protocol), the unit nf_nat_l4proto_unique_tuple() exhausts, against the rule's port range.
// A network-layer problem of the gateway: every client behind it shares the pool.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kWarn = 0.70;
constexpr double kCrit = 0.90;
constexpr std::size_t kMaxFindings = 5;

std::string proto_of(const SnatGroup& g) {
  return ct_protocol_name(g.protocol);
}

// Commands that change the existing NAT rule in place. An appended rule (`iptables -A`,
// `nft add rule`) never matches: the existing MASQUERADE/SNAT rule before it takes every packet.
// `nft_stmt` is the rule's new nftables statement, `ipt_target` its iptables target.
std::vector<std::string> replace_nat_rule(const std::string& nft_stmt,
                                          const std::string& ipt_target) {
  return {
      "nft -a list ruleset | grep -e masquerade -e 'snat to'   # the NAT rule: its table T, "
      "chain C and handle H",
      fmt::format("nft replace rule ip <T> <C> handle <H> oifname \"<interface>\" {0}", nft_stmt),
      "iptables -t nat -L POSTROUTING -n --line-numbers   # or with iptables: the number N of "
      "the MASQUERADE/SNAT rule",
      fmt::format("iptables -t nat -R POSTROUTING <N> -o <interface> {0}", ipt_target)};
}

// The article's remedies, in the plan's order after connection reuse (A): more NAT addresses,
// a wider port range, fully random port choice.
// nf_nat picks the NAT IP of a flow by a hash of its source and destination
// (find_best_ips_proto() [net/netfilter/nf_nat_core.c]), not by free ports: one (source,
// destination) pair always lands on the same NAT IP, so more NAT IPs spread sources, and help
// a group only when several sources share it.
RemediationStep step_more_nat_ips(const SnatGroup& g) {
  if (g.sources == 1 && !g.more_sources)
    return RemediationStep{
        'D',
        _f("More NAT addresses would not help this pool: the NAT IP is picked by a hash of "
           "(source, destination), and all {0} entries to {1} come from one source, so they would "
           "all keep landing on one NAT IP; fewer new connections (A), or more destinations or "
           "source addresses, are what frees ports",
           with_commas(g.entries), g.dst.to_string()),
        {},
        ""};
  const std::string sources =
      g.more_sources ? fmt::format("{0}+", g.sources) : std::to_string(g.sources);
  return RemediationStep{
      'D',
      _f("Add NAT addresses: every NAT IP is a separate pool of {0} ports towards {1}; the NAT IP "
         "is picked by a hash of (source, destination), so the {2} sources behind this pool "
         "spread over the NAT IPs (one source still uses one NAT IP per destination)",
         with_commas(g.port_range.size()), g.dst.to_string(), sources),
      replace_nat_rule(fmt::format("snat to {0}-<last address> fully-random", g.nat_ip.to_string()),
                       fmt::format("-j SNAT --to-source {0}-<last address> --random-fully",
                                   g.nat_ip.to_string())),
      _("The extra addresses must be routed back to this gateway (and allowed by the peer's "
        "allow-lists); a cloud NAT gateway has its own per-IP limit to raise instead.")};
}

RemediationStep step_widen_nat_ports(const SnatGroup& g) {
  return RemediationStep{
      'D',
      _f("Widen the NAT port range from {0}-{1} ({2} ports) to the default 1024-65535",
         g.port_range.lo, g.port_range.hi, with_commas(g.port_range.size())),
      {fmt::format("nft list ruleset | grep -n ':{0}-{1}'   # then drop 'to :{2}-{3}' from that "
                   "masquerade/snat rule",
                   g.port_range.lo, g.port_range.hi, g.port_range.lo, g.port_range.hi),
       _("iptables: remove --to-ports from the MASQUERADE/SNAT rule")},
      _("Ports below 32768 may then be taken as NAT source ports: keep services that this "
        "gateway itself listens on out of the range (or list them first in a dedicated accept "
        "rule).")};
}

RemediationStep step_random_fully() {
  return RemediationStep{
      'D',
      _("Pick NAT ports fully at random (--random-fully), so that concurrent new flows do not "
        "race for the same port and fail with insert_failed before the pool is really empty"),
      replace_nat_rule("masquerade fully-random", "-j MASQUERADE --random-fully"),
      _("It only changes how a free port is chosen: it adds no ports, so an exhausted pool stays "
        "exhausted.")};
}

}  // namespace

void rule_snat_ports(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const ConntrackTable& t = r.conntrack_table;
  if (!t.dumped || t.snat.empty()) return;
  const std::optional<double> insert_failed = in.snap.conntrack_stat_rate("insert_failed");
  const bool clashing = insert_failed && *insert_failed > 0;

  std::vector<Finding> kept;
  for (const SnatGroup& g : t.snat) {
    const uint64_t size = g.port_range.size();
    if (size == 0) continue;
    const double util = g.utilization();
    // insert_failed rising while a pool is well used: nf_nat_l4proto_unique_tuple() already
    // gives up on some flows before the last port is taken.
    Severity sev;
    if (util >= kCrit || (clashing && util >= kWarn))
      sev = Severity::kCritical;
    else if (util >= kWarn)
      sev = Severity::kWarning;
    else
      continue;
    const uint64_t left = g.entries >= size ? 0 : size - g.entries;

    Finding f;
    f.id = "snat_ports.destination";
    f.resource = Resource::kSnatPorts;
    f.severity = sev;
    f.layer = Layer::kNetwork;
    f.title = _f("SNAT ports to {0} ({1}) through {2}: {3} of {4} in use ({5}), {6}",
                 g.dst.to_string(), proto_of(g), g.nat_ip.to_string(), with_commas(g.entries),
                 with_commas(size), percent(util),
                 left == 0 ? std::string(_("exhausted")) : _f("{0} left", with_commas(left)));
    Evidence& ev = f.evidence;
    ev["destination"] = g.dst.to_string();
    ev["nat_ip"] = g.nat_ip.to_string();
    ev["protocol"] = proto_of(g);
    ev["in_use"] = g.entries;
    ev["usable"] = size;
    ev["ports_left"] = left;
    ev["utilization"] = rounded(util, 4);
    ev["port_range"] = Evidence::array({g.port_range.lo, g.port_range.hi});
    ev["range_source"] = g.range_source;
    ev["rule"] = g.rule.empty() ? Evidence(nullptr) : Evidence(g.rule);
    ev["random_fully"] = g.random_fully;
    ev["nat_ports_seen"] = Evidence::array({g.nat_port_lo, g.nat_port_hi});
    ev["closing_entries"] = g.closing;
    ev["sources"] = g.sources;  // distinct original sources, counted up to 8
    ev["more_sources"] = g.more_sources;
    put_rate(ev, "insert_failed_per_s", in.snap, insert_failed);
    ev["snat_groups_total"] = t.snat_groups_total;
    ev["note"] =
        _("each (NAT IP, destination IP, destination port, protocol) is its own pool of NAT source "
          "ports; entries of closed connections keep their port until conntrack expires them");

    f.remediation.push_back(step_client_reuse());
    f.remediation.push_back(step_more_nat_ips(g));
    if (size < kDefaultSnatPorts.size()) f.remediation.push_back(step_widen_nat_ports(g));
    if (!g.random_fully) f.remediation.push_back(step_random_fully());
    // Closed connections holding ports for tcp_timeout_time_wait (120 s) are churn: shorter
    // conntrack timeouts free their ports sooner.
    if (g.closing * 2 >= g.entries) f.remediation.push_back(step_conntrack_timeouts(r.sysctls));
    kept.push_back(std::move(f));
  }
  append_capped(kept, out, kMaxFindings, "snat_groups");
}

}  // namespace cd
