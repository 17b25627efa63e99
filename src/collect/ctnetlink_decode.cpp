// Decoding of ctnetlink messages (conntrack entries and stats) over the shared netlink reader.
#include "collect/ctnetlink_decode.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>

#include "collect/netlink_reader.h"

namespace cd {

namespace {

uint8_t l3_family(uint8_t nfgen_family) {
  return nfgen_family == AF_INET6 ? AF_INET6 : AF_INET;
}

// CTA_TUPLE_ORIG / CTA_TUPLE_REPLY: addresses in CTA_TUPLE_IP, protocol and ports in
// CTA_TUPLE_PROTO (ports only for protocols that have them; ICMP carries id/type/code).
Result<void> decode_tuple(std::span<const uint8_t> data, Endpoint& src, Endpoint& dst,
                          uint8_t& proto) {
  static constexpr std::string_view what = "ctnetlink tuple";
  auto ip = [&](const NlAttr& b) -> Result<void> {
    const bool is_src = b.type == CTA_IP_V4_SRC || b.type == CTA_IP_V6_SRC;
    const bool v4 = b.type == CTA_IP_V4_SRC || b.type == CTA_IP_V4_DST;
    const bool v6 = b.type == CTA_IP_V6_SRC || b.type == CTA_IP_V6_DST;
    if (!v4 && !v6) return {};
    auto addr = attr_addr(b, v4 ? AF_INET : AF_INET6, what);
    if (!addr) return std::unexpected(addr.error());
    (is_src ? src : dst).addr = *addr;
    return {};
  };
  auto ports = [&](const NlAttr& b) -> Result<void> {
    if (b.type == CTA_PROTO_NUM) {
      auto v = attr_u8(b, what);
      if (!v) return std::unexpected(v.error());
      proto = *v;
    } else if (b.type == CTA_PROTO_SRC_PORT || b.type == CTA_PROTO_DST_PORT) {
      auto v = attr_be16(b, what);
      if (!v) return std::unexpected(v.error());
      (b.type == CTA_PROTO_SRC_PORT ? src : dst).port = *v;
    }
    return {};
  };
  return for_each_attr(data, what, [&](const NlAttr& a) -> Result<void> {
    if (a.type == CTA_TUPLE_IP) return for_each_attr(a.data, what, ip);
    if (a.type == CTA_TUPLE_PROTO) return for_each_attr(a.data, what, ports);
    return {};
  });
}

Result<uint8_t> decode_tcp_state(std::span<const uint8_t> protoinfo) {
  static constexpr std::string_view what = "ctnetlink protoinfo";
  std::optional<uint8_t> state;
  auto ok = for_each_attr(protoinfo, what, [&](const NlAttr& a) -> Result<void> {
    if (a.type != CTA_PROTOINFO_TCP || state) return {};
    return for_each_attr(a.data, what, [&](const NlAttr& b) -> Result<void> {
      if (b.type != CTA_PROTOINFO_TCP_STATE || state) return {};
      auto v = attr_u8(b, what);
      if (!v) return std::unexpected(v.error());
      state = *v;
      return {};
    });
  });
  if (!ok) return std::unexpected(ok.error());
  if (!state) return fail("ctnetlink protoinfo: no TCP state");
  return *state;
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
  auto h = nfnl_header(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)) return false;
  out = CtEntry{};
  out.family = l3_family(h->nfg.nfgen_family);
  bool orig = false, reply = false;
  uint8_t proto_orig = 0, proto_reply = 0;
  auto ok = for_each_attr(h->attrs, what, [&](const NlAttr& a) -> Result<void> {
    switch (a.type) {
      case CTA_TUPLE_ORIG:
        orig = true;
        return decode_tuple(a.data, out.orig_src, out.orig_dst, proto_orig);
      case CTA_TUPLE_REPLY:
        reply = true;
        return decode_tuple(a.data, out.reply_src, out.reply_dst, proto_reply);
      case CTA_STATUS: {
        auto v = attr_be32(a, what);
        if (!v) return std::unexpected(v.error());
        out.status = *v;
        return {};
      }
      case CTA_TIMEOUT: {
        auto v = attr_be32(a, what);
        if (!v) return std::unexpected(v.error());
        out.timeout_s = *v;
        return {};
      }
      case CTA_PROTOINFO:
        // Other protocols carry DCCP/SCTP info here: not ours, and not an error.
        if (auto s = decode_tcp_state(a.data)) out.tcp_state = *s;
        return {};
      default:
        return {};
    }
  });
  if (!ok) return std::unexpected(ok.error());
  if (!orig) return fail("ctnetlink entry without an original tuple");
  out.protocol = proto_orig;
  if (!reply) {  // never seen from the kernel; keep the entry self-consistent
    out.reply_src = out.orig_dst;
    out.reply_dst = out.orig_src;
  }
  if (out.protocol != IPPROTO_TCP) out.tcp_state.reset();
  return true;
}

Result<void> add_cpu_stats(std::span<const uint8_t> msg, CtCpuStats& out) {
  static constexpr std::string_view what = "ctnetlink per-CPU stats";
  auto h = nfnl_header(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU)) return {};
  ++out.cpus;
  return for_each_attr(h->attrs, what, [&](const NlAttr& a) -> Result<void> {
    if (a.type >= kStatNames.size() || kStatNames[a.type].empty()) return {};
    auto v = attr_be32(a, what);
    if (!v) return std::unexpected(v.error());
    out.sums[std::string(kStatNames[a.type])] += int64_t(*v);
    return {};
  });
}

Result<void> decode_global_stats(std::span<const uint8_t> msg, CtGlobalStats& out) {
  static constexpr std::string_view what = "ctnetlink global stats";
  auto h = nfnl_header(msg, what);
  if (!h) return std::unexpected(h.error());
  if (h->type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS)) return {};
  return for_each_attr(h->attrs, what, [&](const NlAttr& a) -> Result<void> {
    if (a.type != CTA_STATS_GLOBAL_ENTRIES && a.type != CTA_STATS_GLOBAL_MAX_ENTRIES) return {};
    auto v = attr_be32(a, what);
    if (!v) return std::unexpected(v.error());
    (a.type == CTA_STATS_GLOBAL_ENTRIES ? out.entries : out.max) = int64_t(*v);
    return {};
  });
}

}  // namespace cd
