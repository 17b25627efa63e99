// Rule file_descriptors: each process against its OWN soft RLIMIT_NOFILE (EMFILE), with a
// forecast from two readings (a leak runs out in N seconds), and the system against fs.file-max
// (ENFILE). A process is never compared with file-max.
#include <fmt/format.h>

#include <algorithm>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kProcWarn = 0.80;
constexpr double kProcCrit = 0.90;    // the line netdata and the node mixin alert on
constexpr double kWarnSeconds = 600;  // runs out within 10 minutes
constexpr double kCritSeconds = 60;   // runs out within a minute
// Below half its limit a process's growing count is not forecast: a busy server's fd count
// swings by hundreds between two readings a few seconds apart, and that is no leak.
constexpr double kForecastFloor = 0.50;
constexpr double kSysWarn = 0.80;
constexpr double kSysCrit = 0.90;
constexpr std::size_t kMaxProcessFindings = 5;

std::optional<Severity> level(double fill, double warn, double crit) {
  if (fill >= crit) return Severity::kCritical;
  if (fill >= warn) return Severity::kWarning;
  return std::nullopt;
}

// The same process in the first reading: same pid and comm (a pid reused between the readings
// by another program is not a growth of this one's fds).
const ProcessInfo* before(const Snapshot& snap, const ProcessInfo& p) {
  const Reading* b = snap.before();
  if (!b) return nullptr;
  const ProcessInfo* q = find_process(*b, p.pid);
  return q && q->comm == p.comm ? q : nullptr;
}

// Where a container's soft RLIMIT_NOFILE came from, read from the OCI spec its runtime wrote
// (config.json process.rlimits); nullopt outside containers or where the spec was not read.
std::optional<std::string> fd_limit_source(const ProcessInfo& p) {
  if (!p.container || !p.container->state_read || !p.fd_soft_limit) return std::nullopt;
  const ContainerIdentity& c = *p.container;
  const std::string runtime = c.runtime.empty() ? _("the container runtime") : c.runtime;
  if (!c.spec_nofile_soft)
    return _f(
        "inherited: the container's OCI spec ({0}) sets no RLIMIT_NOFILE, so the process kept "
        "the limit of what started it ({1}: containerd's own limit through its shim; CRI-O's "
        "conmon: the daemon's, or systemd's defaults with the systemd cgroup manager), unless "
        "it changed its own limit since",
        c.state_path, runtime);
  if (*c.spec_nofile_soft != *p.fd_soft_limit)
    return _f(
        "not the container's default: its OCI spec ({0}) sets RLIMIT_NOFILE soft {1}, and the "
        "process changed its own limit since (setrlimit, ulimit -n in its entrypoint)",
        c.state_path, *c.spec_nofile_soft);
  return _f(
      "the container's default: RLIMIT_NOFILE soft {0}, hard {1} in the OCI spec {2} wrote ({3}); "
      "Kubernetes has no pod field for it: it comes from the runtime's configuration "
      "(containerd: base_runtime_spec; CRI-O: default_ulimits; docker, podman: --ulimit or "
      "default-ulimits), an NRI plugin, or the runtime's built-in default spec",
      *c.spec_nofile_soft,
      c.spec_nofile_hard ? std::to_string(*c.spec_nofile_hard) : std::string("unknown"), runtime,
      c.state_path);
}

struct Forecast {
  std::optional<double> growth_per_s;           // null: one reading or unknown before
  std::optional<double> seconds_to_exhaustion;  // null: not growing
};

// Like the port forecast: the count's change between the readings, extrapolated to the soft
// limit. A shrinking or flat count does not run out.
Forecast forecast(const Snapshot& snap, const ProcessInfo& p) {
  Forecast fc;
  const ProcessInfo* b = before(snap, p);
  auto dt = snap.interval_s();
  if (!b || !b->open_fds || !dt || *dt <= 0) return fc;
  fc.growth_per_s = (double(*p.open_fds) - double(*b->open_fds)) / *dt;
  if (*fc.growth_per_s > 0) {
    double left = double(*p.fd_soft_limit) - double(*p.open_fds);
    fc.seconds_to_exhaustion = left > 0 ? left / *fc.growth_per_s : 0.0;
  }
  return fc;
}

std::optional<Severity> process_level(double fill, const Forecast& fc) {
  auto sev = level(fill, kProcWarn, kProcCrit);
  if (fill < kForecastFloor) return sev;
  const auto& ste = fc.seconds_to_exhaustion;
  if (ste && *ste <= kCritSeconds) return Severity::kCritical;
  if (ste && *ste <= kWarnSeconds && !sev) return Severity::kWarning;
  return sev;
}

void process_findings(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  std::vector<Finding> found;
  for (const ProcessInfo& p : r.processes) {
    // An unlimited soft limit (nullopt) cannot run out; an unknown count says nothing.
    if (!p.open_fds || !p.fd_soft_limit || *p.fd_soft_limit == 0) continue;
    double fill = double(*p.open_fds) / double(*p.fd_soft_limit);
    Forecast fc = forecast(in.snap, p);
    auto sev = process_level(fill, fc);
    if (!sev) continue;
    std::string tail;
    if (*p.open_fds >= *p.fd_soft_limit)
      tail = _(": open()/socket()/accept() fail with EMFILE");
    else if (fc.seconds_to_exhaustion)
      tail = _f(", growing at {0}: runs out in ~{1}", per_second(*fc.growth_per_s),
                fmt_duration(*fc.seconds_to_exhaustion));
    Finding f;
    f.id = "file_descriptors.process";
    f.resource = Resource::kFileDescriptors;
    f.severity = *sev;
    f.layer = Layer::kApplication;
    f.title = _f("{0}: {1} of its {2} file descriptors open ({3}){4}", process_title(p),
                 with_commas(*p.open_fds), with_commas(*p.fd_soft_limit), percent(fill), tail);
    Evidence& ev = f.evidence;
    ev["pid"] = p.pid;
    ev["comm"] = p.comm;
    put_identity(ev, &p);
    ev["open"] = *p.open_fds;
    ev["soft_limit"] = *p.fd_soft_limit;
    ev["hard_limit"] = or_null(p.fd_hard_limit);
    if (auto src = fd_limit_source(p)) ev["soft_limit_source"] = *src;
    ev["utilization"] = rounded(fill, 4);
    put_rate(ev, "growth_per_s", in.snap, fc.growth_per_s);
    ev["seconds_to_exhaustion"] = rounded(fc.seconds_to_exhaustion, 1);
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
  f.title =
      _f("system-wide open files: {0} of fs.file-max {1} ({2})",
         with_commas(uint64_t(*r.file_nr.allocated)), with_commas(uint64_t(*max)), percent(*fill));
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
