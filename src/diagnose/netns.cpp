// Entering, listing and diagnosing network namespaces.
#include "diagnose/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <unordered_set>

#include "analyse/analysis.h"
#include "collect/collector.h"
#include "collect/conntrack_source.h"
#include "collect/sock_source.h"

namespace cd {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// setns() moves only the calling thread; see the class comment in netns.h.
Result<void> check_single_threaded() {
  if (::syscall(SYS_gettid) != ::getpid())
    return fail("entering a network namespace: only the main thread may do it");
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return {};  // no procfs: nothing reads /proc/net through the leader then
  int threads = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++threads;
  ::closedir(d);
  if (threads > 1)
    return fail("entering a network namespace: the process has " + std::to_string(threads) +
                " threads; /proc/net would still show the old namespace");
  return {};
}

std::string read_comm(const std::string& proc, int32_t pid) {
  std::ifstream f(proc + "/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

// A /run/netns entry is a bind mount of an nsfs file; a leftover plain file (the namespace's
// mount is gone) has the device of the directory, not of nsfs.
bool same_dev(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev;
}

}  // namespace

std::string NetnsInfo::label() const {
  if (!name.empty()) return name;
  if (pid > 0) return "pid " + std::to_string(pid) + " (" + comm + ")";
  return "inode " + std::to_string(inode);
}

Result<NetnsGuard> NetnsGuard::enter_fd(int fd, const std::string& what) {
  if (auto ok = check_single_threaded(); !ok) return std::unexpected(ok.error());
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno(what);
  // NS_GET_NSTYPE (since 4.11) tells a network namespace from any other file or namespace.
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type >= 0 && type != CLONE_NEWNET) return fail(what + ": not a network namespace");
  if (type < 0 && errno == ENOTTY) return fail(what + ": not a namespace file");
  NetnsGuard g;
  g.original_ = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!g.original_) return fail_errno("/proc/self/ns/net");
  if (::setns(fd, CLONE_NEWNET) != 0) {
    if (errno == EPERM) return fail_errno("setns " + what + " (needs CAP_SYS_ADMIN)");
    return fail_errno("setns " + what);
  }
  g.inode_ = uint64_t(st.st_ino);
  return g;
}

Result<NetnsGuard> NetnsGuard::enter_path(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(path);
  return enter_fd(fd.get(), path);
}

Result<NetnsGuard> NetnsGuard::enter(const std::string& target) {
  if (target.find('/') != std::string::npos) return enter_path(target);
  if (all_digits(target)) return enter_path("/proc/" + target + "/ns/net");
  if (target.empty() || target == "." || target == "..")
    return fail("--netns: '" + target + "' is not a namespace name or pid");
  return enter_path("/run/netns/" + target);
}

NetnsGuard::~NetnsGuard() {
  if (!original_) return;
  // Carrying on in the wrong namespace would report one namespace's figures as another's.
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    std::perror("conndoctor: cannot return to the original network namespace");
    std::abort();
  }
}

Result<std::vector<NetnsInfo>> list_netns(const NetnsRoots& roots) {
  struct stat self {};
  const std::string self_path = roots.proc + "/self/ns/net";
  if (::stat(self_path.c_str(), &self) != 0) return fail_errno(self_path);
  std::map<uint64_t, NetnsInfo> by_inode;

  if (DIR* d = ::opendir(roots.run_netns.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      const std::string path = roots.run_netns + "/" + e->d_name;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !same_dev(st, self)) continue;
      NetnsInfo& n = by_inode[uint64_t(st.st_ino)];
      n.inode = uint64_t(st.st_ino);
      if (n.name.empty() || std::string(e->d_name) < n.name) {
        n.name = e->d_name;
        n.path = path;
      }
    }
    ::closedir(d);
  }

  DIR* d = ::opendir(roots.proc.c_str());
  if (!d) return fail_errno(roots.proc);
  while (dirent* e = ::readdir(d)) {
    if (!all_digits(e->d_name)) continue;
    const int32_t pid = int32_t(std::strtol(e->d_name, nullptr, 10));
    const std::string path = roots.proc + "/" + e->d_name + "/ns/net";
    struct stat st {};
    // Kernel threads and processes that exited meanwhile are skipped; EACCES without root.
    if (::stat(path.c_str(), &st) != 0 || !same_dev(st, self)) continue;
    NetnsInfo& n = by_inode[uint64_t(st.st_ino)];
    n.inode = uint64_t(st.st_ino);
    if (n.pid == 0 || pid < n.pid) {
      n.pid = pid;
      if (n.name.empty()) n.path = path;
    }
  }
  ::closedir(d);

  std::vector<NetnsInfo> out;
  out.reserve(by_inode.size());
  for (auto& [ino, n] : by_inode) {
    if (n.pid > 0) n.comm = read_comm(roots.proc, n.pid);
    n.current = ino == uint64_t(self.st_ino);
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
  std::string path;
  if (target.find('/') != std::string::npos)
    path = target;
  else if (all_digits(target))
    path = roots.proc + "/" + target + "/ns/net";
  else
    path = roots.run_netns + "/" + target;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail_errno("--netns " + target + ": " + path);
  auto all = list_netns(roots);
  if (all) {
    for (NetnsInfo& n : *all)
      if (n.inode == uint64_t(st.st_ino)) {
        n.path = path;
        return n;
      }
  }
  NetnsInfo n;
  n.inode = uint64_t(st.st_ino);
  n.path = path;
  if (all_digits(target)) {
    n.pid = int32_t(std::strtol(target.c_str(), nullptr, 10));
    n.comm = read_comm(roots.proc, n.pid);
  } else if (target.find('/') == std::string::npos) {
    n.name = target;
  }
  return n;
}

