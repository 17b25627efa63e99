// Fuzz target for the ctnetlink / nf_tables decoders: the bytes are a recorded transcript, fed
// message by message to every decoder, and (when the framing parses) replayed through the
// decoding source into the streaming aggregator, as `check --conntrack-dump` would.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "collect/conntrack_aggregator.h"
#include "collect/conntrack_source.h"
#include "collect/ctnetlink_decode.h"
#include "collect/netlink_reader.h"
#include "collect/nftables_nat_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cd;
  NlMsgReader reader({data, size});
  NlMsg m;
  for (;;) {
    auto more = reader.next(m);
    if (!more || !*more) break;
    std::span<const uint8_t> msg(m.payload.data() - sizeof(nlmsghdr),
                                 sizeof(nlmsghdr) + m.payload.size());
    CtEntry e;
    (void)decode_ct_entry(msg, e);
    CtCpuStats s;
    (void)add_cpu_stats(msg, s);
    CtGlobalStats g;
    (void)decode_global_stats(msg, g);
    std::vector<NatRule> rules;
    (void)decode_nat_rules(msg, rules);
  }

  auto t = recorded_transport_from_bytes(std::vector<uint8_t>(data, data + size), "fuzz");
  if (!t) return 0;
  auto src = make_conntrack_source(std::move(*t));
  ConntrackAggregatorConfig cfg;
  cfg.established_timeout_s = 432000;
  if (auto rules = src->nat_rules()) cfg.nat_rules = *rules;
  (void)src->cpu_stats();
  (void)src->global_stats();
  ConntrackAggregator agg(cfg);
  auto d = src->dump(agg);
  ConntrackTable table = agg.finish(bool(d), d && d->interrupted);
  for (const auto& g2 : table.snat) (void)g2.utilization();
  return 0;
}
