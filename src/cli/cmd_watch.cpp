// `conndoctor watch --history PATH`: the flight recorder. A small daemon without HTTP that
// diagnoses every --every seconds and stores each diagnosis in the history database
// (history/store.h); SIGINT/SIGTERM stop it between samples. Also the recording half of
// `serve --history`.
//
// --trace keeps the tracer loaded and stores, with each sample, what it counted since the
// previous one (failed calls, churn, drops), merged into the findings as `check --trace` does.
//
// --netns NAME|PID records another namespace. The namespace is held by an fd for the
// recorder's life (it outlives the name and its processes: what happens after is recorded
// too), and the collecting runs in a child process that lives in it: /proc/net follows a
// process's leader thread, and whoever owns the namespace may kill every process inside it
// (`conndoctor lab` does, at its end). The parent stays outside, owns the database, and
// starts another collector when one is killed.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>

#include "cli/commands.h"
#include "diagnose/diagnose.h"
#include "diagnose/netns.h"
#include "diagnose/trace_merge.h"
#include "history/time_spec.h"
#include "render/report.h"
#include "render/trace_report.h"
#include "serve/scrape_coordinator.h"
#include "trace/trace_decode.h"
#include "trace/tracer.h"
#include "util/clock.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/netns.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

int64_t wall_ms() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

// What one sample stores: the report as `check --json [--trace]` prints it (the trace member,
// then host) and its text (the trace's text after it, as check prints it).
struct SampleDoc {
  int64_t t_ms = 0;
  nlohmann::ordered_json doc;
  std::string text;
};

SampleDoc sample_doc(const Snapshot& snap, const Analysis& a, const TraceResult* traced,
                     const TraceScope* scope, bool tracing) {
  SampleDoc s;
  s.t_ms = wall_ms();
  s.doc = report_json(snap, a);
  if (tracing) s.doc["trace"] = traced ? trace_json(*traced, *scope) : nlohmann::ordered_json();
  s.doc["host"] = host_json();
  s.text = report_text(snap, a, {false, false});
  if (traced) s.text += "\n" + trace_text(*traced, *scope);
  return s;
}

}  // namespace

Sample history_sample(const Snapshot& snap, const Analysis& a) {
  auto d = sample_doc(snap, a, nullptr, nullptr, false);
  return make_sample(d.t_ms, d.doc, std::move(d.text));
}

TracedSampler::TracedSampler(std::shared_ptr<const Tracer> tracer, std::string error,
                             uint32_t netns)
    : tracer_(std::move(tracer)), error_(std::move(error)), last_s_(monotonic_seconds()) {
  scope_.netns = netns;
  scope_.label = "network namespace inode " + std::to_string(netns);
}

double TracedSampler::monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Sample TracedSampler::sample(const Snapshot& snap, const Analysis& a) {
  std::lock_guard lock(mu_);
  // The trace goes into this sample's evidence: the shared result is copied.
  Snapshot s = snap;
  Analysis an = a;
  std::optional<TraceResult> delta;
  std::string err = error_;
  if (tracer_) {
    if (auto raw = tracer_->read()) {
      double now = monotonic_seconds();
      TraceResult cur = decode_trace(*raw, 0);
      delta = trace_since(cur, last_, now - last_s_);
      delta->missing.insert(delta->missing.begin(), tracer_->missing().begin(),
                            tracer_->missing().end());
      last_ = std::move(cur);
      last_s_ = now;
      merge_trace(an, *delta, {}, processes_in(s.now()));
    } else {
      err = raw.error().message;
    }
  }
  if (!err.empty()) s.missing.push_back(err + " (not traced)");
  auto d = sample_doc(s, an, delta ? &*delta : nullptr, &scope_, true);
  return make_sample(d.t_ms, d.doc, std::move(d.text));
}

void add_recorder_options(CLI::App& app, RecorderArgs& r, bool required) {
  auto* h =
      app.add_option("--history", r.path,
                     _("record every collection into this SQLite database (created if absent)"));
  if (required) h->required();
  app.add_option("--retention", r.retention, _("delete samples older than this (e.g. 7d, 12h)"))
      ->capture_default_str();
  app.add_option("--max-size", r.max_size,
                 _("the database never grows past this; the oldest samples go first"))
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
  record(w, history_sample(snap, a), who);
}

