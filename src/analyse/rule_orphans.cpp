// Rule orphans: sockets the application closed but the kernel still holds (FIN_WAIT1,
// LAST_ACK, CLOSING) against tcp_max_orphans, and memory aborts.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/limits.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

// Thresholds are a quarter and a half of the limit, not the limit: tcp_too_many_orphans() is
// called with a shift that doubles the count for each penalty (a soft error, a peer that
// keeps its window closed), so the kernel starts killing orphans at 25% of tcp_max_orphans.
void rule_orphans(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  auto fill = orphan_fill(r);
  auto aborts = in.snap.counter_rate("TcpExt.TCPAbortOnMemory");
  bool aborting = aborts && *aborts > 0;
  // Aborts with few orphans and TCP memory under pressure are the tcp_memory rule's.
  bool memory_explains = tcp_memory_under_pressure(r) && !(fill && *fill >= kOrphansWarn);

  std::optional<Severity> sev;
  if (fill && *fill >= kOrphansWarn)
    sev = *fill >= kOrphansCrit ? Severity::kCritical : Severity::kWarning;
  if (aborting && !memory_explains) sev = Severity::kCritical;
  if (!sev) return;

  Finding f;
  f.id = "orphans.count";
  f.resource = Resource::kOrphans;
  f.severity = *sev;
  f.layer = Layer::kSystem;
  std::string head =
      r.sockstat.tcp_orphan && r.sysctls.tcp_max_orphans
          ? _f("orphaned TCP sockets: {0} of tcp_max_orphans {1} ({2})",
               with_commas(uint64_t(*r.sockstat.tcp_orphan)),
               with_commas(uint64_t(*r.sysctls.tcp_max_orphans)), percent(fill.value_or(0)))
          : std::string(_("orphaned TCP sockets: count unknown"));
  f.title = head + (aborting ? _f(", the kernel resets connections at {0} "
                                  "(\"too many orphaned sockets\")",
                                  per_second(*aborts))
                             : std::string());
  Evidence& ev = f.evidence;
  ev["orphans"] = or_null(r.sockstat.tcp_orphan);
  ev["max_orphans"] = or_null(r.sysctls.tcp_max_orphans);
  ev["utilization"] = rounded(fill, 4);
  put_rate(ev, "abort_on_memory_per_s", in.snap, aborts);
  ev["note"] = _("orphans are counted host-wide");
  f.remediation = {step_find_stuck_sockets(), step_raise_max_orphans(r.sysctls)};
  out.push_back(std::move(f));
}

}  // namespace cd
