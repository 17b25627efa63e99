// Rule conntrack_dns: DNS lookups through conntrack (the Kubernetes "5 s DNS delay"). Two
// signs, each only as strong as what was measured:
//  - insert_failed rising while UDP/53 entries are tracked. glibc sends a lookup's A and AAAA
//    queries back to back over one socket: one 5-tuple, one conntrack entry. Processed on two
//    CPUs at once, both packets miss the table, each gets a new entry and the second to reach
//    __nf_conntrack_confirm() finds the first. nf_ct_resolve_clash() then keeps the packet when
//    the two entries agree (no NAT, or the same NAT: clash_resolve), and since 5.6
//    nf_ct_resolve_clash_harder() also when their reply tuples differ (DNAT to two backends);
//    only otherwise is it dropped (drop and insert_failed rise) and the resolver waits out its
//    5 s timeout. insert_failed counts every protocol: the title says "while", never "because".
//  - UDP/53 entries that never saw a reply (IPS_SEEN_REPLY clear): lookups the resolver did
//    not answer, or whose answers were dropped on the way back.
#include <fmt/format.h>

#include <algorithm>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

// Unreplied UDP/53 entries worth a finding: a few are normal (a lookup in flight when the
// table was dumped, a client that gave up); a steady share means lookups time out.
constexpr uint64_t kUnrepliedMin = 20;
constexpr double kUnrepliedInfo = 0.10;
constexpr double kUnrepliedWarn = 0.50;
constexpr double kPressureFill = 0.50;  // below half full the UDP timeout is not worth touching
constexpr std::size_t kDestinationsShown = 5;

double share(uint64_t part, uint64_t whole) {
  return whole ? double(part) / double(whole) : 0.0;
}

int64_t timeout(const Sysctls& s, const std::string& key, int64_t def) {
  auto it = s.conntrack_timeouts.find(key);
  return it != s.conntrack_timeouts.end() ? it->second : def;
}

// "198.18.0.10:53 (120, 80 unreplied), 198.18.0.11:53 (40, 0 unreplied)"
std::string destination_list(const ConntrackDns& d, bool unreplied_only) {
  std::string out;
  std::size_t shown = 0;
  for (const ConntrackDnsDestination& x : d.destinations) {
    if (unreplied_only && x.unreplied == 0) continue;
    if (shown++ == kDestinationsShown) break;
    if (!out.empty()) out += ", ";
    out += _f("{0} ({1} entries, {2} unreplied)", x.dst.to_string(), with_commas(x.entries),
              with_commas(x.unreplied));
  }
  return out;
}

}  // namespace

void rule_conntrack_dns(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const ConntrackTable& t = r.conntrack_table;
  if (!t.dumped || t.dns.entries == 0) return;
  const ConntrackDns& d = t.dns;
  const std::optional<double> insert_failed = in.snap.conntrack_stat_rate("insert_failed");
  const std::optional<double> clash_resolve = in.snap.conntrack_stat_rate("clashres");
  const std::optional<double> drop = in.snap.conntrack_stat_rate("drop");
  const double unreplied_share = share(d.unreplied, d.entries);
  const bool failing = insert_failed && *insert_failed > 0;
  const bool unreplied = d.unreplied >= kUnrepliedMin && unreplied_share >= kUnrepliedInfo;
  if (!failing && !unreplied) return;

  const std::optional<int64_t> count =
      r.conntrack.count ? r.conntrack.count : r.sysctls.nf_conntrack_count;
  const std::optional<int64_t> max = r.conntrack.max ? r.conntrack.max : r.sysctls.nf_conntrack_max;
  const std::optional<double> fill = ratio(count, max);

  Finding f;
  f.id = "conntrack.dns";
  f.resource = Resource::kConntrack;
  f.layer = Layer::kNetwork;
  f.severity = failing || unreplied_share >= kUnrepliedWarn ? Severity::kWarning : Severity::kInfo;
  if (failing)
    f.title =
        _f("DNS lookups may stall for 5 s: conntrack insert failures at {0} while {1} UDP/53 flows "
           "are "
           "tracked ({2} unreplied); a lookup's A and AAAA queries racing over one socket lose a "
           "packet this way",
           per_second(*insert_failed), with_commas(d.entries), percent(unreplied_share));
  else
    f.title = _f("DNS over conntrack: {0} of {1} UDP/53 entries ({2}) never saw a reply: {3}",
                 with_commas(d.unreplied), with_commas(d.entries), percent(unreplied_share),
                 destination_list(d, true));

  Evidence& ev = f.evidence;
  ev["udp53_entries"] = d.entries;
  ev["udp53_unreplied"] = d.unreplied;
  ev["unreplied_share"] = rounded(unreplied_share, 4);
  ev["udp53_assured"] = d.assured;
  put_rate(ev, "insert_failed_per_s", in.snap, insert_failed);
  put_rate(ev, "clash_resolve_per_s", in.snap, clash_resolve);
  put_rate(ev, "drop_per_s", in.snap, drop);
  Evidence dests = Evidence::array();
  for (const ConntrackDnsDestination& x : d.destinations)
    dests.push_back(
        {{"destination", x.dst.to_string()}, {"entries", x.entries}, {"unreplied", x.unreplied}});
  ev["destinations"] = std::move(dests);
  ev["destinations_total"] = d.destinations_total;
  ev["udp_timeout"] = timeout(r.sysctls, "udp_timeout", 30);
  ev["udp_timeout_stream"] = timeout(r.sysctls, "udp_timeout_stream", 120);
  ev["count"] = or_null(count);
  ev["max"] = or_null(max);
  ev["utilization"] = rounded(fill, 4);
  ev["stats_source"] =
      r.conntrack.stats_source.empty() ? Evidence(nullptr) : Evidence(r.conntrack.stats_source);
  ev["note"] =
      _("insert_failed and clash_resolve count every protocol of the namespace, not DNS alone. "
        "Since Linux 5.6 (nf_ct_resolve_clash_harder()) most parallel-UDP clashes are resolved "
        "without a drop (clash_resolve "
        "rises instead); a drop remains when the racing entries' NAT differs and their reply "
        "tuples collide too");

  if (failing) {
    f.remediation.push_back(step_dns_single_request());
    f.remediation.push_back(step_dns_node_local_cache());
  }
  if (unreplied) {
    std::vector<Endpoint> resolvers;
    for (const ConntrackDnsDestination& x : d.destinations)
      if (x.unreplied > 0 && resolvers.size() < 3) resolvers.push_back(x.dst);
    f.remediation.push_back(step_dns_unanswered(resolvers));
    if (!failing) f.remediation.push_back(step_dns_node_local_cache());
  }
  if (fill && *fill >= kPressureFill) f.remediation.push_back(step_dns_udp_timeout(r.sysctls));
  out.push_back(std::move(f));
}

}  // namespace cd
