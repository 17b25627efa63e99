// `conndoctor check`: collect -> analyse -> report for the caller's network namespace, another
// one (--netns), or every namespace on the host (--all-netns).
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "collect/conntrack_collect.h"
#include "collect/runtime_detect.h"
#include "diagnose/diagnose.h"
#include "diagnose/netns.h"
#include "diagnose/trace_merge.h"
#include "render/netns_summary.h"
#include "render/trace_report.h"
#include "trace/trace_decode.h"
#include "trace/tracer.h"
#include "util/blocked_signals.h"
#include "util/clock.h"
#include "util/i18n.h"
#include "util/netns.h"

#include <chrono>

namespace cd {

namespace {

struct CheckArgs {
  bool json = false;
  bool verbose = false;
  bool no_processes = false;
  bool no_attribution = false;
  FdScan fd_scan = FdScan::kAuto;
  std::vector<std::string> runtime_roots;  // --runtime-root
  double interval_s = 2.0;
  std::string proc_root = "/proc";
  std::string sock_diag_dump;
  std::string conntrack_dump;
  std::string record_dump;
  std::string record_conntrack_dump;
  std::string snat_port_range;
  std::string netns;
  bool all_netns = false;
  NetnsScan netns_scan = NetnsScan::kAuto;
  bool netns_scan_given = false;
  double trace_s = 0;  // --trace: seconds of `conndoctor trace` alongside the reading
  ColorMode color = ColorMode::kAuto;
  bool interval_given = false;
};

// --all-netns: one line (or one report) per namespace, worst first; the exit status is the
// worst namespace's.
int run_all_netns(const CheckArgs& a, const DiagnoseOptions& opt, Clock& clock) {
  auto all = diagnose_all_netns(opt, clock);
  if (!all) return error_exit(all.error().message);
  std::string out;
  if (a.json) {
    auto doc = netns_summary_json(all->results, all->missing);
    doc["host"] = host_json();
    out = doc.dump(2) + "\n";
  } else {
    out = netns_summary_text(all->results, use_color(a.color), all->missing);
  }
  if (int rc = emit(out); rc != kExitOk) return rc;
  return exit_code_for(overall_status(all->results));
}

// --netns NAME|PID: the whole pipeline runs inside that namespace, then the process returns.
Result<Diagnosis> diagnose_in(const std::string& target, const DiagnoseOptions& opt, Clock& clock) {
  NetnsRoots roots;
  roots.identity = opt.collect.identity;
  roots.runtime_roots = opt.collect.runtime_roots;
  auto info = resolve_netns(target, roots);
  if (!info) return std::unexpected(info.error());
  auto guard = NetnsGuard::enter(info->path);
  if (!guard) return std::unexpected(guard.error());
  auto d = diagnose(opt, clock);
  if (d) d->snapshot.netns = info->label() + (info->pod ? " " + info->pod->label() : "");
  return d;
}

int run_check(const CheckArgs& a) {
  DiagnoseOptions opt;
  opt.proc_root = a.proc_root;
  opt.sock_diag_dump = a.sock_diag_dump;
  opt.conntrack_dump = a.conntrack_dump;
  opt.record_dump = a.record_dump;
  opt.record_conntrack_dump = a.record_conntrack_dump;
  opt.collect.interval_s = a.interval_s;
  opt.collect.processes = !a.no_processes;
  opt.collect.attribution = !a.no_processes && !a.no_attribution;
  opt.collect.fd_scan = a.fd_scan;
  opt.collect.runtime_roots = a.runtime_roots;
  if (a.fd_scan != FdScan::kAuto && !opt.collect.attribution)
    return error_exit(
        "--fd-scan chooses how attribution reads fds; attribution is off "
        "(--no-attribution or --no-processes)");
  if (replays(opt) && a.interval_given && a.interval_s > 0)
    return error_exit(
        "--interval: a recording (--proc-root, --sock-diag-dump) is one reading; rates need two "
        "readings of the live system");
  if (!a.snat_port_range.empty()) {
    auto range = parse_snat_port_range(a.snat_port_range);
    if (!range) return error_exit(range.error().message);
    opt.collect.snat_port_range = *range;
  }
  opt.netns_scan = a.netns_scan;
  if (a.netns_scan_given && !a.all_netns)
    return error_exit("--netns-scan chooses how --all-netns reads the namespaces' sockets");
  auto clock = make_real_clock();
  if (a.all_netns) return run_all_netns(a, opt, *clock);

  // --trace S: the tracer counts in the kernel while the reading runs, for S seconds in all.
  // Without BPF the check still runs and `missing` says why nothing was traced.
  std::optional<BlockedSignals> signals;
  std::optional<Tracer> tracer;
  std::string trace_error;
  TraceScope scope;
  const auto trace_start = std::chrono::steady_clock::now();
  if (a.trace_s > 0) {
    signals.emplace();
    Result<uint32_t> ino = fail("");
    if (a.netns.empty()) {
      auto self = netns_id_of("/proc/self/ns/net");
      ino = self ? Result<uint32_t>(uint32_t(self->ino)) : std::unexpected(self.error());
    } else {
      ino = netns_inode_of(a.netns);
    }
    auto t = ino ? Tracer::start({.netns_only = *ino}) : std::unexpected(ino.error());
    if (t) {
      tracer.emplace(std::move(*t));
      scope.netns = *ino;
      scope.label = _f("network namespace inode {0}", *ino);
    } else {
      trace_error = t.error().message;
    }
  }

  auto d = a.netns.empty() ? diagnose(opt, *clock) : diagnose_in(a.netns, opt, *clock);
  if (!d) return error_exit(d.error().message);

  std::optional<TraceResult> traced;
  if (tracer) {
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - trace_start).count();
    scope.interrupted = signals->wait(a.trace_s - spent);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - trace_start).count();
    if (auto raw = tracer->read()) {
      traced = decode_trace(*raw, elapsed);
      traced->missing.insert(traced->missing.begin(), tracer->missing().begin(),
                             tracer->missing().end());
      const ProcFs proc;
      merge_trace(
          d->analysis, *traced,
          [&proc](int32_t pid, const std::string& comm) { return detect_runtime(proc, pid, comm); },
          processes_in(d->snapshot.now()));
    } else {
      trace_error = raw.error().message;
    }
    tracer.reset();  // detached before anything is printed
  }
  if (!trace_error.empty()) d->snapshot.missing.push_back(trace_error + " (not traced)");

  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  if (a.trace_s > 0) extra["trace"] = traced ? trace_json(*traced, scope) : nullptr;
  return print_diagnosis(*d, {a.json, a.color, a.verbose}, extra, {},
                         traced ? "\n" + trace_text(*traced, scope) : std::string());
}

}  // namespace

