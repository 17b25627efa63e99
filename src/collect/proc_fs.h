// The procfs root every collector reads from. "/proc" on a live system; a fixture directory
// laid out the same way in tests (--proc-root). The only place that opens /proc files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace cd {

class ProcFs {
 public:
  explicit ProcFs(std::string root = "/proc");

  const std::string& root() const { return root_; }
  std::string path(std::string_view rel) const;  // root + "/" + rel

  // Whole small file (procfs files report size 0, so this reads until EOF).
  Result<std::string> read(std::string_view rel) const;
  // One integer file such as sys/net/ipv4/tcp_tw_reuse.
  Result<int64_t> read_int(std::string_view rel) const;
  Result<std::string> readlink(std::string_view rel) const;
  bool exists(std::string_view rel) const;
  // Names in a directory (no "." and ".."), sorted. Used for the conntrack timeout sysctls
  // and by the recorder; the per-fd hot loop in processes.cpp reads directories itself.
  Result<std::vector<std::string>> list(std::string_view rel) const;
  // Numeric entries of the root: process ids. Never fails; a vanished entry is skipped.
  std::vector<int32_t> pids() const;
  // True when root is a real procfs mount (statfs PROC_SUPER_MAGIC): then cheap kernel-only
  // tricks such as stat("/proc/PID/fd").st_size = open fds (since ~6.2) may be used.
  bool is_procfs() const { return is_procfs_; }

 private:
  std::string root_;
  bool is_procfs_ = false;
};

}  // namespace cd
