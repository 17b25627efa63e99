// `conndoctor trace [--duration S] [--netns NAME|PID | --all-netns] [--json]`: count failed
// connects, EMFILE, churn and resource drops in the kernel for S seconds (SIGINT/SIGTERM end
// early and still report), then print what failed, where and who (docs/trace.md).
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "render/trace_report.h"
#include "trace/trace_decode.h"
#include "trace/tracer.h"
#include "util/blocked_signals.h"
#include "util/i18n.h"

namespace cd {

namespace {

struct TraceArgs {
  double duration_s = 10;
  std::string netns;
  bool all_netns = false;
  bool json = false;
};

int run_trace(const TraceArgs& a) {
  TraceOptions opt;
  TraceScope scope;
  if (a.all_netns) {
    scope.label = _("all network namespaces");
  } else {
    Result<uint32_t> ino = fail("");
    if (a.netns.empty()) {
      struct stat st {};
      if (::stat("/proc/self/ns/net", &st) != 0)
        return error_exit("trace: cannot read /proc/self/ns/net");
      ino = uint32_t(st.st_ino);
    } else {
      ino = netns_inode_of(a.netns);
    }
    if (!ino) return error_exit(ino.error().message);
    opt.netns_only = *ino;
    scope.netns = *ino;
    scope.label = a.netns.empty() ? _f("this network namespace (inode {0})", *ino)
                                  : _f("network namespace {0} (inode {1})", a.netns, *ino);
  }

  BlockedSignals signals;
  auto tracer = Tracer::start(opt);
  if (!tracer) return error_exit(tracer.error().message);
  const auto started = std::chrono::steady_clock::now();
  scope.interrupted = signals.wait(a.duration_s);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto raw = tracer->read();
  if (!raw) return error_exit(raw.error().message);
  TraceResult result = decode_trace(*raw, elapsed);
  result.missing.insert(result.missing.begin(), tracer->missing().begin(), tracer->missing().end());
  if (a.json) return emit(trace_json(result, scope).dump(2) + "\n");
  return emit(trace_text(result, scope));
}

}  // namespace

Handler setup_trace(CLI::App& app) {
  auto a = std::make_shared<TraceArgs>();
  app.add_option("-d,--duration", a->duration_s, _("seconds to count (default 10)"))
      ->check(CLI::Range(0.1, 86400.0));
  auto* ns = app.add_option("--netns", a->netns,
                            _("trace one network namespace: a /run/netns name or a pid "
                              "(default: this process's namespace)"));
  auto* all = app.add_flag("--all-netns", a->all_netns, _("trace every network namespace"));
  ns->excludes(all);
  app.add_flag("--json", a->json, _("JSON output (schema conndoctor/trace/v1)"));
  return [a] { return run_trace(*a); };
}

}  // namespace cd
