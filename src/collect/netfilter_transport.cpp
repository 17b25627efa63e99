// The live NETLINK_NETFILTER transport (libmnl): sends one ctnetlink or nf_tables query and
// streams the kernel's reply messages to the caller without storing them.
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "collect/conntrack_source.h"
#include "collect/ctnetlink_decode.h"
#include "collect/netlink_reader.h"

namespace cd {

namespace {

// One recv() of a dump holds as much as the kernel put in one skb: netlink_dump() sizes it
// from the largest buffer the reader used, capped at 32 KiB of payload, so 64 KiB never truncates.
constexpr std::size_t kRecvBuffer = 64 * 1024;

class MnlSocket {
 public:
  explicit MnlSocket(mnl_socket* s) : s_(s) {}
  MnlSocket(const MnlSocket&) = delete;
  MnlSocket& operator=(const MnlSocket&) = delete;
  ~MnlSocket() {
    if (s_) mnl_socket_close(s_);
  }
  mnl_socket* get() const { return s_; }

 private:
  mnl_socket* s_;
};

// A query to a netfilter subsystem that is not registered makes nfnetlink call
// request_module("nfnetlink-subsys-%d") (nfnetlink_rcv_msg() [net/netfilter/nfnetlink.c]), and
// opening the socket loads nfnetlink itself: a read-only tool must not load kernel modules, so
// it asks only when the module is loaded or built in. Without /proc/modules the kernel cannot
// load modules at all.
bool module_present(const std::string& name) {
  if (::access("/proc/modules", F_OK) != 0) return true;
  if (::access(("/sys/module/" + name).c_str(), F_OK) == 0) return true;  // loaded
  utsname u{};
  if (::uname(&u) != 0) return false;
  std::ifstream builtin(std::string("/lib/modules/") + u.release + "/modules.builtin");
  const std::string suffix = "/" + name + ".ko";
  for (std::string line; std::getline(builtin, line);)
    if (line.size() >= suffix.size() &&
        line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

int errno_of(int32_t negated) {
  int64_t e = -int64_t(negated);
  return e > 0 && e < 1 << 20 ? int(e) : EIO;
}

Result<mnl_socket*> open_socket() {
  if (!module_present("nfnetlink"))
    return fail_errno("nfnetlink module not loaded (conndoctor never loads kernel modules)",
                      ENOENT);
  mnl_socket* s = mnl_socket_open(NETLINK_NETFILTER);
  if (!s) return fail_errno("netlink socket (NETLINK_NETFILTER)");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    mnl_socket_close(s);
    return fail_errno("netlink bind", e);
  }
  // Extended ACKs name the attribute a kernel refused; harmless where unsupported.
  int one = 1;
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
  return s;
}

class NetlinkTransport : public NetfilterTransport {
 public:
  NetlinkTransport() : buf_(std::make_unique_for_overwrite<uint8_t[]>(kRecvBuffer)) {}

  Result<QueryResult> query(NfQuery q, const NlMessageFn& on_msg) override {
    if (q == NfQuery::kNatRules) {
      // No nf_tables module: no nft or iptables-nft rule can exist.
      if (!module_present("nf_tables")) return QueryResult{};
    } else if (!module_present("nf_conntrack_netlink")) {
      return fail_errno(
          "nf_conntrack_netlink module not loaded (conndoctor never loads kernel modules; "
          "`modprobe nf_conntrack_netlink` allows it)",
          ENOENT);
    }
    if (!sock_) {
      auto s = open_socket();
      if (!s) return std::unexpected(s.error());
      sock_ = std::make_unique<MnlSocket>(*s);
    }
    const uint32_t seq = ++seq_;
    const std::vector<uint8_t> req = encode_query(q, seq);
    if (mnl_socket_sendto(sock_->get(), req.data(), req.size()) < 0)
      return fail_errno("netlink send");
    const uint32_t portid = mnl_socket_get_portid(sock_->get());
    QueryResult res;
    while (true) {
      iovec iov{buf_.get(), kRecvBuffer};
      msghdr mh{};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      ssize_t n = ::recvmsg(mnl_socket_get_fd(sock_->get()), &mh, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("netlink receive");
      if (mh.msg_flags & MSG_TRUNC) return fail("netlink receive: reply truncated");
      if (n == 0) return fail("netlink receive: socket closed during the dump");
      NlMsgReader reader({buf_.get(), std::size_t(n)});
      NlMsg m;
      while (true) {
        auto more = reader.next(m);
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        // Replies to an earlier, abandoned query on this socket are not ours.
        if (m.seq != seq || (m.pid != 0 && m.pid != portid)) continue;
        if (m.flags & NLM_F_DUMP_INTR) res.interrupted = true;
        if (m.type == NLMSG_DONE) {
          // Since 4.x a failed dump ends with NLMSG_DONE carrying the negative errno.
          int32_t status = 0;
          if (m.payload.size() >= sizeof status) std::memcpy(&status, m.payload.data(), 4);
          if (status < 0) return fail_errno("netlink dump", errno_of(status));
          return res;
        }
        if (m.type == NLMSG_ERROR) {
          nlmsgerr e{};
          if (m.payload.size() < sizeof(int32_t)) return fail("netlink: short error message");
          std::memcpy(&e.error, m.payload.data(), sizeof(int32_t));
          if (e.error == 0) return res;  // the ACK that ends a non-dump query
          return fail_errno("netlink", errno_of(e.error));
        }
        if (m.type == NLMSG_NOOP || m.type == NLMSG_OVERRUN) continue;
        const std::size_t len = sizeof(nlmsghdr) + m.payload.size();
        const uint8_t* start = m.payload.data() - sizeof(nlmsghdr);
        if (auto ok = on_msg({start, len}); !ok) return std::unexpected(ok.error());
      }
    }
  }

 private:
  std::unique_ptr<MnlSocket> sock_;  // opened at the first query that may be sent
  // Not zeroed: --all-netns opens one per namespace, and only the pages a recv() fills are
  // ever touched.
  std::unique_ptr<uint8_t[]> buf_;
  uint32_t seq_ = 0;
};

}  // namespace

Result<std::unique_ptr<NetfilterTransport>> open_netlink_transport() {
  // The socket is opened at the first query, in the namespace the caller is in by then.
  return std::unique_ptr<NetfilterTransport>(std::make_unique<NetlinkTransport>());
}

}  // namespace cd
