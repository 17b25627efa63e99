// The decoding conntrack source: turns a transport's raw ctnetlink / nf_tables messages into
// entries (streamed, never stored), summed per-CPU stats, global stats and NAT rules.
#include "collect/conntrack_source.h"

#include <array>

#include "collect/ctnetlink_decode.h"
#include "collect/nftables_nat_decode.h"

namespace cd {

namespace {

constexpr uint32_t kIpsSrcNat = 1u << 4;  // IPS_SRC_NAT

// Keeps the kernel's errno so that the collector can say "needs CAP_NET_ADMIN" on EPERM.
Error with_context(const std::string& what, const Error& e) {
  return Error{what + ": " + e.message, e.err};
}

class DecodingConntrackSource : public ConntrackSource {
 public:
  explicit DecodingConntrackSource(std::unique_ptr<NetfilterTransport> t) : t_(std::move(t)) {}

  Result<QueryResult> dump(ConntrackSink& sink) override {
    CtEntry e;  // reused: nothing is allocated per entry
    auto r = t_->query(NfQuery::kTable, [&](std::span<const uint8_t> msg) -> Result<void> {
      auto ok = decode_ct_entry(msg, e);
      if (!ok) return std::unexpected(ok.error());
      if (*ok) sink.on_entry(e);
      return {};
    });
    if (!r) return std::unexpected(with_context("conntrack table dump (ctnetlink)", r.error()));
    return r;
  }

  Result<CtCpuStats> cpu_stats() override {
    CtCpuStats s;
    auto r = t_->query(NfQuery::kCpuStats,
                       [&](std::span<const uint8_t> msg) { return add_cpu_stats(msg, s); });
    if (!r)
      return std::unexpected(with_context(
          "conntrack per-CPU stats (ctnetlink IPCTNL_MSG_CT_GET_STATS_CPU)", r.error()));
    if (s.cpus == 0) return fail("conntrack per-CPU stats (ctnetlink): no CPU answered");
    return s;
  }

  Result<CtGlobalStats> global_stats() override {
    CtGlobalStats s;
    auto r = t_->query(NfQuery::kGlobalStats,
                       [&](std::span<const uint8_t> msg) { return decode_global_stats(msg, s); });
    if (!r) return std::unexpected(with_context("conntrack global stats (ctnetlink)", r.error()));
    return s;
  }

  Result<std::vector<NatRule>> nat_rules() override {
    std::vector<NatRule> rules;
    auto r = t_->query(NfQuery::kNatRules,
                       [&](std::span<const uint8_t> msg) { return decode_nat_rules(msg, rules); });
    if (!r) return std::unexpected(with_context("nf_tables ruleset (NFT_MSG_GETRULE)", r.error()));
    return rules;
  }

 private:
  std::unique_ptr<NetfilterTransport> t_;
};

}  // namespace

std::string_view ct_tcp_state_name(uint8_t state) {
  // The names conntrack(8) prints, in enum tcp_conntrack order.
  static constexpr std::array<std::string_view, kCtTcpStates> names = {
      "NONE",       "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
      "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",       "SYN_SENT2"};
  return state < names.size() ? names[state] : "UNKNOWN";
}

bool CtEntry::source_nat() const {
  // nf_nat_setup_info() sets IPS_SRC_NAT when it rewrote the source; a transcript from a tool
  // that lost the status bits still shows it as a reply addressed elsewhere than the source.
  return (status & kIpsSrcNat) != 0 || reply_dst.addr != orig_src.addr;
}

std::unique_ptr<ConntrackSource> make_conntrack_source(std::unique_ptr<NetfilterTransport> t) {
  return std::make_unique<DecodingConntrackSource>(std::move(t));
}

Result<std::unique_ptr<ConntrackSource>> open_netlink_conntrack_source() {
  auto t = open_netlink_transport();
  if (!t) return std::unexpected(t.error());
  return make_conntrack_source(std::move(*t));
}

}  // namespace cd
