// Socket and procfs helpers for the lab's load generators.
#include "lab/sock_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "collect/proc_text.h"
#include "lab/load.h"
#include "util/file.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

sockaddr_in to_sockaddr(const Endpoint& ep) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(ep.port);
  std::memcpy(&sin.sin_addr, ep.addr.bytes.data(), 4);
  return sin;
}

Endpoint v4_endpoint(const char* ip, uint16_t port) {
  return Endpoint{IpAddr::parse(ip).value_or(IpAddr{}), port};
}

Result<UniqueFd> tcp_listen(const Endpoint& ep, int backlog) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin = to_sockaddr(ep);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    return fail_errno("bind " + ep.to_string());
  }
  if (::listen(fd.get(), backlog) != 0) return fail_errno("listen " + ep.to_string());
  return fd;
}

std::optional<AcceptQueue> accept_queue_of(int listen_fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (::getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return std::nullopt;
  return AcceptQueue{ti.tcpi_unacked, ti.tcpi_sacked};
}

std::optional<std::string> read_proc_text(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  return std::string(trim_right(*text));
}

std::optional<PortRange> local_port_range() {
  auto text = read_proc_text("/proc/sys/net/ipv4/ip_local_port_range");
  if (!text) return std::nullopt;
  auto r = parse_port_range(*text);
  if (!r) return std::nullopt;
  return *r;
}

std::map<std::string, int64_t> read_tcp_counters() {
  std::map<std::string, int64_t> all;
  for (const char* f : {"/proc/net/netstat", "/proc/net/snmp"}) {
    auto text = read_proc_text(f);
    if (!text) continue;
    auto pairs = parse_snmp_pairs(*text, f);
    if (pairs) all.insert(pairs->begin(), pairs->end());
  }
  return all;
}

uint64_t ErrnoTally::total() const {
  uint64_t n = 0;
  for (const auto& [e, c] : counts_) n += c;
  return n;
}

uint64_t ErrnoTally::of(int e) const {
  auto it = counts_.find(e);
  return it == counts_.end() ? 0 : it->second;
}

std::string ErrnoTally::describe() const {
  std::string out;
  for (const auto& [e, c] : counts_) {
    if (!out.empty()) out += ", ";
    out += out.empty() ? _f("{0} failed with {1}", with_commas(c), errno_name(e))
                       : _f("{0} with {1}", with_commas(c), errno_name(e));
  }
  return out;
}

}  // namespace cd
