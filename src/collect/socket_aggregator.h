// Folds a stream of sockets into a SocketSummary while the dump runs: memory grows with
// destination tuples and listeners, not with sockets (except the optional inode index used
// for attribution). Feed LISTEN sockets first (a separate dump request) so that server-side
// sockets are recognised by their listening port.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "collect/inode_index.h"
#include "collect/sock_source.h"
#include "snapshot/snapshot.h"

namespace cd {

struct AggregatorConfig {
  PortRange ephemeral{32768, 60999};  // ip_local_port_range (default if unknown)
  uint32_t tw_reuse_delay_ms = 1000;  // tcp_tw_reuse_delay (1000 ms before it existed)
  bool index_inodes = false;          // build the InodeIndex for attribution
  std::size_t expected_inodes = 0;    // live sockets expected (sockstat): reserved up front
};

class SocketAggregator : public SockSink {
 public:
  explicit SocketAggregator(const AggregatorConfig& cfg);
  void on_socket(const SockRecord& s) override;
  // Set by dump_all: whether every TCP request, and every UDP request, ended with NLMSG_DONE.
  void mark_complete(bool tcp, bool udp);

  // Moves the result out; the aggregator is spent afterwards.
  SocketSummary finish();
  InodeIndex take_inode_index();

 private:
  // Implementation-defined state (per-tuple map, port bitmaps, ...).
  struct State;
  void finish_bind_pools(SocketSummary& sum);
  AggregatorConfig cfg_;
  std::unique_ptr<State> st_;

 public:
  ~SocketAggregator() override;
};

// Runs the dump requests in the right order (LISTEN first, then the rest, IPv4 and IPv6,
// then UDP for the host-wide port pool) into an aggregator. An error means the dump is
// unusable; dump_interrupted(error) means it may be taken again into a fresh aggregator.
Result<void> dump_all(SockSource& src, SocketAggregator& agg);

}  // namespace cd
