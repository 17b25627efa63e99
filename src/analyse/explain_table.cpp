// The explain table's entries (see explain_table.h).
#include "analyse/explain_table.h"

#include <cerrno>

#include "util/i18n.h"

namespace cd {

const std::vector<ExplainEntry>& explain_table() {
  static const std::vector<ExplainEntry> table = {
      {
          .id = "eaddrnotavail",
          .title = N_("Cannot assign requested address"),
          .errno_name = "EADDRNOTAVAIL",
          .errno_value = EADDRNOTAVAIL,
          .phrases = {"cannot assign requested address", "can't assign requested address",
                      "address not available", "addrnotavail"},
          .resources = {"ephemeral_ports", "time_wait"},
          .meaning =
              N_("The kernel found no local address and port for this socket. From connect() it "
                 "means the ephemeral ports are exhausted for ONE destination tuple (source IP, "
                 "destination IP, destination port): __inet_hash_connect() may reuse a local port "
                 "as long as the 4-tuple stays unique, so other destinations usually still work."),
          .causes_heading = N_("likely causes"),
          .causes =
              {N_("connect(): every usable port of ip_local_port_range (minus "
                  "ip_local_reserved_ports and minus every port held by bind() or listen()) is "
                  "already used by a socket to the same destination IP and port - usually "
                  "TIME_WAIT left by short connections that this host closes first (60 s each). "
                  "Ports needed = new connections/s x (lifetime + 60 s): about 470 new "
                  "connections/s to one destination exhaust the default 28,232-port range."),
               N_("bind() to an IP address that is not configured on this host (or not yet: a "
                  "service starting before its address is up)."),
               N_("connect() from a socket bound to a fixed local port whose 4-tuple to this "
                  "destination is already in use.")},
          .findings = {"ephemeral_ports.tuple", "ephemeral_ports.port_search", "time_wait.*"},
          .commands = {"conndoctor check",
                       "ss -Htan state time-wait | awk '{print $4}' | sort | uniq -c | sort -rn "
                       "| head",
                       "sysctl net.ipv4.ip_local_port_range net.ipv4.ip_local_reserved_ports "
                       "net.ipv4.tcp_tw_reuse",
                       "ip -br addr"},
          .notes =
              {N_("No kernel counter moves for this failure (Tcp AttemptFails does not count it): "
                  "`check` infers it from the sockets per destination tuple."),
               N_("connect() tries the ports of the range start's parity first: past half a "
                  "tuple's pool every connect() walks the taken half under bucket locks, so "
                  "connect latency and CPU climb before the first error appears "
                  "(ephemeral_ports.port_search)."),
               N_("tcp_tw_reuse (default 2 = loopback only) lets connect() take over a TIME_WAIT "
                  "port when the old connection carried timestamps; `check` counts such ports as "
                  "reusable unless TcpExt TWRecycled stays flat under churn (tw_reuse_basis "
                  "refused: the peer sends no timestamps).")},
      },
      {
          .id = "eaddrinuse",
          .title = N_("Address already in use"),
          .errno_name = "EADDRINUSE",
          .errno_value = EADDRINUSE,
          .phrases = {"address already in use", "addrinuse", "address in use"},
          .resources = {"ephemeral_ports", "config"},
          .meaning =
              N_("bind() (or listen()) asked for a local port that is taken. With a fixed port it "
                 "is a port conflict; with port 0 (bind before connect) the host-wide pool is "
                 "empty."),
          .causes_heading = N_("likely causes"),
          .causes =
              {N_("bind(ip, 0) before connect(): the port is chosen at bind time and held for ALL "
                  "destinations, so such clients share one host-wide pool per source IP instead "
                  "of one pool per destination, and run out much earlier (TCP and UDP). Use "
                  "IP_BIND_ADDRESS_NO_PORT (Linux 4.2+) or do not bind() before connect(); "
                  "SO_REUSEADDR does not let bind(0) share ports."),
               N_("Clients that only connect() fill that pool too, with no error of their own: "
                  "connect() shares a port across destinations (the ports of the range start's "
                  "parity first), but bind(ip, 0) rejects every port any socket holds on that "
                  "address or on a wildcard, TIME_WAIT included. With bind-before-connect "
                  "clients holding the other parity, bind(ip, 0) has nothing left while every "
                  "destination still has ports: count the ports per local address (`ss -tan src "
                  "IP`), not per destination."),
               N_("A service binding a fixed port that another socket holds: a second instance, a "
                  "process still listening, or connections of the previous instance on that port "
                  "(restart without SO_REUSEADDR)."),
               N_("A service port inside ip_local_port_range: an outbound connection took it as "
                  "its ephemeral port before the service started. Reserve it in "
                  "net.ipv4.ip_local_reserved_ports.")},
          .findings = {"ephemeral_ports.host_wide", "ephemeral_ports.udp",
                       "config.listen_port_in_range"},
          .commands = {"conndoctor check", "conndoctor check --trace 10",
                       "ss -tanp 'sport = :PORT'",
                       "sysctl net.ipv4.ip_local_port_range net.ipv4.ip_local_reserved_ports"},
          .notes = {N_("No kernel counter moves for a failed bind(). `conndoctor check --trace` "
                       "counts bind(ip, 0) calls that fail with EADDRINUSE, per process, and "
                       "names them in the ephemeral_ports.host_wide finding.")},
      },
      {
          .id = "emfile",
          .title = N_("Too many open files"),
          .errno_name = "EMFILE",
          .errno_value = EMFILE,
          .phrases = {"too many open files"},
          .resources = {"file_descriptors", "close_wait"},
          .meaning = N_("This process reached ITS OWN soft RLIMIT_NOFILE (\"Max open files\" in "
                        "/proc/PID/limits). fs.file-max is a different, system-wide limit with a "
                        "different error (ENFILE)."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("A descriptor leak: sockets or files never closed; sockets the peer "
                        "closed pile up in CLOSE_WAIT."),
                     N_("A limit too low for the load (the usual default soft limit is 1024; "
                        "systemd units set LimitNOFILE=)."),
                     N_("On a server, accept() then fails with EMFILE, connections stay queued and "
                        "the accept queue overflows (ListenOverflows): one cause, two symptoms.")},
          .findings = {"file_descriptors.process", "close_wait.*", "accept_queue.*"},
          .commands = {"conndoctor check", "grep 'Max open files' /proc/PID/limits",
                       "ls /proc/PID/fd | wc -l", "ss -tanp state close-wait"},
          .notes = {N_("The soft limit can be raised up to the hard limit, and the hard limit up "
                       "to fs.nr_open: LimitNOFILE= in the systemd unit, or prlimit for a running "
                       "process. Find the leak first."),
                    N_("`conndoctor check` (two readings) forecasts a growing fd count: critical "
                       "when it runs out within a minute (seconds_to_exhaustion), before the "
                       "first EMFILE; critical anyway at 90% of the soft limit.")},
      },
      {
          .id = "enfile",
          .title = N_("Too many open files in system"),
          .errno_name = "ENFILE",
          .errno_value = ENFILE,
          .phrases = {"too many open files in system", "file-max limit"},
          .resources = {"file_descriptors"},
          .meaning =
              N_("The whole system reached fs.file-max; the kernel logs \"VFS: file-max limit N "
                 "reached\" and callers without CAP_SYS_ADMIN get ENFILE. Every process is "
                 "affected, not just one."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("One or many processes leaking descriptors."),
                     N_("fs.file-max set too low for the workload (the default scales with RAM "
                        "and is usually huge, so a low value was set by hand).")},
          .findings = {"file_descriptors.system"},
          .commands = {"cat /proc/sys/fs/file-nr", "sysctl fs.file-max fs.nr_open",
                       "conndoctor check"},
          .notes = {N_("/proc/sys/fs/file-nr is \"allocated 0 max\": compare the first and last "
                       "numbers.")},
      },
      {
          .id = "conntrack_table_full",
          .title = N_("nf_conntrack: table full, dropping packet"),
          .phrases = {"conntrack: table full", "table full, dropping packet",
                      "conntrack table full"},
          .resources = {"conntrack", "snat_ports"},
          .meaning =
              N_("The connection-tracking table reached nf_conntrack_max and early_drop() found "
                 "no unassured entry to evict, so packets of new flows are dropped (conntrack "
                 "\"drop\" counter). Clients see timeouts and retransmissions, not an error."),
          .causes_heading = N_("likely causes"),
          .causes =
              {N_("More concurrent flows than nf_conntrack_max: a traffic rise, a scan or flood, "
                  "or many short connections (a closed TCP flow stays tracked for "
                  "nf_conntrack_tcp_timeout_time_wait, 120 s by default)."),
               N_("Long timeouts keep dead flows: nf_conntrack_tcp_timeout_established defaults "
                  "to 432000 s (5 days), so connections that vanish without FIN or RST stay that "
                  "long."),
               N_("nf_conntrack_count is per network namespace but every namespace is compared "
                  "with the single global nf_conntrack_max: containers share it.")},
          .findings = {"conntrack.table"},
          .commands = {"cat /proc/sys/net/netfilter/nf_conntrack_count "
                       "/proc/sys/net/netfilter/nf_conntrack_max",
                       "conntrack -S", "sysctl net.netfilter.nf_conntrack_tcp_timeout_established",
                       "conndoctor check"},
          .notes = {N_("Each entry costs ~300-400 bytes of kernel memory (1M entries ~ 300-400 "
                       "MiB): raise nf_conntrack_max with that in mind, and the hash size "
                       "(nf_conntrack_buckets) with it.")},
      },
      {
          .id = "dns_5s_delay",
          .title = N_("DNS lookups take 5 seconds (or time out) through conntrack"),
          .phrases = {"dns 5s", "5s dns", "5 second dns", "5-second dns", "dns delay",
                      "dns timeout", "dns lookup timeout", "dns lookups take 5"},
          .resources = {"conntrack"},
          .meaning =
              N_("A lookup whose query or reply is lost waits for the resolver's timeout (5 s in "
                 "glibc, options timeout:N) before it retries. Through conntrack that loss has a "
                 "known cause: glibc sends a lookup's A and AAAA queries back to back from one "
                 "socket, the two packets race to create the same conntrack entry on two CPUs, "
                 "and the loser is dropped when the clash cannot be resolved (insert_failed "
                 "rises)."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("The parallel A/AAAA race over one UDP socket (insert_failed, drop rise). "
                        "Since Linux 5.6 nf_ct_resolve_clash_harder() resolves most such clashes "
                        "(clash_resolve rises instead, no drop); a drop remains when the racing "
                        "entries were NATed differently and their reply tuples collide too."),
                     N_("The resolver does not answer, or its replies are dropped on the way back: "
                        "UDP/53 conntrack entries stay UNREPLIED."),
                     N_("A conntrack table full on the way (nf_conntrack: table full, dropping "
                        "packet).")},
          .findings = {"conntrack.dns", "conntrack.insert_failed", "conntrack.table"},
          .commands = {"conndoctor check", "conntrack -S",
                       "conntrack -L -p udp --dport 53 | grep -c UNREPLIED",
                       "grep -n '^options' /etc/resolv.conf"},
          .notes = {N_("`options single-request-reopen` (glibc) sends the two queries one after "
                       "the other; musl ignores it. On Kubernetes, NodeLocal DNSCache keeps pod "
                       "lookups out of conntrack.")},
      },
      {
          .id = "syn_flooding",
          .title = N_("Possible SYN flooding on port N. Sending cookies."),
          .phrases = {"possible syn flooding", "syn flood"},
          .resources = {"accept_queue"},
          .meaning =
              N_("A listener's SYN queue (capped by its listen() backlog) overflowed. With "
                 "syncookies on (tcp_syncookies=1, the default) the kernel answers with cookies "
                 "(\"Sending cookies\", TcpExt TCPReqQFullDoCookies); otherwise it drops SYNs "
                 "(\"Dropping request\", TCPReqQFullDrop). Not necessarily an attack."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("A burst of legitimate connections with a small backlog (the value passed "
                        "to listen(), capped by net.core.somaxconn)."),
                     N_("The application accepts too slowly or is blocked - or is stuck at its fd "
                        "limit (accept() fails with EMFILE) - so its accept queue is full."),
                     N_("A real SYN flood: many SYN_RECV from spoofed sources.")},
          .findings = {"accept_queue.*", "file_descriptors.process"},
          .commands = {"ss -ltn",
                       "nstat -az TcpExtListenOverflows TcpExtListenDrops "
                       "TcpExtTCPReqQFullDoCookies TcpExtTCPReqQFullDrop",
                       "sysctl net.core.somaxconn net.ipv4.tcp_max_syn_backlog",
                       "conndoctor check"},
          .notes = {N_("In `ss -ltn` a LISTEN socket's Recv-Q is the accept queue length and "
                       "Send-Q its limit."),
                    N_("tcp_syn_flood_action() logs once per listening socket: no new line does "
                       "not mean it stopped; watch the counters.")},
      },
      {
          .id = "too_many_orphans",
          .title = N_("TCP: too many orphaned sockets"),
          .phrases = {"too many orphaned sockets", "orphaned sockets"},
          .resources = {"orphans", "tcp_memory"},
          .meaning =
              N_("Sockets closed by their application but still finishing (FIN_WAIT1, FIN_WAIT2, "
                 "LAST_ACK, CLOSING) exceed net.ipv4.tcp_max_orphans, a host-wide limit "
                 "(tcp_check_oom(); sockets already retransmitting hit it earlier). The kernel "
                 "resets such sockets and counts TcpExt TCPAbortOnMemory."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("Many connections closed while their peers are slow or unreachable, so "
                        "data or the FIN stays unacknowledged."),
                     N_("A close-heavy load (many short connections) against a low "
                        "tcp_max_orphans."),
                     N_("Peers that keep connections half-closed (an attack, or broken clients).")},
          .findings = {"orphans.*", "tcp_memory.*"},
          .commands = {"cat /proc/net/sockstat",
                       "sysctl net.ipv4.tcp_max_orphans net.ipv4.tcp_orphan_retries "
                       "net.ipv4.tcp_mem",
                       "nstat -az TcpExtTCPAbortOnMemory", "conndoctor check"},
          .notes = {N_("Each orphan can hold up to ~64 KiB of unswappable memory: raising "
                       "tcp_max_orphans costs memory.")},
      },
      {
          .id = "tcp_out_of_memory",
          .title = N_("TCP: out of memory -- consider tuning tcp_mem"),
          .phrases = {"consider tuning tcp_mem", "tcp: out of memory"},
          .resources = {"tcp_memory", "orphans"},
          .meaning = N_("The memory of all TCP sockets on the host (/proc/net/sockstat \"mem\", in "
                        "pages) is above net.ipv4.tcp_mem's third value (max): the kernel resets "
                        "sockets (TCPAbortOnMemory) and refuses to grow buffers."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("Many sockets with full buffers: slow readers, stuck peers, or large "
                        "tcp_rmem/tcp_wmem."),
                     N_("Orphans holding unsent data."),
                     N_("tcp_mem set too low for the machine (the default scales with RAM).")},
          .findings = {"tcp_memory.*", "orphans.*"},
          .commands = {"cat /proc/net/sockstat", "sysctl net.ipv4.tcp_mem",
                       "nstat -az TcpExtTCPMemoryPressures TcpExtTCPAbortOnMemory",
                       "conndoctor check"},
          .notes = {N_("tcp_mem is in pages (usually 4 KiB), the same unit as sockstat \"mem\".")},
      },
      {
          .id = "cgroup_tcp_memory",
          .title = N_("A container's socket memory at its cgroup limit (memory.kmem.tcp.failcnt "
                      "rising, memory.events max rising)"),
          .phrases = {"kmem.tcp", "memory.kmem.tcp", "cgroup tcp memory", "cgroup socket memory",
                      "container socket memory"},
          .resources = {"tcp_memory"},
          .meaning = N_(
              "Each socket is charged to the memory cgroup of the process that created or "
              "accepted it, before the host's tcp_mem is looked at. cgroup v1: "
              "memory.kmem.tcp.limit_in_bytes caps it (once written); a refused charge counts in "
              "memory.kmem.tcp.failcnt, drops received data and shrinks that cgroup's TCP "
              "windows. cgroup v2: socket buffers (memory.stat sock) count in memory.current "
              "against memory.max; memory.events max counts the charges that hit it, and the "
              "cgroup reclaims or OOM-kills. The host's tcp_mem and TCPMemoryPressures stay "
              "quiet either way."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("A process that does not read what it receives (a large Recv-Q), or "
                        "peers that do not read what it sends (a large Send-Q)."),
                     N_("Too many connections for the container's memory."),
                     N_("A container memory limit (or v1 TCP limit) set too low for its normal "
                        "buffers.")},
          .findings = {"tcp_memory.cgroup"},
          .commands = {"cat /proc/PID/cgroup",
                       "cat /sys/fs/cgroup/memory/PATH/memory.kmem.tcp.{usage_in_bytes,"
                       "limit_in_bytes,failcnt}   # v1",
                       "grep -w sock /sys/fs/cgroup/PATH/memory.stat; cat "
                       "/sys/fs/cgroup/PATH/memory.{current,max,events}   # v2",
                       "nsenter -t PID -n ss -tnp state established", "conndoctor check"},
          .notes = {N_("cgroup v1 counts TCP memory only once memory.kmem.tcp.limit_in_bytes was "
                       "written, and not in memory.limit_in_bytes.")},
      },
      {
          .id = "econnrefused",
          .title = N_("Connection refused"),
          .errno_name = "ECONNREFUSED",
          .errno_value = ECONNREFUSED,
          .phrases = {"connection refused", "connectionrefused"},
          .resources = {"accept_queue"},
          .meaning =
              N_("The SYN was answered with a RST: nothing accepts connections on that address "
                 "and port. Usually not a resource running out. Tcp AttemptFails counts it."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("No process listens on that IP and port: the service is down, restarting, "
                        "on another port, or listening on 127.0.0.1/::1 only."),
                     N_("A firewall rule rejects with a reset (REJECT --reject-with tcp-reset)."),
                     N_("Not a full accept queue: Linux drops the SYN then (the client retries "
                        "and may time out); with net.ipv4.tcp_abort_on_overflow=1 the client gets "
                        "a reset after connecting (ECONNRESET) instead.")},
          .findings = {"accept_queue.*"},
          .commands = {"ss -ltnp 'sport = :PORT'", "nstat -az TcpAttemptFails", "conndoctor check"},
          .notes = {},
      },
      {
          .id = "etimedout",
          .title = N_("Connection timed out"),
          .errno_name = "ETIMEDOUT",
          .errno_value = ETIMEDOUT,
          .phrases = {"connection timed out", "connection timeout", "connect timeout",
                      "operation timed out", "i/o timeout"},
          .resources = {"unanswered_connects", "accept_queue", "conntrack", "snat_ports"},
          .meaning =
              N_("No answer came in time. From connect(): the SYN was never answered after "
                 "tcp_syn_retries retransmissions (about 2 minutes with the default 6). On an "
                 "established connection: data stayed unacknowledged (tcp_retries2, ~15 min; "
                 "TcpExt TCPAbortOnTimeout) or keepalive probes failed."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("The server's accept queue is full: Linux drops the SYN silently "
                        "(ListenOverflows/ListenDrops on the server) and the client retries until "
                        "it gives up."),
                     N_("A conntrack table full on this host or on a gateway/NAT on the path "
                        "drops packets (\"nf_conntrack: table full, dropping packet\", conntrack "
                        "drop): intermittent, and worse across networks."),
                     N_("SNAT port exhaustion or clash races on a NAT gateway (conntrack "
                        "insert_failed); SNAT ports run out per (NAT IP, destination IP, "
                        "destination port, protocol)."),
                     N_("A firewall dropping (not rejecting) the traffic, or the peer or route is "
                        "down.")},
          .findings = {"unanswered_connects.*", "accept_queue.*", "conntrack.*", "snat_ports.*"},
          .commands = {"ss -tno state syn-sent   # timer:(on,...,N): N SYN retransmits so far",
                       "nstat -az TcpExtTCPSynRetrans TcpExtListenOverflows TcpExtListenDrops "
                       "TcpExtTCPAbortOnTimeout",
                       "conntrack -S", "conndoctor check"},
          .notes = {N_("Run `conndoctor check` on the client, on the server and on the NAT "
                       "gateway: each sees a different part. On the client, unanswered_connects "
                       "names the destinations whose SYNs go unanswered."),
                    N_("Every unanswered connect holds its local port while the SYN is retried: "
                       "the port pool to that destination can run out too, but widening the range "
                       "only lets more SYNs wait; find where they die."),
                    N_("Client deadlines (Go's \"i/o timeout\", connect timeouts in pools) fire "
                       "before the kernel's ETIMEDOUT but mean the same: no answer.")},
      },
      {
          .id = "econnreset",
          .title = N_("Connection reset by peer"),
          .errno_name = "ECONNRESET",
          .errno_value = ECONNRESET,
          .phrases = {"connection reset by peer", "connection reset", "connectionreset"},
          .resources = {"accept_queue", "orphans", "tcp_memory", "conntrack"},
          .meaning = N_("A RST arrived on an established connection: the peer or a device on the "
                        "path aborted it."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("The peer closed an idle keep-alive connection just as this side reused "
                        "it: the server's idle timeout is shorter than the client pool's (set the "
                        "client's idle timeout below the server's)."),
                     N_("The peer's accept queue overflowed with net.ipv4.tcp_abort_on_overflow=1 "
                        "(handshake done, then reset)."),
                     N_("The peer is over its orphan or TCP memory limit (\"too many orphaned "
                        "sockets\", \"out of memory -- consider tuning tcp_mem\", "
                        "TCPAbortOnMemory) and resets connections."),
                     N_("A conntrack/NAT entry on the path expired or was evicted (long idle "
                        "connections through NAT or load balancers); keepalives shorter than the "
                        "middlebox's idle timeout keep it."),
                     N_("The peer aborted on purpose: closed with unread data, or SO_LINGER 0.")},
          .findings = {"accept_queue.*", "orphans.*", "tcp_memory.*", "conntrack.*"},
          .commands = {"nstat -az TcpEstabResets TcpOutRsts TcpExtTCPAbortOnMemory "
                       "TcpExtTCPAbortOnData",
                       "conndoctor check"},
          .notes = {N_(
              "Run `conndoctor check` on the peer too: resets are usually decided there.")},
      },
      {
          .id = "tw_bucket_overflow",
          .title = N_("TCP: time wait bucket table overflow"),
          .phrases = {"time wait bucket table overflow", "tcptimewaitoverflow", "timewaitoverflow"},
          .resources = {"time_wait"},
          .meaning =
              N_("The TIME_WAIT count reached net.ipv4.tcp_max_tw_buckets, so closing sockets "
                 "skip TIME_WAIT. The text is historical: older kernels printed it, Linux 6.18 "
                 "prints nothing - the signal is the TcpExt TCPTimeWaitOverflow counter."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("Many short connections that this host closes first. Server-side "
                        "TIME_WAIT (local port = a listening port) means the server closes first: "
                        "keep-alive off or \"Connection: close\"."),
                     N_("tcp_max_tw_buckets lowered far below its default (ehash/2), often to "
                        "\"fix\" TIME_WAIT.")},
          .findings = {"time_wait.buckets", "time_wait.server_side", "config.tw_buckets_lowered"},
          .commands = {"nstat -az TcpExtTCPTimeWaitOverflow", "sysctl net.ipv4.tcp_max_tw_buckets",
                       "ss -s", "conndoctor check"},
          .notes = {N_("Skipping TIME_WAIT is the limit's effect, not a fix: late segments of an "
                       "old connection can reach a new one on the same ports. Reuse connections "
                       "instead of lowering tcp_max_tw_buckets.")},
      },
      {
          .id = "tcp_tw_recycle",
          .title = N_("net.ipv4.tcp_tw_recycle"),
          .phrases = {"tcp_tw_recycle", "tw_recycle"},
          .resources = {"time_wait", "ephemeral_ports"},
          .meaning =
              N_("tcp_tw_recycle was removed in Linux 4.12: the sysctl no longer exists and must "
                 "not be set; guides that recommend it are outdated. It broke clients behind NAT: "
                 "it dropped SYNs whose TCP timestamp was lower than the last one seen from the "
                 "same IP, and hosts behind one NAT IP have unrelated clocks (since 4.10 "
                 "timestamps are also randomized per connection)."),
          .causes_heading = N_("instead"),
          .causes =
              {N_("Remove it from /etc/sysctl.conf and /etc/sysctl.d/ (sysctl reports it as an "
                  "unknown key on 4.12 and later)."),
               N_("A: reuse connections in the application (keep-alive, one pooled client per "
                  "process)."),
               N_("B: widen net.ipv4.ip_local_port_range, reserving the service ports it covers."),
               N_("C: net.ipv4.tcp_tw_reuse is the one that exists: 0 off, 1 on, 2 loopback only "
                  "(the default). It helps outbound connect() only, needs the peer's TCP "
                  "timestamps (without them it simply does not reuse) and waits "
                  "tcp_tw_reuse_delay ms (since ~6.14). Unlike tw_recycle it drops nothing "
                  "behind NAT.")},
          .findings = {"ephemeral_ports.tuple", "time_wait.*", "config.tw_reuse_syn_retrans"},
          .commands = {"grep -rn tw_recycle /etc/sysctl.conf /etc/sysctl.d/",
                       "sysctl net.ipv4.tcp_tw_reuse net.ipv4.tcp_timestamps", "conndoctor check"},
          .notes = {},
      },
      {
          .id = "tcp_tw_reuse",
          .title = N_("net.ipv4.tcp_tw_reuse"),
          .phrases = {"tcp_tw_reuse", "tw_reuse"},
          .resources = {"ephemeral_ports", "time_wait"},
          .meaning =
              N_("Lets connect() take over the port of a TIME_WAIT socket to the same "
                 "destination when TCP timestamps make it safe (tcp_twsk_unique()): 0 off, 1 on, "
                 "2 loopback only (the default on current kernels). Per network namespace."),
          .causes_heading = N_("what to know"),
          .causes = {N_("Only outbound connections benefit. Server-side TIME_WAIT (the server "
                        "closes first) gains nothing: enable keep-alive instead."),
                     N_("Needs TCP timestamps on the old connection, the peer's included "
                        "(tcp_twsk_unique() checks tw_ts_recent_stamp): a peer or middlebox "
                        "without them gets no reuse at all, and nothing breaks. Each reuse counts "
                        "TcpExt TWRecycled: `check` credits TIME_WAIT as reusable only while it "
                        "rises under churn (evidence tw_reuse_basis)."),
                     N_("Waits net.ipv4.tcp_tw_reuse_delay ms (default 1000, since ~6.14) after "
                        "the socket entered TIME_WAIT."),
                     N_("The observable risk: a reused port can meet a peer still in LAST_ACK; "
                        "its challenge ACK draws a RST and the SYN is retried ~1 s later (TcpExt "
                        "TCPSynRetrans). PAWS counters are not a sign of reuse trouble."),
                     N_("It is not tcp_tw_recycle, which was removed in 4.12.")},
          .findings = {"ephemeral_ports.tuple", "config.tw_reuse_syn_retrans"},
          .commands = {"sysctl net.ipv4.tcp_tw_reuse net.ipv4.tcp_timestamps",
                       "nstat -az TcpExtTWRecycled TcpExtTCPSynRetrans"},
          .notes = {},
      },
      {
          .id = "eagain",
          .title = N_("Resource temporarily unavailable"),
          .errno_name = "EAGAIN",
          .errno_value = EAGAIN,
          .phrases = {"resource temporarily unavailable", "ewouldblock"},
          .resources = {"ephemeral_ports", "accept_queue"},
          .meaning =
              N_("Usually just \"try again\" on a non-blocking socket. As a connection resource "
                 "it means UDP auto-bind found no free local port: sendto() or connect() on an "
                 "unbound UDP socket draws from ONE host-wide pool (ip_local_port_range, per "
                 "network namespace), not one per destination (inet_autobind()). Or a unix "
                 "stream listener's accept queue is full: connect() to it fails with EAGAIN "
                 "once the queue holds its backlog + 1 (unix_recvq_full())."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("A non-blocking read, write or accept with nothing ready: normal, not "
                        "exhaustion."),
                     N_("UDP auto-bind exhausted: too many UDP sockets holding ports of the range "
                        "(e.g. a client opening a socket per DNS query and not closing it)."),
                     N_("connect() on a non-blocking AF_UNIX socket whose listener's backlog is "
                        "full (a slow local server such as an FPM pool).")},
          .findings = {"ephemeral_ports.udp", "accept_queue.unix_listener"},
          .commands = {"cat /proc/net/sockstat", "sysctl net.ipv4.ip_local_port_range",
                       "ss -xl   # unix listeners: Recv-Q = queued, Send-Q = limit",
                       "conndoctor check"},
          .notes = {N_("No kernel counter moves for an auto-bind failure either.")},
      },
      {
          .id = "time_wait",
          .title = N_("Many sockets in TIME_WAIT"),
          .phrases = {"time_wait", "time-wait", "timewait"},
          .resources = {"time_wait", "ephemeral_ports"},
          .meaning = N_("TIME_WAIT lasts exactly 60 s (TCP_TIMEWAIT_LEN; no sysctl changes it, "
                        "tcp_fin_timeout is about FIN_WAIT2) on the side that closed first. A high "
                        "count alone is not a problem: what matters is where it sits."),
          .causes_heading = N_("what it means"),
          .causes = {N_("Client side (local port ephemeral): short connections to ONE destination "
                        "can exhaust that destination's ports (EADDRNOTAVAIL); spread over many "
                        "destinations the same count is harmless."),
                     N_("Server side (local port = a listening port): the server closes first "
                        "(keep-alive off, \"Connection: close\"); it costs memory, no ephemeral "
                        "ports, and tcp_tw_reuse does not help."),
                     N_("Above net.ipv4.tcp_max_tw_buckets new TIME_WAIT is skipped "
                        "(TCPTimeWaitOverflow).")},
          .findings = {"ephemeral_ports.tuple", "time_wait.*"},
          .commands = {"ss -s",
                       "ss -Htan state time-wait | awk '{print $4}' | sort | uniq -c | sort -rn "
                       "| head",
                       "conndoctor check"},
          .notes = {},
      },
      {
          .id = "close_wait",
          .title = N_("Many sockets in CLOSE_WAIT"),
          .phrases = {"close_wait", "close-wait", "closewait"},
          .resources = {"close_wait", "file_descriptors"},
          .meaning = N_("The peer closed and this application has not called close() yet. No "
                        "timer ends CLOSE_WAIT: it stays until the application closes the socket."),
          .causes_heading = N_("likely causes"),
          .causes = {N_("A bug: an error path that never closes the socket, or response bodies "
                        "never read to the end and closed (leaked pooled connections)."),
                     N_("A stuck or overloaded worker that never gets to close.")},
          .findings = {"close_wait.*", "file_descriptors.process"},
          .commands = {"ss -tanp state close-wait", "conndoctor check"},
          .notes = {N_("Each CLOSE_WAIT socket keeps a file descriptor: the leak ends in EMFILE.")},
      },
  };
  return table;
}

}  // namespace cd
