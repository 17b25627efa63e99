// Rule tcp_memory: pages held by TCP buffers against tcp_mem's pressure and max thresholds,
// and the memory-pressure and memory-abort counters.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/limits.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {
constexpr int64_t kPageBytes = 4096;  // tcp_mem and sockstat's mem are in pages
}

void rule_tcp_memory(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  auto pages = r.sockstat.tcp_mem_pages;
  const auto& mem = r.sysctls.tcp_mem;
  auto pressures = in.snap.counter_rate("TcpExt.TCPMemoryPressures");
  auto aborts = in.snap.counter_rate("TcpExt.TCPAbortOnMemory");
  bool at_max = pages && mem && *pages >= (*mem)[2];
  bool under_pressure = tcp_memory_under_pressure(r);
  // The orphans rule takes the aborts unless memory pressure explains them better.
  auto ofill = orphan_fill(r);
  bool aborts_ours = aborts && *aborts > 0 && under_pressure && !(ofill && *ofill >= kOrphansWarn);

  std::optional<Severity> sev;
  if (under_pressure || (pressures && *pressures > 0)) sev = Severity::kWarning;
  if (at_max || aborts_ours) sev = Severity::kCritical;
  if (!sev) return;

  Finding f;
  f.id = "tcp_memory.pages";
  f.resource = Resource::kTcpMemory;
  f.severity = *sev;
  f.layer = Layer::kSystem;
  std::string where =
      _("below the pressure threshold now, but it entered memory pressure between the readings");
  if (at_max)
    where = _("at tcp_mem's max: new sends and receives fail");
  else if (under_pressure)
    where = _("above tcp_mem's pressure threshold");
  f.title = _f(
      "TCP memory: {0} pages ({1} MiB) {2}",
      pages ? with_commas(uint64_t(*pages)) : std::string("?"),
      pages ? with_commas(uint64_t(*pages * kPageBytes / (1024 * 1024))) : std::string("?"), where);
  Evidence& ev = f.evidence;
  ev["pages"] = or_null(pages);
  ev["tcp_mem_min"] = mem ? Evidence((*mem)[0]) : Evidence(nullptr);
  ev["tcp_mem_pressure"] = mem ? Evidence((*mem)[1]) : Evidence(nullptr);
  ev["tcp_mem_max"] = mem ? Evidence((*mem)[2]) : Evidence(nullptr);
  put_rate(ev, "memory_pressures_per_s", in.snap, pressures);
  put_rate(ev, "abort_on_memory_per_s", in.snap, aborts);
  ev["note"] = _("TCP memory is counted host-wide");
  f.remediation = {step_find_stuck_sockets(), step_raise_tcp_mem(r.sysctls)};
  out.push_back(std::move(f));
}

}  // namespace cd
