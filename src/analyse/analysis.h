// The analysis of a snapshot: all findings (worst first), the overall status and the
// one-line verdict, and derived views that the report shows.
#pragma once

#include <string>
#include <vector>

#include "analyse/finding.h"
#include "analyse/port_pool.h"
#include "snapshot/snapshot.h"

namespace cd {

enum class Status { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };
std::string_view to_string(Status s);  // "ok", "warning", "critical", "unknown"

struct Analysis {
  Status status = Status::kOk;
  std::string summary;  // "critical: ephemeral ports to 198.18.0.2:8080 94% used (application)"
  std::vector<Finding> findings;  // sorted: critical first, then warning, then info
  PortAnalysis ports;
};

Analysis analyse(const Snapshot& snap);

// The one-line verdict when `worst` is the worst finding: "critical: <title> (network layer)",
// translated.
std::string verdict_of(const Finding& worst);

}  // namespace cd
