// Fuzz target for what the socket-memory check reads to find and read a memory cgroup: a
// mountinfo text (parse_cgroup_mounts), a /proc/PID/cgroup file (parse_proc_cgroups), the
// directory of each path under each mount (cgroup_dir) and memory.stat / memory.events
// (parse_cgroup_keyed). The same bytes go to each, as a recording may hold anything. Never a
// crash; invariants are checked with __builtin_trap so that the fuzzer reports them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collect/cgroup_memory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto mounts = cd::parse_cgroup_mounts(text);
  const cd::ProcCgroups pc = cd::parse_proc_cgroups(text);
  if ((pc.v1_memory && pc.v1_memory->empty()) || (pc.v2 && pc.v2->empty())) __builtin_trap();
  for (const cd::CgroupMount& m : mounts) {
    if (m.version != 1 && m.version != 2) __builtin_trap();
    for (const auto& path : {pc.v1_memory, pc.v2}) {
      if (!path) continue;
      auto dir = cd::cgroup_dir(m, *path);
      // A directory is the mount point (without trailing slashes) followed by the path's part
      // below the mount's root.
      std::string mp = m.mount_point;
      while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
      if (dir && mp != "/" && !dir->starts_with(mp)) __builtin_trap();
    }
  }
  for (const auto& [key, value] : cd::parse_cgroup_keyed(text))
    if (key.find('\n') != std::string::npos) __builtin_trap();
  return 0;
}
