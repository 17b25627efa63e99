// Decoding of nf_tables rule messages into source-NAT rules, over the shared netlink reader.
#include "collect/nftables_nat_decode.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "collect/netlink_reader.h"

namespace cd {

namespace {

// The register file of one rule as the expressions before a NAT expression left it. Only
// values loaded by `immediate` are known; any other expression may write any register, so it
// forgets them all (nft emits the immediates right before the nat/masq expression).
class Registers {
 public:
  void forget() { known_.fill(false); }
  // nft_parse_register() [net/netfilter/nf_tables_api.c]: NFT_REG_1..4 are 16-byte registers,
  // NFT_REG32_00..15 4-byte ones, both mapped onto one array of 32-bit words after the verdict.
  static std::optional<std::size_t> word(uint32_t reg) {
    if (reg >= NFT_REG_1 && reg <= NFT_REG_4) return std::size_t(reg) * 4;
    if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15) return std::size_t(reg - NFT_REG32_00) + 4;
    return std::nullopt;
  }
  void load(uint32_t reg, std::span<const uint8_t> value) {
    auto w = word(reg);
    if (!w) return;
    const std::size_t off = *w * 4;
    const std::size_t n = std::min(value.size(), bytes_.size() - off);
    std::memcpy(bytes_.data() + off, value.data(), n);
    for (std::size_t i = *w; i < *w + (n + 3) / 4 && i < known_.size(); ++i) known_[i] = true;
  }
  std::optional<std::span<const uint8_t>> read(uint32_t reg, std::size_t len) const {
    auto w = word(reg);
    if (!w || *w * 4 + len > bytes_.size()) return std::nullopt;
    for (std::size_t i = *w; i < *w + (len + 3) / 4; ++i)
      if (!known_[i]) return std::nullopt;
    return std::span<const uint8_t>(bytes_.data() + *w * 4, len);
  }
  // nft_reg_load16(): a port is the first 16 bits of the register, in network order.
  std::optional<uint16_t> port(uint32_t reg) const {
    auto b = read(reg, 2);
    if (!b) return std::nullopt;
    uint16_t v = 0;
    std::memcpy(&v, b->data(), 2);
    return ntohs(v);
  }

 private:
  static constexpr std::size_t kWords = 20;  // verdict (4 words) + 16 data words
  std::array<uint8_t, kWords * 4> bytes_{};
  std::array<bool, kWords> known_{};
};

std::string_view nfproto_name(uint8_t f) {
  switch (f) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_NETDEV:
      return "netdev";
    case NFPROTO_ARP:
      return "arp";
    default:
      return "unknown";
  }
}

// Ports from two registers; only the minimum may be given (a single port).
std::optional<PortRange> reg_ports(const Registers& regs, const std::optional<NlAttr>& lo_attr,
                                   const std::optional<NlAttr>& hi_attr, bool& unknown) {
  if (!lo_attr) return std::nullopt;
  auto lo_reg = attr_be32(*lo_attr, "nf_tables nat");
  if (!lo_reg) {
    unknown = true;
    return std::nullopt;
  }
  auto lo = regs.port(*lo_reg);
  std::optional<uint16_t> hi = lo;
  if (hi_attr) {
    auto hi_reg = attr_be32(*hi_attr, "nf_tables nat");
    hi = hi_reg ? regs.port(*hi_reg) : std::nullopt;
  }
  if (!lo || !hi) {
    unknown = true;  // loaded from a map or a packet field: not a fixed range
    return std::nullopt;
  }
  return PortRange{std::min(*lo, *hi), std::max(*lo, *hi)};
}

// The port range (from registers) and the random-fully flag a masq or snat expression carries.
Result<void> set_ports_and_flags(NatRule& r, const Registers& regs, const NlAttrs& d,
                                 std::size_t proto_min, std::size_t proto_max,
                                 std::size_t flags_attr) {
  bool unknown = false;
  r.ports = reg_ports(regs, d[proto_min], d[proto_max], unknown);
  auto flags = attr_be32_or_0(d[flags_attr], "nf_tables rule");
  if (!flags) return std::unexpected(flags.error());
  r.random_fully = *flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY;
  r.ports_from_map = unknown;
  return {};
}

// xt SNAT / MASQUERADE target data as iptables-nft stores it (NFTA_TARGET_INFO): host-order
// flags, network-order addresses and ports. Revision 0 of IPv4 uses the old multi-range struct
// (nf_nat_ipv4_multi_range_compat); the rest struct nf_nat_range / nf_nat_range2.
std::optional<NatRule> decode_xt_target(std::string_view name, uint32_t rev, uint8_t family,
                                        std::span<const uint8_t> info) {
  if (name != "SNAT" && name != "MASQUERADE") return std::nullopt;
  NatRule r;
  r.family = family;
  r.masquerade = name == "MASQUERADE";
  uint32_t flags = 0;
  uint16_t pmin = 0, pmax = 0;
  const uint8_t l3 = family == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
  if (family != NFPROTO_IPV6 && rev == 0) {
    nf_nat_ipv4_multi_range_compat m{};
    if (info.size() < sizeof m) return std::nullopt;
    std::memcpy(&m, info.data(), sizeof m);
    flags = m.range[0].flags;
    if (flags & NF_NAT_RANGE_MAP_IPS) {
      r.addr_min = IpAddr::v4(m.range[0].min_ip);
      r.addr_max = IpAddr::v4(m.range[0].max_ip);
    }
    pmin = ntohs(m.range[0].min.all);
    pmax = ntohs(m.range[0].max.all);
  } else {
    nf_nat_range m{};
    if (info.size() < sizeof m) return std::nullopt;
    std::memcpy(&m, info.data(), sizeof m);
    flags = m.flags;
    if (flags & NF_NAT_RANGE_MAP_IPS) {
      r.addr_min = addr_from({reinterpret_cast<const uint8_t*>(&m.min_addr), 16}, l3);
      r.addr_max = addr_from({reinterpret_cast<const uint8_t*>(&m.max_addr), 16}, l3);
    }
    pmin = ntohs(m.min_proto.all);
    pmax = ntohs(m.max_proto.all);
  }
  if (flags & NF_NAT_RANGE_PROTO_SPECIFIED)
    r.ports = PortRange{std::min(pmin, pmax), std::max(pmin, pmax)};
  r.random_fully = flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY;
  return r;
}

}  // namespace

