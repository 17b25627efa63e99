// Rule conntrack_table: what fills the table, from the ctnetlink dump: entries of closed
// connections and idle ESTABLISHED ones that outlive the traffic, one destination holding most
// of the table, a table of ASSURED entries that early_drop() cannot evict, hash chains too long.
// rule_conntrack judges count vs max and the drop rates; this one says why and what to change.
#include <fmt/format.h>

#include <algorithm>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/text_style.h"

namespace cd {

namespace {

constexpr double kBusyFill = 0.50;  // below half full, what fills it is not urgent
constexpr double kFullFill = 0.90;
constexpr double kStaleShare = 0.30;  // closed-connection entries worth a finding
constexpr double kIdleShare = 0.10;   // idle ESTABLISHED entries worth a finding
constexpr uint64_t kIdleMin = 1000;
constexpr double kHotShare = 0.30;  // one destination's share of the table
constexpr double kAssuredShare = 0.90;

struct Fill {
  std::optional<int64_t> count, max;
  std::optional<double> ratio;
};

Fill fill_of(const Reading& r) {
  Fill f;
  f.count = r.conntrack.count ? r.conntrack.count : r.sysctls.nf_conntrack_count;
  if (!f.count && r.conntrack_table.dumped) f.count = int64_t(r.conntrack_table.entries);
  f.max = r.conntrack.max ? r.conntrack.max : r.sysctls.nf_conntrack_max;
  f.ratio = ratio(f.count, f.max);
  return f;
}

Finding base(std::string id, Severity sev, const Fill& fill) {
  Finding f;
  f.id = std::move(id);
  f.resource = Resource::kConntrack;
  f.severity = sev;
  f.layer = Layer::kNetwork;
  f.evidence["count"] = or_null(fill.count);
  f.evidence["max"] = or_null(fill.max);
  f.evidence["utilization"] = rounded(fill.ratio, 4);
  return f;
}

double share(uint64_t part, uint64_t whole) {
  return whole ? double(part) / double(whole) : 0.0;
}

int64_t timeout(const Sysctls& s, const std::string& key, int64_t def) {
  auto it = s.conntrack_timeouts.find(key);
  return it != s.conntrack_timeouts.end() ? it->second : def;
}

void closed_entries(const RuleInput& in, const Fill& fill, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const ConntrackTable& t = r.conntrack_table;
  const uint64_t closed = t.stale.tcp_time_wait + t.stale.tcp_close + t.stale.tcp_fin_wait;
  const double s = share(closed, t.entries);
  if (!fill.ratio || *fill.ratio < kBusyFill || s < kStaleShare) return;
  Finding f = base("conntrack.closed_entries",
                   *fill.ratio >= kFullFill ? Severity::kCritical : Severity::kWarning, fill);
  f.title = _f(
      "conntrack: {0} of {1} entries ({2}) belong to closed connections (TIME_WAIT {3}, CLOSE {4}, "
      "FIN_WAIT/LAST_ACK {5}) in a table {6} full",
      with_commas(closed), with_commas(t.entries), percent(s), with_commas(t.stale.tcp_time_wait),
      with_commas(t.stale.tcp_close), with_commas(t.stale.tcp_fin_wait), percent(*fill.ratio));
  f.evidence["entries_dumped"] = t.entries;
  f.evidence["closed"] = closed;
  f.evidence["time_wait"] = t.stale.tcp_time_wait;
  f.evidence["close"] = t.stale.tcp_close;
  f.evidence["fin_wait_last_ack"] = t.stale.tcp_fin_wait;
  f.evidence["share"] = rounded(s, 4);
  f.evidence["tcp_timeout_time_wait"] = timeout(r.sysctls, "tcp_timeout_time_wait", 120);
  f.evidence["note"] =
      _("short connections: each leaves an entry for nf_conntrack_tcp_timeout_time_wait after it "
        "closed");
  f.remediation = {step_client_reuse(), step_conntrack_timeouts(r.sysctls), step_conntrack_size(r)};
  out.push_back(std::move(f));
}

void idle_established(const RuleInput& in, const Fill& fill, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const ConntrackTable& t = r.conntrack_table;
  const uint64_t idle = t.stale.established_idle_1h;
  if (idle < kIdleMin || share(idle, t.entries) < kIdleShare) return;
  const bool busy = fill.ratio && *fill.ratio >= kBusyFill;
  Finding f = base("conntrack.idle_established", busy ? Severity::kWarning : Severity::kInfo, fill);
  const int64_t est =
      t.established_timeout_s.value_or(timeout(r.sysctls, "tcp_timeout_established", 432000));
  f.title =
      _f("conntrack: {0} ESTABLISHED entries idle for over an hour (longest {1}); the established "
         "timeout of {2} keeps dead connections that long",
         with_commas(idle), fmt_duration(double(t.stale.established_idle_max_s)),
         fmt_duration(double(est)));
  f.evidence["idle_over_1h"] = idle;
  f.evidence["idle_over_1d"] = t.stale.established_idle_1d;
  f.evidence["idle_max_s"] = t.stale.established_idle_max_s;
  f.evidence["tcp_timeout_established"] = est;
  f.evidence["share"] = rounded(share(idle, t.entries), 4);
  f.evidence["capped_not_idle"] = t.stale.established_capped;
  f.evidence["note"] =
      _("idle = timeout - time left, as every packet resets an ESTABLISHED entry's timeout; a "
        "peer that vanished without FIN or RST leaves its entry for the whole timeout. Entries "
        "with at most the 300 s cap left (unacknowledged data, zero window) are busy or about to "
        "expire, never counted idle");
  f.remediation = {step_conntrack_timeouts(r.sysctls)};
  out.push_back(std::move(f));
}

void hot_destination(const RuleInput& in, const Fill& fill, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const ConntrackTable& t = r.conntrack_table;
  if (t.top_destinations.empty() || !fill.ratio || *fill.ratio < kBusyFill) return;
  const ConntrackDestination& d = t.top_destinations.front();
  const double s = share(d.entries, t.entries);
  if (s < kHotShare) return;
  Finding f = base("conntrack.hot_destination",
                   *fill.ratio >= kFullFill ? Severity::kCritical : Severity::kWarning, fill);
  const std::string proto = ct_protocol_name(d.protocol);
  f.title = _f("conntrack: {0} ({1}) holds {2} of {3} entries ({4}) in a table {5} full",
               d.dst.to_string(), proto, with_commas(d.entries), with_commas(t.entries), percent(s),
               percent(*fill.ratio));
  f.evidence["destination"] = d.dst.to_string();
  f.evidence["protocol"] = proto;
  f.evidence["entries"] = d.entries;
  f.evidence["assured"] = d.assured;
  f.evidence["unreplied"] = d.unreplied;
  f.evidence["share"] = rounded(s, 4);
  f.evidence["destinations_total"] = t.destinations_total;
  if (share(d.unreplied, d.entries) >= 0.5) {
    f.evidence["note"] =
        _("most of these flows were never answered: a dead upstream, a scan or a flood; each "
          "holds an entry until its unreplied timeout");
    f.remediation.push_back(RemediationStep{
        'D',
        _f("Find why {0} does not answer, or stop sending to it; unanswered flows hold "
           "entries for nf_conntrack_tcp_timeout_syn_sent (120 s) or "
           "nf_conntrack_udp_timeout (30 s)",
           d.dst.to_string()),
        {fmt::format("conntrack -L -d {0} -p {1} | head", d.dst.addr.to_string(), proto)},
        _("None: reading only.")});
  } else {
    f.remediation.push_back(step_client_reuse());
  }
  f.remediation.push_back(step_conntrack_timeouts(r.sysctls));
  f.remediation.push_back(step_conntrack_size(r));
  out.push_back(std::move(f));
}

void unevictable(const RuleInput& in, const Fill& fill, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const ConntrackTable& t = r.conntrack_table;
  if (!fill.ratio || *fill.ratio < kFullFill) return;
  // early_drop() [nf_conntrack_core.c] only evicts entries without IPS_ASSURED; above 95 % the
  // GC worker also evicts ASSURED TCP entries that are closing (tcp_can_early_drop()). The rest
  // -- ASSURED UDP, ASSURED TCP in ESTABLISHED or a handshake state -- cannot be evicted: a
  // table of them drops new packets.
  const uint64_t stuck = t.assured - std::min(t.assured, t.assured_evictable);
  const double s = share(stuck, t.entries);
  if (s < kAssuredShare) return;
  Finding f = base("conntrack.unevictable", Severity::kWarning, fill);
  f.title = _f(
      "conntrack: {0} of {1} entries ({2}) are ASSURED, which early_drop() cannot evict: when the "
      "table is full, new flows are dropped",
      with_commas(stuck), with_commas(t.entries), percent(s));
  f.evidence["unevictable"] = stuck;
  f.evidence["assured"] = t.assured;
  f.evidence["assured_evictable"] = t.assured_evictable;
  f.evidence["entries_dumped"] = t.entries;
  f.evidence["share"] = rounded(s, 4);
  f.evidence["by_protocol"] = Evidence(t.by_protocol);
  f.remediation = {step_conntrack_size(r), step_conntrack_timeouts(r.sysctls)};
  out.push_back(std::move(f));
}

void long_chains(const RuleInput& in, const Fill& fill, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  // Since 5.16 __nf_conntrack_confirm()/nf_ct_resolve_clash() refuse inserts into a hash chain
  // longer than MAX_CHAINLEN (64) and count "chaintoolong" (procfs: chainlength).
  const std::optional<double> rate = in.snap.conntrack_stat_rate("chainlength");
  if (!rate || *rate <= 0) return;
  Finding f = base("conntrack.chain_too_long", Severity::kWarning, fill);
  const std::optional<int64_t> buckets =
      r.conntrack.buckets ? r.conntrack.buckets : r.sysctls.nf_conntrack_buckets;
  f.title =
      _f("conntrack hash chains too long: {0} inserts refused (chaintoolong) with "
         "{1} buckets",
         per_second(*rate), buckets ? with_commas(uint64_t(*buckets)) : "?");
  f.evidence["buckets"] = or_null(buckets);
  put_rate(f.evidence, "chaintoolong_per_s", in.snap, rate);
  put_rate(f.evidence, "clash_resolve_per_s", in.snap, in.snap.conntrack_stat_rate("clashres"));
  f.remediation = {step_conntrack_size(r)};
  out.push_back(std::move(f));
}

}  // namespace

void rule_conntrack_table(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const Fill fill = fill_of(r);
  long_chains(in, fill, out);
  if (!r.conntrack_table.dumped || r.conntrack_table.entries == 0) return;
  unevictable(in, fill, out);
  hot_destination(in, fill, out);
  closed_entries(in, fill, out);
  idle_established(in, fill, out);
}

}  // namespace cd