namespace {

int rank(const NetnsResult& r) {
  if (!r.diagnosis) return 2;
  switch (r.diagnosis->analysis.status) {
    case Status::kCritical:
      return 0;
    case Status::kWarning:
      return 1;
    case Status::kUnknown:
      return 2;
    case Status::kOk:
      return 3;
  }
  return 3;
}

int count(const NetnsResult& r, Severity s) {
  if (!r.diagnosis) return 0;
  return int(std::count_if(r.diagnosis->analysis.findings.begin(),
                           r.diagnosis->analysis.findings.end(),
                           [s](const Finding& f) { return f.severity == s; }));
}

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

void dedupe(std::vector<std::string>& v) {
  std::unordered_set<std::string> seen;
  std::erase_if(v, [&seen](const std::string& s) { return !seen.insert(s).second; });
}

Result<void> take_reading(Pending& p, ProcFs& proc, Clock& clock, FdTableSource* fd_tables,
                          const CollectOptions& opt, bool first) {
  auto guard = NetnsGuard::enter_fd(p.fd.get(), p.ns.label());
  if (!guard) return std::unexpected(guard.error());
  if (first) {
    // Netlink sockets belong to the namespace they are opened in.
    auto s = open_netlink_sock_source();
    if (!s) return std::unexpected(s.error());
    p.sockets = std::move(*s);
    if (auto c = open_netlink_conntrack_source()) p.conntrack = std::move(*c);
  }
  Sources src{proc, *p.sockets, clock, p.conntrack.get(), fd_tables};
  auto r = collect_reading(src, opt, p.snap.missing);
  if (!r) return std::unexpected(r.error());
  (first ? p.snap.first : p.snap.second.emplace()) = std::move(*r);
  return {};
}

}  // namespace

void sort_worst_first(std::vector<NetnsResult>& results) {
  std::stable_sort(results.begin(), results.end(), [](const NetnsResult& a, const NetnsResult& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (count(a, Severity::kCritical) != count(b, Severity::kCritical))
      return count(a, Severity::kCritical) > count(b, Severity::kCritical);
    if (count(a, Severity::kWarning) != count(b, Severity::kWarning))
      return count(a, Severity::kWarning) > count(b, Severity::kWarning);
    return a.ns.label() < b.ns.label();
  });
}

Result<std::vector<NetnsResult>> diagnose_all_netns(const DiagnoseOptions& opt, Clock& clock,
                                                    const NetnsRoots& roots) {
  if (!opt.sock_diag_dump.empty() || !opt.record_dump.empty() || !opt.conntrack_dump.empty() ||
      !opt.record_conntrack_dump.empty() || opt.proc_root != "/proc")
    return fail("--all-netns diagnoses the live host: it cannot replay or record dumps");
  auto all = list_netns(roots);
  if (!all) return std::unexpected(all.error());

  std::vector<Pending> pending;
  pending.reserve(all->size());
  for (NetnsInfo& n : *all) {
    Pending p;
    p.fd = UniqueFd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!p.fd && (errno == ENOENT || errno == ESRCH)) continue;  // exited since the listing
    p.ns = std::move(n);
    if (!p.fd) p.error = Error::from_errno(p.ns.path).message;
    pending.push_back(std::move(p));
  }

  ProcFs proc(opt.proc_root);
  auto fd_tables = open_fd_tables(opt);  // loaded once, read in each namespace
  const bool two = opt.collect.interval_s > 0;
  CollectOptions first_opt = opt.collect;
  if (two) first_opt.conntrack_table = false;  // the table is dumped once, in the last reading
  for (Pending& p : pending) {
    if (!p.error.empty()) continue;
    if (auto ok = take_reading(p, proc, clock, fd_tables.get(), first_opt, true); !ok)
      p.error = ok.error().message;
  }
  if (two) {
    clock.sleep_s(opt.collect.interval_s);
    for (Pending& p : pending) {
      if (!p.error.empty()) continue;
      if (auto ok = take_reading(p, proc, clock, fd_tables.get(), opt.collect, false); !ok)
        p.error = ok.error().message;
    }
  }

  std::vector<NetnsResult> out;
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
  return out;
}

}  // namespace cd
