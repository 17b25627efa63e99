// `conndoctor serve`: the diagnosis for Prometheus (/metrics), as JSON (/report), /healthz.
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "analyse/analysis.h"
#include "cli/commands.h"
#include "diagnose/diagnose.h"
#include "serve/auth.h"
#include "serve/scrape_coordinator.h"
#include "serve/server.h"
#include "trace/trace_decode.h"
#include "trace/tracer.h"
#include "util/clock.h"
#include "util/i18n.h"

namespace cd {

namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:" + std::to_string(kDefaultServePort);
  double min_interval_s = 5.0;
  std::size_t top = 5;
  bool trace = false;
  std::size_t threads = 8;
  std::size_t max_queued = 512;
  std::size_t max_connections = 512;
  int read_timeout_s = 3;
  int write_timeout_s = 5;
  std::string auth_file;
  std::string tls_cert, tls_key;
  std::string proc_root = "/proc";
  std::string sock_diag_dump;
  bool no_processes = false;
  bool no_attribution = false;
  FdScan fd_scan = FdScan::kAuto;
  std::vector<std::string> runtime_roots;  // --runtime-root
  RecorderArgs recorder;                   // --history: record every collection (flight recorder)
};

// Builds everything that can be refused before serving: one line and exit 3 on a bad config.
Result<ServeOptions> serve_options(const ServeArgs& a) {
  ServeOptions o;
  auto listen = parse_listen_address(a.listen);
  if (!listen) return std::unexpected(listen.error());
  o.listen = *listen;
  o.threads = a.threads;
  o.max_queued = a.max_queued;
  o.max_connections = a.max_connections;
  o.read_timeout_s = a.read_timeout_s;
  o.write_timeout_s = a.write_timeout_s;
  o.metrics.top_tuples = o.metrics.top_processes = o.metrics.top_listeners = a.top;
  o.metrics.top_snat = a.top;
  if (!a.auth_file.empty()) {
    auto auth = load_auth_file(a.auth_file);
    if (!auth) return std::unexpected(auth.error());
    o.auth = *auth;
  }
  if (auto tls = check_tls_files(a.tls_cert, a.tls_key); !tls) return std::unexpected(tls.error());
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  o.report_host = host_json;
  return o;
}

int run_serve(const ServeArgs& a) {
  auto opt = serve_options(a);
  if (!opt) return error_exit(opt.error().message);

  std::shared_ptr<HistoryWriter> recorder;
  if (!a.recorder.path.empty()) {
    auto w = open_recorder(a.recorder);
    if (!w) return error_exit(w.error().message);
    recorder = std::move(*w);
  }
  auto sample_log = std::make_shared<SampleLog>();

  DiagnoseOptions diag;
  diag.proc_root = a.proc_root;
  diag.sock_diag_dump = a.sock_diag_dump;
  diag.collect.processes = !a.no_processes;
  diag.collect.attribution = !a.no_processes && !a.no_attribution;
  diag.collect.fd_scan = a.fd_scan;
  diag.collect.runtime_roots = a.runtime_roots;
  // One reading per collection: the coordinator pairs it with the previous collection's
  // reading, so rates span the time between scrapes and no scrape waits `--interval`.
  diag.collect.interval_s = 0;
  // --trace: loaded once, read at each scrape (the maps keep counting in between). Without
  // BPF the exporter still serves the diagnosis and says so.
  std::shared_ptr<Tracer> tracer;
  // With --history too, each recorded sample stores what the tracer counted since the last.
  std::shared_ptr<TracedSampler> traced_sampler;
  if (a.trace) {
    struct stat st {};
    uint32_t ino = ::stat("/proc/self/ns/net", &st) == 0 ? uint32_t(st.st_ino) : 0;
    auto t = Tracer::start({.netns_only = ino});
    if (t) {
      tracer = std::make_shared<Tracer>(std::move(*t));
    } else {
      std::fprintf(stderr, "conndoctor serve: not tracing (conndoctor_trace_up 0): %s\n",
                   t.error().message.c_str());
    }
    const std::string why = t ? std::string() : t.error().message;
    if (recorder) traced_sampler = std::make_shared<TracedSampler>(tracer, why, ino);
    opt->trace = [tracer, why]() -> Result<TraceResult> {
      if (!tracer) return fail(why);
      auto raw = tracer->read();
      if (!raw) return std::unexpected(raw.error());
      return decode_trace(*raw, 0);
    };
  }

  auto clock = make_real_clock();
  // One BPF fd scan for the exporter's life: loaded by the first collection that wants it,
  // then reused (the mutex only matters if collections ever overlapped; they are coalesced).
  struct FdScanShared {
    std::mutex mu;
    std::unique_ptr<FdTableSource> source;
  };
  auto fd_scan = std::make_shared<FdScanShared>();
  fd_scan->source = open_fd_tables(diag);
  ScrapeCoordinator coordinator(
      [diag, fd_scan]() -> Result<Snapshot> {
        auto c = make_real_clock();
        std::lock_guard lock(fd_scan->mu);
        auto d = diagnose(diag, *c, fd_scan->source.get());
        // A collection frees megabytes at 1M sockets (fd table, per-process socket lists)
        // from whichever arena its threads used; hand the free pages back so that they do
        // not stay resident in one arena while the next collection fills the other.
        malloc_trim(0);
        if (!d) return std::unexpected(d.error());
        return std::move(d->snapshot);
      },
      // With --history each collection is recorded as it is analysed (collections are
      // coalesced, so one write per collection, never one per scrape).
      [recorder, sample_log, traced_sampler](const Snapshot& s) {
        Analysis an = analyse(s);
        if (recorder && traced_sampler)
          sample_log->record(*recorder, traced_sampler->sample(s, an), "serve");
        else if (recorder)
          sample_log->record(*recorder, s, an, "serve");
        return an;
      },
      *clock, CoordinatorOptions{.min_interval_s = a.min_interval_s});

  // Signals are blocked before any thread starts, so every thread inherits the mask and only
  // the wait below receives SIGINT/SIGTERM. A client that hangs up mid-response must not kill
  // the exporter with SIGPIPE (libmicrohttpd sends with MSG_NOSIGNAL; this is belt and braces).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // glibc gives each worker thread its own malloc arena (up to 8 per core); with a few KiB of
  // exposition per request, RSS crept up by fragmentation across them under load. Two arenas
  // keep it flat (docs/benchmarks.md) at no measurable cost for a handful of workers.
  mallopt(M_ARENA_MAX, 2);
  // Each collection allocates and frees the same big buffers (the inode index, 8 bytes a live
  // socket, reserved with room to spare). glibc raises its mmap threshold to the size of the
  // largest mmap()ed block freed, so from the second collection on those buffers came from
  // the heap, where the unwritten part of a reserve is resident too and free blocks
  // fragment: at 1M sockets the exporter's peak RSS grew by ~10 MB over four scrapes. A
  // fixed threshold keeps every block above 1 MiB in mmap(): returned on free, resident only
  // where written.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);

  auto server = MetricsServer::create(*opt, coordinator);
  if (!server) return error_exit(server.error().message);
  MetricsServer& srv = **server;

  // A first reading now, so that the first scrape already has one to compute rates against.
  if (auto first = coordinator.get(); first && !first->result->diagnosis)
    std::fprintf(stderr, "conndoctor: first collection failed: %s\n", first->result->error.c_str());

  ListenAddress shown = opt->listen;
  shown.port = srv.port();
  std::fprintf(stderr, "conndoctor serve: listening on %s://%s (/metrics /report /healthz)%s\n",
               srv.tls() ? "https" : "http", shown.to_string().c_str(),
               !opt->listen.is_loopback() && !opt->auth
                   ? "; no --auth-file: anyone who can reach it can read it"
                   : "");

  std::atomic<bool> finished{false};
  bool ok = true;
  std::thread loop([&] {
    ok = srv.run();
    finished = true;
  });
  int sig = 0;
  while (!finished) {
    timespec tick{0, 200'000'000};
    int s = sigtimedwait(&stop_signals, nullptr, &tick);
    if (s > 0) {
      sig = s;
      break;
    }
  }
  srv.stop();
  loop.join();
  if (sig) {
    std::fprintf(stderr, "conndoctor serve: stopped (%s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return kExitOk;
  }
  return ok ? kExitOk : error_exit("the accept loop on " + shown.to_string() + " failed");
}

}  // namespace

