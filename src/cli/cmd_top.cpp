// `conndoctor top`: a live view of the connection resources in the terminal, refreshed every
// --every seconds (src/top: the frame, the view model and the terminal).
//
// Two processes, as `watch --netns` has: a collector child diagnoses (in the namespace it is
// to show: --netns, or every namespace: --all-netns) on a fixed grid and sends each refresh
// as one JSON line (top/top_frame.h) through a pipe; this process owns the terminal, reads
// keys, and redraws on a frame, a key or SIGWINCH. /proc/net follows a process's leader
// thread, and whoever owns a namespace may kill every process in it (`conndoctor lab` does at
// its end): then only the collector dies, this process says so on the screen and starts
// another in the namespace it holds, and the terminal is never left raw.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "diagnose/diagnose.h"
#include "diagnose/netns.h"
#include "history/time_spec.h"
#include "serve/scrape_coordinator.h"
#include "top/top_frame.h"
#include "top/top_session.h"
#include "top/top_terminal.h"
#include "top/top_view.h"
#include "trace/trace_decode.h"
#include "trace/tracer.h"
#include "util/clock.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/netns.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

struct TopArgs {
  std::string every = "2";
  std::string netns;
  bool all_netns = false;
  bool trace = false;
  bool once = false;
  bool no_processes = false;
  ColorMode color = ColorMode::kAuto;
};

constexpr double kEveryMin = 0.5;
constexpr double kEveryMax = 3600;

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

double monotonic_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- the collector (child process) ----

// The tracer's counts since the previous refresh, or why there are none.
class TraceDelta {
 public:
  TraceDelta(bool wanted, uint32_t netns_only) {
    if (!wanted) return;
    auto t = Tracer::start({.netns_only = netns_only});
    if (t) {
      tracer_.emplace(std::move(*t));
      last_s_ = monotonic_s();
    } else {
      status_ = t.error().message;
    }
  }
  // null when not tracing (status() says why, or "" when --trace was not given).
  const TraceResult* next() {
    if (!tracer_) return nullptr;
    auto raw = tracer_->read();
    if (!raw) {
      status_ = raw.error().message;
      return nullptr;
    }
    double now = monotonic_s();
    TraceResult cur = decode_trace(*raw, 0);
    delta_ = trace_since(cur, last_, now - last_s_);
    last_ = std::move(cur);
    last_s_ = now;
    return &delta_;
  }
  const std::string& status() const { return status_; }

 private:
  std::optional<Tracer> tracer_;
  std::string status_;
  TraceResult last_, delta_;
  double last_s_ = 0;
};

struct CollectorSetup {
  const TopArgs* args = nullptr;
  double every = 2;
  int ns_fd = -1;  // --netns: the namespace held by the parent
  std::string label;
  int out_fd = -1;
};

DiagnoseOptions diagnose_options(const TopArgs& a) {
  DiagnoseOptions d;
  d.collect.processes = !a.no_processes;
  d.collect.attribution = false;  // top shows fd counts, not which socket is whose
  return d;
}

// Waits until `until` (monotonic) or SIGTERM; false on SIGTERM.
bool sleep_until(double until) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  for (;;) {
    double wait = until - monotonic_s();
    if (wait <= 0) return true;
    timespec ts{time_t(wait), long((wait - std::floor(wait)) * 1e9)};
    if (sigtimedwait(&stop, nullptr, &ts) == SIGTERM) return false;
  }
}

// One line to the screen process: {"frame": ...} or {"note": "..."}.
bool send(int fd, const char* key, nlohmann::json value) {
  nlohmann::json line;
  line[key] = std::move(value);
  return write_all(fd, line.dump() + "\n");
}

