// Decoding of ctnetlink and nf_tables messages; every length is checked against the message
// before a byte is read, because transcripts are untrusted input.
#include "collect/conntrack_decode.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>

namespace cd {

namespace {

struct Attr {
  uint16_t type = 0;
  std::span<const uint8_t> data;
};

// Walks the attributes of one level. Trailing bytes shorter than an attribute header are
// alignment padding; an attribute whose length runs past its parent is malformed.
class AttrReader {
 public:
  AttrReader(std::span<const uint8_t> buf, std::string_view what) : buf_(buf), what_(what) {}
  Result<bool> next(Attr& a) {
    if (buf_.size() - pos_ < NLA_HDRLEN) return false;
    uint16_t len = 0;
    uint16_t type = 0;
    std::memcpy(&len, buf_.data() + pos_, 2);
    std::memcpy(&type, buf_.data() + pos_ + 2, 2);
    const std::size_t left = buf_.size() - pos_;
    if (len < NLA_HDRLEN || len > left)
      return fail(std::string(what_) + ": malformed attribute (length " + std::to_string(len) +
                  ", " + std::to_string(left) + " bytes left)");
    a.type = type & NLA_TYPE_MASK;
    a.data = buf_.subspan(pos_ + NLA_HDRLEN, len - NLA_HDRLEN);
    pos_ += std::min<std::size_t>(NLA_ALIGN(len), left);
    return true;
  }

