// One pass over the processes of the root: open fds against each one's own soft
// RLIMIT_NOFILE, and (attribution) which sockets of the dump each process holds.
#include "collect/processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "collect/container_identity.h"
#include "collect/netns_filter.h"
#include "collect/proc_paths.h"
#include "collect/proc_text.h"
#include "util/dir.h"
#include "util/file.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

constexpr std::size_t kTopDestinations = 5;

// A process that exits while we read it makes its /proc files fail with ENOENT (or ESRCH
// from the proc_pid_* helpers once the task is gone): skip it, it no longer matters.
bool vanished(int err) {
  return err == ENOENT || err == ESRCH;
}

// Since 6.2 proc_fd_getattr() reports the number of open fds as the size of /proc/PID/fd, so
// one stat() replaces a directory walk. Older kernels report 0: probe on our own fd dir
// while we hold an fd open in it, so 0 there can only mean "not supported".
bool fd_dir_size_counts(const ProcFs& proc) {
  if (!proc.is_procfs()) return false;
  UniqueFd self(::open(proc.path("self/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  return self && ::fstat(self.get(), &st) == 0 && st.st_size > 0;
}

// What the scan could not read, summarised in one line at the end.
struct Unreadable {
  uint32_t fd_counts = 0;
  uint32_t socket_owners = 0;
  uint32_t netns = 0;
  uint32_t limits = 0;       // /proc/PID/limits read but not parsed: the limit is unknown
  std::string limits_error;  // the first such error

  std::string summary() const {
    std::string parts;
    auto add = [&parts](uint32_t n, std::string_view what) {
      if (n == 0) return;
      if (!parts.empty()) parts += ", ";
      parts +=
          std::string(what) + " of " + std::to_string(n) + (n == 1 ? " process" : " processes");
    };
    add(fd_counts, "fd counts");
    add(socket_owners, "socket owners");
    add(netns, "network namespaces");
    if (parts.empty()) return {};
    std::string line =
        parts + " not readable (need root, or CAP_SYS_PTRACE with CAP_DAC_READ_SEARCH)";
    if (netns != 0) line += "; processes of unknown namespace were kept";
    return line;
  }
  std::string limits_summary() const {
    if (limits == 0) return {};
    return "fd limits of " + std::to_string(limits) + (limits == 1 ? " process" : " processes") +
           " unknown (" + limits_error + "): they cannot be checked against their limit";
  }
};

// Reads the fd directory open as `dirfd`, collecting the inode of every socket link. Returns
// the number of fds seen, or the errno of a failure to read the directory itself.
Result<uint64_t> read_socket_links(UniqueFd dirfd, std::vector<uint32_t>& inodes) {
  auto dir = open_dir_fd(dirfd.release(), "fdopendir");
  if (!dir) return std::unexpected(dir.error());
  uint64_t fds = 0;
  char link[64];  // "socket:[4294967295]" fits; longer targets are never sockets
  for (;;) {
    errno = 0;  // readdir() signals an error only through errno
    const dirent* e = ::readdir(dir->get());
    if (!e) break;
    if (e->d_name[0] == '.') continue;
    ++fds;
    ssize_t n = ::readlinkat(::dirfd(dir->get()), e->d_name, link, sizeof link);
    if (n <= 0 || std::size_t(n) >= sizeof link) continue;  // closed meanwhile, or long
    if (uint32_t inode = parse_socket_link({link, std::size_t(n)}); inode != 0)
      inodes.push_back(inode);
  }
  if (errno != 0 && !vanished(errno)) return fail_errno("readdir");
  return fds;
}

// Attribution state for the whole join: listener inodes and per-tuple owners.
class Attributor {
 public:
  Attributor(const InodeIndex& index, Reading& reading)
      : index_(index), reading_(reading), owners_(reading.sockets.tuples.size()) {
    listeners_.reserve(reading.sockets.listeners.size());
    for (uint32_t i = 0; i < reading.sockets.listeners.size(); ++i)
      if (reading.sockets.listeners[i].inode != 0)
        listeners_.push_back({reading.sockets.listeners[i].inode, i});
    std::sort(listeners_.begin(), listeners_.end());
    if (reading.unix_listeners)
      for (const UnixListener& l : *reading.unix_listeners)
        if (l.inode != 0) unix_listeners_.push_back(l.inode);
    std::sort(unix_listeners_.begin(), unix_listeners_.end());
  }

  // One process's socket inodes (from its fd links or the fd table), joined with the dump.
  void join(int32_t pid, const std::vector<uint32_t>& inodes, ProcessSockets& ps) {
    per_tuple_.clear();
    for (uint32_t inode : inodes) account(pid, inode, ps);
    finish_process(pid, ps);
  }

  // Per tuple with live sockets: the processes holding them, most first.
  void emit_tuple_owners() {
    for (uint32_t t = 0; t < owners_.size(); ++t) {
      auto& pids = owners_[t];
      if (pids.empty()) continue;
      std::sort(pids.begin(), pids.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      reading_.tuple_owners.push_back(TupleOwner{reading_.sockets.tuples[t].key, std::move(pids)});
    }
  }

 private:
  void account(int32_t pid, uint32_t inode, ProcessSockets& ps) {
    const InodeEntry* s = index_.find(inode);
    if (!s) {  // a socket not in the TCP dump: UDP, unix, netlink, other namespace
      add_unix_listener(pid, inode);
      return;
    }
    const uint8_t state = s->state();
    if (state < kTcpStateSlots) ++ps.by_state[state];
    if (state == uint8_t(TcpState::kListen)) add_listener(pid, inode, ps);
    if (const uint32_t t = s->tuple(); t != kNoTuple && t < owners_.size()) ++per_tuple_[t];
  }

  void add_listener(int32_t pid, uint32_t inode, ProcessSockets& ps) {
    auto it = std::lower_bound(listeners_.begin(), listeners_.end(),
                               std::pair<uint32_t, uint32_t>{inode, 0});
    if (it == listeners_.end() || it->first != inode) return;
    ps.listening.push_back(reading_.sockets.listeners[it->second].local);
    // A listener shared by forked workers (nginx, prefork) names the first pid seen.
    reading_.listener_owner.emplace(inode, pid);
  }

  // Socket inodes are one sockfs numbering for every family: a unix listener's inode joins the
  // same listener_owner map as a TCP one.
  void add_unix_listener(int32_t pid, uint32_t inode) {
    if (!std::binary_search(unix_listeners_.begin(), unix_listeners_.end(), inode)) return;
    reading_.listener_owner.emplace(inode, pid);  // forked workers: the first pid seen
  }

  void finish_process(int32_t pid, ProcessSockets& ps) {
    ps.close_wait = ps.by_state[uint8_t(TcpState::kCloseWait)];
    // Destinations: tuples that differ only in source address are one destination.
    std::map<Endpoint, uint32_t> by_dest;
    for (const auto& [tuple, count] : per_tuple_) {
      owners_[tuple].push_back({pid, count});
      by_dest[reading_.sockets.tuples[tuple].key.destination()] += count;
    }
    ps.top_destinations.assign(by_dest.begin(), by_dest.end());
    std::sort(ps.top_destinations.begin(), ps.top_destinations.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    if (ps.top_destinations.size() > kTopDestinations) ps.top_destinations.resize(kTopDestinations);
  }

  const InodeIndex& index_;
  Reading& reading_;
  std::vector<std::pair<uint32_t, uint32_t>> listeners_;  // inode -> listeners index, sorted
  std::vector<uint32_t> unix_listeners_;                  // unix listener inodes, sorted
  std::vector<std::vector<std::pair<int32_t, uint32_t>>> owners_;  // per tuple: pid, sockets
  std::unordered_map<uint32_t, uint32_t> per_tuple_;  // this process: tuple -> live sockets
};

// Counts the entries of `leaf` under `dirfd` (kernels before 6.2, or a fixture tree).
Result<uint64_t> count_entries(int dirfd, const char* leaf) {
  UniqueFd fd(::openat(dirfd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno(leaf);
  auto dir = open_dir_fd(fd.release(), "fdopendir");
  if (!dir) return std::unexpected(dir.error());
  uint64_t n = 0;
  while (const dirent* e = ::readdir(dir->get()))
    if (e->d_name[0] != '.') ++n;
  return n;
}

}  // namespace

ProcessFds read_process_fds(const ProcFs& proc, const ProcessScanOptions& opt, FdTable* table,
                            std::stop_token stop) {
  namespace pp = proc_paths;
  ProcessFds out;
  // If our own namespace link is unreadable we cannot tell namespaces apart: keep everyone.
  std::optional<NetnsFilter> netns;
  if (opt.filter_netns) netns.emplace(proc);

  const bool size_counts = fd_dir_size_counts(proc);
  std::optional<IdentityResolver> identity;
  if (opt.identity) identity.emplace(proc, opt.runtime_roots);
  std::vector<int32_t> all;
  if (!opt.candidates) all = proc.pids();
  for (int32_t pid : opt.candidates ? *opt.candidates : all) {
    if (stop.stop_requested()) break;
    // Everything of one process is read through its /proc/PID directory fd, opened first: if
    // the process exits and its pid is reused meanwhile, the reads fail (the directory stays
    // the old process's) instead of mixing one process's fds with another's limit.
    const std::string dir = proc.path(std::to_string(pid));
    UniqueFd pdir(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pdir) continue;  // exited since the listing
    auto shown = [&dir](std::string_view leaf) { return dir + "/" + std::string(leaf); };

    ProcessFds::Entry e;
    if (netns) {
      NetnsVerdict v = netns->check(pid);
      if (v == NetnsVerdict::kGone || v == NetnsVerdict::kOther) continue;
      e.ns_unknown = v == NetnsVerdict::kUnknown;  // cannot tell: keep it, and say so
    }

    ProcessInfo& p = e.info;
    p.pid = pid;
    auto comm = read_file_at(pdir.get(), pp::kComm.data(), shown(pp::kComm));
    if (!comm && vanished(comm.error().err)) continue;
    if (comm) {
      p.comm = std::move(*comm);
      while (!p.comm.empty() && p.comm.back() == '\n') p.comm.pop_back();
    }

    // A process the table does not list started after it was read, or is hidden from BPF
    // iterators: its /proc/PID/fd is read as without a table.
    FdTable::Process* listed = nullptr;
    if (table) {
      if (auto it = table->by_pid.find(pid); it != table->by_pid.end()) listed = &it->second;
    }

    if (size_counts && !listed) {
      struct stat st {};
      if (::fstatat(pdir.get(), pp::kFdDir.data(), &st, 0) == 0)
        p.open_fds = uint64_t(st.st_size);
      else if (vanished(errno))
        continue;
      else
        e.fd_denied = true;
    }
    // No open files at all: kernel threads and zombies. Nothing to exhaust, nothing to own.
    if (p.open_fds == uint64_t{0}) continue;

    if (listed) {
      p.open_fds = listed->open_fds;
      if (opt.attribution) {
        e.socket_inodes = std::move(listed->socket_inodes);
        e.fds_read = true;
      }
    } else if (opt.attribution) {
      UniqueFd dfd(::openat(pdir.get(), pp::kFdDir.data(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dfd && vanished(errno)) continue;
      if (dfd) {
        auto seen = read_socket_links(std::move(dfd), e.socket_inodes);
        if (seen) {
          if (!p.open_fds) p.open_fds = *seen;
          e.fds_read = true;
        } else if (vanished(seen.error().err)) {
          continue;
        }
      }
      if (!e.fds_read) {
        e.links_failed = true;
        e.socket_inodes = {};
      }
    } else if (!p.open_fds && !e.fd_denied) {
      auto n = count_entries(pdir.get(), pp::kFdDir.data());
      if (n)
        p.open_fds = *n;
      else if (vanished(n.error().err))
        continue;
      else
        e.fd_denied = true;
    }
    if (p.open_fds == uint64_t{0}) continue;

    // The limit is read after the fds, through the same directory: a limit that reads belongs
    // to the process whose fds were counted, alive after they were. One that exited in between
    // is dropped (ENOENT/ESRCH, or the empty file proc_pid_limits() gives once the exiting
    // task has lost its signal handlers), as if it had exited before the scan reached it. A
    // limit that cannot be read otherwise, or does not parse, is unknown and named in
    // `missing`, never left silently unknown.
    if (opt.before_limits) opt.before_limits(pid);
    auto limits = read_file_at(pdir.get(), pp::kLimits.data(), shown(pp::kLimits));
    if (!limits && vanished(limits.error().err)) continue;
    if (limits && limits->empty() && proc.is_procfs()) continue;
    if (!limits) {
      if (out.limits_unparsed++ == 0) out.limits_error = limits.error().message;
    } else if (auto lim = parse_limits_nofile(*limits)) {
      p.fd_soft_limit = lim->soft;
      p.fd_hard_limit = lim->hard;
    } else if (out.limits_unparsed++ == 0) {
      out.limits_error = lim.error().message;
    }

    if (identity) p.container = identity->of_pid(pid);
    out.entries.push_back(std::move(e));
  }
  if (identity) out.identity_missing = identity->missing_summary();
  return out;
}

void attribute_processes(ProcessFds&& fds, const ProcessScanOptions& opt, const InodeIndex* index,
                         Reading& reading, std::vector<std::string>& missing) {
  // An empty index (no TCP socket with an inode) and no unix listener attributes nothing:
  // processes keep their fd counts and no `sockets`, as when attribution is off.
  const bool unix_listeners = reading.unix_listeners && !reading.unix_listeners->empty();
  std::optional<Attributor> attributor;
  if (opt.attribution && index && (!index->empty() || unix_listeners))
    attributor.emplace(*index, reading);

  Unreadable unreadable;
  unreadable.limits = fds.limits_unparsed;
  unreadable.limits_error = fds.limits_error;
  reading.processes.reserve(reading.processes.size() + fds.entries.size());
  for (ProcessFds::Entry& e : fds.entries) {
    ProcessInfo& p = e.info;
    if (attributor && e.fds_read) {
      ProcessSockets ps;
      attributor->join(p.pid, e.socket_inodes, ps);
      p.sockets = std::move(ps);
    }
    e.socket_inodes = {};  // freed as the join goes
    if (e.links_failed) {
      if (attributor) ++unreadable.socket_owners;
      if (!p.open_fds) e.fd_denied = true;
    }
    if (e.fd_denied && !p.open_fds) ++unreadable.fd_counts;
    if (e.ns_unknown) ++unreadable.netns;
    reading.processes.push_back(std::move(p));
  }
  fds.entries = {};

  if (attributor) attributor->emit_tuple_owners();
  if (std::string line = unreadable.summary(); !line.empty()) missing.push_back(std::move(line));
  if (std::string line = unreadable.limits_summary(); !line.empty())
    missing.push_back(std::move(line));
  if (!fds.identity_missing.empty()) missing.push_back(std::move(fds.identity_missing));
}

void scan_processes(const ProcFs& proc, const ProcessScanOptions& opt, const InodeIndex* index,
                    FdTable* table, Reading& reading, std::vector<std::string>& missing) {
  attribute_processes(read_process_fds(proc, opt, table), opt, index, reading, missing);
}

}  // namespace cd