[[noreturn]] void collector_main(const CollectorSetup& c, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the screen, whatever kills it
  if (::getppid() != parent) ::_exit(1);
  ::signal(SIGPIPE, SIG_IGN);
  // Nothing of the collector may reach the terminal.
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
  }
  const TopArgs& a = *c.args;
  std::optional<NetnsGuard> guard;
  if (c.ns_fd >= 0) {
    auto g = NetnsGuard::enter_fd(c.ns_fd, c.label);
    if (!g) {
      send(c.out_fd, "note", _f("cannot enter {0}: {1}", c.label, g.error().message));
      ::_exit(3);
    }
    guard.emplace(std::move(*g));
  }
  auto self = netns_id_of("/proc/self/ns/net");
  TraceDelta trace(a.trace, a.all_netns || !self ? 0 : uint32_t(self->ino));
  if (a.trace && !self) send(c.out_fd, "note", _f("not tracing: {0}", self.error().message));

  DiagnoseOptions diag = diagnose_options(a);
  auto clock = make_real_clock();
  std::unique_ptr<ScrapeCoordinator> coordinator;
  std::unique_ptr<FdTableSource> fd_tables;
  if (!a.all_netns) {
    // One reading a refresh, paired with the previous refresh's: rates span the time between
    // refreshes and a refresh costs one collection, as in serve and watch.
    diag.collect.interval_s = 0;
    fd_tables = open_fd_tables(diag);
    coordinator = std::make_unique<ScrapeCoordinator>(
        [&]() -> Result<Snapshot> {
          auto rc = make_real_clock();
          auto d = diagnose(diag, *rc, fd_tables.get());
          malloc_trim(0);
          if (!d) return std::unexpected(d.error());
          if (!c.label.empty()) d->snapshot.netns = c.label;
          return std::move(d->snapshot);
        },
        [](const Snapshot& s) { return analyse(s); }, *clock,
        CoordinatorOptions{.min_interval_s = 0, .max_rate_window_s = c.every * 3 + 5});
  } else {
    // Every namespace is read twice per refresh (diagnose_all_netns shares one interval
    // between all of them), short enough to leave room in the refresh.
    diag.collect.interval_s = std::min(1.0, c.every / 2);
  }

  double next = monotonic_s();
  for (;;) {
    TopFrame frame;
    std::string error;
    if (coordinator) {
      auto served = coordinator->get();
      if (served && served->result->diagnosis) {
        const Diagnosis& d = *served->result->diagnosis;
        frame = make_frame(d.snapshot, d.analysis, trace.next());
      } else {
        error = served ? served->result->error : served.error().message;
      }
    } else {
      auto all = diagnose_all_netns(diag, *clock);
      if (all) {
        const TraceResult* traced = trace.next();
        std::vector<std::pair<TopNamespace, std::optional<TopFrame>>> frames;
        for (const NetnsResult& r : all->results) {
          TopNamespace ns{r.ns.label(), status_of(r),
                          r.diagnosis ? r.diagnosis->analysis.summary : r.error};
          if (!r.diagnosis) {
            frames.emplace_back(std::move(ns), std::nullopt);
            continue;
          }
          std::optional<TraceResult> mine;
          if (traced) {
            mine = *traced;
            std::erase_if(mine->failures,
                          [&](const TraceFailure& f) { return f.netns != uint32_t(r.ns.inode); });
          }
          frames.emplace_back(
              std::move(ns),
              make_frame(r.diagnosis->snapshot, r.diagnosis->analysis, mine ? &*mine : nullptr));
        }
        frame = merge_frames(std::move(frames));
      } else {
        error = all.error().message;
      }
    }
    bool ok;
    if (error.empty()) {
      if (!frame.tracing && a.trace) frame.trace_status = trace.status();
      ok = send(c.out_fd, "frame", frame_json(frame));
    } else {
      ok = send(c.out_fd, "note", _f("collection failed: {0} (retrying)", error));
    }
    if (!ok) ::_exit(0);  // the screen is gone
    // The next refresh on the grid (start + k * every), skipping ticks a slow one overran.
    next += c.every;
    double now = monotonic_s();
    if (next < now) next += std::ceil((now - next) / c.every) * c.every;
    if (!sleep_until(next)) ::_exit(0);
  }
}

// ---- the screen (this process) ----

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return _f("was killed by SIG{0}", name ? std::string(name) : std::to_string(WTERMSIG(status)));
  }
  return _f("exited {0}", WEXITSTATUS(status));
}

std::string clock_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// The collector child and the read end of its pipe.
class Collector {
 public:
  Collector(const CollectorSetup& setup) : setup_(setup) {}
  ~Collector() { stop(); }

