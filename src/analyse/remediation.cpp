// Plan steps shared by the rules: each action, command and risk is written here once.
#include "analyse/remediation.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "analyse/evidence.h"
#include "snapshot/conntrack_table.h"  // kConntrackEntryBytes
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

RemediationStep step(char priority, std::string action, std::vector<std::string> commands,
                     std::string risk) {
  return RemediationStep{priority, std::move(action), std::move(commands), std::move(risk)};
}

std::string sysctl_w(const std::string& key, const std::string& value) {
  bool quote = value.find_first_of(" \t,") != std::string::npos;
  return quote ? fmt::format("sysctl -w {0}=\"{1}\"", key, value)
               : fmt::format("sysctl -w {0}={1}", key, value);
}

// "1.5 MiB", "320 MiB", "2.0 GiB"
std::string bytes_for_people(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{0:.1f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{0:.0f} MiB", b / (1024.0 * 1024));
  return fmt::format("{0:.0f} KiB", std::max(1.0, b / 1024.0));
}

int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// TIME_WAIT socket (~168 B) plus the bind bucket an outbound one keeps (48 B).
constexpr int64_t kTimeWaitBytes = 168 + 48;
constexpr int64_t kPageBytes = 4096;

}  // namespace

// systemd-sysctl applies sysctl.d before nf_conntrack is loaded on demand, so a
// net.netfilter.* key does not exist yet at boot and its setting is lost: load the module from
// modules-load.d (systemd-modules-load runs before systemd-sysctl), in a file of its own.
std::string load_nf_conntrack_at_boot() {
  return "echo nf_conntrack > /etc/modules-load.d/90-conndoctor-nf_conntrack.conf   # so that "
         "sysctl.d finds the net.netfilter keys at boot";
}

std::string persist_sysctl(const std::string& key, const std::string& value) {
  return fmt::format("echo '{0} = {1}' > /etc/sysctl.d/90-{2}.conf", key, value, key);
}

std::string format_port_list(const std::vector<PortRange>& ranges) {
  std::string out;
  for (const PortRange& r : ranges) {
    if (!out.empty()) out += ',';
    out += r.lo == r.hi ? std::to_string(r.lo) : fmt::format("{}-{}", r.lo, r.hi);
  }
  return out;
}