void SampleLog::record(HistoryWriter& w, const Sample& sample, const char* who) {
  auto out = w.write(sample);
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

Result<NetnsTarget> open_netns_target(const std::string& target) {
  auto info = resolve_netns(target);
  if (!info) return std::unexpected(info.error());
  auto path = netns_target_path(target);
  if (!path) return std::unexpected(path.error());
  NetnsTarget t{UniqueFd(::open(path->c_str(), O_RDONLY | O_CLOEXEC)), info->label()};
  if (!t.fd) return fail_errno(*path);
  auto id = netns_id_of(*path);
  if (!id || uint64_t(id->ino) != info->inode)
    return fail(target + ": the namespace changed while it was opened");
  return t;
}

namespace {

struct WatchArgs {
  RecorderArgs recorder;
  std::string every = "10s";
  std::string proc_root = "/proc";
  std::string netns;
  bool trace = false;
  bool no_processes = false;
  bool no_attribution = false;
  FdScan fd_scan = FdScan::kAuto;
  std::vector<std::string> runtime_roots;  // --runtime-root
};

// The sampling loop: a diagnosis every `every` seconds on the grid, each handed to `sink`,
// until SIGINT/SIGTERM (blocked by the caller). Runs in the namespace it is to record (the
// recorder's own, or a collector child's). Returns the signal that stopped it.
int sample_loop(const WatchArgs& a, double every, const std::string& netns_label,
                const std::function<void(Sample)>& sink, const char* who) {
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
        if (!netns_label.empty()) d->snapshot.netns = netns_label;
        return std::move(d->snapshot);
      },
      [](const Snapshot& s) { return analyse(s); }, *clock,
      CoordinatorOptions{.min_interval_s = 0, .max_rate_window_s = every * 3 + 5});

  // --trace: loaded once (in this namespace, for this namespace only); each sample stores
  // what the maps gained since the previous sample's read.
  std::optional<TracedSampler> traced;
  if (a.trace) {
    auto self = netns_id_of("/proc/self/ns/net");
    uint32_t ino = self ? uint32_t(self->ino) : 0;
    auto t =
        self ? Tracer::start({.netns_only = ino}) : Result<Tracer>(std::unexpected(self.error()));
    std::shared_ptr<const Tracer> tracer;
    std::string error;
    if (t) {
      tracer = std::make_shared<const Tracer>(std::move(*t));
    } else {
      error = t.error().message;
      std::fprintf(stderr, "conndoctor %s: not tracing: %s\n", who, error.c_str());
    }
    traced.emplace(std::move(tracer), std::move(error), ino);
  }

  bool collect_failing = false;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  int sig = 0;
  double next = clock->now_s();
  while (sig == 0) {
    auto served = coordinator.get();
    if (served && served->result->diagnosis) {
      if (collect_failing) std::fprintf(stderr, "conndoctor %s: collecting again\n", who);
      collect_failing = false;
      const Diagnosis& d = *served->result->diagnosis;
      sink(traced ? traced->sample(d.snapshot, d.analysis)
                  : history_sample(d.snapshot, d.analysis));
    } else if (!collect_failing) {
      std::fprintf(stderr, "conndoctor %s: collection failed: %s (retrying every sample)\n", who,
                   served ? served->result->error.c_str() : served.error().message.c_str());
      collect_failing = true;
    }
    // The next sample on the grid (start + k * every), skipping ticks a slow sample overran.
    next += every;
    double now = clock->now_s();
    if (next < now) next += std::ceil((now - next) / every) * every;
    while (sig == 0) {
      double wait = next - clock->now_s();
      if (wait <= 0) break;
      timespec ts{time_t(wait), long((wait - std::floor(wait)) * 1e9)};
      int s = sigtimedwait(&stop, nullptr, &ts);
      if (s > 0) sig = s;
    }
  }
  return sig;
}

// ---- --netns: the collector child and the recorder parent ----

// A collector sends each sample as one line of JSON: {"t_ms", "report", "text"}.
bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += std::size_t(n);
  }
  return true;
}

[[noreturn]] void collector_main(const WatchArgs& a, double every, int ns_fd,
                                 const std::string& label, int out_fd, pid_t parent) {
  // Dies with the recorder, whatever kills it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  ::signal(SIGPIPE, SIG_IGN);
  auto guard = NetnsGuard::enter_fd(ns_fd, label);
  if (!guard) {
    std::fprintf(stderr, "conndoctor watch: cannot enter %s: %s\n", label.c_str(),
                 guard.error().message.c_str());
    ::_exit(3);
  }
  bool broken = false;
  sample_loop(
      a, every, label,
      [&](Sample d) {
        if (broken) return;
        nlohmann::ordered_json line;
        line["t_ms"] = d.t_ms;
        line["report"] = nlohmann::ordered_json::parse(d.report_json, nullptr, false);
        line["text"] = std::move(d.report_text);
        if (!write_all(out_fd, line.dump() + "\n")) broken = true;
      },
      "watch");
  ::_exit(0);  // no destructor of the parent's objects (the database) runs in the child
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)).c_str());
  }
  return "exited " + std::to_string(WEXITSTATUS(status));
}

