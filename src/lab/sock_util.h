// Small socket and procfs helpers for the lab's load generators (IPv4, loopback).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/net_types.h"
#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {

sockaddr_in to_sockaddr(const Endpoint& ep);  // IPv4 endpoints only
Endpoint v4_endpoint(const char* ip, uint16_t port);

// A listening TCP socket with SO_REUSEADDR, non-blocking.
Result<UniqueFd> tcp_listen(const Endpoint& ep, int backlog);

// The listener's accept queue as the kernel reports it to its owner: tcp_get_info() aliases
// tcpi_unacked to sk_ack_backlog and tcpi_sacked to sk_max_ack_backlog for LISTEN sockets.
struct AcceptQueue {
  uint32_t len = 0;
  uint32_t limit = 0;
};
std::optional<AcceptQueue> accept_queue_of(int listen_fd);

// A sysctl of the caller's network namespace, trimmed ("32768\t60999").
std::optional<std::string> read_proc_text(const std::string& path);
std::optional<PortRange> local_port_range();

// TcpExt/Tcp counters from /proc/net/netstat and /proc/net/snmp, by "Section.Field".
std::map<std::string, int64_t> read_tcp_counters();

// Counts of errno values, for observations: "912 failed with EADDRNOTAVAIL, 3 with EMFILE".
class ErrnoTally {
 public:
  void add(int e) { ++counts_[e]; }
  uint64_t total() const;
  uint64_t of(int e) const;
  std::string describe() const;  // "" when empty
 private:
  std::map<int, uint64_t> counts_;
};

}  // namespace cd
