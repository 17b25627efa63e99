// Streams the unix_diag dump of listening sockets into UnixListener rows.
#include "collect/unix_listeners.h"

#include <sys/socket.h>

#include "collect/collector.h"

namespace cd {

namespace {

class UnixListenerSink : public UnixSockSink {
 public:
  void on_unix_socket(const UnixSockRecord& s) override {
    // Only listeners of connection-oriented types have an accept queue; the request asks for
    // listeners only, a recording may hold more.
    if (s.state != uint8_t(TcpState::kListen)) return;
    if (s.type != SOCK_STREAM && s.type != SOCK_SEQPACKET) return;
    UnixListener l;
    l.path = s.name;
    l.seqpacket = s.type == SOCK_SEQPACKET;
    l.queue_len = s.rqueue;
    l.queue_limit = s.wqueue;
    l.inode = s.inode;
    out.push_back(std::move(l));
  }
  std::vector<UnixListener> out;
};

}  // namespace

Result<std::optional<std::vector<UnixListener>>> collect_unix_listeners(SockSource& src) {
  for (int attempt = 1;; ++attempt) {
    UnixListenerSink sink;
    auto ok = src.dump_unix_listeners(sink);
    if (!ok) {
      if (dump_interrupted(ok.error()) && attempt < kDumpAttempts) continue;
      return std::unexpected(ok.error());
    }
    if (!*ok) return std::nullopt;
    return std::move(sink.out);
  }
}

}  // namespace cd
