// Test double for SockSource: replays a fixed list of sockets, answering each DumpRequest with
// the records of its family and protocol whose state is in the request's bitmask, as the
// kernel's inet_diag_dump() filter does (CLOSE also for TCP_BOUND_INACTIVE).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "collect/sock_source.h"

namespace cd::test {

class FakeSockSource : public SockSource {
 public:
  FakeSockSource() = default;
  explicit FakeSockSource(std::vector<SockRecord> records) : records(std::move(records)) {}

  Result<void> dump(const DumpRequest& req, SockSink& sink) override {
    requests.push_back(req);
    if (fail_on_request >= 0 && int(requests.size()) > fail_on_request)
      return fail("fake sock_diag: truncated netlink message at byte 4096");
    for (const SockRecord& r : records) {
      if (r.family != req.family || r.protocol != req.protocol) continue;
      if (r.state >= 32) continue;
      // Bound-but-inactive sockets come back in state CLOSE for a TCP_BOUND_INACTIVE (13)
      // request, as on 6.10+ kernels.
      const bool bound_inactive = r.state == uint8_t(TcpState::kClose) && (req.states & (1u << 13));
      if (!(req.states & (1u << r.state)) && !bound_inactive) continue;
      sink.on_socket(r);
    }
    return {};
  }

  std::vector<SockRecord> records;
  std::vector<DumpRequest> requests;  // every request seen, in order
  int fail_on_request = -1;           // fail every request after this many (-1: never)
};

}  // namespace cd::test
