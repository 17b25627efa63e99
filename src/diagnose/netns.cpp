// Listing and diagnosing network namespaces.
#include "diagnose/netns.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "analyse/analysis.h"
#include "collect/collector.h"
#include "collect/conntrack_source.h"
#include "collect/container_identity.h"
#include "collect/ehash_scan.h"
#include "collect/sock_source.h"
#include "util/dir.h"
#include "util/file.h"
#include "util/netns.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

std::string read_comm(const std::string& proc, int32_t pid) {
  auto text = read_file(proc + "/" + std::to_string(pid) + "/comm", 4096);
  if (!text) return {};
  return std::string(trim_right(*text).substr(0, text->find('\n')));
}

// A /run/netns entry is a bind mount of an nsfs file; a leftover plain file (the namespace's
// mount is gone) has the device of the directory, not of nsfs.
bool is_netns_like(const Result<NetnsId>& id, const NetnsId& self) {
  return id && id->dev == self.dev;
}

// A pod's sandbox (pause) process is normally the first of its namespace: the lowest pids
// are enough to find it, and bound the reads in the host's namespace.
constexpr std::size_t kIdentityPids = 8;

// The pod whose sandbox holds the namespace; else the first member that is in a container
// (CRI-O without an infra container pins the namespace with no process of its own).
std::optional<ContainerIdentity> pod_of(const std::vector<int32_t>& pids, IdentityResolver& r) {
  std::optional<ContainerIdentity> first;
  for (int32_t pid : pids) {
    auto id = r.of_pid(pid);
    if (!id) continue;
    if (id->sandbox) return id;
    if (!first) first = std::move(id);
  }
  return first;
}

}  // namespace

Result<std::vector<NetnsInfo>> list_netns(const NetnsRoots& roots) {
  auto self = netns_id_of(roots.proc + "/self/ns/net");
  if (!self) return std::unexpected(self.error());
  std::map<uint64_t, NetnsInfo> by_inode;

  if (auto d = open_dir(roots.run_netns)) {
    while (const dirent* e = ::readdir(d->get())) {
      if (e->d_name[0] == '.') continue;
      const std::string path = roots.run_netns + "/" + e->d_name;
      auto id = netns_id_of(path);
      if (!is_netns_like(id, *self)) continue;
      NetnsInfo& n = by_inode[uint64_t(id->ino)];
      n.inode = uint64_t(id->ino);
      if (n.name.empty() || std::string(e->d_name) < n.name) {
        n.name = e->d_name;
        n.path = path;
      }
    }
  }

  if (auto d = open_dir(roots.proc); !d) return std::unexpected(d.error());
  std::map<uint64_t, std::vector<int32_t>> members;  // the lowest pids of each namespace
  for (int32_t pid : numeric_entries(roots.proc)) {
    const std::string path = roots.proc + "/" + std::to_string(pid) + "/ns/net";
    // Kernel threads and processes that exited meanwhile are skipped; EACCES without root.
    auto id = netns_id_of(path);
    if (!is_netns_like(id, *self)) continue;
    NetnsInfo& n = by_inode[uint64_t(id->ino)];
    n.inode = uint64_t(id->ino);
    if (roots.identity) {
      auto& m = members[n.inode];
      if (m.size() < kIdentityPids) m.push_back(pid);
    }
    if (n.pid == 0 || pid < n.pid) {
      n.pid = pid;
      if (n.name.empty()) n.path = path;
    }
  }

  std::optional<ProcFs> proc;
  std::optional<IdentityResolver> resolver;
  if (roots.identity) resolver.emplace(proc.emplace(roots.proc), roots.runtime_roots);
  std::vector<NetnsInfo> out;
  out.reserve(by_inode.size());
  for (auto& [ino, n] : by_inode) {
    if (n.pid > 0) n.comm = read_comm(roots.proc, n.pid);
    if (auto m = members.find(ino); resolver && m != members.end()) {
      std::sort(m->second.begin(), m->second.end());
      n.pod = pod_of(m->second, *resolver);
    }
    n.current = ino == uint64_t(self->ino);
    out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end(), [](const NetnsInfo& a, const NetnsInfo& b) {
    if (a.current != b.current) return a.current;
    if (a.name.empty() != b.name.empty()) return !a.name.empty();
    if (!a.name.empty()) return a.name < b.name;
    return a.pid < b.pid;
  });
  return out;
}

Result<NetnsInfo> resolve_netns(const std::string& target, const NetnsRoots& roots) {
  auto path = netns_target_path(target, roots.proc, roots.run_netns);
  if (!path) return std::unexpected(path.error());
  auto id = netns_id_of(*path);
  if (!id)  // "stat PATH: reason" -> "--netns TARGET: PATH: reason"
    return std::unexpected(
        Error{"--netns " + target + ": " + id.error().message.substr(5), id.error().err});
  auto all = list_netns(roots);
  if (all) {
    for (NetnsInfo& n : *all)
      if (n.inode == uint64_t(id->ino)) {
        n.path = *path;
        return n;
      }
  }
  NetnsInfo n;
  n.inode = uint64_t(id->ino);
  n.path = *path;
  if (*path == roots.proc + "/" + target + "/ns/net") {
    n.pid = int32_t(std::strtol(target.c_str(), nullptr, 10));
    n.comm = read_comm(roots.proc, n.pid);
  } else if (target.find('/') == std::string::npos) {
    n.name = target;
  }
  return n;
}