Result<void> decode_nat_rules(std::span<const uint8_t> msg, std::vector<NatRule>& out) {
  static constexpr std::string_view what = "nf_tables rule";
  auto h = nfnl_header(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE)) return {};
  auto top = collect_attrs(h->attrs, what);
  if (!top) return std::unexpected(top.error());
  const auto& exprs = (*top)[NFTA_RULE_EXPRESSIONS];
  if (!exprs) return {};
  const uint8_t table_family = h->nfg.nfgen_family;
  const std::string where = "nft " + std::string(nfproto_name(table_family)) + " table " +
                            attr_string((*top)[NFTA_RULE_TABLE]) + " chain " +
                            attr_string((*top)[NFTA_RULE_CHAIN]);

  Registers regs;
  return for_each_attr(exprs->data, what, [&](const NlAttr& elem) -> Result<void> {
    if (elem.type != NFTA_LIST_ELEM) return {};
    auto e = collect_attrs(elem.data, what);
    if (!e) return std::unexpected(e.error());
    const std::string name = attr_string((*e)[NFTA_EXPR_NAME]);
    const auto& data = (*e)[NFTA_EXPR_DATA];
    if (!data) {
      regs.forget();
      return {};
    }
    auto d = collect_attrs(data->data, what);
    if (!d) return std::unexpected(d.error());

    if (name == "immediate") {
      auto dreg = attr_be32_or_0((*d)[NFTA_IMMEDIATE_DREG], what);
      const auto& imm = (*d)[NFTA_IMMEDIATE_DATA];
      if (!dreg || !imm) return {};
      auto v = collect_attrs(imm->data, what);
      if (!v) return std::unexpected(v.error());
      if ((*v)[NFTA_DATA_VALUE]) regs.load(*dreg, (*v)[NFTA_DATA_VALUE]->data);
      return {};
    }
    if (name == "masq") {
      NatRule r;
      r.family = table_family;
      r.masquerade = true;
      r.where = where;
      auto ok = set_ports_and_flags(r, regs, *d, NFTA_MASQ_REG_PROTO_MIN, NFTA_MASQ_REG_PROTO_MAX,
                                    NFTA_MASQ_FLAGS);
      if (!ok) return ok;
      out.push_back(std::move(r));
    } else if (name == "nat") {
      auto type = attr_be32_or_0((*d)[NFTA_NAT_TYPE], what);
      if (!type) return std::unexpected(type.error());
      if (*type == NFT_NAT_SNAT) {
        auto fam = attr_be32_or_0((*d)[NFTA_NAT_FAMILY], what);
        if (!fam) return std::unexpected(fam.error());
        NatRule r;
        r.family = uint8_t(*fam ? *fam : table_family);
        r.where = where;
        const uint8_t l3 = r.family == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
        const std::size_t alen = l3 == AF_INET6 ? 16 : 4;
        if (const auto& amin = (*d)[NFTA_NAT_REG_ADDR_MIN]) {
          auto reg = attr_be32(*amin, what);
          auto b = reg ? regs.read(*reg, alen) : std::nullopt;
          if (b) r.addr_min = addr_from(*b, l3);
          std::optional<std::span<const uint8_t>> bmax = b;
          if (const auto& amax = (*d)[NFTA_NAT_REG_ADDR_MAX]) {
            auto reg2 = attr_be32(*amax, what);
            bmax = reg2 ? regs.read(*reg2, alen) : std::nullopt;
          }
          if (bmax) r.addr_max = addr_from(*bmax, l3);
        }
        auto ok = set_ports_and_flags(r, regs, *d, NFTA_NAT_REG_PROTO_MIN, NFTA_NAT_REG_PROTO_MAX,
                                      NFTA_NAT_FLAGS);
        if (!ok) return ok;
        out.push_back(std::move(r));
      }
    } else if (name == "target") {
      auto rev = attr_be32_or_0((*d)[NFTA_TARGET_REV], what);
      const auto& info = (*d)[NFTA_TARGET_INFO];
      const std::string tname = attr_string((*d)[NFTA_TARGET_NAME]);
      if (rev && info) {
        if (auto r = decode_xt_target(tname, *rev, table_family, info->data)) {
          r->where = "iptables-nft " + tname + " in " + where;
          out.push_back(std::move(*r));
        }
      }
    }
    regs.forget();
    return {};
  });
}

}  // namespace cd
