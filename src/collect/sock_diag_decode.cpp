// Decoding of sock_diag netlink messages; every length is checked against the buffer before a
// byte is read, because the same code parses untrusted transcript files.
#include "collect/sock_diag_decode.h"

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

namespace cd {

namespace {

std::string at_byte(std::size_t off) {
  return " at byte " + std::to_string(off);
}

int32_t read_i32(std::span<const uint8_t> p) {
  int32_t v = 0;
  std::memcpy(&v, p.data(), sizeof v);
  return v;
}

// A kernel errno arrives negated; anything else (a corrupt file) still becomes a positive
// errno without overflowing on INT_MIN.
int errno_of(int32_t negated) {
  int64_t e = -int64_t(negated);
  return e > 0 && e < 1 << 20 ? int(e) : EIO;
}

}  // namespace

Result<void> decode_inet_diag_msg(std::span<const uint8_t> payload, uint8_t protocol,
                                  SockRecord& out) {
  // Zero-pad a short struct instead of rejecting it (iproute2 ss does the same): fields an
  // older kernel did not send read as 0.
  inet_diag_msg d;
  const std::size_t n = std::min(payload.size(), sizeof d);
  std::memcpy(&d, payload.data(), n);
  if (n < sizeof d) std::memset(reinterpret_cast<uint8_t*>(&d) + n, 0, sizeof d - n);

  if (d.idiag_family == AF_INET) {
    out.local.addr = IpAddr::v4(d.id.idiag_src[0]);
    out.remote.addr = IpAddr::v4(d.id.idiag_dst[0]);
  } else if (d.idiag_family == AF_INET6) {
    out.local.addr.family = AF_INET6;
    out.remote.addr.family = AF_INET6;
    std::memcpy(out.local.addr.bytes.data(), d.id.idiag_src, 16);
    std::memcpy(out.remote.addr.bytes.data(), d.id.idiag_dst, 16);
  } else {
    return fail("inet_diag_msg: unknown address family " + std::to_string(d.idiag_family));
  }
  out.family = d.idiag_family;
  out.protocol = protocol;
  out.state = d.idiag_state;
  out.timer = d.idiag_timer;
  // inet_sk_diag_fill(): with the retransmit timer pending, icsk_retransmits. A SYN_SENT
  // socket with a non-zero count has had no SYN-ACK for at least the initial RTO (1 s).
  out.retrans = d.idiag_timer == 1 ? d.idiag_retrans : 0;
  out.local.port = ntohs(d.id.idiag_sport);
  out.remote.port = ntohs(d.id.idiag_dport);
  out.inode = d.idiag_inode;
  out.uid = d.idiag_uid;
  out.rqueue = d.idiag_rqueue;
  out.wqueue = d.idiag_wqueue;
  out.expires_ms = d.idiag_expires;  // jiffies_delta_to_msecs() in inet_diag: milliseconds
  return {};
}

namespace {

// What every dump reply shares: interrupted dumps, the end of the dump and kernel errors.
// nullopt for a message that carries a socket (or an unknown type, kSkip is decided by the
// caller).
std::optional<Result<ReplyKind>> control_message(const NlMsg& m) {
  // nl_dump_check_consistent() flags every message filled after the table changed under the
  // dump: what it has sent so far may miss or repeat sockets, so none of it can be counted.
  if (m.flags & NLM_F_DUMP_INTR)
    return std::unexpected(Error{"sock_diag dump interrupted" + at_byte(m.offset) +
                                     " (NLM_F_DUMP_INTR: the socket table changed while it was "
                                     "dumped)",
                                 kDumpInterrupted});
  switch (m.type) {
    case NLMSG_DONE:
      // netlink_dump_done() puts the dump callback's status in DONE: negative = the dump
      // failed part-way and what came before is incomplete.
      if (m.payload.size() >= sizeof(int32_t)) {
        int32_t status = read_i32(m.payload);
        if (status < 0)
          return std::unexpected(Error::from_errno(
              "sock_diag dump ended with an error" + at_byte(m.offset), errno_of(status)));
      }
      return ReplyKind::kDone;
    case NLMSG_ERROR: {
      if (m.payload.size() < sizeof(int32_t))
        return fail("malformed NLMSG_ERROR" + at_byte(m.offset) + ": no error code");
      int32_t e = read_i32(m.payload);
      if (e == 0) return ReplyKind::kDone;  // an ACK
      return std::unexpected(
          Error::from_errno("sock_diag request refused" + at_byte(m.offset), errno_of(e)));
    }
    case NLMSG_OVERRUN:
      return fail("netlink overrun" + at_byte(m.offset));
    default:
      return std::nullopt;
  }
}

}  // namespace

Result<ReplyKind> decode_reply(const NlMsg& m, uint8_t protocol, SockRecord& out) {
  if (auto c = control_message(m)) return *c;
  switch (m.type) {
    case SOCK_DIAG_BY_FAMILY:
    case TCPDIAG_GETSOCK:  // the legacy inet_diag request answers with the same struct
    case DCCPDIAG_GETSOCK: {
      auto r = decode_inet_diag_msg(m.payload, protocol, out);
      if (!r) return fail("netlink message" + at_byte(m.offset) + ": " + r.error().message);
      return ReplyKind::kSocket;
    }
    default:
      return ReplyKind::kSkip;  // NLMSG_NOOP and types this tool does not know
  }
}

std::string unix_display_name(std::span<const uint8_t> raw) {
  std::string out;
  std::size_t n = raw.size();
  const bool abstract = n > 0 && raw[0] == 0;
  // A path keeps its terminating NUL in the kernel's copy (unix_mkname_bsd()); an abstract
  // name is exactly its bytes.
  if (!abstract)
    while (n > 0 && raw[n - 1] == 0) --n;
  out.reserve(n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const uint8_t c = raw[i];
    if (c == 0) {
      out += '@';
    } else if (c < 0x20 || c >= 0x7f || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

Result<void> decode_unix_diag_msg(std::span<const uint8_t> payload, UnixSockRecord& out) {
  unix_diag_msg d;
  if (payload.size() < sizeof d)
    return fail("unix_diag_msg: " + std::to_string(payload.size()) + " bytes, shorter than the " +
                std::to_string(sizeof d) + "-byte struct");
  std::memcpy(&d, payload.data(), sizeof d);
  if (d.udiag_family != AF_UNIX)
    return fail("unix_diag_msg: address family " + std::to_string(d.udiag_family) +
                ", not AF_UNIX");
  out = UnixSockRecord{};
  out.type = d.udiag_type;
  out.state = d.udiag_state;
  out.inode = d.udiag_ino;
  const std::size_t start = NLMSG_ALIGN(sizeof d);
  if (start >= payload.size()) return {};
  return for_each_attr(payload.subspan(start), "unix_diag_msg",
                       [&out](const NlAttr& a) -> Result<void> {
                         if (a.type == UNIX_DIAG_NAME) {
                           out.name = unix_display_name(a.data);
                         } else if (a.type == UNIX_DIAG_RQLEN) {
                           unix_diag_rqlen q;
                           if (a.data.size() < sizeof q)
                             return fail("unix_diag_msg: short UNIX_DIAG_RQLEN attribute");
                           std::memcpy(&q, a.data.data(), sizeof q);
                           out.has_rqlen = true;
                           out.rqueue = q.udiag_rqueue;
                           out.wqueue = q.udiag_wqueue;
                         }
                         return {};
                       });
}

Result<ReplyKind> decode_unix_reply(const NlMsg& m, UnixSockRecord& out) {
  if (auto c = control_message(m)) return *c;
  if (m.type != SOCK_DIAG_BY_FAMILY) return ReplyKind::kSkip;
  auto r = decode_unix_diag_msg(m.payload, out);
  if (!r) return fail("netlink message" + at_byte(m.offset) + ": " + r.error().message);
  return ReplyKind::kSocket;
}

std::array<uint8_t, kUnixRequestLen> encode_unix_dump_request(uint32_t seq) {
  std::array<uint8_t, kUnixRequestLen> b{};
  nlmsghdr h{};
  h.nlmsg_len = kUnixRequestLen;
  h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h.nlmsg_seq = seq;
  unix_diag_req r{};
  r.sdiag_family = AF_UNIX;
  r.sdiag_protocol = 0;
  r.udiag_states = kUnixListenStates;
  r.udiag_ino = 0;
  r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN;
  std::memcpy(b.data(), &h, sizeof h);
  std::memcpy(b.data() + NLMSG_HDRLEN, &r, sizeof r);
  return b;
}

std::array<uint8_t, kDiagRequestLen> encode_dump_request(const DumpRequest& req, uint32_t seq) {
  std::array<uint8_t, kDiagRequestLen> b{};
  nlmsghdr h{};
  h.nlmsg_len = kDiagRequestLen;
  h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h.nlmsg_seq = seq;
  inet_diag_req_v2 r{};
  r.sdiag_family = req.family;
  r.sdiag_protocol = req.protocol;
  r.idiag_ext = 0;
  r.idiag_states = req.states;
  std::memcpy(b.data(), &h, sizeof h);
  std::memcpy(b.data() + NLMSG_HDRLEN, &r, sizeof r);
  return b;
}

Result<DumpRequest> decode_dump_request(const NlMsg& m) {
  if (m.type != SOCK_DIAG_BY_FAMILY || !(m.flags & NLM_F_REQUEST))
    return fail("netlink message" + at_byte(m.offset) + " is not a SOCK_DIAG_BY_FAMILY request");
  // sdiag_family is the first byte of both request structs.
  if (!m.payload.empty() && m.payload[0] == AF_UNIX) {
    if (m.payload.size() < sizeof(unix_diag_req))
      return fail("sock_diag request" + at_byte(m.offset) + " is shorter than unix_diag_req (" +
                  std::to_string(m.payload.size()) + " bytes)");
    unix_diag_req r;
    std::memcpy(&r, m.payload.data(), sizeof r);
    return DumpRequest{AF_UNIX, 0, r.udiag_states};
  }
  if (m.payload.size() < sizeof(inet_diag_req_v2))
    return fail("sock_diag request" + at_byte(m.offset) + " is shorter than inet_diag_req_v2 (" +
                std::to_string(m.payload.size()) + " bytes)");
  inet_diag_req_v2 r;
  std::memcpy(&r, m.payload.data(), sizeof r);
  return DumpRequest{r.sdiag_family, r.sdiag_protocol, r.idiag_states};
}

}  // namespace cd
