// The generic netlink reader every decoder shares (sock_diag, ctnetlink, nf_tables): messages
// of a buffer, the attributes of one level, fixed-size values out of them, and the nfnetlink
// header. Every length is checked before a byte is read: the same code parses untrusted
// transcript files (fuzzed).
#pragma once

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "snapshot/net_types.h"
#include "util/error.h"

namespace cd {

// One netlink message inside a larger buffer; the payload points into that buffer.
struct NlMsg {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t pid = 0;
  std::span<const uint8_t> payload;  // nlmsg_len - sizeof(nlmsghdr) bytes
  std::size_t offset = 0;            // where the message starts, counted from `base_offset`
};

// Walks the netlink messages of a buffer: one recv(), or a whole transcript file.
class NlMsgReader {
 public:
  // `base_offset` is added to every offset it reports (bytes already consumed from the stream).
  explicit NlMsgReader(std::span<const uint8_t> buf, std::size_t base_offset = 0)
      : buf_(buf), base_(base_offset) {}
  // Fills `out` and returns true, or false at the end of the buffer. A header or a message that
  // runs past the end is "truncated netlink message at byte N"; an nlmsg_len smaller than the
  // header is malformed (it would never advance).
  Result<bool> next(NlMsg& out);
  // Bytes consumed so far, relative to the buffer.
  std::size_t position() const { return pos_; }

 private:
  std::span<const uint8_t> buf_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

// One attribute (struct nlattr) of a level; `data` points into the message.
struct NlAttr {
  uint16_t type = 0;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
  std::span<const uint8_t> data;
};

// Walks the attributes of one level. Trailing bytes shorter than an attribute header are
// alignment padding; an attribute whose length runs past its parent is malformed ("WHAT:
// malformed attribute ...").
class NlAttrReader {
 public:
  NlAttrReader(std::span<const uint8_t> buf, std::string_view what) : buf_(buf), what_(what) {}
  Result<bool> next(NlAttr& a);

 private:
  std::span<const uint8_t> buf_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

// Calls `f(attr)` for each attribute of one level; `f` returns void or Result<void> (an error
// stops the walk and is returned).
template <typename F>
Result<void> for_each_attr(std::span<const uint8_t> buf, std::string_view what, F&& f) {
  NlAttrReader r(buf, what);
  NlAttr a;
  for (;;) {
    auto more = r.next(a);
    if (!more) return std::unexpected(more.error());
    if (!*more) return {};
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const NlAttr&>>) {
      f(a);
    } else {
      if (auto ok = f(a); !ok) return ok;
    }
  }
}

// One level of attributes by type (types beyond kMaxAttrs are ignored; a repeated one keeps
// the last).
inline constexpr std::size_t kMaxAttrs = 16;
using NlAttrs = std::array<std::optional<NlAttr>, kMaxAttrs>;
Result<NlAttrs> collect_attrs(std::span<const uint8_t> data, std::string_view what);

// Fixed-size values; a short attribute is "WHAT: short ..." (never a read past its end).
Result<uint8_t> attr_u8(const NlAttr& a, std::string_view what);
Result<uint16_t> attr_be16(const NlAttr& a, std::string_view what);
Result<uint32_t> attr_be32(const NlAttr& a, std::string_view what);
// 0 when the attribute is absent.
Result<uint32_t> attr_be32_or_0(const std::optional<NlAttr>& a, std::string_view what);
// A NUL-terminated string attribute, "?" when absent.
std::string attr_string(const std::optional<NlAttr>& a);
// An AF_INET (4 bytes) or AF_INET6 (16 bytes) address from `b`, which must be long enough.
IpAddr addr_from(std::span<const uint8_t> b, uint8_t family);
Result<IpAddr> attr_addr(const NlAttr& a, uint8_t family, std::string_view what);

// An nfnetlink message: nlmsghdr + nfgenmsg, then its attributes up to nlmsg_len.
struct NfnlHeader {
  uint16_t type = 0;
  uint16_t flags = 0;
  nfgenmsg nfg{};
  std::span<const uint8_t> attrs;
};
Result<NfnlHeader> nfnl_header(std::span<const uint8_t> msg, std::string_view what);

}  // namespace cd
