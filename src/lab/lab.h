// `conndoctor lab`: reproduce one connection-resource exhaustion for real in a throwaway
// network namespace and diagnose it there with the same pipeline as `check`.
//
// What cli/main (cmd_lab) calls:
//   lab list            for (const ScenarioInfo& s : lab_list()) print s.name, s.description
//                       (s.expect: what the diagnosis should say). Exit 0.
//   lab run NAME [--json] [--keep] [--set K=V ...] [--interval S]
//                       LabOptions opt{.scenario = NAME, .keep = ..., .sets = {"K=V", ...}};
//                       opt.diagnose.collect.interval_s = S;   // other DiagnoseOptions: defaults
//                       auto run = lab_run(opt);
//                       if (!run) { message run.error().message; return lab_exit_code(run.error());
//                       }
//                         (130/143/129 after SIGINT/SIGTERM/SIGHUP, else 3)
//                       JSON: j = report_json(run->diagnosis.snapshot, run->diagnosis.analysis);
//                             j["lab"] = lab_json(*run);
//                       text: lab_text(*run) + report_text(run->diagnosis.snapshot, ...analysis,
//                       ...) exit status from run->diagnosis.analysis.status, exactly as `check`.
//   lab clean           auto r = lab_clean(); print each line (or "nothing to clean"); exit 0,
//                       or the error message and 3.
// lab_run must be called while the process is single-threaded (it unshare()s the whole
// process) and as root (CAP_SYS_ADMIN); otherwise it fails with a one-line reason. It blocks
// SIGINT/SIGTERM/SIGHUP while it runs and restores the mask before returning; by the time it
// returns the process is back in its own namespace and everything the run created is gone
// (unless --keep, which leaves the named namespace: `ip netns exec <netns> ss -tan`, then
// `conndoctor lab clean`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diagnose/diagnose.h"
#include "lab/scenarios.h"
#include "util/error.h"

namespace cd {

struct LabOptions {
  std::string scenario;
  bool keep = false;              // leave the namespace behind (processes are still stopped)
  std::vector<std::string> sets;  // "KEY=VALUE", net.* only, applied after the scenario's own
  DiagnoseOptions diagnose;       // as `check` would use them; must read the live system
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
  std::vector<Worker> workers;  // the load generator processes (ground truth for `trace`)
  Diagnosis diagnosis;          // cd::diagnose() run inside the namespace
};

std::vector<ScenarioInfo> lab_list();
Result<LabRun> lab_run(const LabOptions& opt);
Result<std::vector<std::string>> lab_clean();

// 128 + signal when `e` is lab_run's "interrupted" error, otherwise 3 (could not diagnose).
int lab_exit_code(const Error& e);

// The report's "lab" object: {scenario, netns, kept, sysctls: [...], observed: [...],
// workers: [{comm, pid}]}.
nlohmann::ordered_json lab_json(const LabRun& run);
// The same for people: a few lines to print before the report.
std::string lab_text(const LabRun& run);

}  // namespace cd
