// Forks, links and stops the lab's load generator processes.
#include "lab/load.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lab/signal_guard.h"
#include "util/time.h"

namespace cd {

// ---- worker side -----------------------------------------------------------------------

double WorkerLink::now() {
  return mono_now_s();
}

void WorkerLink::send(char kind, std::string_view text) {
  std::string line;
  line.reserve(text.size() + 3);
  line += kind;
  line += ' ';
  for (char c : text) line += (c == '\n' ? ' ' : c);
  line += '\n';
  // Lines are short (< PIPE_BUF), so each write is atomic; the lab drains the pipe.
  ssize_t off = 0;
  while (off < ssize_t(line.size())) {
    ssize_t n = ::write(report_fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the lab is gone: nothing to tell
    off += n;
  }
}

void WorkerLink::ready(std::string_view text) {
  if (ready_sent_) return;
  ready_sent_ = true;
  send('R', text);
}
void WorkerLink::observe(std::string_view text) {
  send('O', text);
}
void WorkerLink::error(std::string_view text) {
  send('E', text);
}

bool WorkerLink::stop_requested() {
  wait_fd(-1, 0, 0);
  return stop_;
}

short WorkerLink::wait_fd(int fd, short events, double seconds) {
  if (stop_) return 0;
  double left = std::min(seconds, deadline_ - now());
  if (left < 0) left = 0;
  if (now() >= deadline_) {
    stop_ = true;
    return 0;
  }
  pollfd p[2] = {{control_fd_, POLLIN, 0}, {fd, events, 0}};
  timespec ts{time_t(left), long((left - std::floor(left)) * 1e9)};
  int r = ::ppoll(p, fd >= 0 ? 2 : 1, &ts, nullptr);
  if (r > 0 && p[0].revents != 0) {
    stop_ = true;  // EOF (POLLHUP/POLLIN) on the control pipe: the lab asks us to stop
    return 0;
  }
  if (now() >= deadline_) stop_ = true;
  return r > 0 && fd >= 0 ? p[1].revents : 0;
}

bool WorkerLink::wait_stop(double seconds) {
  wait_fd(-1, 0, seconds);
  return stop_;
}

// ---- lab side --------------------------------------------------------------------------

namespace {

// Child side of spawn(): give the worker a clean process, then run the body. Never returns.
[[noreturn]] void run_child(const WorkerSpec& spec, pid_t parent, int report_fd, int control_fd,
                            double deadline) {
  // Undo the lab's signal blocking: workers die by the default actions, and they must not
  // get SIGPIPE from a peer that closed.
  sigset_t set = lab_signal_set();
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  // A lab killed with SIGKILL cannot stop its workers: the kernel does it for us.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  prctl(PR_SET_NAME, spec.comm.c_str());

  // Keep only the two pipe ends (as 3 and 4) and stdio, so that no other worker's pipe stays
  // open here (the lab would never see its EOF) and fd counts stay small and predictable.
  int hi = std::max(report_fd, control_fd) + 1;
  int r = fcntl(report_fd, F_DUPFD, hi);
  int c = fcntl(control_fd, F_DUPFD, hi);
  if (r < 0 || c < 0 || dup2(r, 3) < 0 || dup2(c, 4) < 0) _exit(1);
  close_range(5, ~0U, 0);
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);  // the lab's stdout carries the report (maybe JSON): never write there
    if (devnull > 4) close(devnull);
  }

  WorkerLink link(3, 4, deadline);
  if (spec.nofile_soft) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = std::min<rlim_t>(*spec.nofile_soft, rl.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      link.error(std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
      _exit(1);
    }
  }
  int rc = 70;
  try {
    rc = spec.body(link);
  } catch (const std::exception& e) {
    link.error(std::string("worker failed: ") + e.what());
  } catch (...) {
    link.error("worker failed");
  }
  _exit(rc);
}

}  // namespace

Result<std::size_t> LoadSet::spawn(WorkerSpec spec) {
  int rep[2], ctl[2];
  if (pipe2(rep, O_CLOEXEC) != 0) return fail_errno("pipe for worker " + spec.comm);
  UniqueFd rep_r(rep[0]), rep_w(rep[1]);
  if (pipe2(ctl, O_CLOEXEC) != 0) return fail_errno("pipe for worker " + spec.comm);
  UniqueFd ctl_r(ctl[0]), ctl_w(ctl[1]);

  pid_t parent = getpid();
  double deadline = WorkerLink::now() + max_runtime_s_;
  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork worker " + spec.comm);
  if (pid == 0) run_child(spec, parent, rep_w.get(), ctl_r.get(), deadline);

  fcntl(rep_r.get(), F_SETFL, O_NONBLOCK);
  Worker w;
  w.comm = spec.comm;
  w.pid = pid;
  w.report = std::move(rep_r);
  w.control = std::move(ctl_w);
  workers_.push_back(std::move(w));
  return workers_.size() - 1;
}

