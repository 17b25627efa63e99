// Plain network value types shared by every stage: addresses, endpoints, TCP states,
// the destination tuple that ephemeral ports are exhausted per.
#pragma once

#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cd {

// An IPv4 or IPv6 address in network byte order (IPv4 uses the first 4 bytes).
struct IpAddr {
  uint8_t family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  static IpAddr v4(uint32_t network_order);
  static IpAddr v6(const uint8_t (&b)[16]);
  static std::optional<IpAddr> parse(std::string_view text);  // "1.2.3.4" or "::1"

  bool is_loopback() const;  // 127/8, ::1, ::ffff:127.0.0.0/104
  bool is_unspecified() const;
  // ::ffff:a.b.c.d as the IPv4 address a.b.c.d; any other address as it is. A dual-stack
  // (AF_INET6) socket connected to a mapped address is an IPv4 connection to the kernel.
  IpAddr unmapped() const;
  std::string to_string() const;
  auto operator<=>(const IpAddr&) const = default;
};

// "1.2.3.4:80" or "[2001:db8::1]:443"
struct Endpoint {
  IpAddr addr;
  uint16_t port = 0;
  std::string to_string() const;
  auto operator<=>(const Endpoint&) const = default;
};

// Linux TCP states as numbered in include/net/tcp_states.h; sock_diag uses 1 << state.
enum class TcpState : uint8_t {
  kEstablished = 1,
  kSynSent,
  kSynRecv,
  kFinWait1,
  kFinWait2,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kClosing,
  kNewSynRecv,
};
inline constexpr int kTcpStateSlots = 14;    // index by the state number; slot 0 unused
std::string_view tcp_state_name(int state);  // "ESTABLISHED", "TIME_WAIT", ... ; "UNKNOWN"
std::optional<int> tcp_state_from_name(std::string_view name);

// Port exhaustion is per (source IP, destination IP, destination port): __inet_hash_connect()
// lets a local port be reused as long as the 4-tuple stays unique. IPv4-mapped addresses are
// stored unmapped: tcp_v6_connect() hands a mapped destination to tcp_v4_connect(), so a
// dual-stack client (Java's default) draws from the same pool as plain IPv4 ones.
struct TupleKey {
  IpAddr src;
  IpAddr dst;
  uint16_t dport = 0;
  auto operator<=>(const TupleKey&) const = default;
  Endpoint destination() const { return Endpoint{dst, dport}; }
};

struct TupleKeyHash {
  std::size_t operator()(const TupleKey& k) const noexcept;
};

struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 0;  // inclusive
  uint32_t size() const { return hi >= lo ? uint32_t(hi) - lo + 1 : 0; }
  bool contains(uint16_t p) const { return p >= lo && p <= hi; }
  auto operator<=>(const PortRange&) const = default;
};

}  // namespace cd
