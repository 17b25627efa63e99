// What a rule concludes: a finding with severity, layer, evidence and an ordered plan.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cd {

enum class Severity { kInfo = 0, kWarning = 1, kCritical = 2 };
enum class Layer { kApplication, kSystem, kNetwork };
enum class Resource {
  kEphemeralPorts,
  kTimeWait,
  kFileDescriptors,
  kCloseWait,
  kAcceptQueue,
  kConntrack,
  kSnatPorts,
  kOrphans,
  kTcpMemory,
  kConfig,
  kConnectFailures,     // only from `check --trace`: connects to one destination failing en masse
  kUnansweredConnects,  // added to contract v1 after the others: values keep their order
};

std::string_view to_string(Severity s);  // "info", "warning", "critical"
std::string_view to_string(Layer l);     // "application", "system", "network"
std::string_view to_string(Resource r);  // "ephemeral_ports", ...

// One step of the plan. Priority follows the field method: A connection reuse in the
// application, B widen ip_local_port_range, C tcp_tw_reuse=1 with care, D conntrack sizing.
// Other letters are not used; steps that are not tuning (e.g. "raise LimitNOFILE") take the
// letter of the layer they act on: A for the application, B for the system.
struct RemediationStep {
  char priority = 'A';
  std::string action;
  std::vector<std::string> commands;  // exact commands or settings, copy-pasteable
  std::string risk;
};

using Evidence = nlohmann::ordered_json;  // neutral value model: text and JSON render it

struct Finding {
  std::string id;  // stable, e.g. "ephemeral_ports.tuple_exhausted"
  Resource resource = Resource::kConfig;
  Severity severity = Severity::kInfo;
  Layer layer = Layer::kSystem;
  std::string title;  // one line, with the key number
  Evidence evidence = Evidence::object();
  std::vector<RemediationStep> remediation;
};

}  // namespace cd
