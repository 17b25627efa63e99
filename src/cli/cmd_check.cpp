// `conndoctor check`: collect -> analyse -> report for the caller's network namespace.
#include <memory>
#include <string>

#include "cli/commands.h"
#include "diagnose/diagnose.h"
#include "render/report.h"
#include "util/clock.h"

namespace cd {

namespace {

struct CheckArgs {
  bool json = false;
  bool verbose = false;
  bool no_processes = false;
  bool no_attribution = false;
  double interval_s = 2.0;
  std::string proc_root = "/proc";
  std::string sock_diag_dump;
  ColorMode color = ColorMode::kAuto;
};

int exit_for(Status s) {
  switch (s) {
    case Status::kOk: return kExitOk;
    case Status::kWarning: return kExitWarning;
    case Status::kCritical: return kExitCritical;
    case Status::kUnknown: return kExitUnknown;
  }
  return kExitUnknown;
}

int run_check(const CheckArgs& a) {
  DiagnoseOptions opt;
  opt.proc_root = a.proc_root;
  opt.sock_diag_dump = a.sock_diag_dump;
  opt.collect.interval_s = a.interval_s;
  opt.collect.processes = !a.no_processes;
  opt.collect.attribution = !a.no_processes && !a.no_attribution;
  auto clock = make_real_clock();
  auto d = diagnose(opt, *clock);
  if (!d) return error_exit(d.error().message);

  std::string out;
  if (a.json) {
    auto doc = report_json(d->snapshot, d->analysis);
    doc["host"] = host_json();
    out = doc.dump(2) + "\n";
  } else {
    out = report_text(d->snapshot, d->analysis, {use_color(a.color), a.verbose});
  }
  if (int rc = emit(out); rc != kExitOk) return rc;
  return exit_for(d->analysis.status);
}

}  // namespace

Handler setup_check(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  app.add_flag("--json", a->json, "print the report as JSON (schema conndoctor/report/v1)");
  app.add_option("--interval", a->interval_s,
                 "seconds between the two readings that turn counters into rates; 0 takes one")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--proc-root", a->proc_root,
                 "read procfs from this directory instead of /proc (recorded state, fixtures)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--sock-diag-dump", a->sock_diag_dump,
                 "replay this recorded sock_diag dump instead of asking the kernel")
      ->check(CLI::ExistingFile);
  app.add_flag("--no-processes", a->no_processes, "skip the per-process scan of /proc");
  app.add_flag("--no-attribution", a->no_attribution,
               "count fds per process but do not join sockets to processes");
  app.add_flag("-v,--verbose", a->verbose, "show every tuple and process, not only the top ones");
  add_color_option(app, a->color);
  return [a] { return run_check(*a); };
}

}  // namespace cd