namespace {

// One namespace between its two readings: its nsfs fd (so it cannot vanish), the sources
// opened inside it, and the first reading.
struct Pending {
  NetnsInfo ns;
  UniqueFd fd;
  std::unique_ptr<SockSource> sockets;
  std::unique_ptr<ConntrackSource> conntrack;
  Snapshot snap;
  std::string error;
};

// --netns-scan auto walks the hashes once from this many namespaces on.
constexpr std::size_t kOnePassMinNamespaces = 3;

// What one round of readings reads once for every namespace: the established hash (the
// one-pass scan) and the BPF fd table. Each namespace takes its own part out of them.
struct Round {
  std::optional<EhashScan> ehash;
  std::optional<FdTable> fd_table;
  // Each namespace's pids, from one pass over /proc/PID/ns/net (else every namespace's process
  // scan would stat every process of the host again). A process started after this listing is
  // read in the next reading.
  std::optional<std::unordered_map<uint64_t, std::vector<int32_t>>> pids;
};

std::unordered_map<uint64_t, std::vector<int32_t>> pids_by_netns(const std::string& proc) {
  std::unordered_map<uint64_t, std::vector<int32_t>> out;
  for (int32_t pid : numeric_entries(proc)) {
    auto id = netns_id_of(proc + "/" + std::to_string(pid) + "/ns/net");
    if (id) out[uint64_t(id->ino)].push_back(pid);
  }
  return out;
}

void dedupe(std::vector<std::string>& v) {
  std::unordered_set<std::string> seen;
  std::erase_if(v, [&seen](const std::string& s) { return !seen.insert(s).second; });
}

// net.ipv4.tcp_ehash_entries of the namespace we are in: negative when it shares the host's
// established hash; absent before 6.1 (every namespace shares it then).
std::optional<long> ehash_entries(const ProcFs& proc) {
  auto text = proc.read("sys/net/ipv4/tcp_ehash_entries");
  if (!text) return std::nullopt;
  char* end = nullptr;
  const long v = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str()) return std::nullopt;
  return v;
}

Result<void> take_reading(Pending& p, ProcFs& proc, Clock& clock, FdTableSource* fd_tables,
                          Round& round, const CollectOptions& opt, bool first) {
  auto guard = NetnsGuard::enter_fd(p.fd.get(), p.ns.label());
  if (!guard) return std::unexpected(guard.error());
  if (first) {
    // Netlink sockets belong to the namespace they are opened in.
    auto s = open_netlink_sock_source();
    if (!s) return std::unexpected(s.error());
    p.sockets = std::move(*s);
    if (auto c = open_netlink_conntrack_source()) p.conntrack = std::move(*c);
  }
  std::unique_ptr<SockSource> split;
  if (round.ehash && ehash_scan_covers(*round.ehash, p.ns.inode, ehash_entries(proc))) {
    std::vector<SockRecord> mine;
    if (auto it = round.ehash->by_netns.find(p.ns.inode); it != round.ehash->by_netns.end())
      mine = std::move(it->second);
    split = ehash_split_source(*p.sockets, std::move(mine), round.ehash->bound_inactive);
  }
  Sources src{proc, split ? *split : *p.sockets, clock, p.conntrack.get(), fd_tables};
  if (round.fd_table) src.shared_fd_table = &*round.fd_table;
  CollectOptions mine = opt;
  if (round.pids) {
    auto it = round.pids->find(p.ns.inode);
    mine.only_pids = it != round.pids->end() ? std::move(it->second) : std::vector<int32_t>{};
  }
  auto r = collect_reading(src, mine, p.snap.missing);
  if (!r) return std::unexpected(r.error());
  (first ? p.snap.first : p.snap.second.emplace()) = std::move(*r);
  return {};
}

// Reads what the round shares. The one-pass scan where it can run (or fails the check when it
// was asked for and cannot); the fd table when attribution would read it for a population of
// this size (collect/collector.h, kBpfMinSockets) or --fd-scan bpf says so. Either left out
// means each namespace reads its own, as a single-namespace check does.
Result<Round> read_round(const DiagnoseOptions& opt, EhashScanner* scanner,
                         FdTableSource* fd_tables) {
  Round round;
  if (scanner) {
    auto scan = scanner->scan();
    if (scan && scan->shared_table) {
      round.ehash = std::move(*scan);
    } else if (opt.netns_scan == NetnsScan::kOnePass) {
      return fail(scan ? std::string("--netns-scan one-pass: this process runs in a network "
                                     "namespace with its own TCP hash table")
                       : "--netns-scan one-pass: " + scan.error().message);
    }
  }
  const CollectOptions& c = opt.collect;
  if (c.processes && c.filter_netns) round.pids = pids_by_netns(opt.proc_root);
  const bool big = round.ehash && round.ehash->sockets >= kBpfMinSockets;
  if (fd_tables && c.processes && c.attribution &&
      (c.fd_scan == FdScan::kBpf || (c.fd_scan == FdScan::kAuto && big))) {
    // A table that cannot be read is left to each namespace, which then says why (--fd-scan
    // bpf) or reads /proc/PID/fd (auto).
    if (auto t = fd_tables->read()) round.fd_table = std::move(*t);
  }
  return round;
}

