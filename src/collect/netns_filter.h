// Tells whether a process lives in the caller's network namespace, even when its
// /proc/PID/ns/net link cannot be read. Used by the process scan and by `record`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "collect/proc_fs.h"

namespace cd {

enum class NetnsVerdict {
  kSame,     // same namespace as the caller
  kOther,    // another namespace
  kGone,     // the process exited (or is a zombie, which has no namespaces left)
  kUnknown,  // cannot tell (no ptrace access and no fallback)
};

class NetnsFilter {
 public:
  // Reads the caller's own namespace link (<root>/self/ns/net) once.
  explicit NetnsFilter(const ProcFs& proc);

  // False when our own link is unreadable: then every process counts as "same".
  bool active() const { return self_link_.has_value(); }
  const std::optional<std::string>& self_link() const { return self_link_; }

  NetnsVerdict check(int32_t pid) const;

 private:
  std::optional<ino_t> net_dev_inode(const std::string& dir) const;

  const ProcFs& proc_;
  std::optional<std::string> self_link_;
  std::optional<ino_t> self_net_dev_;
};

}  // namespace cd
