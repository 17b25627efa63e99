// A namespace's sockets from two places: the one-pass scan of the established hash, and
// sock_diag for what it answers without walking that hash.
#include <netinet/in.h>

#include <algorithm>

#include "collect/ehash_scan.h"
#include "snapshot/net_types.h"

namespace cd {

namespace {

// TCP_BOUND_INACTIVE (include/net/tcp_states.h, 6.10+): a request for it makes sock_diag walk
// the bind hash; such sockets come back in state CLOSE.
constexpr uint32_t kBoundInactiveBit = 1u << 13;
constexpr uint32_t kListenBit = 1u << int(TcpState::kListen);
constexpr uint8_t kClose = uint8_t(TcpState::kClose);

class EhashSplitSource final : public SockSource {
 public:
  EhashSplitSource(SockSource& kernel, std::vector<SockRecord> records, bool bound_inactive)
      : kernel_(kernel), records_(std::move(records)), bound_inactive_(bound_inactive) {}

  // Unix listeners are per namespace in the kernel too (unix_diag walks only this namespace's
  // unix sockets): sock_diag answers them.
  Result<bool> dump_unix_listeners(UnixSockSink& sink) override {
    return kernel_.dump_unix_listeners(sink);
  }

  Result<void> dump(const DumpRequest& req, SockSink& sink) override {
    if (req.protocol != IPPROTO_TCP) return kernel_.dump(req, sink);
    // What only sock_diag has: LISTEN (the listening hash, cheap), and bound-inactive sockets
    // when the scan could not walk the bind hash.
    const uint32_t kernel_states = kListenBit | (bound_inactive_ ? 0 : kBoundInactiveBit);
    if (const uint32_t asked = req.states & kernel_states; asked != 0) {
      DumpRequest k = req;
      k.states = asked;
      if (auto ok = kernel_.dump(k, sink); !ok) return ok;
    }
    for (const SockRecord& s : records_) {
      if (s.family != req.family) continue;
      // The scan's CLOSE sockets are the bound-inactive ones: sent for that request bit, as
      // sock_diag does (the established hash holds no CLOSE socket).
      const bool wanted = s.state == kClose ? (req.states & kBoundInactiveBit) != 0
                                            : (req.states >> s.state & 1u) != 0;
      if (wanted && s.state != uint8_t(TcpState::kListen)) sink.on_socket(s);
    }
    return {};
  }

 private:
  SockSource& kernel_;
  std::vector<SockRecord> records_;
  bool bound_inactive_;
};

}  // namespace

bool ehash_scan_covers(const EhashScan& scan, uint64_t netns, std::optional<long> ehash_entries) {
  if (!scan.shared_table) return false;
  if (!ehash_entries || *ehash_entries < 0) return true;
  return netns == scan.walker_netns;
}

std::unique_ptr<SockSource> ehash_split_source(SockSource& kernel, std::vector<SockRecord> records,
                                               bool bound_inactive) {
  return std::make_unique<EhashSplitSource>(kernel, std::move(records), bound_inactive);
}

}  // namespace cd