 private:
  std::span<const uint8_t> buf_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

Result<uint8_t> get_u8(const Attr& a, std::string_view what) {
  if (a.data.empty()) return fail(std::string(what) + ": empty u8 attribute");
  return a.data[0];
}

Result<uint16_t> get_be16(const Attr& a, std::string_view what) {
  if (a.data.size() < 2) return fail(std::string(what) + ": short u16 attribute");
  uint16_t v = 0;
  std::memcpy(&v, a.data.data(), 2);
  return ntohs(v);
}

Result<uint32_t> get_be32(const Attr& a, std::string_view what) {
  if (a.data.size() < 4) return fail(std::string(what) + ": short u32 attribute");
  uint32_t v = 0;
  std::memcpy(&v, a.data.data(), 4);
  return ntohl(v);
}

IpAddr addr_from(std::span<const uint8_t> b, uint8_t family) {
  IpAddr a;
  a.family = family;
  std::memcpy(a.bytes.data(), b.data(), family == AF_INET6 ? 16 : 4);
  return a;
}

Result<IpAddr> get_addr(const Attr& a, uint8_t family, std::string_view what) {
  const std::size_t need = family == AF_INET6 ? 16 : 4;
  if (a.data.size() < need) return fail(std::string(what) + ": short address attribute");
  return addr_from(a.data, family);
}

struct Header {
  uint16_t type = 0;
  uint16_t flags = 0;
  nfgenmsg nfg{};
  std::span<const uint8_t> attrs;
};

// nlmsghdr + nfgenmsg; the attributes follow, up to nlmsg_len.
Result<Header> header_of(std::span<const uint8_t> msg, std::string_view what) {
  nlmsghdr h;
  if (msg.size() < sizeof h) return fail(std::string(what) + ": message shorter than its header");
  std::memcpy(&h, msg.data(), sizeof h);
  if (h.nlmsg_len > msg.size() || h.nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg))
    return fail(std::string(what) + ": bad message length " + std::to_string(h.nlmsg_len));
  Header out;
  out.type = h.nlmsg_type;
  out.flags = h.nlmsg_flags;
  std::memcpy(&out.nfg, msg.data() + NLMSG_HDRLEN, sizeof out.nfg);
  const std::size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  out.attrs =
      start <= h.nlmsg_len ? msg.subspan(start, h.nlmsg_len - start) : std::span<const uint8_t>{};
  return out;
}

uint8_t l3_family(uint8_t nfgen_family) {
  return nfgen_family == AF_INET6 ? AF_INET6 : AF_INET;
}

// CTA_TUPLE_ORIG / CTA_TUPLE_REPLY: addresses in CTA_TUPLE_IP, protocol and ports in
// CTA_TUPLE_PROTO (ports only for protocols that have them; ICMP carries id/type/code).
Result<void> decode_tuple(std::span<const uint8_t> data, Endpoint& src, Endpoint& dst,
                          uint8_t& proto) {
  static constexpr std::string_view what = "ctnetlink tuple";
  AttrReader r(data, what);
  Attr a;
  while (true) {
    auto more = r.next(a);
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    if (a.type == CTA_TUPLE_IP) {
      AttrReader ip(a.data, what);
      Attr b;
      while (true) {
        auto m = ip.next(b);
        if (!m) return std::unexpected(m.error());
        if (!*m) break;
        Result<IpAddr> addr = IpAddr{};
        switch (b.type) {
          case CTA_IP_V4_SRC:
            addr = get_addr(b, AF_INET, what);
            break;
          case CTA_IP_V4_DST:
            addr = get_addr(b, AF_INET, what);
            break;
          case CTA_IP_V6_SRC:
            addr = get_addr(b, AF_INET6, what);
            break;
          case CTA_IP_V6_DST:
            addr = get_addr(b, AF_INET6, what);
            break;
          default:
            continue;
        }
        if (!addr) return std::unexpected(addr.error());
        (b.type == CTA_IP_V4_SRC || b.type == CTA_IP_V6_SRC ? src : dst).addr = *addr;
      }
    } else if (a.type == CTA_TUPLE_PROTO) {
      AttrReader p(a.data, what);
      Attr b;
      while (true) {
        auto m = p.next(b);
        if (!m) return std::unexpected(m.error());
        if (!*m) break;
        if (b.type == CTA_PROTO_NUM) {
          auto v = get_u8(b, what);
          if (!v) return std::unexpected(v.error());
          proto = *v;
        } else if (b.type == CTA_PROTO_SRC_PORT || b.type == CTA_PROTO_DST_PORT) {
          auto v = get_be16(b, what);
          if (!v) return std::unexpected(v.error());
          (b.type == CTA_PROTO_SRC_PORT ? src : dst).port = *v;
        }
      }
    }
  }
  return {};
}

Result<uint8_t> decode_tcp_state(std::span<const uint8_t> protoinfo) {
  static constexpr std::string_view what = "ctnetlink protoinfo";
  AttrReader r(protoinfo, what);
  Attr a;
  while (true) {
    auto m = r.next(a);
    if (!m) return std::unexpected(m.error());
    if (!*m) break;
    if (a.type != CTA_PROTOINFO_TCP) continue;
    AttrReader t(a.data, what);
    Attr b;
    while (true) {
      auto mm = t.next(b);
      if (!mm) return std::unexpected(mm.error());
      if (!*mm) break;
      if (b.type == CTA_PROTOINFO_TCP_STATE) return get_u8(b, what);
    }
  }
  return fail("ctnetlink protoinfo: no TCP state");
}

// ctnetlink_ct_stat_cpu_fill_info() [net/netfilter/nf_conntrack_netlink.c] sends CTA_STATS_*;
// named as ct_cpu_seq_show() [nf_conntrack_standalone.c] heads the procfs columns, so
// "clashres" is clash_resolve, "chainlength" is chaintoolong and "icmp_error" is error.
constexpr std::array<std::string_view, CTA_STATS_MAX + 1> kStatNames = [] {
  std::array<std::string_view, CTA_STATS_MAX + 1> n{};
  n[CTA_STATS_SEARCHED] = "searched";  // obsolete (before 4.9): old procfs header names
  n[CTA_STATS_FOUND] = "found";
  n[CTA_STATS_NEW] = "new";
  n[CTA_STATS_INVALID] = "invalid";
  n[CTA_STATS_IGNORE] = "ignore";
  n[CTA_STATS_DELETE] = "delete";
  n[CTA_STATS_DELETE_LIST] = "delete_list";
  n[CTA_STATS_INSERT] = "insert";
  n[CTA_STATS_INSERT_FAILED] = "insert_failed";
  n[CTA_STATS_DROP] = "drop";
  n[CTA_STATS_EARLY_DROP] = "early_drop";
  n[CTA_STATS_ERROR] = "icmp_error";
  n[CTA_STATS_SEARCH_RESTART] = "search_restart";
  n[CTA_STATS_CLASH_RESOLVE] = "clashres";
  n[CTA_STATS_CHAIN_TOOLONG] = "chainlength";
  return n;
}();

// --- nf_tables rules ---------------------------------------------------------------------

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

using Attrs = std::array<std::optional<Attr>, 16>;

// One level of attributes by type (types beyond the array are ignored).
Result<Attrs> collect_attrs(std::span<const uint8_t> data, std::string_view what) {
  Attrs out;
  AttrReader r(data, what);
  Attr a;
  while (true) {
    auto m = r.next(a);
    if (!m) return std::unexpected(m.error());
    if (!*m) break;
    if (a.type < out.size()) out[a.type] = a;
  }
  return out;
}

std::string attr_string(const std::optional<Attr>& a) {
  if (!a) return "?";
  std::string s(reinterpret_cast<const char*>(a->data.data()), a->data.size());
  if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  return s;
}

Result<uint32_t> attr_be32(const std::optional<Attr>& a, std::string_view what) {
  if (!a) return 0u;
  return get_be32(*a, what);
}

// Ports from two registers; only the minimum may be given (a single port).
std::optional<PortRange> reg_ports(const Registers& regs, const std::optional<Attr>& lo_attr,
                                   const std::optional<Attr>& hi_attr, bool& unknown) {
  if (!lo_attr) return std::nullopt;
  auto lo_reg = get_be32(*lo_attr, "nf_tables nat");
  if (!lo_reg) {
    unknown = true;
    return std::nullopt;
  }
  auto lo = regs.port(*lo_reg);
  std::optional<uint16_t> hi = lo;
  if (hi_attr) {
    auto hi_reg = get_be32(*hi_attr, "nf_tables nat");
    hi = hi_reg ? regs.port(*hi_reg) : std::nullopt;
  }
  if (!lo || !hi) {
    unknown = true;  // loaded from a map or a packet field: not a fixed range
    return std::nullopt;
  }
  return PortRange{std::min(*lo, *hi), std::max(*lo, *hi)};
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

std::vector<uint8_t> encode_query(NfQuery q, uint32_t seq) {
  std::vector<uint8_t> buf(NLMSG_LENGTH(sizeof(nfgenmsg)), 0);
  nlmsghdr h{};
  h.nlmsg_len = uint32_t(buf.size());
  h.nlmsg_type = uint16_t(q);
  h.nlmsg_flags = NLM_F_REQUEST;
  h.nlmsg_flags |= q == NfQuery::kGlobalStats ? NLM_F_ACK : NLM_F_DUMP;
  h.nlmsg_seq = seq;
  nfgenmsg g{};
  // AF_UNSPEC dumps every family: ctnetlink_filter_match() only filters when it is set.
  g.nfgen_family = AF_UNSPEC;
  g.version = NFNETLINK_V0;
  g.res_id = 0;
  std::memcpy(buf.data(), &h, sizeof h);
  std::memcpy(buf.data() + NLMSG_HDRLEN, &g, sizeof g);
  return buf;
}

Result<bool> decode_ct_entry(std::span<const uint8_t> msg, CtEntry& out) {
  static constexpr std::string_view what = "ctnetlink entry";
  auto h = header_of(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)) return false;
  out = CtEntry{};
  out.family = l3_family(h->nfg.nfgen_family);
  bool orig = false, reply = false;
  uint8_t proto_orig = 0, proto_reply = 0;
  AttrReader r(h->attrs, what);
  Attr a;
  while (true) {
    auto m = r.next(a);
    if (!m) return std::unexpected(m.error());
    if (!*m) break;
    switch (a.type) {
      case CTA_TUPLE_ORIG: {
        auto ok = decode_tuple(a.data, out.orig_src, out.orig_dst, proto_orig);
        if (!ok) return std::unexpected(ok.error());
        orig = true;
        break;
      }
      case CTA_TUPLE_REPLY: {
        auto ok = decode_tuple(a.data, out.reply_src, out.reply_dst, proto_reply);
        if (!ok) return std::unexpected(ok.error());
        reply = true;
        break;
      }
      case CTA_STATUS: {
        auto v = get_be32(a, what);
        if (!v) return std::unexpected(v.error());
        out.status = *v;
        break;
      }
      case CTA_TIMEOUT: {
        auto v = get_be32(a, what);
        if (!v) return std::unexpected(v.error());
        out.timeout_s = *v;
        break;
      }
      case CTA_PROTOINFO: {
        auto s = decode_tcp_state(a.data);
        if (s) out.tcp_state = *s;  // other protocols carry DCCP/SCTP info: not ours
        break;
      }
      default:
        break;
    }
  }
  if (!orig) return fail("ctnetlink entry without an original tuple");
  out.protocol = proto_orig;
  if (!reply) {  // never seen from the kernel; keep the entry self-consistent
    out.reply_src = out.orig_dst;
    out.reply_dst = out.orig_src;
  }
  (void)proto_reply;
  if (out.protocol != IPPROTO_TCP) out.tcp_state.reset();
  return true;
}

Result<void> add_cpu_stats(std::span<const uint8_t> msg, CtCpuStats& out) {
  static constexpr std::string_view what = "ctnetlink per-CPU stats";
  auto h = header_of(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU)) return {};
  ++out.cpus;
  AttrReader r(h->attrs, what);
  Attr a;
  while (true) {
    auto m = r.next(a);
    if (!m) return std::unexpected(m.error());
    if (!*m) break;
    if (a.type >= kStatNames.size() || kStatNames[a.type].empty()) continue;
    auto v = get_be32(a, what);
    if (!v) return std::unexpected(v.error());
    out.sums[std::string(kStatNames[a.type])] += int64_t(*v);
  }
  return {};
}

Result<void> decode_global_stats(std::span<const uint8_t> msg, CtGlobalStats& out) {
  static constexpr std::string_view what = "ctnetlink global stats";
  auto h = header_of(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS)) return {};
  AttrReader r(h->attrs, what);
  Attr a;
  while (true) {
    auto m = r.next(a);
    if (!m) return std::unexpected(m.error());
    if (!*m) break;
    if (a.type != CTA_STATS_GLOBAL_ENTRIES && a.type != CTA_STATS_GLOBAL_MAX_ENTRIES) continue;
    auto v = get_be32(a, what);
    if (!v) return std::unexpected(v.error());
    (a.type == CTA_STATS_GLOBAL_ENTRIES ? out.entries : out.max) = int64_t(*v);
  }
  return {};
}

