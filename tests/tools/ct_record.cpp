// cdtool-ct_record FILE: records a ctnetlink/nf_tables transcript of the caller's network
// namespace (NAT rules, per-CPU and global stats, the table) for fixtures and fuzz seeds;
// replay it with `conndoctor check --conntrack-dump FILE`. Run it inside the namespace
// (ip netns exec NAME cdtool-ct_record FILE). Regenerates tests/fixtures/conntrack/*.nfdump.
#include <cstdio>

#include "collect/conntrack_aggregator.h"
#include "collect/conntrack_source.h"

int main(int argc, char** argv) {
  using namespace cd;
  if (argc != 2) {
    std::fprintf(stderr, "usage: cdtool-ct_record FILE\n");
    return 2;
  }
  auto live = open_netlink_transport();
  if (!live) return std::fprintf(stderr, "%s\n", live.error().message.c_str()), 1;
  auto rec = open_recording_transport(std::move(*live), argv[1]);
  if (!rec) return std::fprintf(stderr, "%s\n", rec.error().message.c_str()), 1;
  auto src = make_conntrack_source(std::move(*rec));
  auto rules = src->nat_rules();
  auto stats = src->cpu_stats();
  auto global = src->global_stats();
  ConntrackAggregator agg({});
  auto dump = src->dump(agg);
  ConntrackTable t = agg.finish(bool(dump), dump && dump->interrupted);
  std::printf(
      "rules %s, stats %s, global %s, table %s: %llu entries, %llu SNAT\n",
      rules ? "ok" : rules.error().message.c_str(), stats ? "ok" : stats.error().message.c_str(),
      global ? "ok" : global.error().message.c_str(), dump ? "ok" : dump.error().message.c_str(),
      (unsigned long long)t.entries, (unsigned long long)t.snat_entries);
  return dump ? 0 : 1;
}
