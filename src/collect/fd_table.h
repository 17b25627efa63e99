// What every process holds, read in one go from the kernel instead of one readlink() per
// /proc/PID/fd entry: its open fd count and the inodes of its sockets. The BPF task_file
// iterator (bpf_fd_table.cpp) is the live source; tests build tables by hand.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "util/error.h"

namespace cd {

struct FdTable {
  struct Process {
    uint64_t open_fds = 0;
    std::vector<uint32_t> socket_inodes;  // in fd order
  };
  std::unordered_map<int32_t, Process> by_pid;  // pids as this process sees them
};

class FdTableSource {
 public:
  virtual ~FdTableSource() = default;
  // The whole table at one instant. Fails when the kernel's view cannot be used here (no
  // CAP_BPF, no BTF, another pid namespace); the caller then reads /proc/PID/fd instead.
  virtual Result<FdTable> read() = 0;
};

// The BPF task_file iterator. Loads lazily, on the first read(), and stays loaded for the
// next ones (serve, two readings). Never fails to construct; read() says what is missing,
// including "built without BPF".
std::unique_ptr<FdTableSource> open_bpf_fd_table_source();

}  // namespace cd