  Result<void> start() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd rd(p[0]);
    std::fflush(nullptr);
    const pid_t self = ::getpid();
    pid_t child = ::fork();
    if (child < 0) {
      ::close(p[1]);
      return fail_errno("fork");
    }
    if (child == 0) {
      ::close(p[0]);
      CollectorSetup s = setup_;
      s.out_fd = p[1];
      // Nothing may unwind out of the child into the screen's loop (and its terminal).
      try {
        collector_main(s, self);
      } catch (...) {
        ::_exit(3);
      }
    }
    ::close(p[1]);
    pid_ = child;
    rd_ = std::move(rd);
    buf_.clear();
    return {};
  }

  // Kills it (a collection in progress is not worth waiting for) and reaps it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    rd_ = UniqueFd();
  }

  // After the pipe closed: how it ended.
  std::string reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    rd_ = UniqueFd();
    return describe_exit(status);
  }

  int fd() const { return rd_.get(); }
  bool running() const { return pid_ > 0; }

  // Reads what is there; the complete lines go to `line`. False at the end of the pipe.
  template <class F>
  bool read(F&& line) {
    char chunk[65536];
    ssize_t n = ::read(rd_.get(), chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    buf_.append(chunk, std::size_t(n));
    std::size_t nl;
    while ((nl = buf_.find('\n')) != std::string::npos) {
      line(buf_.substr(0, nl));
      buf_.erase(0, nl + 1);
    }
    return true;
  }

 private:
  CollectorSetup setup_;
  pid_t pid_ = -1;
  UniqueFd rd_;
  std::string buf_;
};

// A line from the collector: a frame, or a note (nullopt frame).
struct Message {
  std::optional<TopFrame> frame;
  std::string note;
};
std::optional<Message> parse_message(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Message m;
  if (j.contains("frame")) {
    auto f = frame_from_json(j["frame"]);
    if (!f) return std::nullopt;
    m.frame = std::move(*f);
  } else if (j.contains("note") && j["note"].is_string()) {
    m.note = j["note"].get<std::string>();
  } else {
    return std::nullopt;
  }
  return m;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return *end == '\0' && n > 0 && n < 10000 ? int(n) : fallback;
}

// --once: the first screen with rates (the second refresh), as text, then exit with the status.
int run_once(const TopArgs& a, Collector& collector, double every, int sig_fd) {
  const int width = env_int("COLUMNS", 80), height = env_int("LINES", 24);
  std::optional<TopFrame> last;
  std::string note;
  // Bounded: the second refresh, or the first when the third does not come in time.
  const double deadline = monotonic_s() + every * 3 + 60;
  while (!(last && last->rates)) {
    double left = deadline - monotonic_s();
    if (left <= 0) break;
    pollfd fds[2] = {{collector.fd(), POLLIN, 0}, {sig_fd, POLLIN, 0}};
    if (::poll(fds, 2, int(left * 1000) + 1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) return error_exit("top --once: interrupted");
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      bool open = collector.read([&](const std::string& line) {
        if (auto m = parse_message(line)) {
          if (m->frame)
            last = std::move(m->frame);
          else
            note = m->note;
        }
      });
      if (!open) {
        std::string how = collector.reap();
        if (!last)
          return error_exit("top: the collector " + how + (note.empty() ? "" : ": " + note));
        break;
      }
    }
  }
  if (!last) return error_exit("top: no reading" + (note.empty() ? "" : ": " + note));
  TopStatusInfo info{fmt_duration(every), clock_now(), note};
  TopScreen screen = build_screen(&*last, TopViewState{}, info, width, height);
  while (!screen.empty() && line_text(screen.back()).find_first_not_of(' ') == std::string::npos)
    screen.pop_back();
  std::string out;
  bool color = use_color(a.color);
  for (const TopLine& l : screen) {
    std::string row;
    for (const TopSpan& s : l) row += paint(s.text, s.tone, color);
    while (!row.empty() && row.back() == ' ') row.pop_back();
    out += row + "\n";
  }
  if (int rc = emit(out); rc != kExitOk) return rc;
  return exit_code_for(last->status);
}

