// The sock_diag wire format (framing: netlink_reader.h): struct inet_diag_msg replies
// into SockRecord, DumpRequest into a SOCK_DIAG_BY_FAMILY request. Shared by the live source,
// the recorded-transcript replay and their tests.
#pragma once

#include <linux/inet_diag.h>
#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "collect/netlink_reader.h"
#include "collect/sock_source.h"
#include "util/error.h"

namespace cd {

enum class ReplyKind : uint8_t {
  kSocket,  // `out` holds a decoded socket
  kDone,    // NLMSG_DONE (or a bare ACK): the dump ended
  kSkip,    // a message that carries no socket (NLMSG_NOOP, an unknown type)
};

// Decodes one message of a dump reply. A message flagged NLM_F_DUMP_INTR is an Error whose
// `err` is kDumpInterrupted (sock_source.h): the dump is inconsistent and must be taken again.
// `protocol` comes from the request (inet_diag_msg does not carry it). NLMSG_ERROR, and NLMSG_DONE
// carrying a negative status, are Errors with the kernel's errno. An inet_diag_msg shorter than the
// struct is zero-padded, as ss does for old kernels; an address family other than AF_INET/AF_INET6
// is an Error.
Result<ReplyKind> decode_reply(const NlMsg& m, uint8_t protocol, SockRecord& out);

// The socket part alone: struct inet_diag_msg (attributes after it are ignored).
Result<void> decode_inet_diag_msg(std::span<const uint8_t> payload, uint8_t protocol,
                                  SockRecord& out);

// A SOCK_DIAG_BY_FAMILY dump request: nlmsghdr + struct inet_diag_req_v2, no extensions
// (idiag_ext = 0 keeps the dump cheap: the kernel then fills no tcp_info).
inline constexpr std::size_t kDiagRequestLen = NLMSG_LENGTH(sizeof(inet_diag_req_v2));
std::array<uint8_t, kDiagRequestLen> encode_dump_request(const DumpRequest& req, uint32_t seq);

// Reads back the request of a transcript section (a message with NLM_F_REQUEST set).
Result<DumpRequest> decode_dump_request(const NlMsg& m);

}  // namespace cd
