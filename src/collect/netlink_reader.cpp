// The generic netlink reader: messages, attributes, values, the nfnetlink header.
#include "collect/netlink_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace cd {

namespace {

std::string at_byte(std::size_t off) {
  return " at byte " + std::to_string(off);
}

}  // namespace

Result<bool> NlMsgReader::next(NlMsg& out) {
  if (pos_ >= buf_.size()) return false;
  const std::size_t left = buf_.size() - pos_;
  const std::size_t off = base_ + pos_;
  if (left < sizeof(nlmsghdr))
    return fail("truncated netlink message" + at_byte(off) + " (" + std::to_string(left) +
                " bytes, shorter than a netlink header)");
  nlmsghdr h;
  std::memcpy(&h, buf_.data() + pos_, sizeof h);
  if (h.nlmsg_len < sizeof(nlmsghdr))
    return fail("malformed netlink message" + at_byte(off) + ": nlmsg_len " +
                std::to_string(h.nlmsg_len) + " is shorter than its header");
  if (h.nlmsg_len > left)
    return fail("truncated netlink message" + at_byte(off) + " (nlmsg_len " +
                std::to_string(h.nlmsg_len) + ", " + std::to_string(left) + " bytes left)");
  out.type = h.nlmsg_type;
  out.flags = h.nlmsg_flags;
  out.seq = h.nlmsg_seq;
  out.pid = h.nlmsg_pid;
  out.payload = buf_.subspan(pos_ + sizeof(nlmsghdr), h.nlmsg_len - sizeof(nlmsghdr));
  out.offset = off;
  // Messages are padded to NLMSG_ALIGNTO; the last one of a buffer may lack its padding.
  const std::size_t aligned =
      (std::size_t(h.nlmsg_len) + NLMSG_ALIGNTO - 1) & ~std::size_t(NLMSG_ALIGNTO - 1);
  pos_ += std::min(aligned, left);
  return true;
}

Result<bool> NlAttrReader::next(NlAttr& a) {
  if (buf_.size() - pos_ < NLA_HDRLEN) return false;
  uint16_t len = 0;
  uint16_t type = 0;
  std::memcpy(&len, buf_.data() + pos_, 2);
  std::memcpy(&type, buf_.data() + pos_ + 2, 2);
  const std::size_t left = buf_.size() - pos_;
  if (len < NLA_HDRLEN || len > left)
    return fail(std::string(what_) + ": malformed attribute (length " + std::to_string(len) + ", " +
                std::to_string(left) + " bytes left)");
  a.type = type & NLA_TYPE_MASK;
  a.data = buf_.subspan(pos_ + NLA_HDRLEN, len - NLA_HDRLEN);
  pos_ += std::min<std::size_t>(NLA_ALIGN(len), left);
  return true;
}

Result<NlAttrs> collect_attrs(std::span<const uint8_t> data, std::string_view what) {
  NlAttrs out;
  auto ok = for_each_attr(data, what, [&](const NlAttr& a) {
    if (a.type < out.size()) out[a.type] = a;
  });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

Result<uint8_t> attr_u8(const NlAttr& a, std::string_view what) {
  if (a.data.empty()) return fail(std::string(what) + ": empty u8 attribute");
  return a.data[0];
}

Result<uint16_t> attr_be16(const NlAttr& a, std::string_view what) {
  if (a.data.size() < 2) return fail(std::string(what) + ": short u16 attribute");
  uint16_t v = 0;
  std::memcpy(&v, a.data.data(), 2);
  return ntohs(v);
}

Result<uint32_t> attr_be32(const NlAttr& a, std::string_view what) {
  if (a.data.size() < 4) return fail(std::string(what) + ": short u32 attribute");
  uint32_t v = 0;
  std::memcpy(&v, a.data.data(), 4);
  return ntohl(v);
}

Result<uint32_t> attr_be32_or_0(const std::optional<NlAttr>& a, std::string_view what) {
  if (!a) return 0u;
  return attr_be32(*a, what);
}

std::string attr_string(const std::optional<NlAttr>& a) {
  if (!a) return "?";
  std::string s(reinterpret_cast<const char*>(a->data.data()), a->data.size());
  if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  return s;
}

IpAddr addr_from(std::span<const uint8_t> b, uint8_t family) {
  IpAddr a;
  a.family = family;
  std::memcpy(a.bytes.data(), b.data(), family == AF_INET6 ? 16 : 4);
  return a;
}

Result<IpAddr> attr_addr(const NlAttr& a, uint8_t family, std::string_view what) {
  const std::size_t need = family == AF_INET6 ? 16 : 4;
  if (a.data.size() < need) return fail(std::string(what) + ": short address attribute");
  return addr_from(a.data, family);
}

Result<NfnlHeader> nfnl_header(std::span<const uint8_t> msg, std::string_view what) {
  nlmsghdr h;
  if (msg.size() < sizeof h) return fail(std::string(what) + ": message shorter than its header");
  std::memcpy(&h, msg.data(), sizeof h);
  if (h.nlmsg_len > msg.size() || h.nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg))
    return fail(std::string(what) + ": bad message length " + std::to_string(h.nlmsg_len));
  NfnlHeader out;
  out.type = h.nlmsg_type;
  out.flags = h.nlmsg_flags;
  std::memcpy(&out.nfg, msg.data() + NLMSG_HDRLEN, sizeof out.nfg);
  const std::size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  out.attrs =
      start <= h.nlmsg_len ? msg.subspan(start, h.nlmsg_len - start) : std::span<const uint8_t>{};
  return out;
}

}  // namespace cd
