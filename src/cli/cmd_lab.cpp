// `conndoctor lab list | run NAME | clean`: reproduce a failure in a throwaway namespace and
// print the same report `check` prints, with what the load generators observed.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "lab/lab.h"
#include "render/trace_report.h"
#include "trace/trace_decode.h"
#include "trace/tracer.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

struct LabArgs {
  std::string scenario;
  bool json = false;
  bool keep = false;
  bool verbose = false;
  bool trace = false;
  std::vector<std::string> sets;
  double interval_s = 2.0;
  double settle_s = 0;
  ColorMode color = ColorMode::kAuto;
};

int run_list(bool json) {
  std::string out;
  if (json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const ScenarioInfo& s : lab_list())
      arr.push_back({{"name", s.name}, {"description", s.description}, {"expect", s.expect}});
    out = arr.dump(2) + "\n";
  } else {
    for (const ScenarioInfo& s : lab_list())
      out += fmt::format("{:<24} {}\n{:<24} {}\n", s.name, _(std::string(s.description).c_str()),
                         "", _f("expect: {0}", _(std::string(s.expect).c_str())));
  }
  return emit(out);
}

// --trace: the tracer counts in the lab namespace from before the load starts until it stopped.
class LabTrace final : public LabTracer {
 public:
  Result<void> start(uint32_t netns_inode) override {
    auto t = Tracer::start({.netns_only = netns_inode});
    if (!t) return std::unexpected(t.error());
    tracer_.emplace(std::move(*t));
    started_ = std::chrono::steady_clock::now();
    scope_.netns = netns_inode;
    scope_.label = _f("the lab's network namespace (inode {0})", netns_inode);
    return {};
  }
  Result<TraceResult> finish() override {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    auto raw = tracer_->read();
    std::vector<std::string> missing = tracer_->missing();
    tracer_.reset();  // detached before anything is printed
    if (!raw) return std::unexpected(raw.error());
    TraceResult r = decode_trace(*raw, elapsed);
    r.missing.insert(r.missing.begin(), missing.begin(), missing.end());
    return r;
  }
  const TraceScope& scope() const { return scope_; }

 private:
  std::optional<Tracer> tracer_;
  std::chrono::steady_clock::time_point started_;
  TraceScope scope_;
};

int run_lab(const LabArgs& a) {
  LabOptions opt;
  opt.scenario = a.scenario;
  opt.keep = a.keep;
  opt.sets = a.sets;
  opt.diagnose.collect.interval_s = a.interval_s;
  opt.settle_s = a.settle_s;
  if (a.settle_s > 0)
    opt.on_ready = [&](const LabRun& r) {
      // On stderr, at once, so that a recorder can be pointed at it (`watch --netns NAME`).
      std::fprintf(stderr,
                   "conndoctor lab: namespace %s (inode %llu) ready; the load starts in %s\n",
                   r.netns.c_str(), static_cast<unsigned long long>(r.netns_inode),
                   fmt_duration(a.settle_s).c_str());
      std::fflush(stderr);
    };
  LabTrace tracer;
  if (a.trace) opt.tracer = &tracer;
  auto run = lab_run(opt);
  if (!run) {
    std::fprintf(stderr, "conndoctor: %s\n", run.error().message.c_str());
    return lab_exit_code(run.error());
  }
  nlohmann::ordered_json extra = {{"lab", lab_json(*run)}};
  std::string postscript;
  if (a.trace) {
    extra["trace"] = run->trace ? trace_json(*run->trace, tracer.scope()) : nullptr;
    if (run->trace) postscript = "\n" + trace_text(*run->trace, tracer.scope());
  }
  return print_diagnosis(run->diagnosis, {a.json, a.color, a.verbose}, extra, lab_text(*run),
                         postscript);
}

int run_clean(const std::string& prefix) {
  auto removed = lab_clean(prefix);
  if (!removed) return error_exit(removed.error().message);
  std::string out;
  for (const auto& line : *removed) out += line + "\n";
  if (removed->empty()) out = std::string(_("nothing to clean")) + "\n";
  return emit(out);
}

}  // namespace

Handler setup_lab(CLI::App& app) {
  auto a = std::make_shared<LabArgs>();
  auto list_json = std::make_shared<bool>(false);
  app.require_subcommand(1);
  CLI::App* list = app.add_subcommand("list", _("the scenarios, one line each"));
  list->add_flag("--json", *list_json, _("print the list as JSON"));
  CLI::App* run = app.add_subcommand("run", _("run one scenario and diagnose it while it is live"));
  run->add_option("scenario", a->scenario, _("scenario name (see `conndoctor lab list`)"))
      ->required();
  run->add_flag("--json", a->json, _("print the report as JSON, with a \"lab\" object"));
  run->add_flag("--keep", a->keep,
                _("leave the namespace behind for inspection (then `conndoctor lab clean`)"));
  run->add_option("--set", a->sets,
                  _("KEY=VALUE: a net.* sysctl inside the lab namespace, after the scenario's own"))
      ->take_all();
  run->add_option("--interval", a->interval_s, _("seconds between the diagnosis's two readings"))
      ->check(seconds_between(0, 60))
      ->capture_default_str();
  run->add_option("--settle", a->settle_s,
                  _("seconds the namespace stays idle before the load starts, announced on stderr "
                    "(to record it from outside: `conndoctor watch --netns NAME`)"))
      ->check(seconds_between(0, 600));
  run->add_flag("--trace", a->trace,
                _("also trace the run's namespace (failed connects, EMFILE, churn, drops) from "
                  "before the load starts until it stopped, merged as `check --trace` does"));
  run->add_flag("-v,--verbose", a->verbose, _("show every tuple and process"));
  add_color_option(*run, a->color);
  CLI::App* clean = app.add_subcommand("clean", _("remove namespaces left by a killed run"));
  auto clean_prefix = std::make_shared<std::string>();
  clean->add_option("prefix", *clean_prefix,
                    _("only namespaces whose name starts with this (cdlab-PID- for one run)"));
  return [a, list_json, list, run, clean, clean_prefix] {
    if (list->parsed()) return run_list(*list_json);
    if (run->parsed()) return run_lab(*a);
    if (clean->parsed()) return run_clean(*clean_prefix);
    return error_exit("lab: say list, run NAME or clean");
  };
}

}  // namespace cd
