// Test helper: builds ctnetlink and nf_tables messages, and transcripts of them, as the kernel
// sends them (host-order netlink headers, network-order attribute payloads), so that tests feed
// the real decoders through the replaying transport.
#pragma once

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "collect/conntrack_source.h"
#include "collect/ctnetlink_decode.h"

namespace cd::test {

class NlBuilder {
 public:
  void begin(uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id = 0) {
    start_ = buf_.size();
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    raw(&h, sizeof h);
    nfgenmsg g{};
    g.nfgen_family = family;
    g.version = NFNETLINK_V0;
    g.res_id = htons(res_id);
    raw(&g, sizeof g);
  }
  void end() {
    const uint32_t len = uint32_t(buf_.size() - start_);
    std::memcpy(buf_.data() + start_, &len, 4);
    pad();
  }
  void put(uint16_t type, const void* data, std::size_t n) {
    nlattr a{};
    a.nla_len = uint16_t(NLA_HDRLEN + n);
    a.nla_type = type;
    raw(&a, sizeof a);
    raw(data, n);
    pad();
  }
  void put_u8(uint16_t type, uint8_t v) { put(type, &v, 1); }
  void put_be16(uint16_t type, uint16_t v) {
    uint16_t n = htons(v);
    put(type, &n, 2);
  }
  void put_be32(uint16_t type, uint32_t v) {
    uint32_t n = htonl(v);
    put(type, &n, 4);
  }
  void put_str(uint16_t type, const std::string& s) { put(type, s.c_str(), s.size() + 1); }
  void nest(uint16_t type) {
    nests_.push_back(buf_.size());
    nlattr a{};
    a.nla_type = type | NLA_F_NESTED;
    raw(&a, sizeof a);
  }
  void end_nest() {
    const std::size_t at = nests_.back();
    nests_.pop_back();
    const uint16_t len = uint16_t(buf_.size() - at);
    std::memcpy(buf_.data() + at, &len, 2);
  }
  // A bare terminator or request header.
  void control(uint16_t type, uint16_t flags, int32_t value) {
    nlmsghdr h{};
    h.nlmsg_len = NLMSG_LENGTH(type == NLMSG_ERROR ? sizeof(nlmsgerr) : sizeof(int32_t));
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    const std::size_t at = buf_.size();
    buf_.resize(at + h.nlmsg_len, 0);
    std::memcpy(buf_.data() + at, &h, sizeof h);
    std::memcpy(buf_.data() + at + NLMSG_HDRLEN, &value, sizeof value);
  }
  void append(const std::vector<uint8_t>& b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  std::vector<uint8_t>& bytes() { return buf_; }

 private:
  void raw(const void* p, std::size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  void pad() { buf_.resize(NLMSG_ALIGN(buf_.size()), 0); }
  std::vector<uint8_t> buf_;
  std::size_t start_ = 0;
  std::vector<std::size_t> nests_;
};

inline void put_tuple(NlBuilder& b, uint16_t type, const Endpoint& src, const Endpoint& dst,
                      uint8_t proto) {
  const bool v6 = src.addr.family == AF_INET6;
  b.nest(type);
  b.nest(CTA_TUPLE_IP);
  b.put(v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, src.addr.bytes.data(), v6 ? 16 : 4);
  b.put(v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, dst.addr.bytes.data(), v6 ? 16 : 4);
  b.end_nest();
  b.nest(CTA_TUPLE_PROTO);
  b.put_u8(CTA_PROTO_NUM, proto);
  b.put_be16(CTA_PROTO_SRC_PORT, src.port);
  b.put_be16(CTA_PROTO_DST_PORT, dst.port);
  b.end_nest();
  b.end_nest();
}

// One IPCTNL_MSG_CT_NEW message as a dump carries it.
inline void put_entry(NlBuilder& b, const CtEntry& e) {
  b.begin((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_MULTI, e.family);
  put_tuple(b, CTA_TUPLE_ORIG, e.orig_src, e.orig_dst, e.protocol);
  put_tuple(b, CTA_TUPLE_REPLY, e.reply_src, e.reply_dst, e.protocol);
  b.put_be32(CTA_STATUS, e.status);
  if (e.timeout_s) b.put_be32(CTA_TIMEOUT, *e.timeout_s);
  if (e.tcp_state) {
    b.nest(CTA_PROTOINFO);
    b.nest(CTA_PROTOINFO_TCP);
    b.put_u8(CTA_PROTOINFO_TCP_STATE, *e.tcp_state);
    b.end_nest();
    b.end_nest();
  }
  b.end();
}

// One CPU's IPCTNL_MSG_CT_GET_STATS_CPU answer: (CTA_STATS_*, value) pairs.
inline void put_cpu_stats(NlBuilder& b, uint16_t cpu,
                          const std::vector<std::pair<uint16_t, uint32_t>>& values) {
  b.begin((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_MULTI, AF_UNSPEC, cpu);
  for (auto [type, v] : values) b.put_be32(type, v);
  b.end();
}

// nft expressions of one rule.
struct Expr {
  std::string name;
  std::vector<std::pair<uint16_t, uint32_t>> u32s;  // be32 attributes
  std::vector<uint8_t> immediate;                   // NFTA_IMMEDIATE_DATA value
  std::string target_name;                          // xt target
  std::vector<uint8_t> target_info;
};

inline Expr immediate(uint32_t reg, std::vector<uint8_t> value) {
  return Expr{"immediate", {{NFTA_IMMEDIATE_DREG, reg}}, std::move(value), {}, {}};
}
inline std::vector<uint8_t> be16_bytes(uint16_t v) {
  return {uint8_t(v >> 8), uint8_t(v)};
}

inline void put_rule(NlBuilder& b, uint8_t family, const std::string& table,
                     const std::string& chain, const std::vector<Expr>& exprs) {
  b.begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE, NLM_F_MULTI, family);
  b.put_str(NFTA_RULE_TABLE, table);
  b.put_str(NFTA_RULE_CHAIN, chain);
  b.nest(NFTA_RULE_EXPRESSIONS);
  for (const Expr& e : exprs) {
    b.nest(NFTA_LIST_ELEM);
    b.put_str(NFTA_EXPR_NAME, e.name);
    b.nest(NFTA_EXPR_DATA);
    if (e.name == "target") {
      b.put_str(NFTA_TARGET_NAME, e.target_name);
      for (auto [t, v] : e.u32s) b.put_be32(t, v);
      b.put(NFTA_TARGET_INFO, e.target_info.data(), e.target_info.size());
    } else {
      for (auto [t, v] : e.u32s) b.put_be32(t, v);
      if (e.name == "immediate") {
        b.nest(NFTA_IMMEDIATE_DATA);
        b.put(NFTA_DATA_VALUE, e.immediate.data(), e.immediate.size());
        b.end_nest();
      }
    }
    b.end_nest();
    b.end_nest();
  }
  b.end_nest();
  b.end();
}

// A transcript section: the request, the replies the callback adds, then a terminator
// (NLMSG_DONE, or NLMSG_ERROR carrying -err when err != 0).
// `interrupted` flags the NLMSG_DONE with NLM_F_DUMP_INTR (the table changed under the dump).
template <typename Fn>
void section(NlBuilder& b, NfQuery q, Fn&& replies, int err = 0, bool interrupted = false) {
  b.append(encode_query(q, 0));
  replies(b);
  if (err)
    b.control(NLMSG_ERROR, 0, -err);
  else
    b.control(NLMSG_DONE, NLM_F_MULTI | (interrupted ? NLM_F_DUMP_INTR : 0), 0);
}

// The IPCTNL_MSG_CT_GET_STATS answer: the namespace's entry count and the table's size.
inline void put_global_stats(NlBuilder& b, uint32_t entries, uint32_t max) {
  b.begin((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS, 0, AF_UNSPEC);
  b.put_be32(CTA_STATS_GLOBAL_ENTRIES, entries);
  b.put_be32(CTA_STATS_GLOBAL_MAX_ENTRIES, max);
  b.end();
}

inline std::unique_ptr<ConntrackSource> source_of(NlBuilder& b) {
  auto t = recorded_transport_from_bytes(b.bytes(), "test transcript");
  if (!t) return nullptr;
  return make_conntrack_source(std::move(*t));
}

inline Endpoint ep(const char* ip, uint16_t port) {
  return Endpoint{*IpAddr::parse(ip), port};
}

}  // namespace cd::test
