// Test double for SockSource: replays a fixed list of sockets, answering each DumpRequest with
// the records of its family and protocol whose state is in the request's bitmask, as the
// kernel's inet_diag_dump() filter does (CLOSE also for TCP_BOUND_INACTIVE).
#pragma once

#include <optional>
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

  // AF_UNIX: nullopt answers "cannot tell" (as a recording without a unix section does);
  // unix_error != 0 answers as a kernel refusing the request with that errno.
  Result<bool> dump_unix_listeners(UnixSockSink& sink) override {
    ++unix_requests;
    if (unix_error != 0) return std::unexpected(Error::from_errno("fake unix_diag", unix_error));
    if (!unix_records) return false;
    for (const UnixSockRecord& r : *unix_records) sink.on_unix_socket(r);
    return true;
  }

  std::vector<SockRecord> records;
  std::optional<std::vector<UnixSockRecord>> unix_records;
  int unix_error = 0;
  int unix_requests = 0;
  std::vector<DumpRequest> requests;  // every request seen, in order
  int fail_on_request = -1;           // fail every request after this many (-1: never)
};

}  // namespace cd::test
