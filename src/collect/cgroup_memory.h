// The socket memory of the memory cgroups that hold the namespace's socket-owning processes
// (docs/findings.md, tcp_memory.cgroup). A socket is charged to the memory cgroup of the task
// that created it, or that accept()ed it (sk->sk_memcg, mem_cgroup_sk_alloc()), so a container
// can run out of socket memory while the host's tcp_mem is far from pressure:
//   v1: memory.kmem.tcp.{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt}, charged
//       only once limit_in_bytes was written (tcpmem_active);
//   v2: memory.stat "sock", charged to the cgroup's ordinary memory (memory.current against
//       memory.max / memory.high; memory.events counts the charges that hit them).
// Files are found through /proc/PID/cgroup and <proc root>/self/mountinfo; the mount points
// are read below the proc root's parent directory ("/" for /proc, DIR for a recording's
// DIR/proc), so that `record` and fixtures replay them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collect/proc_fs.h"
#include "snapshot/snapshot.h"

namespace cd {

// One mount of a cgroup hierarchy that holds memory accounting: v1 with the memory controller,
// or cgroup2. From one line of /proc/self/mountinfo.
struct CgroupMount {
  int version = 1;
  std::string root;         // the mount's root inside the hierarchy (field 4): "/" usually
  std::string mount_point;  // absolute, unescaped (\040 -> ' ')
};

// The v1 memory and cgroup2 mounts of a mountinfo text, in file order. Pure.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// What /proc/PID/cgroup says: the v1 memory controller's path and the cgroup2 ("0::") path.
struct ProcCgroups {
  std::optional<std::string> v1_memory;
  std::optional<std::string> v2;
};
ProcCgroups parse_proc_cgroups(std::string_view text);  // pure

// The "key value" lines of memory.stat and memory.events; other lines are skipped. Pure.
std::map<std::string, int64_t> parse_cgroup_keyed(std::string_view text);

// The directory of cgroup `path` under `m` (absolute, as the reader sees it), or nullopt when
// the path lies outside the mount's root (that part of the hierarchy is not visible here).
std::optional<std::string> cgroup_dir(const CgroupMount& m, std::string_view path);

// The filesystem root the mount points are read under: the proc root's parent directory.
std::string fs_root_of(const ProcFs& proc);

// The files read for one cgroup of `version`, relative to its directory (for `record`).
const std::vector<std::string_view>& cgroup_memory_files(int version);

// The memory cgroup directories (relative to the fs root, with a leading '/') of `pids`: their
// own and every ancestor's below the mount's root, for `record`.
std::vector<std::string> memory_cgroup_dirs(const ProcFs& proc, const std::vector<int32_t>& pids);

// Reads the memory cgroups of `pids` (and their ancestors, the hierarchy's root excepted: its
// limits are the host's), at most kMaxCgroups (the rest are counted in `not_read`). What cannot
// be read is named once in `missing`; never a made-up number.
// `owners`: (pid, sockets it holds; 0 when unknown).
CgroupMemory read_cgroup_memory(const ProcFs& proc,
                                const std::vector<std::pair<int32_t, uint64_t>>& owners,
                                std::vector<std::string>& missing);

}  // namespace cd
