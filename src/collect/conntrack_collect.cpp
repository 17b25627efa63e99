// Conntrack over netlink for one reading, turning refusals into `missing` lines.
#include "collect/conntrack_collect.h"

#include <algorithm>

#include <cerrno>
#include <charconv>

#include "collect/conntrack_aggregator.h"

namespace cd {

namespace {

// Why a netlink refusal happened, in the words an operator needs.
std::string why(const Error& e) {
  if (e.err == EPERM || e.err == EACCES)
    return e.message + " (needs CAP_NET_ADMIN in this network namespace)";
  return e.message;
}

}  // namespace

bool table_emptied(int64_t before, int64_t after) {
  const int64_t dropped = before - after;
  return dropped >= kCtFlushMinEntries && dropped * 2 > before;
}

void collect_conntrack(ConntrackSource& src, const ConntrackCollectOptions& opt, Reading& r,
                       std::vector<std::string>& missing) {
  ConntrackStats& ct = r.conntrack;
  // Without nf_conntrack the collector already said so; asking ctnetlink would only fail.
  if (!ct.available) return;

  if (ct.stats_source.empty()) {
    // Kernels built without CONFIG_NF_CONNTRACK_PROCFS have no /proc/net/stat/nf_conntrack:
    // the same counters come from IPCTNL_MSG_CT_GET_STATS_CPU.
    auto s = src.cpu_stats();
    if (s) {
      ct.stats = std::move(s->sums);
      if (ct.count) ct.stats["entries"] = *ct.count;  // as the procfs file's gauge column
      ct.stats_source = "ctnetlink";
    } else {
      missing.push_back(
          "conntrack per-CPU stats (drop, early_drop, insert_failed, clashres, chainlength): "
          "no /proc/net/stat/nf_conntrack and " +
          why(s.error()));
    }
  }
  if (!opt.table) return;

  ConntrackAggregatorConfig cfg;
  if (auto it = r.sysctls.conntrack_timeouts.find("tcp_timeout_established");
      it != r.sysctls.conntrack_timeouts.end())
    cfg.established_timeout_s = it->second;
  // The longer of the two caps (each 300 s by default; a missing one keeps its default).
  int64_t cap = 0;
  for (const char* name : {"tcp_timeout_unacknowledged", "tcp_timeout_max_retrans"}) {
    auto it = r.sysctls.conntrack_timeouts.find(name);
    cap = std::max<int64_t>(cap, it != r.sysctls.conntrack_timeouts.end() ? it->second : 300);
  }
  cfg.capped_timeout_s = cap;
  cfg.snat_ports_override = opt.snat_ports;
  std::optional<Error> rules_error;
  if (auto rules = src.nat_rules()) {
    cfg.nat_rules = std::move(*rules);
    cfg.nat_rules_read = true;
  } else {
    rules_error = rules.error();
  }

  // A dump is taken again when the table changed under it in a way that makes its figures
  // no state the table was ever in: the kernel flagged it NLM_F_DUMP_INTR, or the table was
  // flushed (or emptied en masse) while it ran, which ctnetlink does not flag: the dump then
  // holds the buckets walked before the flush and none after. That is told from the
  // namespace's entry count (IPCTNL_MSG_CT_GET_STATS) read before and after the dump.
  std::string unstable;
  for (int attempt = 1; attempt <= kCtDumpAttempts; ++attempt) {
    auto before = src.global_stats();
    // A namespace with no entry needs no dump: the hash is shared by every namespace, and a
    // namespace's dump walks all of it (--all-netns would pay that once per namespace).
    if (attempt == 1 && before && before->entries && *before->entries == 0) {
      r.conntrack_table = ConntrackAggregator(cfg).finish(true, false);
      break;
    }
    ConntrackAggregator agg(cfg);
    auto d = src.dump(agg);
    if (!d) {
      missing.push_back(
          "conntrack table (entries by state, stale entries, top destinations, SNAT port use): " +
          why(d.error()));
      return;
    }
    auto after = src.global_stats();
    if (d->interrupted) {
      unstable = "NLM_F_DUMP_INTR";
      continue;
    }
    if (before && after && before->entries && after->entries &&
        table_emptied(*before->entries, *after->entries)) {
      unstable = "flushed: " + std::to_string(*before->entries) + " entries before the dump, " +
                 std::to_string(*after->entries) + " after";
      continue;
    }
    r.conntrack_table = agg.finish(true, false);
    unstable.clear();
    break;
  }
  if (!unstable.empty()) {
    missing.push_back(
        "conntrack table (entries by state, stale entries, top destinations, SNAT port use): "
        "the table changed under each of " +
        std::to_string(kCtDumpAttempts) + " dumps (last: " + unstable +
        "), no consistent one to count");
    return;
  }
  if (rules_error && !opt.snat_ports && r.conntrack_table.snat_entries > 0)
    missing.push_back("SNAT port ranges: " + why(*rules_error) +
                      "; assuming 1024-65535 (give the rule's range with --snat-port-range LO-HI)");
}

Result<PortRange> parse_snat_port_range(std::string_view text) {
  auto dash = text.find('-');
  auto num = [](std::string_view s) -> std::optional<uint16_t> {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
    return uint16_t(v);
  };
  auto lo = num(text.substr(0, dash));
  auto hi = dash == std::string_view::npos ? lo : num(text.substr(dash + 1));
  if (!lo || !hi || *lo > *hi)
    return fail("--snat-port-range: '" + std::string(text) +
                "' is not LO-HI with 1 <= LO <= HI <= 65535");
  return PortRange{*lo, *hi};
}

}  // namespace cd
