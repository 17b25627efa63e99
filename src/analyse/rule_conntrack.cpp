// Rule conntrack: the table against nf_conntrack_max, and the drop / early_drop /
// insert_failed rates. A network-layer problem: it hurts every flow through this host.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kWarnFill = 0.80;
constexpr double kCritFill = 0.95;
// Packets conntrack marked INVALID per second: a few are normal (late packets of closed flows,
// ICMP errors); a steady stream is dropped by any "ct state invalid drop" rule (kube-proxy
// installs one) and looks to the application like lost packets or resets.
constexpr double kInvalidInfo = 10;
constexpr double kInvalidWarn = 100;

bool positive(const std::optional<double>& r) {
  return r && *r > 0;
}

struct Figures {
  std::optional<int64_t> count, max, buckets;
  std::optional<double> fill, drop, early_drop, insert_failed, invalid;
};

Figures figures(const Snapshot& snap) {
  const Reading& r = snap.now();
  Figures f;
  f.count = r.conntrack.count ? r.conntrack.count : r.sysctls.nf_conntrack_count;
  f.max = r.conntrack.max ? r.conntrack.max : r.sysctls.nf_conntrack_max;
  f.buckets = r.conntrack.buckets ? r.conntrack.buckets : r.sysctls.nf_conntrack_buckets;
  f.fill = ratio(f.count, f.max);
  f.drop = snap.conntrack_stat_rate("drop");
  f.early_drop = snap.conntrack_stat_rate("early_drop");
  f.insert_failed = snap.conntrack_stat_rate("insert_failed");
  f.invalid = snap.conntrack_stat_rate("invalid");
  return f;
}

void put_common(Evidence& ev, const Snapshot& snap, const Figures& c) {
  ev["count"] = or_null(c.count);
  ev["max"] = or_null(c.max);
  ev["buckets"] = or_null(c.buckets);
  ev["utilization"] = rounded(c.fill, 4);
  put_rate(ev, "drop_per_s", snap, c.drop);
  put_rate(ev, "early_drop_per_s", snap, c.early_drop);
  put_rate(ev, "insert_failed_per_s", snap, c.insert_failed);
  put_rate(ev, "invalid_per_s", snap, c.invalid);
  const std::string& src = snap.now().conntrack.stats_source;
  ev["stats_source"] = src.empty() ? Evidence(nullptr) : Evidence(src);
}

}  // namespace

void rule_conntrack(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  Figures c = figures(in.snap);
  if (!r.conntrack.available && !c.count) return;
  bool filling = c.fill && *c.fill >= kWarnFill;
  // `drop` rises both when the table is full and early_drop() finds nothing to evict
  // (__nf_conntrack_alloc()) and when an insert clash cannot be resolved (nf_ct_resolve_clash(),
  // which bumps insert_failed too). With the table far from full and insert_failed rising, the
  // drops belong to the clash finding.
  bool clash_drops = positive(c.drop) && !filling && positive(c.insert_failed);

  std::optional<Severity> sev;
  if (filling) sev = *c.fill >= kCritFill ? Severity::kCritical : Severity::kWarning;
  if (positive(c.early_drop) && !sev) sev = Severity::kWarning;
  if (positive(c.drop) && !clash_drops) sev = Severity::kCritical;
  if (sev) {
    Finding f;
    f.id = "conntrack.table";
    f.resource = Resource::kConntrack;
    f.severity = *sev;
    f.layer = Layer::kNetwork;
    std::string tail;
    if (positive(c.drop) && !clash_drops)
      tail = _f(", dropping packets at {0}", per_second(*c.drop));
    else if (positive(c.early_drop))
      tail = _f(", evicting entries at {0}", per_second(*c.early_drop));
    f.title = _f("conntrack table: {0} of {1} entries ({2}){3}",
                 c.count ? with_commas(uint64_t(*c.count)) : std::string("?"),
                 c.max ? with_commas(uint64_t(*c.max)) : std::string("?"),
                 percent(c.fill.value_or(0)), tail);
    put_common(f.evidence, in.snap, c);
    f.evidence["note"] = _("the count is per network namespace, the limit is global");
    f.remediation = {step_conntrack_size(r), step_conntrack_timeouts(r.sysctls)};
    out.push_back(std::move(f));
  }

  if (c.invalid && *c.invalid >= kInvalidInfo) {
    // nf_conntrack_in() counts "invalid" when a packet fits no entry's state: a TCP segment
    // outside the window tcp_in_window() tracks (asymmetric routing, offloads, a peer's
    // retransmit after the entry was refreshed), a bad checksum, an unknown ICMP error.
    Finding f;
    f.id = "conntrack.invalid";
    f.resource = Resource::kConntrack;
    f.severity = *c.invalid >= kInvalidWarn ? Severity::kWarning : Severity::kInfo;
    f.layer = Layer::kNetwork;
    f.title =
        _f("conntrack marks {0} packets INVALID: a \"ct state invalid\" drop rule (kube-proxy has "
           "one) turns them into lost packets and resets",
           per_second(*c.invalid));
    put_common(f.evidence, in.snap, c);
    f.evidence["cause"] =
        _("packets that fit no tracked state: TCP segments outside the window conntrack "
          "follows (asymmetric routing, offloads), bad checksums, unknown ICMP errors");
    f.remediation = {RemediationStep{
        'D',
        _("Find which rule drops INVALID packets and which flows they belong to before changing "
          "anything: out-of-window TCP from asymmetric routing is fixed in the routing; "
          "net.netfilter.nf_conntrack_tcp_be_liberal=1 stops marking out-of-window segments "
          "INVALID, at the cost of weaker state checks"),
        {"nft list ruleset | grep -n 'ct state invalid'",
         "iptables-save | grep -n -- '--ctstate INVALID'", "conntrack -S   # invalid= per CPU"},
        _("None: reading only.")}};
    out.push_back(std::move(f));
  }

  if (positive(c.insert_failed)) {
    Finding f;
    f.id = "conntrack.insert_failed";
    f.resource = Resource::kConntrack;
    f.severity = clash_drops ? Severity::kCritical : Severity::kWarning;
    f.layer = Layer::kNetwork;
    f.title =
        _f("conntrack insert clashes at {0}{1}: NAT port or parallel-UDP races",
           per_second(*c.insert_failed),
           clash_drops ? _f(", dropping packets at {0}", per_second(*c.drop)) : std::string());
    put_common(f.evidence, in.snap, c);
    f.remediation = {step_conntrack_clash_races()};
    out.push_back(std::move(f));
  }
}

}  // namespace cd