Handler setup_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  app.add_option(
         "--listen", a->listen,
         _("ADDR:PORT to serve on; every interface only when asked (0.0.0.0:PORT, [::]:PORT)"))
      ->capture_default_str();
  app.add_option("--min-interval", a->min_interval_s,
                 _("seconds between collections; scrapes in between share the last result"))
      ->check(seconds_between(0, 3600))
      ->capture_default_str();
  app.add_option("--top", a->top, _("tuples, processes and listeners exported (cardinality bound)"))
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--threads", a->threads, _("worker threads answering /metrics and /report"))
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--max-queued", a->max_queued,
                 _("/metrics and /report requests waiting for a worker; past it: 503"))
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--max-connections", a->max_connections,
                 _("open connections served; past it: 503 and closed"))
      ->check(CLI::Range(1, 16384))
      ->capture_default_str();
  app.add_option("--read-timeout", a->read_timeout_s,
                 _("seconds a client has to send a whole request (a deadline, not per read)"))
      ->check(CLI::Range(1, 300))
      ->capture_default_str();
  app.add_option("--write-timeout", a->write_timeout_s,
                 _("seconds a client has to take a whole response (a deadline, not per read)"))
      ->check(CLI::Range(1, 300))
      ->capture_default_str();
  app.add_option("--auth-file", a->auth_file,
                 _("require 'bearer TOKEN' or 'basic USER:PASSWORD' from this file (mode 600)"));
  app.add_option("--tls-cert", a->tls_cert, _("serve HTTPS with this PEM certificate"));
  app.add_option("--tls-key", a->tls_key, _("PEM private key for --tls-cert"));
  app.add_option("--proc-root", a->proc_root,
                 _("read procfs from this directory instead of /proc (recorded state, fixtures)"))
      ->check(CLI::ExistingDirectory);
  app.add_option("--sock-diag-dump", a->sock_diag_dump,
                 _("replay this recorded sock_diag dump instead of asking the kernel"))
      ->check(CLI::ExistingFile);
  app.add_flag("--trace", a->trace,
               _("keep the tracer loaded and export its counters: failed connects, EMFILE, "
                 "churn, drops (needs root; docs/metrics.md)"));
  app.add_flag("--no-processes", a->no_processes, _("skip the per-process scan of /proc"));
  app.add_flag("--no-attribution", a->no_attribution,
               _("count fds per process but do not join sockets to processes"));
  add_fd_scan_option(app, a->fd_scan);
  add_runtime_root_option(app, a->runtime_roots);
  add_recorder_options(app, a->recorder, false);
  return [a] { return run_serve(*a); };
}

}  // namespace cd
