// Formatting and parsing of the plain network value types.
#include "snapshot/net_types.h"

#include <arpa/inet.h>

#include <cstring>

namespace cd {

IpAddr IpAddr::v4(uint32_t network_order) {
  IpAddr a;
  a.family = AF_INET;
  std::memcpy(a.bytes.data(), &network_order, 4);
  return a;
}

IpAddr IpAddr::v6(const uint8_t (&b)[16]) {
  IpAddr a;
  a.family = AF_INET6;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

static bool is_v4_mapped(const IpAddr& a) {
  static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family == AF_INET6 && std::memcmp(a.bytes.data(), prefix, 12) == 0;
}

bool IpAddr::is_loopback() const {
  if (family == AF_INET) return bytes[0] == 127;
  if (is_v4_mapped(*this)) return bytes[12] == 127;
  for (int i = 0; i < 15; ++i)
    if (bytes[i] != 0) return false;
  return bytes[15] == 1;
}

IpAddr IpAddr::unmapped() const {
  if (!is_v4_mapped(*this)) return *this;
  IpAddr v4;
  std::memcpy(v4.bytes.data(), bytes.data() + 12, 4);
  return v4;
}

bool IpAddr::is_unspecified() const {
  int n = family == AF_INET ? 4 : 16;
  for (int i = 0; i < n; ++i)
    if (bytes[i] != 0) return false;
  return true;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string Endpoint::to_string() const {
  if (addr.family == AF_INET6) return "[" + addr.to_string() + "]:" + std::to_string(port);
  return addr.to_string() + ":" + std::to_string(port);
}

static constexpr std::string_view kStateNames[kTcpStateSlots] = {
    "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
    "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV", "UNKNOWN"};

std::string_view tcp_state_name(int state) {
  if (state <= 0 || state >= 13) return "UNKNOWN";
  return kStateNames[state];
}

std::optional<int> tcp_state_from_name(std::string_view name) {
  for (int s = 1; s < 13; ++s)
    if (kStateNames[s] == name) return s;
  return std::nullopt;
}

std::size_t TupleKeyHash::operator()(const TupleKey& k) const noexcept {
  // FNV-1a over the bytes that matter; cheap and good enough for a per-tuple map.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  mix(k.src.bytes.data(), 16);
  mix(k.dst.bytes.data(), 16);
  uint8_t extra[3] = {uint8_t(k.dport >> 8), uint8_t(k.dport), k.src.family};
  mix(extra, 3);
  return h;
}

}  // namespace cd
