// Decoding of sock_diag netlink messages; every length is checked against the buffer before a
// byte is read, because the same code parses untrusted transcript files.
#include "collect/sock_diag_decode.h"

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
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

Result<ReplyKind> decode_reply(const NlMsg& m, uint8_t protocol, SockRecord& out) {
  // nl_dump_check_consistent() flags every message filled after the table changed under the
  // dump: what it has sent so far may miss or repeat sockets, so none of it can be counted.
  if (m.flags & NLM_F_DUMP_INTR)
    return std::unexpected(Error{"sock_diag dump interrupted" + at_byte(m.offset) +
                                     " (NLM_F_DUMP_INTR: the socket table changed while it was "
                                     "dumped)",
                                 kDumpInterrupted});
  switch (m.type) {
    case SOCK_DIAG_BY_FAMILY:
    case TCPDIAG_GETSOCK:  // the legacy inet_diag request answers with the same struct
    case DCCPDIAG_GETSOCK: {
      auto r = decode_inet_diag_msg(m.payload, protocol, out);
      if (!r) return fail("netlink message" + at_byte(m.offset) + ": " + r.error().message);
      return ReplyKind::kSocket;
    }
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
      return ReplyKind::kSkip;  // NLMSG_NOOP and types this tool does not know
  }
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
  if (m.payload.size() < sizeof(inet_diag_req_v2))
    return fail("sock_diag request" + at_byte(m.offset) + " is shorter than inet_diag_req_v2 (" +
                std::to_string(m.payload.size()) + " bytes)");
  inet_diag_req_v2 r;
  std::memcpy(&r, m.payload.data(), sizeof r);
  return DumpRequest{r.sdiag_family, r.sdiag_protocol, r.idiag_states};
}

}  // namespace cd
