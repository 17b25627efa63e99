// The live socket source: a NETLINK_SOCK_DIAG dump over libmnl, decoded in place from one
// reused receive buffer, so that a million sockets stream with no allocation per socket.
#include <libmnl/libmnl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "collect/sock_diag_decode.h"
#include "collect/sock_source.h"

namespace cd {

namespace {

struct MnlClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlClose>;

// netlink_recvmsg() caps the size of the skbs a dump is built in at
// SKB_WITH_OVERHEAD(32768), so one recv() never returns more than ~32 KiB; a bigger buffer only
// guards against a future kernel raising that cap (libmnl reports MSG_TRUNC as ENOSPC, which
// would otherwise silently drop sockets).
constexpr std::size_t kRecvBuffer = 256 * 1024;

Result<MnlSocket> open_socket(uint32_t& portid) {
  MnlSocket nl(mnl_socket_open(NETLINK_SOCK_DIAG));
  if (!nl) return fail_errno("sock_diag: socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return fail_errno("sock_diag: bind netlink socket");
  portid = mnl_socket_get_portid(nl.get());
  return nl;
}

const char* describe(const DumpRequest& req) {
  bool v6 = req.family == AF_INET6;
  if (req.protocol == IPPROTO_UDP) return v6 ? "UDP/IPv6" : "UDP/IPv4";
  return v6 ? "TCP/IPv6" : "TCP/IPv4";
}

class NetlinkSockSource : public SockSource {
 public:
  NetlinkSockSource(MnlSocket nl, uint32_t portid)
      : nl_(std::move(nl)),
        portid_(portid),
        buf_(std::make_unique_for_overwrite<uint8_t[]>(kRecvBuffer)) {}

  bool set_raw_observer(RawDumpObserver* obs) override {
    obs_ = obs;
    return true;
  }

  Result<void> dump(const DumpRequest& req, SockSink& sink) override {
    SockRecord rec;
    auto msg = [&req](uint32_t seq) { return encode_dump_request(req, seq); };
    auto decode = [&](const NlMsg& m) -> Result<ReplyKind> {
      auto kind = decode_reply(m, req.protocol, rec);
      if (kind && *kind == ReplyKind::kSocket) sink.on_socket(rec);
      return kind;
    };
    return guarded(describe(req), msg, decode);
  }

  Result<bool> dump_unix_listeners(UnixSockSink& sink) override {
    UnixSockRecord rec;
    auto msg = [](uint32_t seq) { return encode_unix_dump_request(seq); };
    auto decode = [&](const NlMsg& m) -> Result<ReplyKind> {
      auto kind = decode_unix_reply(m, rec);
      if (kind && *kind == ReplyKind::kSocket) sink.on_unix_socket(rec);
      return kind;
    };
    auto r = guarded("unix listeners", msg, decode);
    if (!r) return std::unexpected(r.error());
    return true;
  }

 private:
  template <typename Encode, typename Decode>
  Result<void> guarded(const char* what, Encode&& encode, Decode&& decode) {
    // A dump abandoned half-way leaves the kernel's dump running on the socket (a new request
    // would get EBUSY from netlink_dump_start()): start over on a fresh socket instead.
    if (!nl_) {
      auto nl = open_socket(portid_);
      if (!nl) return std::unexpected(nl.error());
      nl_ = std::move(*nl);
    }
    const uint32_t seq = ++seq_;
    const auto msg = encode(seq);
    auto r = run(seq, msg, decode);
    if (!r) {
      nl_.reset();
      r.error().message = std::string("sock_diag dump of ") + what + ": " + r.error().message;
    }
    return r;
  }

  // Sends one request and decodes its answers up to NLMSG_DONE; `decode` passes each socket on.
  template <typename Decode>
  Result<void> run(uint32_t seq, std::span<const uint8_t> msg, Decode& decode) {
    if (mnl_socket_sendto(nl_.get(), msg.data(), msg.size()) < 0) return fail_errno("send");
    if (obs_) obs_->on_request(msg);

    std::size_t stream_off = 0;  // bytes of this dump received so far, for error offsets
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_.get(), buf_.get(), kRecvBuffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail_errno("recv");
      }
      std::span<const uint8_t> got(buf_.get(), std::size_t(n));
      NlMsgReader reader(got, stream_off);
      NlMsg m;
      std::size_t run_start = 0;  // start of the bytes not yet shown to the observer
      bool done = false;
      for (;;) {
        std::size_t at = reader.position();
        auto more = reader.next(m);
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        // Only answers to this request: anything else is not part of the transcript.
        if (m.seq != seq || m.pid != portid_) {
          if (obs_ && at > run_start) obs_->on_reply(got.subspan(run_start, at - run_start), false);
          run_start = reader.position();
          continue;
        }
        auto kind = decode(m);
        if (!kind) {
          // A kernel error (it carries an errno) ends the dump: record it so that replay fails
          // the same way. A malformed message is not recorded; the recorder closes the section.
          if (obs_ && kind.error().err != 0)
            obs_->on_reply(got.subspan(run_start, reader.position() - run_start), true);
          return std::unexpected(kind.error());
        }
        if (*kind == ReplyKind::kDone) {
          done = true;
          break;
        }
      }
      if (obs_ && reader.position() > run_start)
        obs_->on_reply(got.subspan(run_start, reader.position() - run_start), done);
      if (done) return {};
      stream_off += got.size();
    }
  }

  MnlSocket nl_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  // Not zeroed: --all-netns opens one per namespace, and only the pages a recv() fills are
  // ever touched.
  std::unique_ptr<uint8_t[]> buf_;
  RawDumpObserver* obs_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<SockSource>> open_netlink_sock_source() {
  uint32_t portid = 0;
  auto nl = open_socket(portid);
  if (!nl) return std::unexpected(nl.error());
  return std::make_unique<NetlinkSockSource>(std::move(*nl), portid);
}

}  // namespace cd
