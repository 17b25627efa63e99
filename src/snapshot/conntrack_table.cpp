// Names for the conntrack table's plain data.
#include "snapshot/conntrack_table.h"

#include <netinet/in.h>

namespace cd {

std::string ct_protocol_name(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    case IPPROTO_SCTP:
      return "sctp";
    case IPPROTO_DCCP:
      return "dccp";
    case IPPROTO_UDPLITE:
      return "udplite";
    case IPPROTO_GRE:
      return "gre";
    default:
      return std::to_string(protocol);
  }
}

}  // namespace cd
