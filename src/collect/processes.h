// Processes: open fds against each process's own soft RLIMIT_NOFILE, and (attribution) the
// sockets each one holds, joined from /proc/PID/fd inodes with the dump in one pass.
// Tolerates processes that exit mid-scan.
#pragma once

#include <string>
#include <vector>

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
void scan_processes(const ProcFs& proc, const ProcessScanOptions& opt, const InodeIndex* index,
                    Reading& reading, std::vector<std::string>& missing);

}  // namespace cd
