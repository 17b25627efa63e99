// Processes: open fds against each process's own soft RLIMIT_NOFILE, and (attribution) the
// sockets each one holds, joined from /proc/PID/fd inodes with the dump in one pass.
// Tolerates processes that exit mid-scan. Two halves: read_process_fds reads the system and
// needs nothing from the dump, so the collector runs it on a second thread while the dump
// runs; attribute_processes then joins what it read with the dump's inode index.
#pragma once

#include <functional>
#include <stop_token>
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
  // Test seam: called with each pid between its fd scan and its limits read (a process may
  // exit there), so that tests can stage that race deterministically.
  std::function<void(int32_t pid)> before_limits;
  bool identity = false;  // resolve each process's container (collect/container_identity.h)
  std::vector<std::string> runtime_roots;  // empty: default_runtime_roots()
  // --all-netns: the pids of this namespace, listed once for every namespace of the round, read
  // instead of every /proc/PID (each is still checked to be in the namespace). nullptr: all.
  const std::vector<int32_t>* candidates = nullptr;
};

// What the read half found, per process of the namespace, in pid order.
struct ProcessFds {
  struct Entry {
    ProcessInfo info;  // pid, comm, limits, open fds (sockets: set by the join)
    // Every socket fd's inode, in fd order (sockets of any kind: the join keeps the dump's).
    std::vector<uint32_t> socket_inodes;
    bool fds_read = false;      // socket_inodes are complete (fd table entry or fd links read)
    bool links_failed = false;  // attribution wanted, but /proc/PID/fd could not be read
    bool fd_denied = false;     // the fd count could not be read
    bool ns_unknown = false;    // kept although its network namespace could not be told
  };
  std::vector<Entry> entries;
  uint32_t limits_unparsed = 0;  // /proc/PID/limits unreadable or unparsed: limit unknown
  std::string limits_error;      // the first such error
  std::string identity_missing;  // containers whose runtime state could not be read ("": none)
};

// The read half: /proc/PID/{ns/net,comm,limits,fd} and, with a `table` (the BPF fd scan),
// the fds of the processes it lists (their inodes are moved out of it). With attribution the
// fd links of the others are read whatever the dump holds. Stops early (an incomplete result
// the caller drops) when `stop` is requested.
ProcessFds read_process_fds(const ProcFs& proc, const ProcessScanOptions& opt, FdTable* table,
                            std::stop_token stop = {});

// The join half: reads nothing. Fills reading.processes, reading.tuple_owners and
// reading.listener_owner; what could not be read is summarised in one line in `missing`.
void attribute_processes(ProcessFds&& fds, const ProcessScanOptions& opt, const InodeIndex* index,
                         Reading& reading, std::vector<std::string>& missing);

// Both halves, one after the other. Fills reading.processes, reading.tuple_owners and
// reading.listener_owner. Anything it could not read (e.g. other users' /proc/PID/fd without root)
// is summarised in `missing`. With a `table` (the BPF fd scan) the fds of the processes it lists
// come from it, and only the processes it does not list have their /proc/PID/fd read link by link.
void scan_processes(const ProcFs& proc, const ProcessScanOptions& opt, const InodeIndex* index,
                    FdTable* table, Reading& reading, std::vector<std::string>& missing);

}  // namespace cd