int run_top(const TopArgs& a) {
  auto every = parse_duration_s(a.every);
  if (!every) return error_exit("--every: " + every.error().message);
  if (!std::isfinite(*every) || *every < kEveryMin || *every > kEveryMax)
    return error_exit("--every: '" + a.every + "' is not a number of seconds from 0.5 to 3600");
  if (!a.once && (::isatty(STDIN_FILENO) != 1 || ::isatty(STDOUT_FILENO) != 1))
    return error_exit(
        "top draws on a terminal and stdin/stdout is not one (--once prints one screen as text)");
  std::optional<NetnsTarget> target;
  if (!a.netns.empty()) {
    auto t = open_netns_target(a.netns);
    if (!t) return error_exit(t.error().message);
    target.emplace(std::move(*t));
  }

  // SIGINT/SIGTERM/SIGHUP end the session, SIGWINCH redraws: read from a signalfd, so that the
  // terminal is restored by destructors, never from a signal handler.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  UniqueFd sig_fd(::signalfd(-1, &sigs, SFD_CLOEXEC));
  if (!sig_fd) return error_exit(std::string("signalfd: ") + std::strerror(errno));

  CollectorSetup setup;
  setup.args = &a;
  setup.every = *every;
  if (target) {
    setup.ns_fd = target->fd.get();
    setup.label = target->label;
  }
  Collector collector(setup);
  if (auto r = collector.start(); !r) return error_exit(r.error().message);
  if (a.once) return run_once(a, collector, *every, sig_fd.get());

  auto term = AnsiTerminal::open(STDIN_FILENO, STDOUT_FILENO, use_color(a.color));
  if (!term) return error_exit("top: the terminal: " + term.error().message);
  TopSession session(*term, fmt_duration(*every));
  session.redraw();

  std::optional<double> restart_at;  // when to start another collector
  const std::string where = target ? _f(" in {0}", target->label) : std::string();
  for (;;) {
    pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0},
                     {sig_fd.get(), POLLIN, 0},
                     {collector.running() ? collector.fd() : -1, POLLIN, 0}};
    int timeout = -1;
    if (restart_at) timeout = std::max(0, int((*restart_at - monotonic_s()) * 1000) + 1);
    int n = ::poll(fds, 3, timeout);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) {
      if (restart_at && monotonic_s() >= *restart_at) {
        restart_at.reset();
        if (auto r = collector.start(); !r) {
          session.show_note(_f("cannot start a collector: {0}", r.error().message));
          restart_at = monotonic_s() + *every;
        }
      }
      continue;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si{};
      if (::read(sig_fd.get(), &si, sizeof si) == ssize_t(sizeof si)) {
        if (si.ssi_signo == SIGWINCH)
          session.redraw();
        else
          break;
      }
    }
    if (fds[0].revents & POLLIN) {
      char keys[64];
      ssize_t k = ::read(STDIN_FILENO, keys, sizeof keys);
      if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) break;  // the terminal is gone
      bool quit = false;
      for (ssize_t i = 0; i < k && !quit; ++i)
        quit = !session.key(static_cast<unsigned char>(keys[i]));
      if (quit) break;
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      break;  // the terminal is gone
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      bool open = collector.read([&](const std::string& line) {
        auto m = parse_message(line);
        if (!m) return;
        if (m->frame) {
          session.show_note("");
          session.show_frame(std::move(*m->frame), clock_now());
        } else {
          session.show_note(m->note);
        }
      });
      if (!open) {
        // Killed from inside the namespace (its owner cleaning up) or failed: another one at
        // the next refresh; the namespace is still there, this process holds it.
        std::string how = collector.reap();
        session.show_note(
            _f("the collector{0} {1}; starting another in {2}", where, how, fmt_duration(*every)));
        restart_at = monotonic_s() + *every;
      }
    }
  }
  collector.stop();
  return kExitOk;  // the terminal is restored as `term` goes
}

}  // namespace

Handler setup_top(CLI::App& app) {
  auto a = std::make_shared<TopArgs>();
  app.add_option("--every", a->every,
                 _("seconds between refreshes (0.5 to 3600; 2s, 1m also work)"))
      ->capture_default_str();
  auto* netns = app.add_option(
      "--netns", a->netns,
      _("show another network namespace: a /run/netns name or a pid (held open: shown until quit, "
        "even after its name and processes are gone)"));
  app.add_flag("--all-netns", a->all_netns, _("show every network namespace on the host"))
      ->excludes(netns);
  app.add_flag("--trace", a->trace,
               _("keep the tracer loaded and show failed calls per second (needs root; without it "
                 "the screen says why)"));
  app.add_flag("--once", a->once,
               _("print the screen after the second reading as text and exit with the status "
                 "(for scripts; no terminal needed)"));
  app.add_flag("--no-processes", a->no_processes, _("skip the per-process scan of /proc"));
  add_color_option(app, a->color);
  app.footer(
      "Keys: 1-7 or Tab switch views, s sorts, ? shows help, q quits (docs/top.md).\n"
      "Exit status: 0 when quit (q, Ctrl-C, SIGINT, SIGTERM); with --once 0 ok, 1 warning, "
      "2 critical; 3 bad usage, or no terminal without --once.");
  return [a] { return run_top(*a); };
}

}  // namespace cd
