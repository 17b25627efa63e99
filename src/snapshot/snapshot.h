// The snapshot: plain data that the collectors fill and the rules read. Nothing here touches
// the system. Unknown numbers are std::nullopt, never 0, so that a report can say "unknown".
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/conntrack_table.h"
#include "snapshot/container_identity.h"
#include "snapshot/net_types.h"

namespace cd {

// Sysctls of the namespace being diagnosed (net.*) and of the host (fs.*).
struct Sysctls {
  std::optional<PortRange> ip_local_port_range;
  std::optional<std::vector<PortRange>> ip_local_reserved_ports;  // empty vector = none reserved
  std::optional<int64_t> tcp_tw_reuse;                            // 0 off, 1 on, 2 loopback only
  std::optional<int64_t> tcp_tw_reuse_delay_ms;                   // since ~6.14; absent before
  std::optional<int64_t> tcp_timestamps;
  std::optional<int64_t> tcp_max_tw_buckets;
  std::optional<int64_t> tcp_fin_timeout;
  std::optional<int64_t> somaxconn;
  std::optional<int64_t> tcp_max_syn_backlog;
  std::optional<int64_t> tcp_max_orphans;
  std::optional<std::array<int64_t, 3>> tcp_mem;  // pages: min, pressure, max
  std::optional<int64_t> tcp_syncookies;
  std::optional<int64_t> file_max;  // fs.file-max
  std::optional<int64_t> nr_open;   // fs.nr_open
  std::optional<int64_t> nf_conntrack_max;
  std::optional<int64_t> nf_conntrack_buckets;
  std::optional<int64_t> nf_conntrack_count;
  // net.netfilter.nf_conntrack_<name>_timeout..., keyed by the part after "nf_conntrack_",
  // e.g. "tcp_timeout_established" -> 432000.
  std::map<std::string, int64_t> conntrack_timeouts;
};

// /proc/net/sockstat (TCP line; orphan, alloc and mem are host-wide, inuse and tw per netns).
struct SockStat {
  std::optional<int64_t> sockets_used;
  std::optional<int64_t> tcp_inuse;
  std::optional<int64_t> tcp_orphan;
  std::optional<int64_t> tcp_tw;
  std::optional<int64_t> tcp_alloc;
  std::optional<int64_t> tcp_mem_pages;
  std::optional<int64_t> udp_inuse;
  std::optional<int64_t> udp_mem_pages;
};

// /proc/sys/fs/file-nr: allocated, (unused), max. System-wide.
struct FileNr {
  std::optional<int64_t> allocated;
  std::optional<int64_t> max;
};

// Conntrack table figures of the namespace (count is per netns, max is global).
struct ConntrackStats {
  bool available = false;  // nf_conntrack loaded and readable
  std::optional<int64_t> count;
  std::optional<int64_t> max;
  std::optional<int64_t> buckets;
  // Per-CPU stats summed, by the kernel's field name ("drop", "early_drop", "insert_failed"...).
  std::map<std::string, int64_t> stats;
  std::string stats_source;  // "procfs", "ctnetlink", or "" when unavailable
};

// A listening TCP socket; for LISTEN sockets sock_diag reports the accept-queue length in
// idiag_rqueue and its limit (min(backlog, somaxconn)) in idiag_wqueue.
struct Listener {
  Endpoint local;
  uint32_t queue_len = 0;
  uint32_t queue_limit = 0;
  uint32_t inode = 0;
  // Handshakes in progress on its port (request sockets, dumped as SYN_RECV): the SYN queue.
  // Per port: two listeners on one port (IPv4 and IPv6) both show the port's count.
  uint32_t syn_recv = 0;
};

// A listening AF_UNIX socket (unix_diag: UNIX_DIAG_RQLEN and UNIX_DIAG_NAME). connect() to it
// fails with EAGAIN (non-blocking) or waits (blocking) once unix_recvq_full() holds
// [net/unix/af_unix.c]: queue_len > queue_limit, as for TCP the queue takes limit + 1.
struct UnixListener {
  std::string path;          // as ss shows it: "/run/php/fpm.sock", "@abstract-name"
  bool seqpacket = false;    // SOCK_SEQPACKET; else SOCK_STREAM
  uint32_t queue_len = 0;    // connections not yet accept()ed
  uint32_t queue_limit = 0;  // min(listen() backlog, net.core.somaxconn)
  uint32_t inode = 0;
};

// Sockets that hold an ephemeral local port towards one destination tuple.
struct TupleUsage {
  TupleKey key;
  std::array<uint32_t, kTcpStateSlots> by_state{};  // live states and TIME_WAIT
  uint32_t time_wait = 0;
  uint32_t tw_past_reuse_delay = 0;  // TIME_WAIT older than tcp_tw_reuse_delay (reusable age)
  uint32_t tw_recent = 0;            // entered TIME_WAIT within the last kRateWindowS seconds
  uint32_t tw_expiring = 0;          // leave TIME_WAIT within the next kRateWindowS seconds
  uint32_t syn_unanswered = 0;       // SYN_SENT whose SYN was retransmitted: no SYN-ACK for >= 1 s
  // Sockets on a port of the parity bind(0) prefers (the range start's opposite). connect()
  // (__inet_hash_connect()) walks the ports of the range start's parity first and takes the
  // other parity only once it has no port of the first left for this tuple, while
  // inet_csk_find_open_port() (bind(ip, 0)) walks the opposite parity first.
  uint32_t bind_parity = 0;
  std::vector<uint32_t> sample_inodes;  // up to kSampleInodes live sockets, for attribution

