// Reads the sysctls the rules need from <proc root>/sys. Unreadable ones stay unknown and
// are named in `missing` (absent ones that only newer kernels have are simply unknown).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collect/proc_fs.h"
#include "snapshot/snapshot.h"

namespace cd {

// The namespace's sysctls (and the host's fs.*). A file that cannot be read leaves its value
// unknown and is named in `missing` ("net.ipv4.tcp_tw_reuse: Permission denied"); a file that
// reads but does not parse fails the whole reading with the parser's message, which names it.
Result<Sysctls> read_sysctls(const ProcFs& proc, std::vector<std::string>& missing);

// Every file read_sysctls reads, relative to the root (including the conntrack timeouts found
// there), so that `record` copies exactly these.
std::vector<std::string> sysctl_files(const ProcFs& proc);

// net.ipv4.tcp_mem: "min pressure max" in pages.
Result<std::array<int64_t, 3>> parse_tcp_mem(std::string_view text);

}  // namespace cd