Handler setup_check(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  app.add_flag("--json", a->json, _("print the report as JSON (schema conndoctor/report/v1)"));
  app.add_option("--interval", a->interval_s,
                 _("seconds between the two readings that turn counters into rates; 0 takes one"))
      ->check(seconds_between(0, 3600))
      ->capture_default_str();
  auto* proc_root =
      app.add_option(
             "--proc-root", a->proc_root,
             _("read procfs from this directory instead of /proc (recorded state, fixtures)"))
          ->check(CLI::ExistingDirectory);
  auto* replay =
      app.add_option("--sock-diag-dump", a->sock_diag_dump,
                     _("replay this recorded sock_diag dump instead of asking the kernel"))
          ->check(CLI::ExistingFile);
  auto* replay_ct =
      app.add_option("--conntrack-dump", a->conntrack_dump,
                     _("replay this recorded ctnetlink/nf_tables transcript instead of asking the "
                       "kernel"))
          ->check(CLI::ExistingFile);
  app.add_option("--record-dump", a->record_dump,
                 _("also write the live sock_diag dump's transcript to this file"))
      ->excludes(replay);
  app.add_option("--record-conntrack-dump", a->record_conntrack_dump,
                 _("also write the live ctnetlink/nf_tables transcript to this file"))
      ->excludes(replay_ct);
  app.add_option(
      "--snat-port-range", a->snat_port_range,
      _("NAT source-port range LO-HI of the masquerade/snat rule (default: read from the "
        "nftables ruleset, else 1024-65535)"));
  auto* netns = app.add_option("--netns", a->netns,
                               _("diagnose another network namespace: a /run/netns name or a pid"));
  auto* all = app.add_flag("--all-netns", a->all_netns,
                           _("diagnose every network namespace on the host, worst first"));
  all->excludes(netns);
  add_netns_scan_option(app, a->netns_scan);
  app.add_flag("--no-processes", a->no_processes, _("skip the per-process scan of /proc"));
  app.add_flag("--no-attribution", a->no_attribution,
               _("count fds per process but do not join sockets to processes"));
  add_fd_scan_option(app, a->fd_scan);
  add_runtime_root_option(app, a->runtime_roots);
  auto* trace =
      app.add_option("--trace", a->trace_s,
                     _("also trace failed connects, EMFILE, churn and drops for S seconds "
                       "(needs root) and add them to the findings' evidence"))
          ->check(seconds_between(0.1, 3600));
  // Tracing watches the live kernel: it means nothing beside a recording.
  trace->excludes(all)->excludes(replay)->excludes(replay_ct)->excludes(proc_root);
  app.add_flag("-v,--verbose", a->verbose,
               _("show every tuple and process, not only the top ones"));
  add_color_option(app, a->color);
  return [a, &app] {
    a->interval_given = app.get_option("--interval")->count() > 0;
    a->netns_scan_given = app.get_option("--netns-scan")->count() > 0;
    return run_check(*a);
  };
}

}  // namespace cd