// Opens `path` if it still names the namespace `inode` (a pid's path may by now name another
// process's namespace). Empty when it does not, or is gone.
UniqueFd open_if_same(const std::string& path, uint64_t inode, int& err) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    err = errno;
    return fd;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || uint64_t(st.st_ino) != inode) {
    err = ENOENT;
    return {};
  }
  return fd;
}

bool gone(int err) {
  return err == ENOENT || err == ESRCH;
}

}  // namespace

Result<AllNetns> diagnose_all_netns(const DiagnoseOptions& opt, Clock& clock,
                                    const NetnsRoots& roots) {
  if (!opt.sock_diag_dump.empty() || !opt.record_dump.empty() || !opt.conntrack_dump.empty() ||
      !opt.record_conntrack_dump.empty() || opt.proc_root != "/proc")
    return fail("--all-netns diagnoses the live host: it cannot replay or record dumps");
  NetnsRoots where = roots;
  where.identity = opt.collect.identity;
  where.runtime_roots = opt.collect.runtime_roots;
  auto all = list_netns(where);
  if (!all) return std::unexpected(all.error());

  AllNetns result;
  std::vector<Pending> pending;
  pending.reserve(all->size());
  for (NetnsInfo& n : *all) {
    if (roots.before_open) roots.before_open(n);
    Pending p;
    int err = 0;
    p.fd = open_if_same(n.path, n.inode, err);
    if (!p.fd && gone(err)) {
      // The path the listing chose is gone: the namespace may live on under another name or
      // in another process. List again, once, and look for it by inode.
      if (auto again = list_netns(roots)) {
        for (NetnsInfo& m : *again) {
          if (m.inode != n.inode) continue;
          if ((p.fd = open_if_same(m.path, m.inode, err))) n = std::move(m);
          break;
        }
      }
      if (!p.fd) {
        result.missing.push_back("network namespace " + n.label() + " (inode " +
                                 std::to_string(n.inode) +
                                 "): gone before it could be read (deleted, or its last "
                                 "process exited, while the check ran)");
        continue;
      }
    }
    p.ns = std::move(n);
    if (!p.fd) p.error = Error::from_errno(p.ns.path, err).message;
    pending.push_back(std::move(p));
  }

  ProcFs proc(opt.proc_root);
  auto fd_tables = open_fd_tables(opt);  // loaded once, read once a round
  // With one or two namespaces their own dumps cost less than the BPF walk (bench/
  // netns_scale.sh: the walk costs ~2.2x one dump of the host's sockets, each extra
  // namespace's dump ~1x more).
  std::unique_ptr<EhashScanner> scanner;
  if (opt.netns_scan == NetnsScan::kOnePass ||
      (opt.netns_scan == NetnsScan::kAuto && pending.size() >= kOnePassMinNamespaces))
    scanner = open_bpf_ehash_scanner();
  const bool two = opt.collect.interval_s > 0;
  CollectOptions first_opt = opt.collect;
  if (two) first_opt.conntrack_table = false;  // the table is dumped once, in the last reading
  auto readings = [&](const CollectOptions& copt, bool first) -> Result<void> {
    auto round = read_round(opt, scanner.get(), fd_tables.get());
    if (!round) return std::unexpected(round.error());
    for (Pending& p : pending) {
      if (!p.error.empty()) continue;
      if (auto ok = take_reading(p, proc, clock, fd_tables.get(), *round, copt, first); !ok)
        p.error = ok.error().message;
    }
    return {};
  };
  if (auto ok = readings(first_opt, true); !ok) return std::unexpected(ok.error());
  if (two) {
    clock.sleep_s(opt.collect.interval_s);
    if (auto ok = readings(opt.collect, false); !ok) return std::unexpected(ok.error());
  }

  std::vector<NetnsResult>& out = result.results;
  out.reserve(pending.size());
  for (Pending& p : pending) {
    NetnsResult r;
    r.ns = std::move(p.ns);
    if (p.error.empty()) {
      dedupe(p.snap.missing);
      p.snap.netns = r.ns.label();
      Diagnosis d{std::move(p.snap), {}};
      d.analysis = analyse(d.snapshot);
      r.diagnosis = std::move(d);
    } else {
      r.error = std::move(p.error);
    }
    out.push_back(std::move(r));
  }
  sort_worst_first(out);
  return result;
}

}  // namespace cd
