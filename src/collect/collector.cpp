// Takes one or two readings of the namespace: sysctls, counters, sockets, processes.
#include "collect/collector.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <unordered_set>

#include "collect/cgroup_memory.h"
#include "collect/conntrack_collect.h"
#include "collect/proc_paths.h"
#include "collect/proc_text.h"
#include "collect/processes.h"
#include "collect/runtime_detect.h"
#include "collect/socket_aggregator.h"
#include "collect/sysctls.h"
#include "collect/unix_listeners.h"
#include "util/side_thread.h"

namespace cd {

namespace {

namespace pp = proc_paths;

// A file that cannot be read (absent, no permission) leaves its figures unknown and is named
// in `missing`; a file that reads but does not parse is bad input (a kernel format we do not
// know, or a broken fixture) and fails the reading, so `check` says so and exits 3 rather
// than diagnosing on half-parsed numbers.
template <typename Parse>
auto read_parsed(const ProcFs& proc, std::string_view rel, std::vector<std::string>& missing,
                 Parse&& parse)
    -> Result<std::optional<typename decltype(parse(std::string{}))::value_type>> {
  auto text = proc.read(rel);
  if (!text) {
    missing.push_back(text.error().message);
    return std::nullopt;
  }
  auto parsed = parse(*text);
  if (!parsed) return std::unexpected(parsed.error());
  return std::move(*parsed);
}

Result<void> read_counters(const ProcFs& proc, Reading& r, std::vector<std::string>& missing) {
  for (std::string_view rel : {pp::kSnmp, pp::kNetstat}) {
    auto parsed = read_parsed(proc, rel, missing, [&](const std::string& text) {
      return parse_snmp_pairs(text, proc.path(rel));
    });
    if (!parsed) return std::unexpected(parsed.error());
    if (*parsed) r.counters.merge(**parsed);
  }
  return {};
}

Result<void> read_sockstat(const ProcFs& proc, Reading& r, std::vector<std::string>& missing) {
  auto parsed = read_parsed(proc, pp::kSockstat, missing,
                            [](const std::string& t) { return parse_sockstat(t); });
  if (!parsed) return std::unexpected(parsed.error());
  if (*parsed) r.sockstat = **parsed;
  return {};
}

Result<void> read_file_nr(const ProcFs& proc, Reading& r, std::vector<std::string>& missing) {
  auto parsed = read_parsed(proc, pp::kFileNr, missing,
                            [](const std::string& t) { return parse_file_nr(t); });
  if (!parsed) return std::unexpected(parsed.error());
  if (*parsed) r.file_nr = **parsed;
  return {};
}

// `netlink`: a conntrack source follows (collect_conntrack), which takes the stats from
// ctnetlink when the procfs file is absent and names what is missing itself.
Result<void> read_conntrack(const ProcFs& proc, Reading& r, std::vector<std::string>& missing,
                            bool netlink) {
  ConntrackStats& ct = r.conntrack;
  const Sysctls& s = r.sysctls;
  // read_sysctls already said so when the module is not loaded.
  ct.available = s.nf_conntrack_count.has_value();
  ct.count = s.nf_conntrack_count;
  ct.max = s.nf_conntrack_max;
  ct.buckets = s.nf_conntrack_buckets;
  if (!ct.available) return {};
  if (!proc.exists(pp::kConntrackStat)) {
    if (netlink) return {};
    missing.push_back("conntrack per-CPU stats: " + proc.path(pp::kConntrackStat) +
                      " absent (kernel built without CONFIG_NF_CONNTRACK_PROCFS)");
    return {};
  }
  auto parsed = read_parsed(proc, pp::kConntrackStat, missing,
                            [](const std::string& t) { return parse_conntrack_stat(t); });
  if (!parsed) return std::unexpected(parsed.error());
  if (!*parsed) return {};
  ct.stats = std::move(**parsed);
  ct.stats_source = "procfs";
  return {};
}

AggregatorConfig aggregator_config(const Sysctls& s, const CollectOptions& opt) {
  AggregatorConfig cfg;
  if (s.ip_local_port_range) cfg.ephemeral = *s.ip_local_port_range;
  if (s.tcp_tw_reuse_delay_ms && *s.tcp_tw_reuse_delay_ms >= 0)
    cfg.tw_reuse_delay_ms = uint32_t(std::min<int64_t>(*s.tcp_tw_reuse_delay_ms, UINT32_MAX));
  cfg.index_inodes = opt.attribution && opt.processes;
  return cfg;
}

void dedupe(std::vector<std::string>& v) {
  std::unordered_set<std::string> seen;
  std::erase_if(v, [&seen](const std::string& s) { return !seen.insert(s).second; });
}

// Whether attribution should read the BPF fd table, given how many live TCP sockets there
// are (or are expected): --fd-scan says, or in auto mode the population's size does.
bool wants_fd_table(const CollectOptions& opt, std::size_t live_sockets) {
  if (!opt.attribution) return false;
  switch (opt.fd_scan) {
    case FdScan::kBpf:
      return true;
    case FdScan::kProcfs:
      return false;
    case FdScan::kAuto:
      return live_sockets >= kBpfMinSockets;
  }
  return false;
}

// Live TCP sockets of the namespace before the dump, to choose the fd scan while the dump has
// not ended: "TCP: inuse" of /proc/net/sockstat plus "TCP6: inuse" of sockstat6, the
// namespace's hashed TCP sockets (sock_prot_inuse_get() for tcp_prot and tcpv6_prot: LISTEN
// and every live state, not TIME_WAIT), i.e. what the dump's inode index will hold give or
// take the sockets opened or closed meanwhile. Unknown without sockstat.
std::optional<std::size_t> live_tcp_estimate(const ProcFs& proc, const SockStat& st) {
  if (!st.tcp_inuse || *st.tcp_inuse < 0) return std::nullopt;
  std::size_t n = std::size_t(*st.tcp_inuse);
  if (auto v6 = proc.read(pp::kSockstat6)) {  // absent without IPv6: no TCP6 sockets then
    static constexpr std::string_view kTag = "TCP6: inuse ";
    if (auto at = v6->find(kTag); at != std::string::npos) {
      std::size_t k = 0;
      const char* first = v6->data() + at + kTag.size();
      auto [p, ec] = std::from_chars(first, v6->data() + v6->size(), k);
      if (ec == std::errc() && p != first) n += k;
    }
  }
  return n;
}

// The BPF fd table when `want` (wants_fd_table). In auto mode a table that cannot be read
// (no CAP_BPF, another pid namespace) silently leaves /proc/PID/fd to do the job; asked for
// explicitly, it fails the reading with the reason.
Result<std::optional<FdTable>> read_fd_table(const Sources& src, const CollectOptions& opt,
                                             bool want) {
  if (!want) return std::nullopt;
  if (!src.fd_tables) {
    if (opt.fd_scan == FdScan::kBpf)
      return fail(
          "--fd-scan bpf: only on the live system, not with --proc-root or a recorded dump");
    return std::nullopt;
  }
  auto table = src.fd_tables->read();
  if (table) return std::move(*table);
  if (opt.fd_scan == FdScan::kBpf) return std::unexpected(table.error());
  return std::nullopt;
}

// The read half of the process scan: the fd table if wanted, then /proc. Needs nothing from
// the dump, so it may run on a second thread while the dump runs.
struct ProcessRead {
  ProcessFds fds;
  bool from_table = false;
};

Result<ProcessRead> read_processes(const Sources& src, const CollectOptions& opt, bool want_table,
                                   std::stop_token stop) {
  FdTable* use = src.shared_fd_table && opt.attribution ? src.shared_fd_table : nullptr;
  std::optional<FdTable> own;
  if (!use) {
    auto table = read_fd_table(src, opt, want_table);
    if (!table) return std::unexpected(table.error());
    if (*table) use = &own.emplace(std::move(**table));
  }
  const ProcessScanOptions popt{.attribution = opt.attribution,
                                .filter_netns = opt.filter_netns,
                                .identity = opt.identity,
                                .runtime_roots = opt.runtime_roots,
                                .candidates = opt.only_pids ? &*opt.only_pids : nullptr};
  ProcessRead out;
  out.from_table = use != nullptr;
  out.fds = read_process_fds(src.proc, popt, use, stop);
  return out;  // the table's other processes (other namespaces) are freed here
}

// The socket dump into a fresh aggregator. A dump the kernel flagged NLM_F_DUMP_INTR (the
// table changed under it) may miss or repeat sockets: it is thrown away and taken again, up
// to kDumpAttempts in all; if every attempt was interrupted the reading fails rather than
// count an inconsistent table.
Result<SocketSummary> dump_sockets(SockSource& sockets, const AggregatorConfig& cfg,
                                   InodeIndex& index) {
  for (int attempt = 1;; ++attempt) {
    SocketAggregator agg(cfg);
    auto ok = dump_all(sockets, agg);
    if (!ok) {
      if (!dump_interrupted(ok.error())) return std::unexpected(ok.error());
      if (attempt < kDumpAttempts) continue;
      return fail("sock_diag: the socket dump was interrupted " + std::to_string(kDumpAttempts) +
                  " times in a row (the table changed under it), no consistent one to count; "
                  "last: " +
                  ok.error().message);
    }
    SocketSummary sum = agg.finish();
    if (cfg.index_inodes) index = agg.take_inode_index();
    return sum;
  }
}

// The unix listeners after the TCP dump, on the same netlink socket (so in the same namespace).
// Unknown without a word when the source cannot tell (a recording made before they were
// dumped: nothing was unreadable on the recorded machine, the recording simply predates them);
// a dump that fails is named in `missing`, since accept queues of PHP-FPM, uwsgi or gunicorn
// sockets then go unchecked. Either way the TCP picture stands.
void read_unix_listeners(SockSource& sockets, Reading& r, std::vector<std::string>& missing) {
  auto ux = collect_unix_listeners(sockets);
  if (ux) {
    r.unix_listeners = std::move(*ux);
    return;
  }
  missing.push_back(ux.error().message +
                    ": accept queues of unix stream listeners unknown (needs unix_diag)");
}

// The processes whose memory cgroups are read for their socket memory: those holding sockets
// when attribution ran, else every process of the namespace.
std::vector<std::pair<int32_t, uint64_t>> socket_owners(const Reading& r) {
  std::vector<std::pair<int32_t, uint64_t>> owners;
  for (const ProcessInfo& p : r.processes) {
    uint64_t n = 0;
    if (p.sockets) {
      for (uint32_t c : p.sockets->by_state) n += c;
      if (n == 0) continue;
    }
    owners.emplace_back(p.pid, n);
  }
  return owners;
}

}  // namespace

Result<Reading> collect_reading(const Sources& src, const CollectOptions& opt,
                                std::vector<std::string>& missing) {
  Reading r;
  r.taken_at_s = src.clock.now_s();
  auto sysctls = read_sysctls(src.proc, missing);
  if (!sysctls) return std::unexpected(sysctls.error());
  r.sysctls = std::move(*sysctls);
  for (auto step : {read_counters, read_sockstat, read_file_nr})
    if (auto ok = step(src.proc, r, missing); !ok) return std::unexpected(ok.error());
  if (auto ok = read_conntrack(src.proc, r, missing, src.conntrack != nullptr); !ok)
    return std::unexpected(ok.error());
  if (src.conntrack)
    collect_conntrack(*src.conntrack, {opt.conntrack_table, opt.snat_port_range}, r, missing);

  AggregatorConfig cfg = aggregator_config(r.sysctls, opt);
  const std::optional<std::size_t> estimate = live_tcp_estimate(src.proc, r.sockstat);
  // The index is reserved once; a quarter more than the estimate absorbs sockets opened while
  // we read (unwritten reserve is never resident).
  if (cfg.index_inodes && estimate) cfg.expected_inodes = *estimate + *estimate / 4 + 1024;

  // The fd scan (BPF fd table or /proc/PID/fd) and the socket dump do not depend on each other:
  // on a second core the scan costs no wall time up to the dump's. It starts now when the fd
  // scan method is known before the dump (always, except --fd-scan auto without sockstat).
  std::optional<Result<ProcessRead>> read;
  InodeIndex index;
  // Serial or concurrent, the choice is the same: from the estimate when there is one.
  const bool decided = opt.fd_scan != FdScan::kAuto || !opt.attribution || estimate;
  const bool want_table_early = wants_fd_table(opt, estimate.value_or(0));
  {
    SideThread scan;
    // Undecided, or no thread to be had (start() fails): `read` stays empty and the scan runs
    // after the dump, below.
    if (opt.processes && decided && opt.concurrent_fd_scan)
      scan.start([&src, &opt, &read, want_table_early](std::stop_token stop) {
        read.emplace(read_processes(src, opt, want_table_early, stop));
      });
    auto dumped = dump_sockets(src.sockets, cfg, index);
    if (!dumped) return std::unexpected(dumped.error());
    r.sockets = std::move(*dumped);
    read_unix_listeners(src.sockets, r, missing);
    scan.join();
  }

  if (opt.processes) {
    if (!read) {
      const bool want_table = decided ? want_table_early : wants_fd_table(opt, index.size());
      read.emplace(read_processes(src, opt, want_table, {}));
    }
    if (!*read) return std::unexpected(read->error());
    const ProcessScanOptions popt{.attribution = opt.attribution,
                                  .filter_netns = opt.filter_netns,
                                  .identity = opt.identity,
                                  .runtime_roots = opt.runtime_roots,
                                  .candidates = opt.only_pids ? &*opt.only_pids : nullptr};
    const bool from_table = (*read)->from_table;
    attribute_processes(std::move((*read)->fds), popt, cfg.index_inodes ? &index : nullptr, r,
                        missing);
    if (opt.attribution) {
      r.fd_scan = from_table ? "bpf" : "procfs";
      detect_owner_runtimes(src.proc, r);
    }
    r.cgroup_memory = read_cgroup_memory(src.proc, socket_owners(r), missing);
  }
  return r;
}

Result<Snapshot> collect_snapshot(const Sources& src, const CollectOptions& opt) {
  Snapshot snap;
  // The conntrack table is dumped once, in the reading the rules look at (the last one).
  CollectOptions first_opt = opt;
  if (opt.interval_s > 0) first_opt.conntrack_table = false;
  auto first = collect_reading(src, first_opt, snap.missing);
  if (!first) return std::unexpected(first.error());
  snap.first = std::move(*first);
  if (opt.interval_s > 0) {
    src.clock.sleep_s(opt.interval_s);
    auto second = collect_reading(src, opt, snap.missing);
    if (!second) return std::unexpected(second.error());
    snap.second = std::move(*second);
  }
  dedupe(snap.missing);
  return snap;
}

}  // namespace cd
