// The scenario table and each scenario's load. Numbers are chosen so that every failure shows
// within seconds, with thousands of sockets at most and far below the 20,000-fd hard limit.
#include "lab/scenarios.h"

#include <unistd.h>

#include <optional>

#include "lab/generators.h"
#include "lab/scenario_cgroup.h"
#include "lab/scenario_netlayer.h"
#include "lab/sock_util.h"
#include "lab/tools.h"
#include "util/i18n.h"

namespace cd {

namespace {

using Mode = ServerConfig::Mode;
using Close = ClientConfig::Close;

constexpr double kListenWait = 3;  // a server needs well under a second to listen
constexpr double kLiveWait = 20;   // every failure below shows within seconds, even on a busy host

const Endpoint kService = v4_endpoint("127.0.0.1", 8080);

Result<std::size_t> start_server(LoadSet& load, ServerConfig cfg, const char* comm = "cdlab-server",
                                 std::optional<uint64_t> nofile = std::nullopt) {
  auto w = load.spawn({comm, server_worker(cfg), nofile});
  if (!w) return w;
  // Servers whose failure needs a client report ready only once it is live; the others are
  // ready as soon as they listen.
  if (cfg.mode == Mode::kCloseAfterPeer || cfg.mode == Mode::kCloseFirst ||
      cfg.mode == Mode::kNeverAccept) {
    if (auto r = load.wait_ready(*w, kListenWait); !r) return std::unexpected(r.error());
  }
  return w;
}

Result<void> start_client(LoadSet& load, ClientConfig cfg, bool wait = true) {
  auto w = load.spawn({"cdlab-client", client_worker(std::move(cfg)), std::nullopt});
  if (!w) return std::unexpected(w.error());
  if (!wait) return {};
  return load.wait_ready(*w, kLiveWait);
}

// Short connections to one destination, client closes first, paced at 400/s: with 1,000 ports
// and no TIME_WAIT reuse the pool is gone after 2.5 s; with reuse (tcp_tw_reuse_delay 1 s) the
// ports younger than the delay (~400) keep the pool at ~40%, far from exhaustion.
ClientConfig churn_1000_ports() {
  ClientConfig c;
  c.destinations = {kService};
  c.close = Close::kClientFirst;
  c.rate_per_s = 400;
  c.max_attempts = 20000;
  c.ready_on_eaddrnotavail = true;
  // PAWS too: with tcp_tw_reuse=1 and no timestamps (--set) they stay flat, reuse is refused.
  c.counters = {"TcpExt.TWRecycled", "TcpExt.PAWSActive", "TcpExt.PAWSEstab"};
  return c;
}

Result<void> port_exhaustion(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = kService});
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c = churn_1000_ports();
  c.ready_after_successes = 3000;  // with reuse switched on (--set), it keeps succeeding
  c.ready_timeout_s = 15;
  return start_client(load, c);
}

Result<void> tw_reuse_loopback(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = kService});
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c = churn_1000_ports();
  c.ready_after_successes = 1500;  // 1.5 times the pool: ports must have been reused
  return start_client(load, c);
}

// 800 sockets bound and never connected hold 800 ports of a 1,000-port range: the churn to one
// destination has 200 left and runs out in ~0.5 s, although its tuple holds only 200 sockets.
Result<void> bind_port_exhaustion(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = kService});
  if (!srv) return std::unexpected(srv.error());
  auto binder = load.spawn(
      {"cdlab-binder", bind_hold_worker(v4_endpoint("127.0.0.1", 0), 800), std::nullopt});
  if (!binder) return std::unexpected(binder.error());
  if (auto r = load.wait_ready(*binder, kListenWait); !r) return r;
  ClientConfig c = churn_1000_ports();
  c.counters = {};
  c.ready_after_successes = 3000;
  c.ready_timeout_s = 15;
  return start_client(load, c);
}

