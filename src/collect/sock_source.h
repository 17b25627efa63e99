// Where sockets come from: a live NETLINK_SOCK_DIAG dump, or a recorded transcript of one
// (the fake used by tests and by `check --sock-diag-dump`). Collectors never print.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "snapshot/net_types.h"
#include "util/error.h"

namespace cd {

// One decoded struct inet_diag_msg.
struct SockRecord {
  uint8_t family = 0;    // AF_INET / AF_INET6
  uint8_t protocol = 0;  // IPPROTO_TCP / IPPROTO_UDP (from the request)
  uint8_t state = 0;     // TcpState number
  uint8_t timer = 0;
  uint8_t retrans = 0;  // idiag_retrans: SYN_SENT with timer 1 -> SYN retransmits so far
  Endpoint local;
  Endpoint remote;
  uint32_t inode = 0;  // 0 for TIME_WAIT: it belongs to no process
  uint32_t uid = 0;
  uint32_t rqueue = 0;      // LISTEN: accept-queue length
  uint32_t wqueue = 0;      // LISTEN: accept-queue limit
  uint32_t expires_ms = 0;  // TIME_WAIT: time left
};

struct DumpRequest {
  uint8_t family = 0;
  uint8_t protocol = 0;
  uint32_t states = ~0u;  // bitmask of 1 << TcpState
};

// Error::err of a dump the kernel flagged NLM_F_DUMP_INTR (the table changed while it was
// dumped: sockets may be missing or seen twice). recv()'s own EINTR is retried where it
// happens, so this errno reaches a caller only for an interrupted dump; collect_reading
// takes the whole dump again (kDumpAttempts in all) and fails if every attempt was interrupted.
inline constexpr int kDumpInterrupted = EINTR;
inline bool dump_interrupted(const Error& e) {
  return e.err == kDumpInterrupted;
}

class SockSink {
 public:
  virtual ~SockSink() = default;
  virtual void on_socket(const SockRecord& s) = 0;
};

// One decoded struct unix_diag_msg of a listening AF_UNIX socket (UDIAG_SHOW_NAME |
// UDIAG_SHOW_RQLEN). For a listener unix_diag's sk_diag_show_rqlen() reports the accept-queue
// length (sk_receive_queue: one skb per connection not yet accept()ed) and sk_max_ack_backlog,
// the listen() backlog already capped at net.core.somaxconn by __sys_listen().
struct UnixSockRecord {
  uint8_t type = 0;   // SOCK_STREAM / SOCK_SEQPACKET
  uint8_t state = 0;  // TcpState number (TCP_LISTEN for listeners)
  uint32_t inode = 0;
  std::string name;  // the path; an abstract name as "@name"; "" when unbound
  bool has_rqlen = false;
  uint32_t rqueue = 0;  // LISTEN: connections queued
  uint32_t wqueue = 0;  // LISTEN: backlog limit
};

// The AF_UNIX request: listening sockets only, with their name and queue lengths.
inline constexpr uint32_t kUnixListenStates = 1u << 10;  // 1 << TCP_LISTEN

class UnixSockSink {
 public:
  virtual ~UnixSockSink() = default;
  virtual void on_unix_socket(const UnixSockRecord& s) = 0;
};

// Sees the raw netlink bytes of each dump, for recording a transcript: the request message
// as sent, then the reply messages as received; `final` marks the bytes that end with the
// dump's NLMSG_DONE or NLMSG_ERROR.
class RawDumpObserver {
 public:
  virtual ~RawDumpObserver() = default;
  virtual void on_request(std::span<const uint8_t> msg) = 0;
  virtual void on_reply(std::span<const uint8_t> msgs, bool final) = 0;
};

class SockSource {
 public:
  virtual ~SockSource() = default;
  // Streams every matching socket to the sink. An error means the dump is unusable
  // (truncated or malformed message, netlink error); the sink may have seen part of it.
  virtual Result<void> dump(const DumpRequest& req, SockSink& sink) = 0;
  // Streams the AF_UNIX listening sockets (one SOCK_DIAG_BY_FAMILY request with struct
  // unix_diag_req, states = kUnixListenStates). Returns false when this source cannot tell
  // (a recording made before unix listeners were dumped, a fake that has none): the unix
  // listeners are then unknown, not absent. Errors as for dump(); a kernel that refuses the
  // request (no unix_diag) is an Error with its errno.
  virtual Result<bool> dump_unix_listeners(UnixSockSink& sink) {
    (void)sink;
    return false;
  }
  // Sources that speak netlink report their raw bytes to `obs` (nullptr stops it) and
  // return true; the others return false and cannot be recorded.
  virtual bool set_raw_observer(RawDumpObserver* obs) {
    (void)obs;
    return false;
  }
};

// NETLINK_SOCK_DIAG over libmnl, in the caller's network namespace. TCP needs no privilege.
Result<std::unique_ptr<SockSource>> open_netlink_sock_source();

// Replays a transcript written by RecordingSockSource: each request message followed by the
// kernel's answers up to NLMSG_DONE, as raw netlink bytes.
Result<std::unique_ptr<SockSource>> open_recorded_sock_source(const std::string& path);

// Passes a live dump through and appends the transcript to a file (`conndoctor record`). The
// file is truncated when opened; each dump() then appends its section.
Result<std::unique_ptr<SockSource>> open_recording_sock_source(std::unique_ptr<SockSource> inner,
                                                               const std::string& path);

}  // namespace cd