  uint32_t in_use() const;  // every socket of the tuple, TIME_WAIT included
  uint32_t live() const { return in_use() - time_wait; }
};

inline constexpr int kRateWindowS = 10;  // TIME_WAIT age window used to measure churn
inline constexpr std::size_t kSampleInodes = 8;

// CLOSE_WAIT sockets grouped by their local endpoint (the service or the client address).
struct CloseWaitGroup {
  Endpoint local;  // local address; port = service port for server-side, 0 for client-side
  bool server_side = false;
  uint32_t count = 0;
  std::vector<Endpoint> sample_peers;  // up to a few
};

// The pool bind(addr, 0) draws from. With ip_autobind_reuse = 0 (the default)
// inet_csk_find_open_port() [net/ipv4/inet_connection_sock.c] rejects a port when any socket
// (listening, connected, TIME_WAIT, bound) holds it on an overlapping address: the same
// address, or a wildcard socket (0.0.0.0 / [::]). connect() shares those ports across
// destinations, bind(addr, 0) cannot: its pool is per local address, not per tuple.
struct BindPool {
  IpAddr address;  // a local address (unmapped); 0.0.0.0 or :: for the wildcard's own pool
  // Distinct ports in the range that a bind(address, 0) cannot take: those held on the address
  // or on an overlapping wildcard socket. For the wildcard: every port held on any address.
  uint32_t ports_in_range = 0;
  uint32_t own_ports_in_range = 0;  // held by sockets on the address itself
  uint64_t sockets = 0;             // TCP sockets on the address with a port in the range
  uint64_t bound_inactive = 0;      // of those, bound and neither connected nor listening
};

inline constexpr std::size_t kMaxBindPools = 64;  // local addresses tracked per dump

// The streaming aggregate of one sock_diag dump of the namespace (TCP v4+v6, and UDP ports).
struct SocketSummary {
  bool complete = false;  // the dump finished (NLMSG_DONE seen for every request)
  uint64_t total = 0;
  std::array<uint64_t, kTcpStateSlots> by_state{};
  uint64_t time_wait_client = 0;  // local port ephemeral: consumes a port for 60 s
  uint64_t time_wait_server = 0;  // local port is a listening port: the server closed first
  uint64_t time_wait_other = 0;   // fixed local port outside the range, not a listener
  std::vector<Listener> listeners;
  std::vector<TupleUsage> tuples;  // client-side sockets per destination tuple
  std::vector<CloseWaitGroup> close_wait;
  // Host-wide pool that bind()-before-connect() and UDP draw from (per netns).
  uint32_t tcp_ports_in_range = 0;  // distinct local TCP ports in the ephemeral range
  uint32_t udp_ports_in_range = 0;  // distinct local UDP ports in the ephemeral range
  uint64_t udp_sockets = 0;
  bool udp_complete = false;
  // TCP sockets bound but neither connecting nor listening (bind() and nothing else, or a
  // bind-before-connect client before its connect()). Kernels >= 6.6 dump them when the request
  // asks for TCP_BOUND_INACTIVE (inet_diag_dump_icsk()), in state CLOSE with no peer; older
  // kernels do not, and these stay 0. Their ports' bind buckets were made by bind()
  // (fastreuse >= 0), so __inet_hash_connect() skips those ports for every destination.
  uint64_t bound_inactive = 0;
  std::vector<uint16_t> bound_inactive_ports;  // distinct, inside the ephemeral range, ascending
  // bind(addr, 0) pools per local address: the first kMaxBindPools addresses seen (wildcard
  // ones included), fullest first; sockets on further addresses are only counted.
  std::vector<BindPool> bind_pools;
  uint64_t bind_pool_untracked_sockets = 0;
  // Bytes queued in the TCP sockets that are neither listening nor in TIME_WAIT: received and
  // not read by the application (idiag_rqueue: rcv_nxt - copied_seq) and written but not yet
  // acknowledged by the peer (idiag_wqueue: write_seq - snd_una). What a socket-memory limit
  // is spent on.
  uint64_t recv_q_bytes = 0;
  uint64_t send_q_bytes = 0;
  uint64_t sockets_with_recv_q = 0;  // of those, sockets holding unread data
};

// Sockets an attributed process holds, joined from /proc/PID/fd inodes and the dump.
struct ProcessSockets {
  std::array<uint32_t, kTcpStateSlots> by_state{};
  uint32_t close_wait = 0;
  // (destination, live sockets) for the process's busiest destinations, most first.
  std::vector<std::pair<Endpoint, uint32_t>> top_destinations;
  std::vector<Endpoint> listening;
};

// The language runtime or proxy a process runs, detected read-only from its executable and its
// memory map. It decides which runtime's connection-reuse setting a plan names first.
struct RuntimeInfo {
  std::string name;     // "go", "jvm", "cpython", "nodejs", "php-fpm", "nginx", "envoy"
  std::string version;  // "go1.19.8", "3.11"; empty when nothing says
  std::string how;      // how it was detected, for evidence: "ELF section .go.buildinfo"
};

struct ProcessInfo {
  int32_t pid = 0;
  std::string comm;
  std::optional<uint64_t> open_fds;
  std::optional<uint64_t> fd_soft_limit;  // "Max open files" soft limit; nullopt if unlimited
  std::optional<uint64_t> fd_hard_limit;
  std::optional<ProcessSockets> sockets;       // set when attribution ran and fds were readable
  std::optional<ContainerIdentity> container;  // set when its cgroup names a container
  std::optional<RuntimeInfo> runtime;          // set for the processes a plan names (tuple owners)
};

// Processes that own sockets of a destination tuple (TIME_WAIT has no owner: inferred from
// the live sockets to the same destination).
struct TupleOwner {
  TupleKey key;
  std::vector<std::pair<int32_t, uint32_t>> pids;  // pid, live sockets of the tuple
};

// The socket memory of one memory cgroup that holds processes of the namespace (the kernel
// charges a socket to the memory cgroup of the task that created or accepted it, sk->sk_memcg:
// mem_cgroup_sk_alloc() [mm/memcontrol.c]). Bytes; unknown figures are nullopt. A limit the
// kernel reports as unlimited (v1: PAGE_COUNTER_MAX pages, 9223372036854771712; v2: "max") is
// stored as nullopt with `*_unlimited` set. Ancestors of a process's cgroup are listed too:
// their limits apply to everything below them (page counters are hierarchical).
struct CgroupSockMemory {
  std::string path;  // as /proc/PID/cgroup names it: "/kubepods/burstable/pod.../<id>"
  int version = 1;   // 1: memory.kmem.tcp.* of the v1 memory controller; 2: cgroup2
  std::string dir;   // its directory on the machine read: "/sys/fs/cgroup/memory/kubepods/..."
  std::vector<int32_t> pids;  // processes of the namespace in it or below it, ascending, capped
  uint32_t pid_count = 0;     // all of them
  uint64_t sockets = 0;       // sockets those processes hold (attribution; 0 when unknown)
  // v1: memory.kmem.tcp.{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt}. The kernel
  // charges TCP memory there only once limit_in_bytes was written (memcg->tcpmem_active).
  std::optional<int64_t> tcp_usage;
  std::optional<int64_t> tcp_limit;
  bool tcp_limit_unlimited = false;
  std::optional<int64_t> tcp_max_usage;
  std::optional<int64_t> tcp_failcnt;
  // v2: memory.stat "sock", memory.current, memory.max, memory.high, memory.events.
  std::optional<int64_t> sock;
  std::optional<int64_t> current;
  std::optional<int64_t> max;
  bool max_unlimited = false;
  std::optional<int64_t> high;
  bool high_unlimited = false;
  std::map<std::string, int64_t> events;  // "low", "high", "max", "oom", "oom_kill", ...
  std::string error;                      // why a figure could not be read ("" when all were)
};

inline constexpr std::size_t kCgroupSamplePids = 8;
inline constexpr std::size_t kMaxCgroups = 256;

// The memory cgroups of the namespace's socket-owning processes.
struct CgroupMemory {
  bool read = false;  // the collection ran (false: a recording without it, or it was not asked)
  std::vector<CgroupSockMemory> groups;  // by path; v1 and v2 apart
  uint32_t not_read = 0;                 // cgroups beyond kMaxCgroups, counted, not read
};

// Everything read at one instant.
struct Reading {
  double taken_at_s = 0;  // monotonic clock
  Sysctls sysctls;
  // /proc/net/snmp and /proc/net/netstat by "Section.Field", e.g. "TcpExt.ListenOverflows".
  std::map<std::string, int64_t> counters;
  SockStat sockstat;
  FileNr file_nr;
  ConntrackStats conntrack;
  ConntrackTable conntrack_table;  // ctnetlink dump (needs CAP_NET_ADMIN)
  SocketSummary sockets;
  std::vector<ProcessInfo> processes;
  std::vector<TupleOwner> tuple_owners;
  std::map<uint32_t, int32_t> listener_owner;  // listener inode (TCP or unix) -> pid
  // Listening AF_UNIX sockets; nullopt when unknown (a recording made before they were
  // dumped, or a kernel without unix_diag: then `missing` says so).
  std::optional<std::vector<UnixListener>> unix_listeners;
  std::string fd_scan;         // how attribution read the fds: "bpf", "procfs"; "" = did not run
  CgroupMemory cgroup_memory;  // socket memory of the processes' memory cgroups
};

// Two readings `interval` apart (or one), plus what could not be read.
struct Snapshot {
  Reading first;
  std::optional<Reading> second;
  std::vector<std::string> missing;  // "what could not be read, and why"
  std::string netns;                 // which namespace, for the report ("" = the caller's)

  const Reading& now() const { return second ? *second : first; }
  const Reading* before() const { return second ? &first : nullptr; }
  std::optional<double> interval_s() const;
  // Per-second rate of a counter between the readings; a decrease is a reset (the counter
  // restarted from zero), never a negative rate. nullopt with one reading or unknown counter.
  std::optional<double> counter_rate(const std::string& name) const;
  std::optional<double> conntrack_stat_rate(const std::string& name) const;
};

std::optional<int64_t> counter(const Reading& r, const std::string& name);

}  // namespace cd
