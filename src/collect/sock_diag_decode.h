// The sock_diag wire format (framing: netlink_reader.h): struct inet_diag_msg replies
// into SockRecord, DumpRequest into a SOCK_DIAG_BY_FAMILY request. Shared by the live source,
// the recorded-transcript replay and their tests.
#pragma once

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/unix_diag.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

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

// Reads back the request of a transcript section (a message with NLM_F_REQUEST set). An
// AF_UNIX request (struct unix_diag_req) reads back as {AF_UNIX, 0, udiag_states}.
Result<DumpRequest> decode_dump_request(const NlMsg& m);

// AF_UNIX (unix_diag): one message of the reply to encode_unix_dump_request(). NLMSG_DONE,
// NLMSG_ERROR and NLM_F_DUMP_INTR as decode_reply(). A struct unix_diag_msg shorter than the
// struct (it has not changed since it appeared in 3.3), a family other than AF_UNIX, or a
// malformed attribute is an Error.
Result<ReplyKind> decode_unix_reply(const NlMsg& m, UnixSockRecord& out);

// The socket part alone: struct unix_diag_msg and its UNIX_DIAG_NAME / UNIX_DIAG_RQLEN
// attributes (the others are ignored).
Result<void> decode_unix_diag_msg(std::span<const uint8_t> payload, UnixSockRecord& out);

// UNIX_DIAG_NAME as people read it (ss's notation): a path as it is (the trailing NUL the
// kernel keeps is dropped); an abstract name, whose first byte is NUL, as "@name" with any
// other NUL shown as '@' too. Bytes that are not printable ASCII are written as \xNN, so
// that the name is always valid UTF-8 in JSON.
std::string unix_display_name(std::span<const uint8_t> raw);

// The AF_UNIX dump request: nlmsghdr + struct unix_diag_req for listening sockets
// (kUnixListenStates), with UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN.
inline constexpr std::size_t kUnixRequestLen = NLMSG_LENGTH(sizeof(unix_diag_req));
std::array<uint8_t, kUnixRequestLen> encode_unix_dump_request(uint32_t seq);

}  // namespace cd
