// Load generator processes for the lab: each worker is a forked child with its own comm
// ("cdlab-client", ...), bounded in time, that reports what it observed through a pipe and
// stops when the lab closes its control pipe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/unique_fd.h"

namespace cd {

// The worker's end of its link to the lab.
class WorkerLink {
 public:
  WorkerLink(int report_fd, int control_fd, double deadline_s)
      : report_fd_(report_fd), control_fd_(control_fd), deadline_(deadline_s) {}

  // The failure is live (or it will not come: the text says which). Sent once; the text also
  // becomes an observation when not empty.
  void ready(std::string_view text);
  void observe(std::string_view text);  // one line for the report
  void error(std::string_view text);    // could not do the job (the lab aborts the run)

  // True once the lab closed the control pipe or the hard deadline passed. Never blocks.
  bool stop_requested();
  // Sleeps up to `seconds` (sub-millisecond precision); true as soon as stop is requested.
  bool wait_stop(double seconds);
  // Waits up to `seconds` for `events` on fd, or for stop; returns revents (0: timeout/stop).
  short wait_fd(int fd, short events, double seconds);

  static double now();
  double deadline() const { return deadline_; }
  int control_fd() const { return control_fd_; }

 private:
  void send(char kind, std::string_view text);
  int report_fd_;
  int control_fd_;
  double deadline_;
  bool stop_ = false;
  bool ready_sent_ = false;
};

struct WorkerSpec {
  std::string comm;  // process name (at most 15 characters: TASK_COMM_LEN)
  std::function<int(WorkerLink&)> body;
  std::optional<uint64_t> nofile_soft;  // soft RLIMIT_NOFILE for this worker (capped at hard)
};

// The set of workers of one run. Destroying it kills and reaps whatever still runs.
class LoadSet {
 public:
  // signal_fd: a readable fd means "the lab was interrupted": every wait returns then.
  // max_runtime_s: hard deadline of each worker from its start.
  LoadSet(int signal_fd, double max_runtime_s)
      : signal_fd_(signal_fd), max_runtime_s_(max_runtime_s) {}
  LoadSet(const LoadSet&) = delete;
  LoadSet& operator=(const LoadSet&) = delete;
  ~LoadSet();

  Result<std::size_t> spawn(WorkerSpec spec);
  pid_t pid(std::size_t w) const { return workers_.at(w).pid; }
  const std::string& comm(std::size_t w) const { return workers_.at(w).comm; }

  // Waits for worker w's ready(). Fails on timeout, on a signal, when the worker reports an
  // error or exits first.
  Result<void> wait_ready(std::size_t w, double timeout_s);

  // Closes the control pipes, gives workers `grace_s` to report and exit, kills the rest,
  // reaps all. Idempotent.
  void stop(double grace_s);

  // Runs `fn` once every worker has been reaped (in stop(), or when the set is destroyed on an
  // error or a signal): for what a scenario made outside the namespace (a cgroup), which can
  // only go once the processes in it are gone. Last registered runs first.
  void at_stop(std::function<void()> fn) { cleanups_.push_back(std::move(fn)); }

  // Observations of all workers, in spawn order.
  std::vector<std::string> observations() const;
  std::size_t size() const { return workers_.size(); }

 private:
  struct Worker {
    std::string comm;
    pid_t pid = -1;
    UniqueFd report;   // read end
    UniqueFd control;  // write end; closing it asks the worker to stop
    std::string buf;
    std::vector<std::string> obs;
    std::string error;
    bool ready = false;
    bool eof = false;
    bool reaped = false;
  };
  // Polls the report pipes (and the signal fd) once for up to timeout_s and parses what came.
  // Returns false when the signal fd is readable.
  bool pump(double timeout_s);
  void parse_lines(Worker& w);
  void reap(Worker& w, bool block);

  int signal_fd_;
  double max_runtime_s_;
  std::vector<Worker> workers_;
  std::vector<std::function<void()>> cleanups_;
};

// "EADDRNOTAVAIL" for 99
std::string errno_name(int e);

}  // namespace cd
