// Names of the finding enums, as they appear in the JSON contract.
#include "analyse/finding.h"

namespace cd {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "info";
}

std::string_view to_string(Layer l) {
  switch (l) {
    case Layer::kApplication:
      return "application";
    case Layer::kSystem:
      return "system";
    case Layer::kNetwork:
      return "network";
  }
  return "system";
}

std::string_view to_string(Resource r) {
  switch (r) {
    case Resource::kEphemeralPorts:
      return "ephemeral_ports";
    case Resource::kTimeWait:
      return "time_wait";
    case Resource::kFileDescriptors:
      return "file_descriptors";
    case Resource::kCloseWait:
      return "close_wait";
    case Resource::kAcceptQueue:
      return "accept_queue";
    case Resource::kConntrack:
      return "conntrack";
    case Resource::kSnatPorts:
      return "snat_ports";
    case Resource::kOrphans:
      return "orphans";
    case Resource::kTcpMemory:
      return "tcp_memory";
    case Resource::kConfig:
      return "config";
    case Resource::kConnectFailures:
      return "connect_failures";
    case Resource::kUnansweredConnects:
      return "unanswered_connects";
  }
  return "config";
}

}  // namespace cd
