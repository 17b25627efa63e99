// Takes readings of one network namespace: sysctls, counters, sockets (streamed and
// aggregated), processes. Read-only; reports what it could not read in Snapshot::missing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "collect/conntrack_source.h"
#include "collect/fd_table.h"
#include "collect/proc_fs.h"
#include "collect/sock_source.h"
#include "snapshot/snapshot.h"
#include "util/clock.h"
#include "util/error.h"

namespace cd {

// How attribution learns which sockets each process holds.
enum class FdScan {
  kAuto,    // the BPF fd table for big populations (kBpfMinSockets), else /proc/PID/fd
  kBpf,     // always the BPF fd table; a reading fails when it cannot be read
  kProcfs,  // always readlink() every /proc/PID/fd entry
};
// Below this many live TCP sockets, loading the BPF iterator (~15-35 ms) costs more than
// reading the links (~4 us each). Counted before the dump from /proc/net/sockstat{,6} "inuse"
// so that the fd scan can run beside the dump; from the dump itself when sockstat is unknown.
inline constexpr std::size_t kBpfMinSockets = 5000;

// How many times a socket dump flagged NLM_F_DUMP_INTR is taken before the reading fails.
inline constexpr int kDumpAttempts = 3;

struct CollectOptions {
  double interval_s = 2.0;   // 0: one reading
  bool processes = true;     // per-process fd counts and limits
  bool attribution = true;   // join /proc/PID/fd socket inodes with the dump
  bool filter_netns = true;  // only processes in the same network namespace as the caller
  FdScan fd_scan = FdScan::kAuto;
  // Read the fds (and the rest of /proc/PID) on a second thread while the socket dump runs.
  // false: one after the other, as before; the report is the same either way.
  bool concurrent_fd_scan = true;
  bool conntrack_table = true;               // dump the conntrack table (in the last reading only)
  std::optional<PortRange> snat_port_range;  // --snat-port-range: overrides the ruleset's
  // Container and pod of each process (/proc/PID/cgroup and the runtime's config.json).
  bool identity = true;
  std::vector<std::string> runtime_roots;  // --runtime-root; empty: default_runtime_roots()
  // --all-netns: the pids in this namespace when the round listed them, so that each namespace
  // does not stat every /proc/PID/ns/net of the host again; none: every /proc/PID.
  std::optional<std::vector<int32_t>> only_pids;
};

struct Sources {
  ProcFs& proc;
  SockSource& sockets;
  Clock& clock;
  ConntrackSource* conntrack = nullptr;  // ctnetlink + nf_tables; none: procfs figures only
  FdTableSource* fd_tables = nullptr;    // the BPF fd scan; none: /proc/PID/fd only
  // --all-netns: the BPF fd table already read for this round of every namespace's readings;
  // used instead of reading `fd_tables` again (the processes read take their entries out).
  FdTable* shared_fd_table = nullptr;
};

// One reading. Fails when the socket dump is unusable (truncated, malformed) or a /proc file
// reads but does not parse (bad input); a figure that cannot be read at all (absent, no
// permission) is left unknown and named in `missing`.
Result<Reading> collect_reading(const Sources& src, const CollectOptions& opt,
                                std::vector<std::string>& missing);

// One or two readings `opt.interval_s` apart.
Result<Snapshot> collect_snapshot(const Sources& src, const CollectOptions& opt);

}  // namespace cd
