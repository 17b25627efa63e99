// lab run / list / clean: namespace, sysctls, load, the diagnosis while the failure is live,
// and the teardown on every path (success, error, signal).
#include "lab/lab.h"

#include <unistd.h>

#include "diagnose/trace_merge.h"
#include "lab/load.h"
#include "lab/netns.h"
#include "lab/signal_guard.h"
#include "util/i18n.h"

namespace cd {

namespace {

// The signal that interrupted the last lab_run (0: none); read by lab_exit_code(). A signal
// is process-wide state anyway, and Error has no room for it.
int g_interrupt_signal = 0;

constexpr double kStartBudgetS = 30;  // scenario start-up (waits are bounded well below this)
constexpr double kStopGraceS = 3;

std::unexpected<Error> interrupted(int sig, const std::string& netns) {
  g_interrupt_signal = sig;
  return std::unexpected(Error{std::string("lab run interrupted by ") + signal_name(sig) +
                                   "; namespace " + netns + " and its processes removed",
                               EINTR});
}

}  // namespace

std::vector<ScenarioInfo> lab_list() {
  return lab_scenarios();
}

Result<LabRun> lab_run(const LabOptions& opt) {
  g_interrupt_signal = 0;
  const ScenarioInfo* sc = find_scenario(opt.scenario);
  if (!sc) {
    return fail("unknown lab scenario '" + opt.scenario + "' (`conndoctor lab list` shows them)");
  }
  if (opt.diagnose.proc_root != "/proc" || !opt.diagnose.sock_diag_dump.empty()) {
    return fail(
        "lab: the diagnosis reads the lab namespace live; --proc-root and "
        "--sock-diag-dump do not apply");
  }
  std::vector<std::pair<std::string, std::string>> sets;
  for (const std::string& s : opt.sets) {
    auto kv = parse_sysctl_assignment(s);
    if (!kv) return std::unexpected(kv.error());
    sets.push_back(*kv);
  }

  // Order matters for teardown (reverse order): the load dies first, then the namespace,
  // and the signal mask is restored last.
  auto guard = SignalGuard::install();
  if (!guard) return std::unexpected(guard.error());
  LabRun run;
  run.scenario = std::string(sc->name);
  run.netns = std::string(kLabNetnsPrefix) + std::to_string(::getpid()) + "-" + run.scenario;
  auto ns = LabNetns::create(run.netns);
  if (ns) run.netns_inode = uint64_t(ns->id().ino);
  if (!ns) return fail("lab: cannot create namespace " + run.netns + ": " + ns.error().message);

  std::vector<std::pair<std::string, std::string>> all;
  for (const Sysctl& s : sc->sysctls) all.emplace_back(s.key, s.value);
  all.insert(all.end(), sets.begin(), sets.end());
  for (const auto& [key, value] : all) {
    if (auto r = ns->set_sysctl(key, value); !r) return std::unexpected(r.error());
    run.sysctls.push_back(key + "=" + value);
  }
  if (int sig = guard->check()) return interrupted(sig, run.netns);
  if (opt.on_ready) opt.on_ready(run);
  if (opt.settle_s > 0) {
    // Idle, but a signal still ends the run at once.
    SignalAwareClock clock(guard->fd());
    const double until = clock.now_s() + opt.settle_s;
    for (double left = opt.settle_s; left > 0 && !guard->check(); left = until - clock.now_s())
      clock.sleep_s(left);
    if (int sig = guard->check()) return interrupted(sig, run.netns);
  }

  // --trace: like `check --trace`, a tracer that cannot start leaves the diagnosis intact and
  // says why in `missing`.
  std::string trace_error;
  bool tracing = false;
  if (opt.tracer) {
    if (auto r = opt.tracer->start(uint32_t(run.netns_inode)); r)
      tracing = true;
    else
      trace_error = r.error().message;
  }

  {
    double interval = std::max(0.0, opt.diagnose.collect.interval_s);
    LoadSet load(guard->fd(), kStartBudgetS + interval + 15);
    auto started = sc->start(load);
    if (int sig = guard->check()) return interrupted(sig, run.netns);
    if (!started) {
      load.stop(1);
      std::string msg = "lab " + run.scenario + ": " + started.error().message;
      return fail(msg);
    }
    // The diagnosis runs here, inside the namespace, while the workers keep the failure
    // live. It gets exactly the options `check` would; the clock only wakes early on a signal.
    SignalAwareClock clock(guard->fd());
    auto diag = diagnose(opt.diagnose, clock);
    if (int sig = guard->check()) return interrupted(sig, run.netns);
    load.stop(kStopGraceS);
    run.observed = load.observations();
    for (std::size_t w = 0; w < load.size(); ++w)
      run.workers.push_back({load.comm(w), load.pid(w)});
    if (!diag) return fail("lab " + run.scenario + ": diagnosis failed: " + diag.error().message);
    run.diagnosis = std::move(*diag);
  }
  if (tracing) {
    if (auto t = opt.tracer->finish(); t) {
      run.trace = std::move(*t);
      merge_trace(run.diagnosis.analysis, *run.trace, {},
                  processes_in(run.diagnosis.snapshot.now()));
    } else {
      trace_error = t.error().message;
    }
  }
  if (!trace_error.empty()) run.diagnosis.snapshot.missing.push_back(trace_error + " (not traced)");
  if (int sig = guard->check()) return interrupted(sig, run.netns);
  if (opt.keep) {
    ns->keep();
    run.kept = true;
  }
  return run;
}

Result<std::vector<std::string>> lab_clean(std::string_view prefix) {
  if (prefix.empty()) return remove_leftover_lab_netns();
  if (prefix.rfind(kLabNetnsPrefix, 0) != 0)
    return fail("lab clean: '" + std::string(prefix) + "' does not start with " +
                std::string(kLabNetnsPrefix) + " (only the lab's own namespaces are removed)");
  return remove_leftover_lab_netns(prefix);
}

int lab_exit_code(const Error& e) {
  if (e.err == EINTR && g_interrupt_signal > 0) return 128 + g_interrupt_signal;
  return 3;
}

nlohmann::ordered_json lab_json(const LabRun& run) {
  nlohmann::ordered_json j;
  j["scenario"] = run.scenario;
  j["netns"] = run.netns;
  j["netns_inode"] = run.netns_inode;
  j["kept"] = run.kept;
  j["sysctls"] = run.sysctls;
  j["observed"] = run.observed;
  j["workers"] = nlohmann::ordered_json::array();
  for (const auto& w : run.workers) j["workers"].push_back({{"comm", w.comm}, {"pid", w.pid}});
  return j;
}

std::string lab_text(const LabRun& run) {
  std::string t =
      run.kept ? _f("lab scenario {0} in namespace {1} (kept: `ip netns exec {1} ss -s`; remove "
                    "with `conndoctor lab clean`)",
                    run.scenario, run.netns)
               : _f("lab scenario {0} in namespace {1} (removed)", run.scenario, run.netns);
  t += "\n";
  if (!run.sysctls.empty()) {
    t += _("  sysctls:");
    for (const auto& s : run.sysctls) t += " " + s;
    t += "\n";
  }
  for (const auto& o : run.observed) t += _("  observed: ") + o + "\n";
  return t;
}

}  // namespace cd