// Records until SIGINT/SIGTERM (set in `sig`); an exit status other than 0 when it cannot start.
int record_netns(const WatchArgs& a, double every, const UniqueFd& ns_fd, const std::string& label,
                 HistoryWriter& writer, SampleLog& log, int& sig) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  UniqueFd sig_fd(::signalfd(-1, &stop, SFD_CLOEXEC));
  if (!sig_fd) return error_exit(std::string("signalfd: ") + std::strerror(errno));

  const pid_t self = ::getpid();
  while (sig == 0) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return error_exit(std::string("pipe: ") + std::strerror(errno));
    UniqueFd rd(p[0]);
    std::fflush(nullptr);
    pid_t child = ::fork();
    if (child < 0) return error_exit(std::string("fork: ") + std::strerror(errno));
    if (child == 0) {
      ::close(p[0]);
      collector_main(a, every, ns_fd.get(), label, p[1], self);
    }
    ::close(p[1]);
    std::string buf;
    bool stopping = false;
    for (;;) {
      pollfd fds[2] = {{rd.get(), POLLIN, 0}, {sig_fd.get(), POLLIN, 0}};
      if (::poll(fds, stopping ? 1 : 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (!stopping && (fds[1].revents & POLLIN)) {
        signalfd_siginfo si{};
        if (::read(sig_fd.get(), &si, sizeof si) == ssize_t(sizeof si)) sig = int(si.ssi_signo);
        ::kill(child, SIGTERM);  // ends after its current sample; its lines are still read
        stopping = true;
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char chunk[65536];
        ssize_t n = ::read(rd.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the collector is gone (a cut last line is dropped)
        buf.append(chunk, std::size_t(n));
        std::size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
          auto line = nlohmann::ordered_json::parse(buf.substr(0, nl), nullptr, false);
          buf.erase(0, nl + 1);
          if (line.is_discarded() || !line.contains("report")) continue;
          log.record(writer,
                     make_sample(line.value("t_ms", int64_t(0)), line["report"],
                                 line.value("text", std::string())),
                     "watch");
        }
      }
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    pollfd pending{sig_fd.get(), POLLIN, 0};
    if (!sig && ::poll(&pending, 1, 0) > 0) {
      signalfd_siginfo si{};
      if (::read(sig_fd.get(), &si, sizeof si) == ssize_t(sizeof si)) sig = int(si.ssi_signo);
    }
    if (sig) break;
    // Killed from inside the namespace (its owner cleaning up) or failed: start another one
    // at the next tick. The namespace is still there: this process holds it.
    std::fprintf(stderr, "conndoctor watch: the collector in %s %s; starting another in %s\n",
                 label.c_str(), describe_exit(status).c_str(), fmt_duration(every).c_str());
    pollfd f{sig_fd.get(), POLLIN, 0};
    if (::poll(&f, 1, int(every * 1000)) > 0) {
      signalfd_siginfo si{};
      if (::read(sig_fd.get(), &si, sizeof si) == ssize_t(sizeof si)) sig = int(si.ssi_signo);
    }
  }
  return kExitOk;
}

int run_watch(const WatchArgs& a) {
  auto every = parse_duration_s(a.every);
  if (!every) return error_exit("--every: " + every.error().message);
  if (*every < 1) return error_exit("--every: at least 1s");
  if (!a.netns.empty() && a.proc_root != "/proc")
    return error_exit("--netns records a live namespace; --proc-root does not apply");
  std::optional<NetnsTarget> target;
  if (!a.netns.empty()) {
    auto t = open_netns_target(a.netns);
    if (!t) return error_exit(t.error().message);  // names --netns and the target
    target.emplace(std::move(*t));
  }
  auto writer = open_recorder(a.recorder);
  if (!writer) return error_exit(writer.error().message);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::fprintf(stderr, "conndoctor watch: recording %s every %s into %s (retention %s, max %s%s)\n",
               a.netns.empty() ? "this namespace" : ("namespace " + a.netns).c_str(),
               fmt_duration(*every).c_str(), a.recorder.path.c_str(), a.recorder.retention.c_str(),
               a.recorder.max_size.c_str(), a.trace ? ", tracing" : "");

  SampleLog log;
  int sig = 0;
  if (a.netns.empty()) {
    sig = sample_loop(
        a, *every, {}, [&](Sample d) { log.record(**writer, d, "watch"); }, "watch");
  } else {
    if (int rc = record_netns(a, *every, target->fd, target->label, **writer, log, sig);
        rc != kExitOk)
      return rc;
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
  app.add_option("--every", a->every, _("time between samples (e.g. 10s, 1m)"))
      ->capture_default_str();
  app.add_option("--netns", a->netns,
                 _("record another network namespace: a /run/netns name or a pid (held open: "
                   "recorded until stopped, even after its name and processes are gone)"));
  app.add_flag("--trace", a->trace,
               _("keep the tracer loaded and store, per sample, the failed calls, churn and drops "
                 "it counted since the last (needs root)"));
  app.add_option("--proc-root", a->proc_root,
                 _("read procfs from this directory instead of /proc (fixtures)"))
      ->check(CLI::ExistingDirectory);
  app.add_flag("--no-processes", a->no_processes, _("skip the per-process scan of /proc"));
  app.add_flag("--no-attribution", a->no_attribution,
               _("count fds per process but do not join sockets to processes"));
  add_fd_scan_option(app, a->fd_scan);
  add_runtime_root_option(app, a->runtime_roots);
  return [a] { return run_watch(*a); };
}

}  // namespace cd