Result<void> decode_nat_rules(std::span<const uint8_t> msg, std::vector<NatRule>& out) {
  static constexpr std::string_view what = "nf_tables rule";
  auto h = header_of(msg, what);
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
  AttrReader list(exprs->data, what);
  Attr elem;
  while (true) {
    auto m = list.next(elem);
    if (!m) return std::unexpected(m.error());
    if (!*m) break;
    if (elem.type != NFTA_LIST_ELEM) continue;
    auto e = collect_attrs(elem.data, what);
    if (!e) return std::unexpected(e.error());
    const std::string name = attr_string((*e)[NFTA_EXPR_NAME]);
    const auto& data = (*e)[NFTA_EXPR_DATA];
    if (!data) {
      regs.forget();
      continue;
    }
    auto d = collect_attrs(data->data, what);
    if (!d) return std::unexpected(d.error());

    if (name == "immediate") {
      auto dreg = attr_be32((*d)[NFTA_IMMEDIATE_DREG], what);
      const auto& imm = (*d)[NFTA_IMMEDIATE_DATA];
      if (!dreg || !imm) continue;
      auto v = collect_attrs(imm->data, what);
      if (!v) return std::unexpected(v.error());
      if ((*v)[NFTA_DATA_VALUE]) regs.load(*dreg, (*v)[NFTA_DATA_VALUE]->data);
      continue;
    }
    if (name == "masq") {
      NatRule r;
      r.family = table_family;
      r.masquerade = true;
      r.where = where;
      bool unknown = false;
      r.ports =
          reg_ports(regs, (*d)[NFTA_MASQ_REG_PROTO_MIN], (*d)[NFTA_MASQ_REG_PROTO_MAX], unknown);
      auto flags = attr_be32((*d)[NFTA_MASQ_FLAGS], what);
      if (!flags) return std::unexpected(flags.error());
      r.random_fully = *flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY;
      r.ports_from_map = unknown;
      out.push_back(std::move(r));
    } else if (name == "nat") {
      auto type = attr_be32((*d)[NFTA_NAT_TYPE], what);
      if (!type) return std::unexpected(type.error());
      if (*type == NFT_NAT_SNAT) {
        auto fam = attr_be32((*d)[NFTA_NAT_FAMILY], what);
        if (!fam) return std::unexpected(fam.error());
        NatRule r;
        r.family = uint8_t(*fam ? *fam : table_family);
        r.where = where;
        const uint8_t l3 = r.family == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
        const std::size_t alen = l3 == AF_INET6 ? 16 : 4;
        if (const auto& amin = (*d)[NFTA_NAT_REG_ADDR_MIN]) {
          auto reg = get_be32(*amin, what);
          auto b = reg ? regs.read(*reg, alen) : std::nullopt;
          if (b) r.addr_min = addr_from(*b, l3);
          std::optional<std::span<const uint8_t>> bmax = b;
          if (const auto& amax = (*d)[NFTA_NAT_REG_ADDR_MAX]) {
            auto reg2 = get_be32(*amax, what);
            bmax = reg2 ? regs.read(*reg2, alen) : std::nullopt;
          }
          if (bmax) r.addr_max = addr_from(*bmax, l3);
        }
        bool unknown = false;
        r.ports =
            reg_ports(regs, (*d)[NFTA_NAT_REG_PROTO_MIN], (*d)[NFTA_NAT_REG_PROTO_MAX], unknown);
        auto flags = attr_be32((*d)[NFTA_NAT_FLAGS], what);
        if (!flags) return std::unexpected(flags.error());
        r.random_fully = *flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY;
        r.ports_from_map = unknown;
        out.push_back(std::move(r));
      }
    } else if (name == "target") {
      auto rev = attr_be32((*d)[NFTA_TARGET_REV], what);
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
  }
  return {};
}

}  // namespace cd
