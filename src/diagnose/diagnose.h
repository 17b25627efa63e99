// The whole pipeline for one namespace: open the sources, collect, analyse. Used by `check`,
// by the lab (inside its namespace) and by `serve`; it never knows which one calls it.
#pragma once

#include <memory>
#include <string>

#include "analyse/diagnosis.h"
#include "collect/collector.h"
#include "snapshot/snapshot.h"
#include "util/clock.h"
#include "util/error.h"

namespace cd {

enum class NetnsScan {
  kAuto,          // the one-pass BPF walk where it can run, else one sock_diag dump per namespace
  kOnePass,       // the one-pass walk; fails with the reason where it cannot run
  kPerNamespace,  // one sock_diag dump per namespace (walks the shared hash once each)
};

struct DiagnoseOptions {
  std::string proc_root = "/proc";
  std::string sock_diag_dump;         // replay this recorded dump instead of asking the kernel
  std::string record_dump;            // also write the live dump's transcript here
  std::string conntrack_dump;         // replay this ctnetlink/nf_tables transcript
  std::string record_conntrack_dump;  // also write the live ctnetlink transcript here
  CollectOptions collect;
  // --all-netns: how the established-hash sockets of every namespace are read
  // (collect/ehash_scan.h).
  NetnsScan netns_scan = NetnsScan::kAuto;
};

// Replays (a recorded /proc or socket dump) take one reading whatever the interval: rates need
// two readings, and a recording holds one.
Result<Diagnosis> diagnose(const DiagnoseOptions& opt, Clock& clock);
// The same with a BPF fd scan the caller keeps loaded across calls (serve), or none.
Result<Diagnosis> diagnose(const DiagnoseOptions& opt, Clock& clock, FdTableSource* fd_tables);

// The BPF fd scan when the options describe the live system with attribution; else none, and
// attribution reads /proc/PID/fd (a recorded or fixture /proc has no kernel to ask).
std::unique_ptr<FdTableSource> open_fd_tables(const DiagnoseOptions& opt);

// The options name a recorded /proc root or socket dump instead of the live system.
bool replays(const DiagnoseOptions& opt);

}  // namespace cd
