// analyse(): derive the port pools, run every rule, order the findings worst first, and
// reduce them to a status and a one-line verdict.
#include "analyse/analysis.h"

#include <fmt/format.h>

#include <algorithm>

#include "analyse/rules.h"
#include "util/i18n.h"

namespace cd {

std::string_view to_string(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kWarning:
      return "warning";
    case Status::kCritical:
      return "critical";
    case Status::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

// Anything besides the socket dump that a rule could have used.
bool read_anything_else(const Reading& r) {
  const Sysctls& s = r.sysctls;
  return !r.counters.empty() || r.sockstat.tcp_inuse || r.sockstat.tcp_tw ||
         r.sockstat.tcp_orphan || r.file_nr.allocated || !r.processes.empty() ||
         r.conntrack.available || s.ip_local_port_range || s.tcp_max_tw_buckets ||
         s.tcp_max_orphans || s.file_max || s.tcp_mem || s.nf_conntrack_count;
}

Status status_of(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return Status::kCritical;
    case Severity::kWarning:
      return Status::kWarning;
    case Severity::kInfo:
      return Status::kOk;
  }
  return Status::kOk;
}

// The severity and layer words of the verdict, translated (JSON keeps the enums).
const char* word(std::string_view w) {
  static constexpr const char* kWords[] = {N_("info"),        N_("warning"), N_("critical"),
                                           N_("application"), N_("system"),  N_("network")};
  for (const char* k : kWords)
    if (w == k) return _(k);
  return "?";
}

}  // namespace

Analysis analyse(const Snapshot& snap) {
  Analysis a;
  a.ports = analyse_ports(snap);
  RuleInput in{snap, a.ports};
  for (const Rule& rule : all_rules()) rule.fn(in, a.findings);
  // Stable: equally severe findings keep the rule table's order.
  std::stable_sort(a.findings.begin(), a.findings.end(),
                   [](const Finding& x, const Finding& y) { return x.severity > y.severity; });

  const Reading& now = snap.now();
  // Conservative: "unknown" only when there was nothing to diagnose from at all.
  if (!now.sockets.complete && !read_anything_else(now)) {
    a.status = Status::kUnknown;
    a.summary = _("unknown: could not diagnose: no socket dump and no kernel figure could be read");
    if (!snap.missing.empty()) a.summary += " (" + snap.missing.front() + ")";
    return a;
  }
  if (a.findings.empty() || a.findings.front().severity == Severity::kInfo) {
    a.status = Status::kOk;
    a.summary = _("ok: no connection resource near its limit");
    if (!now.sockets.complete) a.summary += _(" (sockets not read: ports and queues unchecked)");
    return a;
  }
  const Finding& worst = a.findings.front();
  a.status = status_of(worst.severity);
  a.summary = verdict_of(worst);
  return a;
}

std::string verdict_of(const Finding& worst) {
  return _f("{0}: {1} ({2} layer)", word(to_string(worst.severity)), worst.title,
            word(to_string(worst.layer)));
}

}  // namespace cd