// bind-shared-pool: a connect()-only client holds 1,500 connections to 10 destinations
// (127.0.0.2-11:8080, 150 each: 15 % of each tuple's pool, all from 127.0.0.1). connect() takes
// the ports of the range start's parity first and shares them across destinations, so every
// connect() keeps working. A bind-before-connect client (cdlab-binder) then binds 127.0.0.1:0
// and connects, over and over: bind() takes the other parity first, exclusively, then what the
// shared ports leave, and fails with EADDRINUSE once every port of the range is held on
// 127.0.0.1 — while no tuple is near its own pool.
Result<void> bind_shared_pool(LoadSet& load) {
  auto srv = start_server(
      load,
      {.mode = Mode::kCloseAfterPeer, .listen = v4_endpoint("0.0.0.0", 8080), .max_conns = 4000},
      "cdlab-server", 4096);
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c;
  for (int i = 2; i <= 11; ++i)
    c.destinations.push_back(v4_endpoint(("127.0.0." + std::to_string(i)).c_str(), 8080));
  c.close = Close::kHold;
  c.burst = 1500;
  c.max_attempts = 1500;
  c.ready_after_successes = 1500;
  c.ready_timeout_s = 15;
  auto cli = load.spawn({"cdlab-client", client_worker(std::move(c)), 4096});
  if (!cli) return std::unexpected(cli.error());
  if (auto r = load.wait_ready(*cli, kLiveWait); !r) return r;
  BindConnectConfig b;
  b.source = v4_endpoint("127.0.0.1", 0);
  for (int i = 12; i <= 15; ++i)
    b.destinations.push_back(v4_endpoint(("127.0.0." + std::to_string(i)).c_str(), 8080));
  b.plain_destination = v4_endpoint("127.0.0.2", 8080);
  auto binder = load.spawn({"cdlab-binder", bind_connect_worker(std::move(b)), 4096});
  if (!binder) return std::unexpected(binder.error());
  return load.wait_ready(*binder, kLiveWait);
}

// 5,000 connections over 20 destinations (127.0.0.2-21:8080, all on loopback) against a
// 4,000-port range: total TIME_WAIT exceeds the range, no tuple uses more than 250.
Result<void> port_range_wide_spread(LoadSet& load) {
  auto srv =
      start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = v4_endpoint("0.0.0.0", 8080)});
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c;
  for (int i = 2; i <= 21; ++i) {
    c.destinations.push_back(v4_endpoint(("127.0.0." + std::to_string(i)).c_str(), 8080));
  }
  c.close = Close::kClientFirst;
  c.burst = 5000;
  c.rate_per_s = 20;
  c.max_attempts = 8000;
  c.ready_after_successes = 5000;
  c.ready_on_eaddrnotavail = true;
  c.ready_timeout_s = 15;
  return start_client(load, c);
}

Result<void> server_close(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kCloseFirst, .listen = kService});
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c;
  c.destinations = {kService};
  c.close = Close::kServerFirst;
  c.burst = 1500;
  c.rate_per_s = 50;
  c.max_attempts = 4000;
  c.ready_after_successes = 1500;
  return start_client(load, c);
}

Result<void> fd_exhaustion(LoadSet& load) {
  auto srv =
      start_server(load, {.mode = Mode::kAcceptUntilEmfile, .listen = kService, .backlog = 128},
                   "cdlab-fdhog", 64);
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c;
  c.destinations = {kService};
  c.close = Close::kHold;
  c.burst = 100;
  c.max_attempts = 100;
  c.ready_after_successes = 100;
  if (auto r = start_client(load, c); !r) return r;
  return load.wait_ready(*srv, kLiveWait);
}

// A leak at 200 fds/s against a soft limit of 2,048: ready at 1,100 (54 %, below the 80 %
// warning line), so only the forecast from the two readings can call it, and it must: at that
// pace the process has seconds left.
Result<void> fd_leak(LoadSet& load) {
  auto w = load.spawn({"cdlab-leaker", fd_leak_worker({}), 2048});
  if (!w) return std::unexpected(w.error());
  return load.wait_ready(*w, kLiveWait);
}

Result<void> close_wait_leak(LoadSet& load) {
  auto srv = start_server(
      load, {.mode = Mode::kNeverClose, .listen = kService, .ready_after = 600, .max_conns = 600},
      "cdlab-server", 4096);
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c;
  c.destinations = {kService};
  c.close = Close::kClientFirst;
  c.burst = 600;
  c.max_attempts = 600;
  c.ready_after_successes = 600;
  if (auto r = start_client(load, c, false); !r) return r;
  return load.wait_ready(*srv, kLiveWait);
}

