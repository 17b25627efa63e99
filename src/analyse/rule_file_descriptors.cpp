// Rule file_descriptors: each process against its OWN soft RLIMIT_NOFILE (EMFILE), and the
// system against fs.file-max (ENFILE). A process is never compared with file-max.
#include <fmt/format.h>

#include <algorithm>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"

namespace cd {

namespace {

constexpr double kProcWarn = 0.80;
constexpr double kProcCrit = 0.95;
constexpr double kSysWarn = 0.80;
constexpr double kSysCrit = 0.90;
constexpr std::size_t kMaxProcessFindings = 5;

std::optional<Severity> level(double fill, double warn, double crit) {
  if (fill >= crit) return Severity::kCritical;
  if (fill >= warn) return Severity::kWarning;
  return std::nullopt;
}

void process_findings(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  std::vector<Finding> found;
  for (const ProcessInfo& p : r.processes) {
    // An unlimited soft limit (nullopt) cannot run out; an unknown count says nothing.
    if (!p.open_fds || !p.fd_soft_limit || *p.fd_soft_limit == 0) continue;
    double fill = double(*p.open_fds) / double(*p.fd_soft_limit);
    auto sev = level(fill, kProcWarn, kProcCrit);
    if (!sev) continue;
    Finding f;
    f.id = "file_descriptors.process";
    f.resource = Resource::kFileDescriptors;
    f.severity = *sev;
    f.layer = Layer::kApplication;
    f.title = fmt::format("pid {} ({}): {} of its {} file descriptors open ({}){}", p.pid, p.comm,
                          with_commas(*p.open_fds), with_commas(*p.fd_soft_limit), percent(fill),
                          *p.open_fds >= *p.fd_soft_limit ? ": open()/socket()/accept() fail "
                                                            "with EMFILE"
                                                          : "");
    Evidence& ev = f.evidence;
    ev["pid"] = p.pid;
    ev["comm"] = p.comm;
    ev["open"] = *p.open_fds;
    ev["soft_limit"] = *p.fd_soft_limit;
    ev["hard_limit"] = or_null(p.fd_hard_limit);
    ev["utilization"] = rounded(fill, 4);
    if (p.sockets) {
      uint64_t sockets = 0;
      for (uint32_t n : p.sockets->by_state) sockets += n;
      ev["sockets"] = sockets;
      ev["close_wait"] = p.sockets->close_wait;
    } else {
      ev["sockets"] = nullptr;
      ev["close_wait"] = nullptr;
    }
    f.remediation = {step_find_fd_leak(p.pid), step_raise_fd_limit(p, r.sysctls.nr_open)};
    found.push_back(std::move(f));
  }
  // Worst first within a severity.
  std::stable_sort(found.begin(), found.end(), [](const Finding& a, const Finding& b) {
    return a.evidence["utilization"].get<double>() > b.evidence["utilization"].get<double>();
  });
  append_capped(found, out, kMaxProcessFindings, "processes");
}

void system_finding(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  std::optional<int64_t> max = r.file_nr.max ? r.file_nr.max : r.sysctls.file_max;
  auto fill = ratio(r.file_nr.allocated, max);
  if (!fill) return;
  auto sev = level(*fill, kSysWarn, kSysCrit);
  if (!sev) return;
  Finding f;
  f.id = "file_descriptors.system";
  f.resource = Resource::kFileDescriptors;
  f.severity = *sev;
  f.layer = Layer::kSystem;
  f.title = fmt::format("system-wide open files: {} of fs.file-max {} ({})",
                        with_commas(uint64_t(*r.file_nr.allocated)), with_commas(uint64_t(*max)),
                        percent(*fill));
  Evidence& ev = f.evidence;
  ev["allocated"] = *r.file_nr.allocated;
  ev["file_max"] = *max;
  ev["utilization"] = rounded(*fill, 4);
  // The biggest holders, to say where the files are (not against file-max: against nothing).
  std::vector<const ProcessInfo*> top;
  for (const ProcessInfo& p : r.processes)
    if (p.open_fds) top.push_back(&p);
  std::sort(top.begin(), top.end(),
            [](const ProcessInfo* a, const ProcessInfo* b) { return *a->open_fds > *b->open_fds; });
  Evidence holders = Evidence::array();
  for (std::size_t i = 0; i < top.size() && i < 3; ++i)
    holders.push_back({{"pid", top[i]->pid}, {"comm", top[i]->comm}, {"open", *top[i]->open_fds}});
  ev["top_processes"] = std::move(holders);
  if (!top.empty()) f.remediation.push_back(step_find_fd_leak(top.front()->pid));
  f.remediation.push_back(step_raise_file_max(r.file_nr, r.sysctls.file_max));
  out.push_back(std::move(f));
}

}  // namespace

void rule_file_descriptors(const RuleInput& in, std::vector<Finding>& out) {
  process_findings(in, out);
  system_finding(in, out);
}

}  // namespace cd
