// `conndoctor watch --history PATH`: the flight recorder. A small daemon without HTTP that
// diagnoses every --every seconds and stores each diagnosis in the history database
// (history/store.h); SIGINT/SIGTERM stop it between samples. Also the recording half of
// `serve --history`.
#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>

#include "cli/commands.h"
#include "diagnose/diagnose.h"
#include "history/time_spec.h"
#include "render/report.h"
#include "serve/scrape_coordinator.h"
#include "util/clock.h"
#include "util/format.h"

namespace cd {

Sample history_sample(const Snapshot& snap, const Analysis& a) {
  auto doc = report_json(snap, a);
  doc["host"] = host_json();
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t t_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  return make_sample(t_ms, doc, report_text(snap, a, {false, false}));
}

void add_recorder_options(CLI::App& app, RecorderArgs& r, bool required) {
  auto* h = app.add_option("--history", r.path,
                           "record every collection into this SQLite database (created if absent)");
  if (required) h->required();
  app.add_option("--retention", r.retention, "delete samples older than this (e.g. 7d, 12h)")
      ->capture_default_str();
  app.add_option("--max-size", r.max_size,
                 "the database never grows past this; the oldest samples go first")
      ->capture_default_str();
}

Result<std::unique_ptr<HistoryWriter>> open_recorder(const RecorderArgs& r) {
  RecorderLimits lim;
  auto ret = parse_duration_s(r.retention);
  if (!ret) return fail("--retention: " + ret.error().message);
  lim.retention_s = *ret;
  auto size = parse_size_bytes(r.max_size);
  if (!size) return fail("--max-size: " + size.error().message);
  if (*size < (1u << 20)) return fail("--max-size: at least 1MiB");
  lim.max_bytes = *size;
  return HistoryWriter::open(r.path, lim);
}

void SampleLog::record(HistoryWriter& w, const Snapshot& snap, const Analysis& a, const char* who) {
  auto out = w.write(history_sample(snap, a));
  if (!out) {
    if (!failing_)
      std::fprintf(stderr, "conndoctor %s: cannot record a sample: %s (retrying every sample)\n",
                   who, out.error().message.c_str());
    failing_ = true;
    return;
  }
  if (failing_)
    std::fprintf(stderr, "conndoctor %s: recording again (sample %lld)\n", who,
                 static_cast<long long>(out->sample_id));
  failing_ = false;
  ++written;
}

namespace {

struct WatchArgs {
  RecorderArgs recorder;
  std::string every = "10s";
  std::string proc_root = "/proc";
  bool no_processes = false;
  bool no_attribution = false;
  FdScan fd_scan = FdScan::kAuto;
  std::vector<std::string> runtime_roots;  // --runtime-root
};

int run_watch(const WatchArgs& a) {
  auto every = parse_duration_s(a.every);
  if (!every) return error_exit("--every: " + every.error().message);
  if (*every < 1) return error_exit("--every: at least 1s");
  auto writer = open_recorder(a.recorder);
  if (!writer) return error_exit(writer.error().message);

  DiagnoseOptions diag;
  diag.proc_root = a.proc_root;
  diag.collect.processes = !a.no_processes;
  diag.collect.attribution = !a.no_processes && !a.no_attribution;
  diag.collect.fd_scan = a.fd_scan;
  diag.collect.runtime_roots = a.runtime_roots;
  // One reading per sample; the coordinator pairs it with the previous sample's reading, so
  // rates span the time between samples and a sample costs one collection, as in serve.
  diag.collect.interval_s = 0;
  auto fd_tables = open_fd_tables(diag);
  auto clock = make_real_clock();
  ScrapeCoordinator coordinator(
      [&]() -> Result<Snapshot> {
        auto c = make_real_clock();
        auto d = diagnose(diag, *c, fd_tables.get());
        malloc_trim(0);
        if (!d) return std::unexpected(d.error());
        return std::move(d->snapshot);
      },
      [](const Snapshot& s) { return analyse(s); }, *clock,
      CoordinatorOptions{.min_interval_s = 0, .max_rate_window_s = *every * 3 + 5});

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::fprintf(stderr, "conndoctor watch: recording every %s into %s (retention %s, max %s)\n",
               fmt_duration(*every).c_str(), a.recorder.path.c_str(), a.recorder.retention.c_str(),
               a.recorder.max_size.c_str());

  SampleLog log;
  bool collect_failing = false;
  int sig = 0;
  double next = clock->now_s();
  while (sig == 0) {
    auto served = coordinator.get();
    if (served && served->result->diagnosis) {
      if (collect_failing) std::fprintf(stderr, "conndoctor watch: collecting again\n");
      collect_failing = false;
      const Diagnosis& d = *served->result->diagnosis;
      log.record(**writer, d.snapshot, d.analysis, "watch");
    } else if (!collect_failing) {
      std::fprintf(stderr, "conndoctor watch: collection failed: %s (retrying every sample)\n",
                   served ? served->result->error.c_str() : served.error().message.c_str());
      collect_failing = true;
    }
    // The next sample on the grid (start + k * every), skipping ticks a slow sample overran.
    next += *every;
    double now = clock->now_s();
    if (next < now) next += std::ceil((now - next) / *every) * *every;
    while (sig == 0) {
      double wait = next - clock->now_s();
      if (wait <= 0) break;
      timespec ts{time_t(wait), long((wait - std::floor(wait)) * 1e9)};
      int s = sigtimedwait(&stop, nullptr, &ts);
      if (s > 0) sig = s;
    }
  }
  writer->reset();  // checkpoint and close before saying so
  std::fprintf(stderr, "conndoctor watch: stopped (%s), %llu samples recorded\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<unsigned long long>(log.written));
  return kExitOk;
}

}  // namespace

Handler setup_watch(CLI::App& app) {
  auto a = std::make_shared<WatchArgs>();
  add_recorder_options(app, a->recorder, true);
  app.add_option("--every", a->every, "time between samples (e.g. 10s, 1m)")->capture_default_str();
  app.add_option("--proc-root", a->proc_root,
                 "read procfs from this directory instead of /proc (fixtures)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--no-processes", a->no_processes, "skip the per-process scan of /proc");
  app.add_flag("--no-attribution", a->no_attribution,
               "count fds per process but do not join sockets to processes");
  add_fd_scan_option(app, a->fd_scan);
  add_runtime_root_option(app, a->runtime_roots);
  return [a] { return run_watch(*a); };
}

}  // namespace cd