void LoadSet::parse_lines(Worker& w) {
  std::size_t nl;
  while ((nl = w.buf.find('\n')) != std::string::npos) {
    std::string line = w.buf.substr(0, nl);
    w.buf.erase(0, nl + 1);
    if (line.size() < 2) continue;
    std::string text = line.substr(2);
    switch (line[0]) {
      case 'R':
        w.ready = true;
        if (!text.empty()) w.obs.push_back(text);
        break;
      case 'O':
        w.obs.push_back(text);
        break;
      case 'E':
        if (w.error.empty()) w.error = text;
        w.obs.push_back(w.comm + " failed: " + text);
        break;
      default:
        break;
    }
  }
}

bool LoadSet::pump(double timeout_s) {
  std::vector<pollfd> fds;
  std::vector<Worker*> owners;
  for (Worker& w : workers_) {
    if (w.eof) continue;
    fds.push_back({w.report.get(), POLLIN, 0});
    owners.push_back(&w);
  }
  fds.push_back({signal_fd_, POLLIN, 0});
  int ms = int(std::ceil(std::max(0.0, timeout_s) * 1000));
  int r = ::poll(fds.data(), fds.size(), ms);
  if (r <= 0) return true;
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Worker& w = *owners[i];
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(w.report.get(), buf, sizeof buf);
      if (n > 0) {
        w.buf.append(buf, std::size_t(n));
        continue;
      }
      if (n == 0) w.eof = true;
      break;  // EAGAIN: drained for now
    }
    parse_lines(w);
  }
  return fds.back().revents == 0;
}

Result<void> LoadSet::wait_ready(std::size_t i, double timeout_s) {
  Worker& w = workers_.at(i);
  double end = WorkerLink::now() + timeout_s;
  for (;;) {
    if (!w.error.empty()) return fail(w.comm + ": " + w.error);
    if (w.ready) return {};
    if (w.eof) {
      reap(w, true);
      return fail(w.comm + " exited before the failure was live");
    }
    double left = end - WorkerLink::now();
    if (left <= 0) {
      return fail(w.comm + ": not ready within " + std::to_string(int(timeout_s)) + " s");
    }
    if (!pump(std::min(left, 0.5))) return fail("interrupted");
  }
}

void LoadSet::reap(Worker& w, bool block) {
  if (w.reaped || w.pid <= 0) return;
  int status = 0;
  pid_t r = ::waitpid(w.pid, &status, block ? 0 : WNOHANG);
  if (r == w.pid || (r < 0 && errno == ECHILD)) w.reaped = true;
}

void LoadSet::stop(double grace_s) {
  // Last spawned first: clients stop before the servers they talk to, so that no client sees
  // a refused connect (and reports it) merely because the run is ending.
  double end = WorkerLink::now() + grace_s;
  for (auto it = workers_.rbegin(); it != workers_.rend(); ++it) {
    it->control.reset();
    for (;;) {
      double left = end - WorkerLink::now();
      if (it->eof || left <= 0) break;
      // A signal here must not cut the grace period short: stopping is already under way.
      pump(std::min(left, 0.2));
    }
  }
  for (Worker& w : workers_) {
    if (w.reaped) continue;
    if (!w.eof && ::kill(w.pid, SIGKILL) == 0) {
      w.obs.push_back(w.comm + " did not stop within " + std::to_string(int(grace_s)) +
                      " s and was killed");
    }
    reap(w, false);
    if (!w.reaped) {
      ::kill(w.pid, SIGKILL);
      reap(w, true);
    }
    w.eof = true;
  }
  while (!cleanups_.empty()) {
    auto fn = std::move(cleanups_.back());
    cleanups_.pop_back();
    fn();
  }
}

LoadSet::~LoadSet() {
  stop(0);
}

std::vector<std::string> LoadSet::observations() const {
  std::vector<std::string> out;
  for (const Worker& w : workers_) out.insert(out.end(), w.obs.begin(), w.obs.end());
  return out;
}

std::string errno_name(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "errno " + std::to_string(e);
}

}  // namespace cd
