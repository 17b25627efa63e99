// The library of plan steps the rules share, so that each step's action, commands and risk
// are written once. Letters follow the field method: A connection reuse in the application,
// B system limits (widen the port range, raise a limit), C tcp_tw_reuse with care, D conntrack.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analyse/finding.h"
#include "snapshot/snapshot.h"

namespace cd {

// --- A: the application ---------------------------------------------------------------------
// What a plan knows about the client that churns: the runtime it runs (its setting is named
// first) and the destination port (a database or cache port names that pool first).
struct ReuseHint {
  const RuntimeInfo* runtime = nullptr;
  std::optional<uint16_t> port;
};
// One shared, pooled client per process, with concrete settings for Go, Java, Python, Node.js,
// PHP-FPM and nginx/envoy as proxies; the hinted runtime and destination first.
RemediationStep step_client_reuse(const ReuseHint& hint = {});
// The server closes first (server-side TIME_WAIT): keep-alive on, no "Connection: close".
RemediationStep step_server_keep_alive();
// bind() before connect() takes a port from the host-wide pool: IP_BIND_ADDRESS_NO_PORT.
RemediationStep step_bind_no_port();
// UDP auto-bind draws from the host-wide pool: keep a few sockets and reuse them.
RemediationStep step_udp_socket_reuse();
// A process near its fd limit: find what it holds open before raising anything.
RemediationStep step_find_fd_leak(int32_t pid);
// CLOSE_WAIT: the application never calls close() after the peer closed.
RemediationStep step_close_after_peer_close(std::optional<int32_t> pid);
// A listener whose accept queue fills: the accept loop is too slow or blocked.
RemediationStep step_fix_accept_loop(const Listener& l, std::optional<int32_t> pid,
                                     bool owner_at_fd_limit);
// Listen overflows with no TCP listener to suspect: find the listener that drops first.
RemediationStep step_find_overflowing_listener();
// A unix stream listener (PHP-FPM, uwsgi, gunicorn) whose accept queue fills: too few workers
// or a stalled accept loop; connect() then fails with EAGAIN.
RemediationStep step_fix_unix_accept_loop(const UnixListener& l, std::optional<int32_t> pid,
                                          bool owner_at_fd_limit);
// Orphans and TCP memory: sockets whose data nobody reads or that close with unsent data.
RemediationStep step_find_stuck_sockets();
// A memory cgroup at its socket-memory limit: find the sockets of its processes that hold the
// memory (unread Recv-Q, unacknowledged Send-Q) or that are too many, and drain or pool them.
RemediationStep step_drain_cgroup_sockets(const std::vector<int32_t>& pids);
// Connects nobody answers: a connect timeout far below the kernel's ~127 s of SYN retries.
RemediationStep step_connect_timeout();
// The destination's own listener may drop the SYNs (accept or SYN queue full): check it there.
RemediationStep step_destination_listener(const Endpoint& dst);

// --- B: the system ----------------------------------------------------------------------------
// Widen ip_local_port_range to 10000-65535, reserving the listening ports it would cover first.
RemediationStep step_widen_port_range(const Reading& r);
// Each source address is its own pool per destination: more source IPs multiply it.
RemediationStep step_more_source_addresses();
// Reserve listening ports that sit inside the ephemeral range.
RemediationStep step_reserve_ports(const Sysctls& s, const std::vector<uint16_t>& ports);
// Raise one process's soft RLIMIT_NOFILE (live with prlimit, persistently in its unit).
RemediationStep step_raise_fd_limit(const ProcessInfo& p, std::optional<int64_t> nr_open);
// Raise fs.file-max (system-wide).
RemediationStep step_raise_file_max(const FileNr& f, std::optional<int64_t> file_max);
// Raise the listen backlog and net.core.somaxconn together: of `l`, or (null) of the listener
// that drops, whichever it is, when the reading names none.
RemediationStep step_raise_backlog(const Listener* l, std::optional<int64_t> somaxconn);
// The same for a unix listener: the server's own backlog setting, and somaxconn that caps it.
RemediationStep step_raise_unix_backlog(const UnixListener& l, std::optional<int64_t> somaxconn);
// SYN-queue drops with tcp_syncookies=0: turn syncookies back on (the default, 1).
RemediationStep step_syncookies_on(const Sysctls& s);
// Raise tcp_max_tw_buckets (never shrink it to "fix" TIME_WAIT).
RemediationStep step_raise_tw_buckets(const Sysctls& s, std::optional<int64_t> tw_count);
// Raise tcp_max_orphans with its memory cost.
RemediationStep step_raise_max_orphans(const Sysctls& s);
// Raise tcp_mem with its memory cost.
RemediationStep step_raise_tcp_mem(const Sysctls& s);
// Raise a memory cgroup's limit: v1 memory.kmem.tcp.limit_in_bytes, v2 memory.max (and
// memory.high when that is the lower one); on Kubernetes the container's memory limit.
// `pod_namespace`/`pod`/`container`: the identity of its processes, when known.
RemediationStep step_raise_cgroup_limit(const CgroupSockMemory& g,
                                        const std::optional<std::string>& pod_namespace,
                                        const std::optional<std::string>& pod,
                                        const std::optional<std::string>& container);

// --- C: tcp_tw_reuse ----------------------------------------------------------------------
// tcp_tw_reuse=1 for outbound connections, or "already in effect" when the current setting
// already covers the tuple (tcp_tw_reuse=1, or =2 on loopback). `refused_to`: reuse is on but
// TWRecycled stayed flat under churn to this destination (port_pool.h kRefused): its
// connections carry no timestamps.
RemediationStep step_tw_reuse(const Sysctls& s, bool loopback_tuple,
                              const Endpoint* refused_to = nullptr);

// --- D: conntrack and the network path ------------------------------------------------------
// Connects nobody answers: find where the SYNs die (a firewall dropping them on the way or at
// the destination). Path steps take D, the network layer's letter, like conntrack.
RemediationStep step_trace_unanswered_syns(const Endpoint& dst);
// Conntrack or SNAT on a gateway on the way drops new flows silently (full table, port clash).
RemediationStep step_conntrack_on_path();
// Raise nf_conntrack_max with its memory cost, and the hash table with it.
RemediationStep step_conntrack_size(const Reading& r);
// Shorten conntrack timeouts that keep entries long after the traffic stopped.
RemediationStep step_conntrack_timeouts(const Sysctls& s);
// insert_failed: NAT port clash races (--random-fully) and the Kubernetes DNS 5 s delay.
RemediationStep step_conntrack_clash_races();
// DNS through conntrack (the Kubernetes 5 s delay): resolver options that stop glibc sending A and
// AAAA in parallel over one socket (application side, so A), NodeLocal DNSCache (D), why
// resolvers do not answer (D, reading only), and a shorter UDP timeout for a table under
// pressure (D).
RemediationStep step_dns_single_request();
RemediationStep step_dns_node_local_cache();
RemediationStep step_dns_unanswered(const std::vector<Endpoint>& resolvers);
RemediationStep step_dns_udp_timeout(const Sysctls& s);

// The persistent form of a sysctl: one drop-in file per key, so two steps never overwrite
// each other's file. Exposed for the tests.
std::string persist_sysctl(const std::string& key, const std::string& value);
// "8080,9000-9010" as ip_local_reserved_ports writes it.
std::string format_port_list(const std::vector<PortRange>& ranges);
// The reserved list with `ports` added, sorted and merged (writing the sysctl replaces the list,
// so a command must carry the ports already reserved).
std::vector<PortRange> merge_ports(const std::vector<PortRange>& reserved,
                                   const std::vector<uint16_t>& ports);

}  // namespace cd