std::vector<PortRange> merge_ports(const std::vector<PortRange>& reserved,
                                   const std::vector<uint16_t>& ports) {
  std::vector<PortRange> all = reserved;
  for (uint16_t p : ports) all.push_back(PortRange{p, p});
  std::sort(all.begin(), all.end());
  std::vector<PortRange> out;
  for (const PortRange& r : all) {
    if (r.hi < r.lo) continue;
    if (!out.empty() && uint32_t(r.lo) <= uint32_t(out.back().hi) + 1) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

// --- A ----------------------------------------------------------------------------------------

namespace {

struct RuntimeAdvice {
  std::string_view runtime;  // RuntimeInfo::name
  std::string_view display;
  std::string_view command;
};

constexpr RuntimeAdvice kRuntimeAdvice[] = {
    {"go", "Go",
     N_("Go: one shared http.Client for the process; &http.Transport{MaxIdleConns: 1000, "
        "MaxIdleConnsPerHost: 200 /* >= expected concurrency; the default 2 turns every extra "
        "concurrent request into a new connection */, IdleConnTimeout: 90 * time.Second}; after "
        "each request: io.Copy(io.Discard, resp.Body); resp.Body.Close()")},
    {"jvm", "Java",
     N_("Java: one shared pooled client: Apache HttpClient PoolingHttpClientConnectionManager "
        "with setMaxTotal(N) and setDefaultMaxPerRoute(N) (or setMaxPerRoute(route, N)); OkHttp: "
        "one OkHttpClient with new ConnectionPool(N, 5, TimeUnit.MINUTES); JDK "
        "java.net.http.HttpClient: build it once and reuse it; close every response (try-with-"
        "resources)")},
    {"cpython", "Python",
     N_("Python: one requests.Session() with session.mount('https://', "
        "HTTPAdapter(pool_connections=10, pool_maxsize=N)) (and 'http://'); or one "
        "httpx.Client(limits=httpx.Limits(max_connections=N, max_keepalive_connections=N)) "
        "reused for every request")},
    {"nodejs", "Node.js",
     N_("Node.js: one shared agent for every request: new http.Agent({ keepAlive: true, "
        "maxSockets: N }) (https.Agent likewise; the global agent keeps alive only since Node 19); "
        "undici/fetch: one Pool or Agent reused; consume or destroy every response body")},
    {"php-fpm", "PHP-FPM",
     N_("PHP-FPM: workers share no pool, so keep connections per worker: PDO::ATTR_PERSISTENT => "
        "true, Redis/Memcached pconnect() or a persistent_id, one curl handle reused across "
        "requests; or a local pooling proxy (nginx upstream keepalive, PgBouncer)")},
    {"nginx", "nginx",
     N_("nginx as a proxy: upstream backend { server ...; keepalive 32; } and in the location "
        "proxy_http_version 1.1; proxy_set_header Connection \"\"; (without all three nginx opens "
        "a new upstream connection per request)")},
    {"envoy", "envoy",
     N_("envoy as a proxy: do not set max_requests_per_connection: 1; keep the cluster's "
        "common_http_protocol_options.idle_timeout above the request interval; speak HTTP/2 to "
        "upstreams that support it (one connection carries every request)")},
};

// Pools for the well-known database and cache ports: churn to them is a missing pool.
std::optional<std::string_view> pool_for_port(uint16_t port) {
  switch (port) {
    case 5432:
    case 3306:
      return port == 5432
                 ? N_("PostgreSQL (port 5432): a connection pool sized to the concurrency: Go "
                      "database/sql db.SetMaxIdleConns(N) (the default 2 closes every extra "
                      "connection after use) and db.SetMaxOpenConns(N); Java HikariCP "
                      "maximumPoolSize; Python SQLAlchemy create_engine(pool_size=N); or PgBouncer "
                      "in front of the server")
                 : N_("MySQL (port 3306): a connection pool sized to the concurrency: Go "
                      "database/sql db.SetMaxIdleConns(N) (the default 2 closes every extra "
                      "connection after use) and db.SetMaxOpenConns(N); Java HikariCP "
                      "maximumPoolSize; Python SQLAlchemy create_engine(pool_size=N); or ProxySQL "
                      "in front of the server");
    case 6379:
      return N_(
          "Redis (port 6379): one pooled client per process: go-redis "
          "redis.NewClient(&redis.Options{PoolSize: N, MinIdleConns: M}); Java JedisPool or "
          "one shared Lettuce connection; redis-py one ConnectionPool for the process; PHP "
          "phpredis pconnect()");
    case 11211:
      return N_(
          "Memcached (port 11211): persistent client connections: pymemcache PooledClient, "
          "one shared spymemcached/gomemcache client, PHP Memcached with a persistent_id");
    case 27017:
      return N_(
          "MongoDB (port 27017): one MongoClient per process (it pools: maxPoolSize), never "
          "one per request");
    default:
      return std::nullopt;
  }
}

const RuntimeAdvice* advice_for(const RuntimeInfo* rt) {
  if (!rt) return nullptr;
  for (const RuntimeAdvice& a : kRuntimeAdvice)
    if (a.runtime == rt->name) return &a;
  return nullptr;
}

}  // namespace

RemediationStep step_client_reuse(const ReuseHint& hint) {
  std::string action =
      _("Reuse connections in the client: one shared, pooled client per process instead of a new "
        "connection per request, with a pool at least as large as the concurrency to this "
        "destination; read every response body to EOF and close it so the connection goes back to "
        "the pool");
  std::vector<std::string> commands;
  if (hint.port)
    if (auto pool = pool_for_port(*hint.port)) commands.emplace_back(_(std::string(*pool).c_str()));
  const RuntimeAdvice* first = advice_for(hint.runtime);
  if (first) {
    action += _f(" (the client runs {0}{1}: its setting comes first)", first->display,
                 hint.runtime->version.empty() ? "" : " " + hint.runtime->version);
    commands.emplace_back(_(std::string(first->command).c_str()));
  }
  // Then the general-purpose clients not named yet (PHP-FPM and the proxies only when seen).
  for (const RuntimeAdvice& a : kRuntimeAdvice) {
    const bool general =
        a.runtime == "go" || a.runtime == "jvm" || a.runtime == "cpython" || a.runtime == "nodejs";
    if (&a != first && general) commands.emplace_back(_(std::string(a.command).c_str()));
  }
  return step(
      'A', std::move(action), std::move(commands),
      _("Low. Keep the client's idle timeout below the server's and the load balancer's "
        "keep-alive timeout, or pooled connections die idle and churn again; a pool smaller "
        "than the concurrency still opens short connections for the overflow."));
}

RemediationStep step_server_keep_alive() {
  return step(
      'A',
      _("Stop the server from closing first: enable HTTP keep-alive and stop sending "
        "\"Connection: close\" (or HTTP/1.0 responses), so clients reuse their connections and the "
        "TIME_WAIT stays on the client side or disappears; tcp_tw_reuse does not help here (it "
        "only "
        "applies to connect())"),
      {_("nginx: keepalive_timeout 75s; keepalive_requests 1000;  (towards upstreams: upstream { "
         "keepalive 32; } with proxy_http_version 1.1; proxy_set_header Connection \"\";)"),
       "Apache httpd: KeepAlive On; MaxKeepAliveRequests 1000; KeepAliveTimeout 5",
       _("Go net/http: leave keep-alives on (no srv.SetKeepAlivesEnabled(false)) and do not set a "
         "\"Connection: close\" response header"),
       _("and make the clients reuse connections (one pooled client per process)")},
      _("Low. Each idle keep-alive connection holds a socket and an fd on the server: bound them "
        "with an idle timeout and a per-connection request limit."));
}

RemediationStep step_bind_no_port() {
  return step(
      'A',
      _("Stop drawing ports from the host-wide pool: do not bind() before connect(); when a source "
        "address must be chosen, set IP_BIND_ADDRESS_NO_PORT before bind(ip, 0) so that the port "
        "is "
        "chosen at connect() and shared across destinations (Linux >= 4.2)"),
      {_("C: int one = 1; setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one); "
         "then bind(fd, src with port 0) and connect(fd, dst)"),
       "Go: net.Dialer{LocalAddr: src, Control: func(_, _ string, c syscall.RawConn) error { "
       "return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, "
       "unix.IP_BIND_ADDRESS_NO_PORT, 1) }) }}",
       _("nginx: proxy_bind sets IP_BIND_ADDRESS_NO_PORT by itself since 1.11.4: upgrade an older "
         "one")},
      _("None for the kernel. Failures then show up per destination tuple (EADDRNOTAVAIL) instead "
        "of host-wide (EADDRINUSE)."));
}

RemediationStep step_udp_socket_reuse() {
  return step(
      'A',
      _("Keep a few UDP sockets and reuse them instead of opening one per request: every open UDP "
        "socket holds a port of the whole host, and auto-bind fails with EAGAIN when none is left"),
      {"ss -uanp | awk 'NR>1{print $NF}' | sort | uniq -c | sort -rn | head   # who holds them",
       _("DNS lookups: a local caching resolver (systemd-resolved, dnsmasq, NodeLocal DNSCache) "
         "instead of one socket per query")},
      _("Low."));
}

RemediationStep step_find_fd_leak(int32_t pid) {
  return step(
      'A',
      _f("Find what pid {0} holds open before raising its limit: a leak (sockets in CLOSE_WAIT, "
         "connections never returned to a pool, files never closed) grows until any limit is "
         "reached, and a higher limit only buys time",
         pid),
      {fmt::format("ls -l /proc/{0}/fd | awk 'NR>1{{split($NF, a, \":\"); print a[1]}}' | sort | "
                   "uniq -c | sort -rn | head   # kinds of open files",
                   pid),
       fmt::format("ss -tanp state close-wait | grep -c 'pid={0},'   # sockets the peer closed",
                   pid)},
      _("None (read-only)."));
}

RemediationStep step_close_after_peer_close(std::optional<int32_t> pid) {
  std::vector<std::string> cmds;
  if (pid) {
    cmds.push_back(fmt::format("ss -tanp state close-wait | grep 'pid={0},' | head", *pid));
  } else {
    cmds.push_back(
        "ss -tanp state close-wait | awk 'NR>1{print $NF}' | sort | uniq -c | sort -rn | head   "
        "# which process");
  }
  return step(
      'A',
      _("Close sockets after the peer closed: CLOSE_WAIT means read() returned 0 (EOF) and the "
        "application never called close(); look for error paths that return without closing, "
        "responses never closed (Go resp.Body.Close(), Java try-with-resources) and pools that "
        "keep "
        "dead connections"),
      std::move(cmds),
      _("None. Until the fix ships, restarting the process frees its CLOSE_WAIT sockets and fds."));
}

RemediationStep step_fix_accept_loop(const Listener& l, std::optional<int32_t> pid,
                                     bool owner_at_fd_limit) {
  std::string action = _(
      "Make the service accept faster: the accept queue fills when the accept loop is too slow or "
      "blocked (one thread doing work between accept() calls, a stalled event loop, too few "
      "workers)");
  if (owner_at_fd_limit)
    action +=
        _("; its process is at its own fd limit, so accept() fails with EMFILE and connections "
          "stay queued: fix that first (see the file_descriptors finding)");
  std::vector<std::string> cmds{
      fmt::format("ss -ltn 'sport = :{0}'   # Recv-Q = queued now, Send-Q = limit", l.local.port),
      "nstat -az TcpExtListenOverflows TcpExtListenDrops   # run twice: rising = dropping"};
  if (pid)
    cmds.push_back(
        fmt::format("grep -E '^(State|Threads)' /proc/{0}/status; top -H -p {1}", *pid, *pid));
  return step('A', std::move(action), std::move(cmds),
              _("None (read-only checks); more accept workers push more load downstream."));
}

RemediationStep step_find_overflowing_listener() {
  return step(
      'A',
      _("Find the listener that overflows, then make its service accept faster: the counters are "
        "the namespace's and do not say which listener dropped, and this reading saw no TCP "
        "listener (it may listen only at times, or have restarted); an accept queue fills when "
        "the accept loop is too slow or blocked"),
      {"ss -ltnp   # Recv-Q = queued now, Send-Q = limit: the listener whose Recv-Q nears it",
       "nstat -az TcpExtListenOverflows TcpExtListenDrops   # run twice: rising = dropping",
       "conndoctor trace --duration 10   # TCP_LISTEN_OVERFLOW drops at the listener's address"},
      _("None (read-only checks); more accept workers push more load downstream."));
}

RemediationStep step_fix_unix_accept_loop(const UnixListener& l, std::optional<int32_t> pid,
                                          bool owner_at_fd_limit) {
  std::string action =
      _f("Give the server behind {0} more workers, or make it accept faster: a unix listener's "
         "queue fills when every worker is busy (PHP-FPM at pm.max_children, too few gunicorn or "
         "uwsgi workers) or the accept loop stalls; a non-blocking connect() then fails with "
         "EAGAIN (\"Resource temporarily unavailable\", nginx: \"connect() to unix:... failed "
         "(11: Resource temporarily unavailable)\") and a blocking one waits",
         l.path);
  if (owner_at_fd_limit)
    action +=
        _("; its process is at its own fd limit, so accept() fails with EMFILE and connections "
          "stay queued: fix that first (see the file_descriptors finding)");
  std::vector<std::string> cmds{
      fmt::format("ss -xlp | grep -F -- '{0}'   # Recv-Q = queued now, Send-Q = limit", l.path),
      _("PHP-FPM: pm.max_children (the pool's status page shows \"max children reached\" and "
        "\"listen queue\"); gunicorn: --workers / --threads; uwsgi: --processes / --threads")};
  if (pid)
    cmds.push_back(
        fmt::format("grep -E '^(State|Threads)' /proc/{0}/status; top -H -p {1}", *pid, *pid));
  return step('A', std::move(action), std::move(cmds),
              _("More workers take more memory and push more load downstream (the database)."));
}

RemediationStep step_find_stuck_sockets() {
  return step(
      'A',
      _("Find the sockets that hold memory or linger after close(): peers that stop reading (large "
        "Send-Q), an application that stops reading (large Recv-Q), orphans in FIN_WAIT1/LAST_ACK/"
        "CLOSING towards peers that vanished"),
      {"ss -tn state established | awk 'NR>1 && ($1 > 1048576 || $2 > 1048576)' | head   # "
       "Recv-Q/Send-Q over 1 MiB",
       "ss -tan state fin-wait-1 state last-ack state closing | awk 'NR>1{print $NF}' | cut -d: "
       "-f1 | sort | uniq -c | sort -rn | head   # orphans by peer"},
      _("None (read-only)."));
}

RemediationStep step_drain_cgroup_sockets(const std::vector<int32_t>& pids) {
  std::vector<std::string> cmds;
  for (std::size_t i = 0; i < pids.size() && i < 3; ++i) {
    cmds.push_back(fmt::format(
        "nsenter -t {0} -n ss -tnp state established | grep 'pid={0},' | awk '$1 > 65536 || $2 "
        "> 65536' | head   # pid {0}: Recv-Q (unread) / Send-Q (unacknowledged) over 64 KiB",
        pids[i]));
    cmds.push_back(
        fmt::format("nsenter -t {0} -n ss -tnp | grep -c 'pid={0},'   # its TCP sockets", pids[i]));
  }
  return step('A',
              _("Find what holds the cgroup's socket memory: a large Recv-Q is data the process "
                "received and does not read (read it, or stop accepting what it cannot serve); a "
                "large Send-Q is data its peers do not read; many small sockets are too many "
                "connections (pool and reuse them, close idle ones)"),
              std::move(cmds), _("None (read-only)."));
}

RemediationStep step_connect_timeout() {
  return step(
      'A',
      _("Give every connect() a short timeout in the client and back off (or open a circuit "
        "breaker) instead of piling up: an unanswered SYN is retried for ~127 s "
        "(tcp_syn_retries=6: "
        "1+2+4+...+64 s), holding its local port and the request that waits for it"),
      {_("Go: net.Dialer{Timeout: 3 * time.Second} in the http.Transport's DialContext"),
       "Java: HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)); OkHttp "
       ".connectTimeout(3, TimeUnit.SECONDS); Apache HttpClient "
       "ConnectionConfig.custom().setConnectTimeout(3, TimeUnit.SECONDS)",
       "Python: requests.get(url, timeout=(3.05, 30)); httpx.Client(timeout=httpx.Timeout(30, "
       "connect=3))"},
      _("Low. A timeout shorter than the path's real handshake time (a far destination, a "
        "loaded server) fails connects that would have succeeded: keep it well above the RTT."));
}

RemediationStep step_destination_listener(const Endpoint& dst) {
  return step(
      'A',
      _f("On the destination {0}: check that the service listens and that its listener does not "
         "drop SYNs because its accept or SYN queue is full (a slow accept loop); a listener "
         "that is not there answers with RST, not silence",
         dst.to_string()),
      {fmt::format("ss -ltn 'sport = :{0}'   # on {1}: Recv-Q = queued, Send-Q = limit", dst.port,
                   dst.addr.to_string()),
       "nstat -az TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDrop   # on the "
       "destination, run twice: rising = dropping",
       "conndoctor check   # on the destination"},
      _("None (read-only checks)."));
}

// --- B ----------------------------------------------------------------------------------------

RemediationStep step_widen_port_range(const Reading& r) {
  constexpr uint16_t kLo = 10000, kHi = 65535;
  PortRange cur = r.sysctls.ip_local_port_range.value_or(PortRange{32768, 60999});
  if (cur.lo <= kLo && cur.hi >= kHi) {
    return step('B',
                _f("The ephemeral range is already wide ({0}-{1}, {2} ports): more ports "
                   "per destination only come from more source addresses",
                   cur.lo, cur.hi, with_commas(cur.size())),
                {}, "");
  }
  PortRange want{std::min(cur.lo, kLo), kHi};
  // Listening ports that the wider range would cover must be reserved first, or an outbound
  // connect() can take a service's port while the service restarts.
  std::vector<uint16_t> listening;
  for (const Listener& l : r.sockets.listeners)
    if (want.contains(l.local.port)) listening.push_back(l.local.port);
  std::vector<PortRange> reserved =
      r.sysctls.ip_local_reserved_ports.value_or(std::vector<PortRange>{});
  std::vector<PortRange> merged = merge_ports(reserved, listening);
  std::vector<std::string> cmds;
  if (!merged.empty() && merged != reserved) {
    std::string list = format_port_list(merged);
    cmds.push_back(sysctl_w("net.ipv4.ip_local_reserved_ports", list) +
                   "   # first: the listening ports the new range covers");
    cmds.push_back(persist_sysctl("net.ipv4.ip_local_reserved_ports", list));
  }
  std::string range = fmt::format("{} {}", want.lo, want.hi);
  cmds.push_back(sysctl_w("net.ipv4.ip_local_port_range", range));
  cmds.push_back(persist_sysctl("net.ipv4.ip_local_port_range", range));
  return step(
      'B',
      _f("Widen the ephemeral port range from {0}-{1} ({2} ports) to {3}-{4} ({5} "
         "ports): every destination tuple's pool grows by the same amount",
         cur.lo, cur.hi, with_commas(cur.size()), want.lo, want.hi, with_commas(want.size())),
      std::move(cmds),
      _("Ports below 32768 may belong to services that are not listening right now: reserve "
        "them in ip_local_reserved_ports too, or a connect() may take one before its service "
        "binds it. A wider range delays exhaustion; it does not remove the churn (A)."));
}

RemediationStep step_more_source_addresses() {
  return step('B',
              _("Spread outbound connections over more source addresses (or more destination "
                "addresses/ports): each (source IP, destination IP, destination port) tuple has a "
                "pool of its own"),
              {"ip addr add <extra-address>/<prefix> dev <interface>",
               _("give each client pool its own source address (bind(addr, 0) with "
                 "IP_BIND_ADDRESS_NO_PORT set, e.g. nginx proxy_bind)")},
              _("The extra addresses must route back to this host and be allowed by the peer's "
                "firewall."));
}

RemediationStep step_reserve_ports(const Sysctls& s, const std::vector<uint16_t>& ports) {
  std::vector<PortRange> reserved = s.ip_local_reserved_ports.value_or(std::vector<PortRange>{});
  std::string list = format_port_list(merge_ports(reserved, ports));
  std::vector<PortRange> just_ports = merge_ports({}, ports);
  return step('B',
              _f("Reserve {0} inside the ephemeral range: until it is reserved an "
                 "outbound connect() can take it while the service is down or "
                 "restarting, and the service then fails to bind (EADDRINUSE)",
                 ports.size() == 1 ? "listening port " + format_port_list(just_ports)
                                   : "listening ports " + format_port_list(just_ports)),
              {sysctl_w("net.ipv4.ip_local_reserved_ports", list),
               persist_sysctl("net.ipv4.ip_local_reserved_ports", list)},
              _("Writing the sysctl replaces the whole list: the command keeps the ports already "
                "reserved. Each reserved port shrinks every tuple's pool by one."));
}

namespace {

// A container's limit is set by its runtime, not by a systemd unit of the host.
RemediationStep step_raise_container_fd_limit(const ProcessInfo& p, uint64_t soft, uint64_t want,
                                              uint64_t hard, uint64_t cap) {
  const std::string& rt = p.container->runtime;
  std::vector<std::string> cmds{fmt::format(
      "prlimit --pid {0} --nofile={1}:{2}   # now, from the host; lost when the container restarts",
      p.pid, want, hard)};
  if (rt == "containerd" || rt.empty())
    cmds.push_back(
        _f("containerd: process.rlimits [{{\"type\": \"RLIMIT_NOFILE\", \"soft\": {0}, \"hard\": "
           "{1}}}] in the file named by base_runtime_spec (plugins.\"io.containerd.grpc.v1.cri\"."
           "containerd.runtimes.runc), then recreate the pod",
           want, hard));
  if (rt == "cri-o" || rt.empty())
    cmds.push_back(_f(
        "CRI-O: default_ulimits = [\"nofile={0}:{1}\"] under [crio.runtime] in crio.conf, restart "
        "crio, then recreate the pod",
        want, hard));
  if (rt == "docker" || rt == "podman")
    cmds.push_back(fmt::format("{0} run --ulimit nofile={1}:{2} ...", rt, want, hard));
  return step('B',
              _f("Raise the open-file limit of {0} (pid {1}, {2}) from {3} to {4}: a "
                 "container's limit comes from its runtime, not the host's",
                 p.comm, p.pid, p.container->label(), with_commas(soft), with_commas(want)),
              std::move(cmds),
              _f("Hides a leak if there is one (find it first). The hard limit is capped "
                 "by fs.nr_open ({0}); select()-based code breaks above 1024 fds.",
                 with_commas(cap)));
}

}  // namespace

RemediationStep step_raise_fd_limit(const ProcessInfo& p, std::optional<int64_t> nr_open) {
  uint64_t cap = nr_open && *nr_open > 0 ? uint64_t(*nr_open) : 1048576;
  uint64_t soft = p.fd_soft_limit.value_or(1024);
  uint64_t want = std::min<uint64_t>(cap, std::max<uint64_t>(65536, soft * 2));
  uint64_t hard = std::max<uint64_t>(want, p.fd_hard_limit.value_or(want));
  if (p.container) return step_raise_container_fd_limit(p, soft, want, hard, cap);
  return step(
      'B',
      _f("Raise {0} (pid {1})'s own open-file limit (soft RLIMIT_NOFILE) from {2} to {3}; "
         "this is the process's limit, not fs.file-max",
         p.comm, p.pid, with_commas(soft), with_commas(want)),
      {fmt::format("prlimit --pid {0} --nofile={1}:{2}   # now, without a restart", p.pid, want,
                   hard),
       fmt::format("systemctl status {0} | head -1   # which unit runs it", p.pid),
       fmt::format("systemctl edit <unit>   # [Service] LimitNOFILE={0}, then systemctl restart "
                   "<unit>",
                   want),
       _f("outside systemd: ulimit -n {0} in the script that starts it", want)},
      _f("Hides a leak if there is one (find it first). The hard limit is capped by "
         "fs.nr_open ({0}) and raising it needs root; select()-based code breaks above "
         "1024 fds.",
         with_commas(cap)));
}

RemediationStep step_raise_file_max(const FileNr& f, std::optional<int64_t> file_max) {
  int64_t cur = f.max.value_or(file_max.value_or(0));
  int64_t want = std::max<int64_t>(cur * 2, f.allocated.value_or(0) * 2);
  std::string v = std::to_string(want);
  return step('B',
              _f("Raise the system-wide open-file limit fs.file-max from {0} to {1}",
                 with_commas(uint64_t(std::max<int64_t>(cur, 0))), with_commas(want)),
              {sysctl_w("fs.file-max", v), persist_sysctl("fs.file-max", v)},
              _("Each open file costs kernel memory (about 1 KiB with its dentry and inode); a "
                "system near file-max usually has a process leaking fds: find it first."));
}

RemediationStep step_raise_backlog(const Listener* l, std::optional<int64_t> somaxconn) {
  const int64_t want = l ? std::max<int64_t>(4096, int64_t(l->queue_limit) * 4) : 4096;
  std::vector<std::string> cmds;
  if (!somaxconn || *somaxconn < want) {
    cmds.push_back(sysctl_w("net.core.somaxconn", std::to_string(want)));
    cmds.push_back(persist_sysctl("net.core.somaxconn", std::to_string(want)));
  }
  cmds.push_back(sysctl_w("net.ipv4.tcp_max_syn_backlog", std::to_string(want)));
  cmds.push_back(
      _f("the service's listen() backlog (read at listen(), restart needed): nginx `listen {0} "
         "backlog={1};`, Java new ServerSocket(port, {2}) / Netty SO_BACKLOG, Python "
         "sock.listen({3}); "
         "Go uses somaxconn by itself",
         l ? std::to_string(l->local.port) : std::string("PORT"), want, want, want));
  std::string title =
      l ? _f("Raise the accept-queue limit of {0} from {1} to {2}: the limit is "
             "min(listen() backlog, net.core.somaxconn), so raise both",
             l->local.to_string(), l->queue_limit, want)
        : _f("Raise the listen backlog of the listener that drops to {0} (this reading names "
             "none: `ss -ltn` shows each one's Recv-Q and limit): the limit is min(listen() "
             "backlog, net.core.somaxconn), so raise both",
             want);
  return step('B', std::move(title), std::move(cmds),
              _("A longer queue absorbs bursts but adds latency when the accept loop is the "
                "bottleneck; it does not fix a stalled loop (A)."));
}

RemediationStep step_raise_unix_backlog(const UnixListener& l, std::optional<int64_t> somaxconn) {
  int64_t want = std::max<int64_t>(1024, int64_t(l.queue_limit) * 4);
  const std::string v = std::to_string(want);
  std::vector<std::string> cmds;
  if (!somaxconn || *somaxconn < want) {
    cmds.push_back(sysctl_w("net.core.somaxconn", v));
    cmds.push_back(persist_sysctl("net.core.somaxconn", v));
  }
  cmds.push_back(_f("PHP-FPM: listen.backlog = {0} in the pool's configuration, then reload", v));
  cmds.push_back(_f("gunicorn: --backlog {0}", v));
  cmds.push_back(
      _f("uwsgi: --listen {0} (uwsgi refuses to start when it exceeds net.core.somaxconn)", v));
  return step('B',
              _f("Raise the accept-queue limit of {0} from {1} to {2}: the limit is the "
                 "server's listen() backlog capped at net.core.somaxconn (read at listen(): "
                 "restart or reload the server), so raise both",
                 l.path, l.queue_limit, want),
              std::move(cmds),
              _("A longer queue absorbs bursts but adds latency when the workers are the "
                "bottleneck; it does not add capacity (A)."));
}

RemediationStep step_syncookies_on(const Sysctls& s) {
  if (s.tcp_syncookies && *s.tcp_syncookies != 0)
    return step('B',
                _f("syncookies are already on (tcp_syncookies={0}): the SYN queue of the "
                   "listener is what overflows; raise its backlog",
                   *s.tcp_syncookies),
                {}, _("None."));
  return step(
      'B',
      _("Turn syncookies back on (tcp_syncookies=1, the default): with the SYN queue full "
        "the kernel then answers with a cookie instead of dropping the SYN"),
      {sysctl_w("net.ipv4.tcp_syncookies", "1"), persist_sysctl("net.ipv4.tcp_syncookies", "1")},
      _("Low. A cookie handshake keeps window scaling and SACK only when timestamps are on "
        "(tcp_timestamps=1); the kernel logs \"Possible SYN flooding on port ...\" once per "
        "listener."));
}

RemediationStep step_raise_tw_buckets(const Sysctls& s, std::optional<int64_t> tw_count) {
  int64_t cur = s.tcp_max_tw_buckets.value_or(0);
  // The default is ehash/2, the same figure as tcp_max_orphans's default: restore at least that.
  int64_t want =
      std::max<int64_t>({cur * 2, s.tcp_max_orphans.value_or(0), tw_count.value_or(0) * 2, 4096});
  std::string v = std::to_string(want);
  return step('B',
              _f("Raise tcp_max_tw_buckets from {0} to {1}: above it closing sockets skip "
                 "TIME_WAIT (TCPTimeWaitOverflow) and lose its protection against late "
                 "segments of the old connection; never lower it to get rid of TIME_WAIT",
                 with_commas(uint64_t(std::max<int64_t>(cur, 0))), with_commas(want)),
              {sysctl_w("net.ipv4.tcp_max_tw_buckets", v),
               persist_sysctl("net.ipv4.tcp_max_tw_buckets", v)},
              _f("Memory: ~{0} bytes per TIME_WAIT socket, {1} at the new limit.", kTimeWaitBytes,
                 bytes_for_people(double(want) * kTimeWaitBytes)));
}

RemediationStep step_raise_max_orphans(const Sysctls& s) {
  int64_t cur = s.tcp_max_orphans.value_or(0);
  int64_t want = std::max<int64_t>(cur * 2, 65536);
  std::string v = std::to_string(want);
  return step(
      'B',
      _f("Raise tcp_max_orphans from {0} to {1} once the orphans' cause is known",
         with_commas(uint64_t(std::max<int64_t>(cur, 0))), with_commas(want)),
      {sysctl_w("net.ipv4.tcp_max_orphans", v), persist_sysctl("net.ipv4.tcp_max_orphans", v)},
      _f("Each orphan can pin up to ~64 KiB of unswappable memory: up to {0} at "
         "the new limit.",
         bytes_for_people(double(want) * 64 * 1024)));
}

RemediationStep step_raise_tcp_mem(const Sysctls& s) {
  std::array<int64_t, 3> cur = s.tcp_mem.value_or(std::array<int64_t, 3>{0, 0, 0});
  std::array<int64_t, 3> want{cur[0], cur[1] * 2, cur[2] * 2};
  std::string v = fmt::format("{} {} {}", want[0], want[1], want[2]);
  return step('B',
              _f("Raise tcp_mem (pages: min pressure max) from \"{0} {1} {2}\" to \"{3}\" "
                 "once the sockets holding the memory are understood",
                 cur[0], cur[1], cur[2], v),
              {sysctl_w("net.ipv4.tcp_mem", v), persist_sysctl("net.ipv4.tcp_mem", v)},
              _f("TCP buffers may then take up to {0} of RAM before the kernel pushes "
                 "back; slow readers keep whatever they are given.",
                 bytes_for_people(double(want[2]) * kPageBytes)));
}

RemediationStep step_raise_cgroup_limit(const CgroupSockMemory& g,
                                        const std::optional<std::string>& pod_namespace,
                                        const std::optional<std::string>& pod,
                                        const std::optional<std::string>& container) {
  std::vector<std::string> cmds;
  if (g.version == 1) {
    const int64_t want = next_pow2(std::max<int64_t>(g.tcp_limit.value_or(0) * 2, 1 << 20));
    cmds.push_back(
        fmt::format("cat {0}/memory.kmem.tcp.usage_in_bytes {0}/memory.kmem.tcp.failcnt", g.dir));
    cmds.push_back(fmt::format("echo {0} > {1}/memory.kmem.tcp.limit_in_bytes", want, g.dir));
    return step(
        'B',
        _f("Raise the cgroup's TCP memory limit (memory.kmem.tcp.limit_in_bytes) from {0} to {1}, "
           "once the sockets holding it are understood; the runtime that made the cgroup may "
           "write it again at the next start",
           bytes_for_people(double(g.tcp_limit.value_or(0))), bytes_for_people(double(want))),
        std::move(cmds),
        _("TCP memory of cgroup v1 is not part of memory.limit_in_bytes: the container may then "
          "pin that much more unswappable kernel memory on the host. The kernel deprecated the "
          "file (a one-time warning in the log when written)."));
  }
  const bool by_high =
      g.high && !g.high_unlimited && (g.max_unlimited || !g.max || *g.high < *g.max);
  const char* file = by_high ? "memory.high" : "memory.max";
  const int64_t cur = by_high ? *g.high : g.max.value_or(0);
  const int64_t want = cur + cur / 2;
  cmds.push_back(fmt::format("cat {0}/memory.events; grep -w sock {0}/memory.stat", g.dir));
  if (pod && pod_namespace)
    cmds.push_back(fmt::format(
        "kubectl -n {0} get pod {1} -o jsonpath='{{.spec.containers[?(@.name==\"{2}\")]."
        "resources}}'   # then raise resources.limits.memory in its workload's spec",
        *pod_namespace, *pod, container.value_or("CONTAINER")));
  cmds.push_back(
      fmt::format("echo {0} > {1}/{2}   # until the runtime writes it again", want, g.dir, file));
  return step('B',
              _f("Raise the container's memory limit ({0}, now {1}) to {2}: socket buffers are "
                 "charged to the same memory as the process's own pages",
                 file, bytes_for_people(double(cur)), bytes_for_people(double(want))),
              std::move(cmds),
              _("More of the host's memory may go to this container; a process that never reads "
                "its sockets fills any limit, so fix that first."));
}

// --- C ----------------------------------------------------------------------------------------

RemediationStep step_tw_reuse(const Sysctls& s, bool loopback_tuple, const Endpoint* refused_to) {
  bool ts_off = s.tcp_timestamps && *s.tcp_timestamps == 0;
  int64_t reuse = s.tcp_tw_reuse.value_or(-1);
  if (!ts_off && refused_to) {
    // tcp_twsk_unique() [net/ipv4/tcp_ipv4.c]: tw_ts_recent_stamp is 0 when the peer sent no
    // timestamps, and then no TIME_WAIT port is taken over, whatever the local sysctls say.
    return step('C',
                _("tcp_tw_reuse is on here, but connect() took over no TIME_WAIT port (TWRecycled "
                  "stayed flat while connects kept meeting old ones): these connections carry no "
                  "TCP timestamps, so the kernel refuses to reuse them. Switch timestamps on at "
                  "the peer (net.ipv4.tcp_timestamps=1 there) or at the middlebox that strips "
                  "them; until then A and B are what is left"),
                {fmt::format("ss -tni state established dst {}   # no \"ts\" among the options: "
                             "the peer sends no timestamps",
                             refused_to->to_string())},
                _("None here: nothing on this host changes."));
  }
  if (!ts_off && reuse == 1) {
    return step(
        'C',
        _("tcp_tw_reuse=1 is already on: connect() already takes over TIME_WAIT ports older "
          "than tcp_tw_reuse_delay, and the churn still outruns it; A and B are what is left"),
        {}, "");
  }
  if (!ts_off && reuse == 2 && loopback_tuple) {
    return step('C',
                _("C is already in effect: tcp_tw_reuse=2 lets connect() reuse TIME_WAIT ports on "
                  "loopback (tcp_twsk_unique()); nothing to change"),
                {}, "");
  }
  std::vector<std::string> cmds;
  if (ts_off) cmds.push_back(sysctl_w("net.ipv4.tcp_timestamps", "1") + "   # needed by reuse");
  if (!(reuse == 2 && loopback_tuple) && reuse != 1) {
    cmds.push_back(sysctl_w("net.ipv4.tcp_tw_reuse", "1"));
    cmds.push_back(persist_sysctl("net.ipv4.tcp_tw_reuse", "1"));
  }
  if (ts_off) cmds.push_back(persist_sysctl("net.ipv4.tcp_timestamps", "1"));
  cmds.push_back(
      "nstat -az TcpExtTWRecycled TcpExtTCPSynRetrans   # watch afterwards: reuses, "
      "SYN retries");
  std::string action =
      _("Let connect() take over TIME_WAIT ports of outbound client connections once they are "
        "tcp_tw_reuse_delay old (tcp_tw_reuse=1; it needs tcp_timestamps=1 and applies to "
        "connect() only, never to server-side TIME_WAIT); do it after A, when reuse is still not "
        "enough");
  if (!s.tcp_timestamps) action += _(" (check that net.ipv4.tcp_timestamps is 1)");
  // tcp_twsk_unique() [net/ipv4/tcp_ipv4.c] reuses a port only when the old connection carried
  // the peer's timestamps (tw_ts_recent_stamp): without them nothing is reused, nothing breaks.
  return step(
      'C', std::move(action), std::move(cmds),
      _("Low. Reuse needs the peer's TCP timestamps: where a peer or middlebox strips them "
        "connect() simply does not reuse (no harm, no help; TWRecycled stays flat). The "
        "observable risk: a reused port can meet a peer still in LAST_ACK for the old "
        "connection; its challenge ACK draws a RST from this side and the SYN is sent again "
        "~1 s later (TcpExt TCPSynRetrans), an occasional 1 s connect."));
}

// --- D: the network path ---------------------------------------------------------------------

RemediationStep step_trace_unanswered_syns(const Endpoint& dst) {
  std::string host = dst.addr.to_string();
  return step(
      'D',
      _f("Find where the SYNs to {0} die: capture here (SYNs leave, no SYN-ACK comes back), then "
         "on the destination (do they arrive?). A firewall or security group on the way or at "
         "the destination that drops instead of rejecting looks exactly like this; so does a "
         "route to a host that is down",
         dst.to_string()),
      {_f("tcpdump -ni any -c 20 'host {0} and port {1} and tcp[tcpflags] & "
          "(tcp-syn|tcp-rst) != 0'",
          host, dst.port),
       fmt::format(
           "ss -tno state syn-sent dst {0}   # timer:(on,...,N): N = SYN retransmits so far",
           dst.to_string()),
       fmt::format("nft list ruleset | grep -nw -e drop -e {0}   # here, on the way, and on the "
                   "destination",
                   dst.port)},
      _("None (read-only); tcpdump costs CPU on a busy interface (-c bounds it)."));
}

RemediationStep step_conntrack_on_path() {
  return step(
      'D',
      _("On every NAT gateway or stateful firewall on the way: a full conntrack table or an "
        "exhausted SNAT port pool drops new flows without a word to either end"),
      {"conntrack -S | tr ' ' '\n' | grep -E '^(drop|insert_failed|early_drop)='   # on the "
       "gateway, run twice: rising = dropping",
       "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max   # on the gateway",
       "conndoctor check   # on the gateway: conntrack and snat_ports findings"},
      _("None (read-only checks)."));
}

// --- D ----------------------------------------------------------------------------------------

RemediationStep step_conntrack_size(const Reading& r) {
  std::optional<int64_t> max = r.conntrack.max ? r.conntrack.max : r.sysctls.nf_conntrack_max;
  std::optional<int64_t> cnt = r.conntrack.count ? r.conntrack.count : r.sysctls.nf_conntrack_count;
  int64_t want = next_pow2(std::max<int64_t>({max.value_or(0) * 2, cnt.value_or(0) * 2, 65536}));
  std::string v = std::to_string(want);
  return step('D',
              _f("Raise the conntrack table from {0} to {1} entries, and its hash table with it "
                 "(buckets = max keeps the chains short)",
                 max ? with_commas(uint64_t(*max)) : std::string("?"), with_commas(want)),
              {sysctl_w("net.netfilter.nf_conntrack_max", v),
               fmt::format("echo {0} > /sys/module/nf_conntrack/parameters/hashsize", want),
               persist_sysctl("net.netfilter.nf_conntrack_max", v), load_nf_conntrack_at_boot(),
               // A file of its own: never overwrite an existing modprobe.d file.
               fmt::format("echo 'options nf_conntrack hashsize={0}' > "
                           "/etc/modprobe.d/90-conndoctor-nf_conntrack.conf",
                           want)},
              _f("Kernel memory: {0} entries x ~{1} B = {2} (+8 B per bucket), unswappable. "
                 "nf_conntrack_max is global and read-only inside a container's namespace: "
                 "change it on the host. Raising max without fixing what fills the table (short "
                 "connections, long timeouts) only delays the next overflow.",
                 with_commas(want), kConntrackEntryBytes,
                 bytes_for_people(double(want) * kConntrackEntryBytes)));
}

RemediationStep step_conntrack_timeouts(const Sysctls& s) {
  // Defaults of the 6.x kernel (nf_conntrack_proto_tcp.c tcp_timeouts[]) and what a busy
  // gateway can afford: kube-proxy sets established to 24 h for the same reason.
  struct Want {
    const char* key;
    int64_t def;
    int64_t want;
  };
  static constexpr Want kWant[] = {{"tcp_timeout_established", 432000, 86400},
                                   {"tcp_timeout_time_wait", 120, 60},
                                   {"tcp_timeout_fin_wait", 120, 60}};
  std::vector<std::string> cmds;
  for (const Want& w : kWant) {
    auto it = s.conntrack_timeouts.find(w.key);
    int64_t cur = it != s.conntrack_timeouts.end() ? it->second : w.def;
    if (cur <= w.want) continue;
    std::string key = std::string("net.netfilter.nf_conntrack_") + w.key;
    cmds.push_back(sysctl_w(key, std::to_string(w.want)) + _f("   # now {0} s", cur));
    cmds.push_back(persist_sysctl(key, std::to_string(w.want)));
  }
  if (!cmds.empty()) cmds.push_back(load_nf_conntrack_at_boot());
  if (cmds.empty())
    return step('D',
                _("Conntrack timeouts are already short (established <= 24 h): the table fills "
                  "from the rate of new flows, not from stale entries"),
                {}, "");
  return step('D',
              _("Shorten conntrack timeouts that keep entries long after the traffic stopped "
                "(established defaults to 5 days)"),
              std::move(cmds),
              _("An idle connection that outlives its entry is dropped as INVALID or loses its NAT "
                "mapping: keep application keep-alive intervals shorter than the established "
                "timeout."));
}

RemediationStep step_conntrack_clash_races() {
  return step(
      'D',
      _("Avoid conntrack insert clashes: insert_failed rises when packets of new flows race for "
        "the "
        "same entry (parallel UDP such as glibc's A and AAAA DNS queries) or when NAT picks a port "
        "that collides"),
      // An appended rule never matches: the existing MASQUERADE/SNAT rule before it takes
      // every packet. Replace that rule in place.
      {"nft -a list ruleset | grep -e masquerade -e 'snat to'   # the NAT rule: its table T, "
       "chain C and handle H",
       "nft replace rule ip <T> <C> handle <H> oifname \"<interface>\" masquerade fully-random",
       "iptables -t nat -L POSTROUTING -n --line-numbers   # or with iptables: the number N of the "
       "MASQUERADE/SNAT rule",
       "iptables -t nat -R POSTROUTING <N> -o <interface> -j MASQUERADE --random-fully   # "
       "kube-proxy, flannel and Calico have a setting for it",
       "/etc/resolv.conf (pods: dnsConfig.options): options single-request-reopen   # glibc sends "
       "A and AAAA one after the other, not racing: no more 5 s DNS delays",
       "Kubernetes: NodeLocal DNSCache, so pod DNS does not race through DNAT"},
      _("--random-fully only changes how NAT picks ports; single-request-reopen costs one more "
        "socket per lookup; musl ignores it."));
}

RemediationStep step_dns_single_request() {
  // glibc res_send.c send_dg(): single_request = RES_SNGLKUP | RES_SNGLKUPREOP, so with either
  // option the AAAA query leaves only after the A reply; "reopen" also opens a new socket when
  // a reply went missing. use-vc sends the queries over TCP: no UDP race at all.
  return step('A',
              _("Stop the resolver from sending the A and AAAA queries at the same time over one "
                "socket: with `options single-request-reopen` glibc sends them one after the "
                "other and opens a new socket when a reply is lost (`use-vc` sends them over "
                "TCP)"),
              {"grep -n '^options' /etc/resolv.conf   # what the resolver uses now",
               "/etc/resolv.conf: options single-request-reopen",
               "Kubernetes pod spec: dnsConfig: {options: [{name: single-request-reopen}]}"},
              _("Lookups take one round trip more when both records are asked for. musl (Alpine) "
                "ignores these options and always sends in parallel. use-vc costs a TCP "
                "handshake per lookup."));
}

RemediationStep step_dns_node_local_cache() {
  return step('D',
              _("On Kubernetes, run NodeLocal DNSCache: pods query a cache on their own node, "
                "whose traffic is exempt from conntrack (NOTRACK), so lookups neither race at "
                "insert nor go through kube-proxy's DNAT to the DNS service"),
              {"kubectl -n kube-system get daemonset node-local-dns   # installed already?",
               "https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/"},
              _("One more DaemonSet on every node; pods use it only once their dnsConfig or the "
                "kubelet's clusterDNS points to its address."));
}

RemediationStep step_dns_unanswered(const std::vector<Endpoint>& resolvers) {
  std::vector<std::string> cmds;
  for (const Endpoint& r : resolvers) {
    if (cmds.size() >= 6) break;
    const std::string ip = r.addr.to_string();
    cmds.push_back(fmt::format(
        "conntrack -L -p udp --dport 53 -d {0} | grep -c UNREPLIED   # entries without a reply",
        ip));
    cmds.push_back(fmt::format("dig @{0} -p {1} kubernetes.io +tries=1 +time=2", ip, r.port));
  }
  return step('D',
              _("Find out why the resolvers do not answer these lookups (down, overloaded, "
                "rate-limiting, or the replies dropped on the way back): each unanswered lookup "
                "waits for the resolver's timeout (5 s by default) before retrying"),
              std::move(cmds), _("None: reading only."));
}

RemediationStep step_dns_udp_timeout(const Sysctls& s) {
  auto it = s.conntrack_timeouts.find("udp_timeout");
  const int64_t cur = it != s.conntrack_timeouts.end() ? it->second : 30;
  const int64_t want = std::min<int64_t>(cur, 10);
  std::vector<std::string> cmds;
  if (want < cur) {
    cmds.push_back(sysctl_w("net.netfilter.nf_conntrack_udp_timeout", std::to_string(want)) +
                   _f("   # now {0} s", cur));
    cmds.push_back(persist_sysctl("net.netfilter.nf_conntrack_udp_timeout", std::to_string(want)));
    cmds.push_back(load_nf_conntrack_at_boot());
  }
  return step('D',
              _("Only because the table is under pressure: a shorter nf_conntrack_udp_timeout "
                "frees the entry of each lookup sooner (every lookup holds one for the timeout, "
                "answered or not)"),
              std::move(cmds),
              _("A UDP flow idle for longer than the timeout loses its entry: a late reply is "
                "then dropped as INVALID or misses its NAT mapping. Replied flows that keep "
                "talking use nf_conntrack_udp_timeout_stream instead."));
}

}  // namespace cd