Result<void> accept_overflow(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kNeverAccept, .listen = kService, .backlog = 8});
  if (!srv) return std::unexpected(srv.error());
  auto cli = load.spawn({"cdlab-client", syn_worker({.destination = kService}), std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, kLiveWait);
}

// A PHP-FPM-like pool on a unix stream socket: listen(16) and no accept(); the client's
// non-blocking connects fill the queue to 17 (unix_recvq_full() is `>`) and the next one fails
// with EAGAIN. The name is abstract and carries the lab's pid: nothing to remove afterwards.
Result<void> unix_backlog(LoadSet& load) {
  UnixBacklogConfig cfg{.name = "cdlab-fpm-" + std::to_string(::getpid()) + ".sock", .backlog = 16};
  auto srv = load.spawn({"cdlab-unixsrv", unix_backlog_server_worker(cfg), std::nullopt});
  if (!srv) return std::unexpected(srv.error());
  if (auto r = load.wait_ready(*srv, kListenWait); !r) return r;
  auto cli = load.spawn({"cdlab-unixcli", unix_backlog_client_worker(cfg), std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, kLiveWait);
}

// The destination's firewall drops SYNs without a word (no RST, no ICMP): an nft rule at the
// input hook of the lab namespace, so the SYN leaves the client, reaches "the destination" over
// loopback and dies there while its listener is healthy and idle. With a 100-port range the
// unanswered connects take every port of the tuple: exactly the case that used to read as "many
// connections open at once, widen the range". tcp_syn_retries=1 makes a connect give up after
// 1 + 2 s (TCPAbortOnTimeout) instead of ~127 s, so the whole cycle shows within the run.
constexpr const char* kBlackholeRuleset = R"(table inet cdlab_blackhole {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 tcp flags & (syn | ack) == syn counter drop
  }
}
)";

Result<void> syn_blackhole(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = kService});
  if (!srv) return std::unexpected(srv.error());
  if (auto r = run_tool({"nft", "-f", "-"}, kBlackholeRuleset); !r) return r;
  auto cli = load.spawn({"cdlab-client",
                         syn_worker({.destination = kService,
                                     .rate_per_s = 50,
                                     .max_sockets = 600,
                                     .ready_stuck = 30,
                                     .ready_timeout_s = 8,
                                     .why = N_("a firewall at the destination drops their SYNs")}),
                         std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, kLiveWait);
}

// A destination that never answers: 198.18.0.2 sits behind a veth pair with a permanent
// neighbour entry, so the SYNs leave without ARP and vanish (no RST, no ICMP), as when a host
// is down or a firewall drops them silently. 120 non-blocking connects at 40/s with TCP_SYNCNT
// 1 on each socket (the SYN retries of that socket only; no sysctl): each gives up with
// ETIMEDOUT 1 + 2 s after its SYN, so every outcome is in before the diagnosis runs.
Result<void> connect_timeout(LoadSet& load) {
  if (auto r =
          run_all({{"ip", "link", "add", "cdlab-to0", "type", "veth", "peer", "name", "cdlab-to1"},
                   {"ip", "addr", "add", "198.18.0.1/24", "dev", "cdlab-to0"},
                   {"ip", "link", "set", "cdlab-to0", "up"},
                   {"ip", "link", "set", "cdlab-to1", "up"},
                   {"ip", "neigh", "replace", "198.18.0.2", "lladdr", "02:00:00:00:00:02", "dev",
                    "cdlab-to0", "nud", "permanent"}});
      !r)
    return r;
  auto cli = load.spawn({"cdlab-client",
                         connect_fail_worker({.destination = v4_endpoint("198.18.0.2", 80),
                                              .count = 120,
                                              .rate_per_s = 40,
                                              .syn_count = 1,
                                              .why = N_("198.18.0.2 drops SYNs silently")}),
                         std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, kLiveWait);
}

// Nothing listens on 127.0.0.1:8080: each SYN is answered by a RST and the blocking connect()
// fails with ECONNREFUSED at once. 150 connects at 100/s.
Result<void> connect_refused(LoadSet& load) {
  auto cli = load.spawn({"cdlab-client",
                         connect_fail_worker({.destination = kService,
                                              .count = 150,
                                              .rate_per_s = 100,
                                              .blocking = true,
                                              .why = N_("nothing listens there: a RST answers "
                                                        "each SYN")}),
                         std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, kLiveWait);
}

Result<void> tw_bucket_overflow(LoadSet& load) {
  auto srv = start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = kService});
  if (!srv) return std::unexpected(srv.error());
  ClientConfig c;
  c.destinations = {kService};
  c.close = Close::kClientFirst;
  c.rate_per_s = 200;
  c.max_attempts = 20000;
  c.ready_after_successes = 300;  // ten times the 32 buckets
  c.counters = {"TcpExt.TCPTimeWaitOverflow"};
  return start_client(load, c);
}

