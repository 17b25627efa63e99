// The procfs files the collectors read, relative to the proc root, in one place so that
// `record` copies exactly what a replay will read (sysctl files: see sysctl_files()).
#pragma once

#include <array>
#include <string_view>

namespace cd::proc_paths {

// Per-namespace counters and socket statistics (/proc/net is /proc/self/net).
inline constexpr std::string_view kSnmp = "net/snmp";
inline constexpr std::string_view kNetstat = "net/netstat";
inline constexpr std::string_view kSockstat = "net/sockstat";
inline constexpr std::string_view kSockstat6 = "net/sockstat6";  // TCP6 inuse: fd scan choice
// Absent on kernels built without CONFIG_NF_CONNTRACK_PROCFS.
inline constexpr std::string_view kConntrackStat = "net/stat/nf_conntrack";
inline constexpr std::string_view kFileNr = "sys/fs/file-nr";

// Files collect_reading() reads itself, besides the sysctls.
inline constexpr std::array<std::string_view, 6> kReadingFiles = {
    kSnmp, kNetstat, kSockstat, kSockstat6, kConntrackStat, kFileNr};

// Conntrack sysctls: nf_conntrack_count exists only while the module is loaded.
inline constexpr std::string_view kNetfilterDir = "sys/net/netfilter";
inline constexpr std::string_view kConntrackCount = "sys/net/netfilter/nf_conntrack_count";

// The caller's network namespace link, compared with each process's.
inline constexpr std::string_view kSelfNetns = "self/ns/net";
// The caller's mounts: where the cgroup hierarchies are (collect/cgroup_memory.h).
inline constexpr std::string_view kSelfMountinfo = "self/mountinfo";

// Per process, relative to <root>/<pid>/.
inline constexpr std::string_view kComm = "comm";
inline constexpr std::string_view kLimits = "limits";
inline constexpr std::string_view kNetns = "ns/net";
inline constexpr std::string_view kFdDir = "fd";
inline constexpr std::string_view kCgroup = "cgroup";

}  // namespace cd::proc_paths
