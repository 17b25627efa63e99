// `conndoctor lab`: reproduce one connection-resource exhaustion for real in a throwaway
// network namespace and diagnose it there with the same pipeline as `check`.
//
// Contract of lab_run():
// - Preconditions: the process is single-threaded (it unshare()s the whole process, and its
//   load generators are forked children that must start inside) and has CAP_SYS_ADMIN;
//   otherwise it fails with a one-line reason and creates nothing.
// - While it runs, SIGINT/SIGTERM/SIGHUP are blocked and turned into an "interrupted" error;
//   lab_exit_code() maps that error to 128 + signal, every other error to 3.
// - When it returns, success or not, the process is back in its own namespace, every process
//   it started is gone and the namespace is removed -- unless `keep`, which leaves the named
//   namespace (/run/netns/cdlab-<pid>-<scenario>) for inspection until lab_clean().
// - It never writes a host setting: sysctls are set inside the lab namespace only, and a
//   host-wide key (read-only or absent there) is refused.
// - The diagnosis inside is cd::diagnose() on the live namespace, exactly as `check` runs it;
//   nothing in it knows that it runs in a lab.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "diagnose/diagnose.h"
#include "lab/scenarios.h"
#include "snapshot/trace_result.h"
#include "util/error.h"

namespace cd {

struct LabRun;
// `lab run --trace`: counts the run's events (trace stage, loaded by the cli: the lab cannot
// reach BPF across the stage walls). start() is called once the lab namespace exists, before
// any load starts; finish() after the load stopped, so every event the generators counted is
// in; it also detaches.
class LabTracer {
 public:
  virtual ~LabTracer() = default;
  virtual Result<void> start(uint32_t netns_inode) = 0;
  virtual Result<TraceResult> finish() = 0;
};

struct LabOptions {
  std::string scenario;
  // Seconds the namespace stays idle, with its sysctls set, before the load starts: time for a
  // recorder from outside (`watch --netns`) to see the calm before. `on_ready` is told the
  // namespace's name and inode first (the cli prints them).
  double settle_s = 0;
  std::function<void(const LabRun&)> on_ready;
  bool keep = false;              // leave the namespace behind (processes are still stopped)
  std::vector<std::string> sets;  // "KEY=VALUE", net.* only, applied after the scenario's own
  DiagnoseOptions diagnose;       // as `check` would use them; must read the live system
  LabTracer* tracer = nullptr;    // --trace: merged into the diagnosis as `check --trace` does
};

struct LabRun {
  std::string scenario;
  std::string netns;                  // cdlab-<pid>-<scenario>
  uint64_t netns_inode = 0;           // its nsfs inode (the netns `conndoctor trace` reports)
  bool kept = false;                  // the namespace still exists (--keep)
  std::vector<std::string> sysctls;   // "net.ipv4.tcp_tw_reuse=0", as applied, in order
  std::vector<std::string> observed;  // what the load generators saw, one line each
  struct Worker {
    std::string comm;
    int32_t pid = 0;
  };
  std::vector<Worker> workers;       // the load generator processes (ground truth for `trace`)
  Diagnosis diagnosis;               // cd::diagnose() run inside the namespace
  std::optional<TraceResult> trace;  // --trace: what was counted (nullopt: not traced, see
                                     // diagnosis.snapshot.missing)
};

std::vector<ScenarioInfo> lab_list();
Result<LabRun> lab_run(const LabOptions& opt);
// Removes leftovers of dead lab runs; `prefix` (which must start with "cdlab-") narrows it to
// names starting with it, e.g. "cdlab-1234-" for the runs of one lab process.
Result<std::vector<std::string>> lab_clean(std::string_view prefix = {});

// 128 + signal when `e` is lab_run's "interrupted" error, otherwise 3 (could not diagnose).
int lab_exit_code(const Error& e);

// The report's "lab" object: {scenario, netns, kept, sysctls: [...], observed: [...],
// workers: [{comm, pid}]}.
nlohmann::ordered_json lab_json(const LabRun& run);
// The same for people: a few lines to print before the report.
std::string lab_text(const LabRun& run);

}  // namespace cd