Result<void> service_port_in_range(LoadSet& load) {
  const Endpoint svc = v4_endpoint("0.0.0.0", 40080);
  auto srv = start_server(load, {.mode = Mode::kCloseAfterPeer, .listen = svc});
  if (!srv) return std::unexpected(srv.error());
  auto cli = load.spawn(
      {"cdlab-client", port_steal_worker(v4_endpoint("127.0.0.1", 40080)), std::nullopt});
  if (!cli) return std::unexpected(cli.error());
  return load.wait_ready(*cli, kLiveWait);
}

Result<void> idle(LoadSet&) {
  return {};
}

}  // namespace

const std::vector<ScenarioInfo>& lab_scenarios() {
  static const std::vector<ScenarioInfo> table = {
      {"port-exhaustion",
       N_("1,000-port range, one destination, client closes first at 400/s: connect() fails "
          "with EADDRNOTAVAIL"),
       N_("ephemeral_ports critical, application layer, names 127.0.0.1:8080"),
       {{"net.ipv4.ip_local_port_range", "40000 40999"}, {"net.ipv4.tcp_tw_reuse", "0"}},
       port_exhaustion},
      {"bind-port-exhaustion",
       N_("800 sockets bound to 127.0.0.1:0 and never connected in a 1,000-port range, then the "
          "port-exhaustion churn to 127.0.0.1:8080: connect() fails after ~200 connects"),
       N_("ephemeral_ports critical for 127.0.0.1:8080 with 200 usable (800 bound in range), "
          "names cdlab-binder, plan: IP_BIND_ADDRESS_NO_PORT"),
       {{"net.ipv4.ip_local_port_range", "40000 40999"}, {"net.ipv4.tcp_tw_reuse", "0"}},
       bind_port_exhaustion},
      {"bind-shared-pool",
       N_("1,500 connections held by a connect()-only client to 10 destinations in a 1,000-port "
          "range (15 % of each tuple's pool), then a client that binds 127.0.0.1:0 before each "
          "connect() until bind() fails with EADDRINUSE; a plain connect() still works"),
       N_("ephemeral_ports.host_wide critical for 127.0.0.1 (1,000 of 1,000 held), names "
          "cdlab-binder (with --trace: its EADDRINUSE count); no tuple finding"),
       {{"net.ipv4.ip_local_port_range", "40000 40999"}, {"net.ipv4.tcp_tw_reuse", "0"}},
       bind_shared_pool},
      {"port-range-wide-spread",
       N_("5,000 TIME_WAIT over 20 destinations with a 4,000-port range: no tuple near its pool"),
       N_("no ephemeral_ports warning (total TIME_WAIT > range is not exhaustion)"),
       {{"net.ipv4.ip_local_port_range", "40000 43999"}, {"net.ipv4.tcp_tw_reuse", "0"}},
       port_range_wide_spread},
      {"tw-reuse-loopback",
       N_("the port-exhaustion churn with tcp_tw_reuse=2 on loopback: connects keep succeeding"),
       N_("ephemeral_ports not critical: the TIME_WAIT ports are reusable"),
       {{"net.ipv4.ip_local_port_range", "40000 40999"},
        {"net.ipv4.tcp_tw_reuse", "2"},
        {"net.ipv4.tcp_timestamps", "1"}},
       tw_reuse_loopback},
      {"server-close",
       N_("the server closes first (keep-alive off): 1,500 TIME_WAIT on the server side"),
       N_("time_wait server-side, application layer (keep-alive); no port exhaustion"),
       {},
       server_close},
      {"fd-exhaustion",
       N_("a server at its own soft fd limit (64): accept() and socket() fail with EMFILE"),
       N_("file_descriptors critical, names the pid and comm cdlab-fdhog"),
       {},
       fd_exhaustion},
      {"fd-leak",
       N_("a process leaks 200 fds/s towards its soft limit of 2,048 (diagnosed at ~55 %)"),
       N_("file_descriptors critical from the forecast (seconds_to_exhaustion), names "
          "cdlab-leaker"),
       {},
       fd_leak},
      {"close-wait-leak",
       N_("a server that never closes after the peer's FIN: 600 sockets in CLOSE_WAIT"),
       N_("close_wait, application layer, names the server's pid"),
       {},
       close_wait_leak},
      {"accept-overflow",
       N_("a listener with backlog 8 that never accepts while clients keep connecting"),
       N_("accept_queue critical, names 127.0.0.1:8080, overflow rate > 0"),
       {},
       accept_overflow},
      {"unix-backlog",
       N_("a unix stream listener (backlog 16) that never accepts; a client connects without "
          "blocking until EAGAIN"),
       N_("accept_queue critical for the unix socket @cdlab-fpm-*.sock, 17 of 16 queued, names "
          "cdlab-unixsrv"),
       {},
       unix_backlog},
      {"syn-blackhole",
       N_("the destination's firewall silently drops SYNs (nft at the input hook); 100-port range"),
       N_("unanswered_connects critical, network layer, names 127.0.0.1:8080; no ephemeral_ports "
          "finding"),
       {{"net.ipv4.ip_local_port_range", "40000 40099"}, {"net.ipv4.tcp_syn_retries", "1"}},
       syn_blackhole},
      {"connect-timeout",
       N_("120 non-blocking connects (TCP_SYNCNT 1) to 198.18.0.2:80, which drops SYNs silently: "
          "each fails with ETIMEDOUT after 3 s"),
       N_("with --trace: connect_failures critical, network layer, names 198.18.0.2:80 and the "
          "client's 120 ETIMEDOUT"),
       {},
       connect_timeout},
      {"connect-refused",
       N_("150 blocking connects to 127.0.0.1:8080, where nothing listens: a RST, ECONNREFUSED"),
       N_("with --trace: connect_failures critical, network layer, names 127.0.0.1:8080 and the "
          "client's 150 ECONNREFUSED"),
       {},
       connect_refused},
      {"tw-bucket-overflow",
       N_("tcp_max_tw_buckets=32 while short connections continue: TIME_WAIT overflows"),
       N_("time_wait finding from TCPTimeWaitOverflow"),
       {{"net.ipv4.tcp_max_tw_buckets", "32"}},
       tw_bucket_overflow},
      {"service-port-in-range",
       N_("a service listens on 40080, inside the ephemeral range and not reserved"),
       N_("config finding: reserve the port"),
       {{"net.ipv4.ip_local_port_range", "32768 60999"}, {"net.ipv4.ip_local_reserved_ports", ""}},
       service_port_in_range},
      conntrack_full_scenario(),      // lab/scenario_netlayer.cpp
      snat_exhaustion_scenario(),     // lab/scenario_netlayer.cpp
      no_timestamps_peer_scenario(),  // lab/scenario_netlayer.cpp
      dns_conntrack_scenario(),       // lab/scenario_dns.cpp
      cgroup_tcp_memory_scenario(),   // lab/scenario_cgroup.cpp
      {"idle", N_("nothing: only loopback is up"), N_("ok, exit 0"), {}, idle},
  };
  return table;
}

const ScenarioInfo* find_scenario(std::string_view name) {
  for (const ScenarioInfo& s : lab_scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace cd
