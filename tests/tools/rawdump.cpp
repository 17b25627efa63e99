// The benchmark's floor: a raw NETLINK_SOCK_DIAG dump of every TCP socket of the caller's
// network namespace (IPv4 then IPv6, all states) over libmnl that only counts sockets per
// state. No aggregation, no /proc: nothing a diagnosis tool could do faster with sock_diag.
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/net_types.h"
#include "util/error.h"

namespace cd {
namespace {

struct Counts {
  uint64_t total = 0;
  std::array<uint64_t, kTcpStateSlots> by_state{};
};

struct MnlCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlCloser>;

// One SOCK_DIAG_BY_FAMILY dump request; answers are counted straight from the receive buffer
// (no per-message callback) so the floor is as low as a dump can go.
Result<void> dump_family(mnl_socket* nl, uint8_t family, std::vector<char>& buf, Counts& c) {
  char req_buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(req_buf);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  const uint32_t seq = family;
  nlh->nlmsg_seq = seq;
  auto* req =
      static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
  req->sdiag_family = family;
  req->sdiag_protocol = IPPROTO_TCP;
  req->idiag_states = ~0u;  // every state, TIME_WAIT and NEW_SYN_RECV included
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return fail_errno("sock_diag: send");

  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("sock_diag: recv");
    }
    if (n == 0) return fail("sock_diag: socket closed mid-dump");
    int len = int(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type == NLMSG_DONE) return {};
      if (m->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(m));
        return fail_errno("sock_diag: dump error", -e->error);
      }
      if (m->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (m->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
        return fail("sock_diag: truncated inet_diag_msg");
      auto* d = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(m));
      ++c.total;
      if (d->idiag_state < kTcpStateSlots) ++c.by_state[d->idiag_state];
    }
    if (len != 0) return fail("sock_diag: truncated netlink message");
  }
}

int run(int argc, char** argv) {
  // 32 KiB: netlink_dump() fills at most max(32 KiB, the last recvmsg size) per skb, so a
  // larger buffer only helps if the kernel is asked for it; --bufsize lets one try.
  size_t bufsize = 32768;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--bufsize" && i + 1 < argc) {
      std::string_view v = argv[++i];
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), bufsize);
      if (ec != std::errc() || p != v.data() + v.size() || bufsize < 8192) {
        std::fprintf(stderr, "rawdump: --bufsize: a number >= 8192\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: cdtool-rawdump [--json] [--bufsize BYTES]\n");
      return 2;
    }
  }
  MnlSocket nl(mnl_socket_open(NETLINK_SOCK_DIAG));
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    std::fprintf(stderr, "rawdump: netlink: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(bufsize);
  Counts c;
  for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)}) {
    if (auto r = dump_family(nl.get(), family, buf, c); !r) {
      std::fprintf(stderr, "rawdump: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  if (json) {
    std::printf("{\"total\": %llu, \"by_state\": {", (unsigned long long)c.total);
    const char* sep = "";
    for (int s = 1; s < kTcpStateSlots; ++s) {
      if (c.by_state[s] == 0) continue;
      std::printf("%s\"%s\": %llu", sep, std::string(tcp_state_name(s)).c_str(),
                  (unsigned long long)c.by_state[s]);
      sep = ", ";
    }
    std::printf("}}\n");
  } else {
    std::printf("total %llu", (unsigned long long)c.total);
    for (int s = 1; s < kTcpStateSlots; ++s)
      if (c.by_state[s] != 0)
        std::printf(" %s %llu", std::string(tcp_state_name(s)).c_str(),
                    (unsigned long long)c.by_state[s]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace
}  // namespace cd

int main(int argc, char** argv) {
  return cd::run(argc, argv);
}
