// Processes: open fds against each process's own soft RLIMIT_NOFILE, and (attribution) the
// sockets each one holds, joined from /proc/PID/fd inodes with the dump in one pass.
// Tolerates processes that exit mid-scan.
#pragma once

#include <string>
#include <vector>

#include "collect/fd_table.h"
#include "collect/inode_index.h"
#include "collect/proc_fs.h"
#include "snapshot/snapshot.h"

namespace cd {

struct ProcessScanOptions {
  bool attribution = true;   // readlink every fd and join socket inodes with `index`
  bool filter_netns = true;  // keep only processes in the caller's network namespace
};

// Fills reading.processes, reading.tuple_owners and reading.listener_owner. Anything it
// could not read (e.g. other users' /proc/PID/fd without root) is summarised in `missing`.
// With a `table` (the BPF fd scan) the fds of the processes it lists come from it, and only
// the processes it does not list have their /proc/PID/fd read link by link.
void scan_processes(const ProcFs& proc, const ProcessScanOptions& opt, const InodeIndex* index,
                    const FdTable* table, Reading& reading, std::vector<std::string>& missing);

}  // namespace cd
